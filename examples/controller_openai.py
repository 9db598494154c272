"""The QuCo-RAG loop around a model behind any OpenAI-compatible endpoint (vLLM, llama.cpp server,
Ollama, OpenAI), with quco's BM25 retriever; streamed, a verified sentence at a time.

    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_MODEL=my-model python examples/controller_openai.py

Plain HTTP (the standard library) so that it runs anywhere; the `openai` package works the same way.
"""

import json
import os
import urllib.request

from _tiny import detector, index_path

import quco

BASE = os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1").rstrip("/")
MODEL = os.environ.get("OPENAI_MODEL", "my-model")


def generate(prompt: str) -> str:
    body = json.dumps({"model": MODEL, "temperature": 0, "messages": [{"role": "user", "content": prompt}]}).encode()
    request = urllib.request.Request(f"{BASE}/chat/completions", data=body, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', 'unused')}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["choices"][0]["message"]["content"]


controller = quco.Controller(generate, quco.BM25Retriever(index_path()), detector(), max_rounds=3)
for event in controller.stream("Who wrote Hamlet?"):
    if event.kind == "round" and event.round.action == "truncate-and-retrieve":
        print(f"flagged: {event.round.report.flagged.text!r} -> retrieving with {event.round.query!r}")
    elif event.kind == "text":
        print(f"verified: {event.text.strip()!r}")
    elif event.kind == "result":
        print("answer:", event.result.final_answer, "| verified:", event.result.verified)
