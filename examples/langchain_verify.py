"""LangChain: a gated retriever (stage 1) and `quco_verify` (stage 2) streamed from async code.

    python examples/langchain_verify.py

A scripted chat model stands in for yours (any LangChain chat model works the same way).
"""

import asyncio

from _tiny import detector, index_path
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from quco.adapters.langchain import GatedRetriever, QucoBM25Retriever, quco_gate, quco_verify

det = detector()
bm25 = QucoBM25Retriever(index=index_path(), k=2)
gated = GatedRetriever(retriever=bm25, detector=det)
print("gate:", quco_gate(det).invoke("Who wrote Hamlet?")["retrieve"], gated.invoke("Who wrote Hamlet?"))

llm = FakeListChatModel(responses=["Hamlet was written by Charles Dickens.",
                                   "Hamlet was written by William Shakespeare. So the answer is Shakespeare."])
chain = quco_verify(llm, bm25, det)


async def main():
    async for event in chain.astream_events({"question": "Who wrote Hamlet?"}, version="v2"):
        if event["event"] == "on_custom_event" and event["name"] == "quco_round":
            print("round:", event["data"]["action"])
        elif event["event"] == "on_chain_stream" and event["name"] == "quco_verify":
            chunk = event["data"]["chunk"]
            if "verified" in chunk:
                print("verified:", chunk["verified"], "| final answer:", chunk["final_answer"])
            else:
                print("sentence:", chunk["answer"].strip())


asyncio.run(main())
