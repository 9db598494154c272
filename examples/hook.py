"""Stage 1 as a pre-generation hook, and `quco.guard` around a generator (sync and async).

    python examples/hook.py
"""

import asyncio

from _tiny import detector, index_path

import quco

det = detector()
retrieve = quco.BM25Retriever(index_path())

for question in ["Who wrote Hamlet?", "Which novelist visited Elsinore Castle?"]:
    report = quco.hook(question, detector=det)
    print(f"{question!r}: {report.decision} (risk {report.risk:.2f})")


def my_llm(prompt: str) -> str:  # your model here
    return f"[{len(prompt.splitlines())} prompt lines]"


answer = quco.guard(my_llm, retrieve=retrieve, detector=det)
print(answer("Who wrote Hamlet?"))                          # no retrieval: the question as it is
print(answer("Which novelist visited Elsinore Castle?"))    # retrieval: passages in the prompt


async def my_async_llm(prompt: str) -> str:
    return my_llm(prompt)


aanswer = quco.guard(my_async_llm, retrieve=retrieve, detector=det)
print(asyncio.run(aanswer("Which novelist visited Elsinore Castle?")))
