"""LlamaIndex: a gated retriever in a standard query engine, and a verified query engine.

    python examples/llamaindex_query.py

A mock embedding and a mock LLM stand in for yours.
"""

from _tiny import DOCS, detector
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from quco.adapters.llamaindex import GatedRetriever, VerifiedQueryEngine

det = detector()
Settings.embed_model, Settings.llm = MockEmbedding(embed_dim=8), MockLLM(max_tokens=16)
index = VectorStoreIndex.from_documents([Document(text=d["text"], metadata={"title": d["title"]}) for d in DOCS])
gated = GatedRetriever(index.as_retriever(similarity_top_k=2), det)
engine = RetrieverQueryEngine.from_args(gated)
for question in ["Who wrote Hamlet?", "Which novelist visited Elsinore Castle?"]:
    response = engine.query(question)
    closed = response.source_nodes[0].node.metadata.get("quco_gate") == "closed"
    print(f"{question!r}: {'answered without context' if closed else f'{len(response.source_nodes)} passages'}")

verified = VerifiedQueryEngine(query_engine=index.as_query_engine(), detector=det)
response = verified.query("Who wrote Hamlet?")
print("verified:", response.metadata["quco_verified"], "rounds:", response.metadata["quco_rounds"])
