"""The request bodies of ``quco serve`` (pydantic models, built per app: list sizes come from its
limits), and the fields naming the answering index that every answer carries."""


from types import SimpleNamespace
from typing import Annotated, Any, Literal

MAX_PHRASE_CHARS = 1000
MAX_REWARD_ITEMS = 4096
MAX_DOCUMENTS = 100  # documents listed per phrase or pair (titles, passages, provenance)


def request_models(max_items: int) -> SimpleNamespace:
    """The request bodies (pydantic models; list sizes bounded by ``max_items``)."""
    from pydantic import BaseModel, ConfigDict, Field

    Phrase = Annotated[str, Field(min_length=1, max_length=MAX_PHRASE_CHARS)]

    class CheckRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        question: Annotated[str, Field(min_length=1, max_length=4000)]
        draft: Annotated[str | None, Field(max_length=100_000)] = None
        sources: bool = False  # each checked claim with the corpus places behind it (provenance)

    class CheckManyRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        items: Annotated[list[CheckRequest], Field(min_length=1, max_length=max_items)]
        sources: bool = False

    class CountRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        phrases: Annotated[list[Phrase], Field(min_length=1, max_length=max_items)]

    class Pair(BaseModel):
        model_config = ConfigDict(extra="forbid")
        a: Phrase
        b: Phrase

    class CooccurRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        pairs: Annotated[list[Pair], Field(min_length=1, max_length=max_items)]
        window: Annotated[int, Field(ge=0, le=100_000)] = 1000

    class DocumentsRequest(BaseModel):  # /v1/titles and /v1/passages
        model_config = ConfigDict(extra="forbid")
        phrases: Annotated[list[Phrase], Field(min_length=1, max_length=max_items)]
        limit: Annotated[int, Field(ge=1, le=MAX_DOCUMENTS)] = 20
        window: Annotated[int, Field(ge=0, le=100_000)] = 1000

    class ProvenanceRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        pairs: Annotated[list[Pair], Field(min_length=1, max_length=max_items)]
        window: Annotated[int, Field(ge=0, le=100_000)] = 1000
        limit: Annotated[int, Field(ge=1, le=MAX_DOCUMENTS)] = 2

    class ArticlesRequest(BaseModel):  # pairs of (title, phrase)
        model_config = ConfigDict(extra="forbid")
        pairs: Annotated[list[Pair], Field(min_length=1, max_length=max_items)]

    class FeedbackRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        request_id: Annotated[str, Field(min_length=1, max_length=100)]
        label: Literal["correct", "fabricated"]
        note: Annotated[str | None, Field(max_length=2000)] = None

    Text = str | list[dict[str, Any]]  # a string, or chat messages ({"role", "content"})

    class RewardRequest(BaseModel):
        """``completions`` with their ``prompts``; or OpenRLHF's ``query`` (prompt + completion) with ``prompts``."""

        model_config = ConfigDict(extra="ignore")  # trainers send more (labels...): accepted, unused
        prompts: Annotated[list[Text] | None, Field(max_length=MAX_REWARD_ITEMS)] = None
        completions: Annotated[list[Text] | None, Field(min_length=1, max_length=MAX_REWARD_ITEMS)] = None
        query: Annotated[list[str] | None, Field(min_length=1, max_length=MAX_REWARD_ITEMS)] = None
        details: bool = False

    return SimpleNamespace(CheckRequest=CheckRequest, CheckManyRequest=CheckManyRequest, CountRequest=CountRequest,
                           CooccurRequest=CooccurRequest, FeedbackRequest=FeedbackRequest, RewardRequest=RewardRequest,
                           DocumentsRequest=DocumentsRequest, ProvenanceRequest=ProvenanceRequest,
                           ArticlesRequest=ArticlesRequest)


def corpus_fields(be) -> dict:
    """The index that answered and its size, as every count, document and reward answer states them."""
    return {"corpus_tokens": be.corpus.tokens, "corpus_documents": be.corpus.documents, "index": be.identity}

