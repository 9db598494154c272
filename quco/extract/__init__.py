"""Entity and triplet extraction, batch-first over ``nlp.pipe``."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from functools import cached_property

from quco.errors import ExtractionError, UsageError
from quco.extract.spans import span_text
from quco.extract.types import Entity, Sentence, Triplet
from quco.normalize import ORDINAL_WORDS

__all__ = ["Entity", "Extractor", "Sentence", "Triplet"]

_LOADING = threading.Lock()


class Extractor:
    """Finds countable entities in questions and (head, relation, tail) triplets in drafts.

    ``model``: a spaCy package name, ``"rules"`` for the rule-based pipeline, or ``None`` for the
    default load order. ``nlp`` injects a ready pipeline (tests, custom models). Loading is lazy.
    """

    def __init__(self, model: str | None = None, *, nlp=None, batch_size: int = 128):
        if batch_size < 1:
            raise UsageError("batch_size must be at least 1")
        self._requested = model
        self._nlp = nlp
        self._model_name: str | None = None if nlp is None else (nlp.meta.get("name") or "custom")
        self.batch_size = batch_size

    def __reduce__(self):
        # By configuration: the receiving process loads the same pipeline when it first needs it.
        from functools import partial

        if self._requested is None and self._nlp is not None and self._model_name == "custom":
            raise ExtractionError("an Extractor with an injected custom pipeline cannot be pickled; "
                                  "pass the model name instead")
        name = self._requested or (self._model_name if self._nlp is not None else None)
        return partial(Extractor, name, batch_size=self.batch_size), ()

    @property
    def nlp(self):
        if self._nlp is None:
            with _LOADING:  # threads (async callers) starting together load spaCy once, not concurrently
                if self._nlp is None:
                    from quco.extract.model import load_pipeline

                    self._nlp, self._model_name = load_pipeline(self._requested)
        return self._nlp

    @property
    def model_name(self) -> str:
        self.nlp  # noqa: B018 - force the lazy load
        return self._model_name or "custom"

    @property
    def has_model(self) -> bool:
        nlp = self.nlp
        return "ner" in nlp.pipe_names and "parser" in nlp.pipe_names

    def _docs(self, texts: Sequence[str], *, need_parse: bool, names_only: bool = False) -> Iterable:
        nlp = self.nlp
        # Questions only need tags and NER: skipping the parser roughly halves the cost, and the
        # attribute ruler (tag -> POS) another ~8%, since proper nouns are read from the tag.
        # Names alone need only the entity recogniser, which has its own token vectors: ~30% less.
        skip = ("parser", "attribute_ruler", "tagger", "lemmatizer", "tok2vec") if names_only else ("parser", "attribute_ruler")
        disable = [] if need_parse else [p for p in skip if p in nlp.pipe_names]
        ruler = self._ruler if need_parse else None
        if ruler is not None:  # the same attributes, about a tenth of a parse cheaper (quco.extract.attributes)
            disable = ["attribute_ruler"]
        if self._sentence_ends is not None:  # applied where sentences are read (``_sentences_many``)
            disable = ["sentencizer"]
        try:
            docs = nlp.pipe(texts, batch_size=self.batch_size, disable=disable)
            yield from docs if ruler is None else map(ruler, docs)
        except Exception as exc:  # spaCy raises plain exceptions on internal failures
            raise ExtractionError(f"spaCy pipeline failed: {type(exc).__name__}: {exc}") from exc

    @cached_property
    def _ruler(self):
        """The pipeline's attribute ruler as ``quco.extract.attributes.FastAttributes``, or None
        (no ruler, or one whose patterns it cannot evaluate exactly: the ruler then runs)."""
        from quco.extract.attributes import fast_attributes

        return fast_attributes(self.nlp)

    @cached_property
    def _sentence_ends(self) -> frozenset[str] | None:
        """For the rule pipeline (a sentencizer and nothing else): the sentencizer's punctuation
        characters. Its rule is then applied to the words already read (``spans.rule_sentences``:
        the same bounds, without a ``Token`` per look, most of that pipe's cost on short texts)
        instead of run as a pipe; None for any other pipeline."""
        from spacy.pipeline import Sentencizer

        nlp = self.nlp
        pipe = nlp.get_pipe("sentencizer") if nlp.pipe_names == ["sentencizer"] else None
        return frozenset(pipe.punct_chars) if isinstance(pipe, Sentencizer) else None

    def entities_many(self, texts: Sequence[str]) -> list[tuple[Entity, ...]]:
        self.nlp  # noqa: B018 - spaCy loaded (under the lock) before anything imports it
        return _per_distinct(texts, self._entities_many)

    def names_many(self, texts: Sequence[str]) -> list[tuple[Entity, ...]]:
        """The names in each text, from the entity recogniser and capitalisation alone (no tagger):
        for reading many corpus passages, where ``entities_many``'s proper-noun tags cost more than
        they add. The same as ``entities_many`` in rules mode."""
        self.nlp  # noqa: B018 - as above
        return _per_distinct(texts, self._names_many)

    def sentences_many(self, texts: Sequence[str]) -> list[tuple[Sentence, ...]]:
        self.nlp  # noqa: B018 - as above
        return _per_distinct(texts, self._sentences_many)

    def claims_many(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """The checkable phrases of each text: its entities plus its noun phrases (without
        determiners and pronouns), found the same way for a two-word span and a long sentence.
        Without a parser (rules mode) only entities are returned."""
        self.nlp  # noqa: B018 - as above
        return _per_distinct(texts, self._claims_many)

    def statements_many(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text is a statement — it has a finite verb ("owns", "was made") — rather
        than a phrase ("Tahirid dynasty", "directed by Damien Chazelle"). Read from the tagger
        alone; False for every text in rules mode (no tags: nothing can be told)."""
        self.nlp  # noqa: B018 - as above
        return _per_distinct(texts, self._statements_many)

    def _statements_many(self, texts: Sequence[str]) -> list[bool]:
        if not self.has_model:
            return [False] * len(texts)
        return [any(t.tag_ in _FINITE_TAGS for t in doc) for doc in self._docs(texts, need_parse=False)]

    def _entities_many(self, texts: Sequence[str]) -> list[tuple[Entity, ...]]:
        from quco.extract.entities import entity_spans

        has_model = self.has_model
        out = []
        for text, doc in zip(texts, self._docs(texts, need_parse=False)):
            out.append(tuple(_entity(s) for s in entity_spans(doc, has_model=has_model, text=text)))
        return out

    def _names_many(self, texts: Sequence[str]) -> list[tuple[Entity, ...]]:
        from quco.extract.entities import entity_spans

        has_model = self.has_model
        return [tuple(_entity(s) for s in entity_spans(doc, has_model=has_model, text=text, has_pos=False))
                for text, doc in zip(texts, self._docs(texts, need_parse=False, names_only=has_model))]

    def _sentences_many(self, texts: Sequence[str]) -> list[tuple[Sentence, ...]]:
        from quco.extract.entities import entity_spans
        from quco.extract.spans import words_of
        from quco.extract.triplets import sentence_triplets

        has_model = self.has_model
        out = []
        # A doc's text is the text it was made from (spaCy rebuilds ``doc.text`` from the tokens on
        # each access); a span's text is a slice of it.
        for text, doc in zip(texts, self._docs(texts, need_parse=True)):
            words = words_of(doc, text, tagged=has_model, sentence_ends=self._sentence_ends)
            spans = entity_spans(doc, has_model=has_model, text=text, words=words)
            chunks = _noun_phrases(doc) if has_model else []
            in_subject = _subject_tokens(doc) if has_model else set()
            sentences = []
            context = None  # what a pronoun subject refers to: the latest head, else first entity
            for k, (a, b) in enumerate(words.sentences):
                ents = [s for s in spans if s.start >= a and s.end <= b]
                triplets = sentence_triplets(doc, words, (a, b), ents, has_parse=has_model, context=context)
                if triplets:
                    context = triplets[0].head
                elif ents and context is None:
                    context = ents[0].text
                phrases = ents + [c for c in chunks if c.start >= a and c.end <= b]
                first, last = words.char_bounds(a, b)
                if in_subject:
                    claims = _phrases([span_text(text, c) for c in phrases if not _within(c, in_subject)])
                    subjects = _phrases([e.text for e in ents if _within(e, in_subject)])
                else:  # no subject read (the rule pipeline): every phrase is a claim
                    claims, subjects = _phrases([span_text(text, c) for c in phrases]), ()
                sentences.append(
                    Sentence(
                        index=k,
                        text=text[first:last].strip(),
                        start=first,
                        end=last,
                        entities=tuple([_entity(s) for s in ents]),
                        triplets=tuple(triplets),
                        claims=claims or _predicate_run(words, a, b, in_subject),
                        subjects=subjects,
                    )
                )
            out.append(tuple(s for s in sentences if s.text))
        return out

    def _claims_many(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        from quco.extract.entities import entity_spans

        has_model = self.has_model
        out = []
        for text, doc in zip(texts, self._docs(texts, need_parse=True)):
            phrases = [s.text for s in entity_spans(doc, has_model=has_model, text=text)]
            if has_model:
                phrases.extend(c.text for c in _noun_phrases(doc))
            found = _phrases(phrases)
            if not found and len(doc) <= _SHORT_ANSWER:
                # A short answer the parser could not read ("screenwriter" as a verb): the span is the claim.
                # A number is a claim even when it is a stop word: "four", "third" answering "how many".
                kept = [t for t in doc if t.like_num or t.lower_ in ORDINAL_WORDS
                        or not (t.is_punct or t.pos_ in ("DET", "PRON", "INTJ") or t.tag_ == "UH" or t.is_stop)]
                found = (doc[kept[0].i : kept[-1].i + 1].text,) if kept else ()
            out.append(found)
        return out

    def entities(self, text: str) -> tuple[Entity, ...]:
        return self.entities_many([text])[0]

    def sentences(self, text: str) -> tuple[Sentence, ...]:
        return self.sentences_many([text])[0]


def _require_text(texts: Sequence) -> None:
    for t in texts:
        if not isinstance(t, str):
            raise UsageError(f"expected text, got {type(t).__name__}")


def _per_distinct(texts: Sequence[str], extract):
    """``extract`` run once per distinct text, results in the order of ``texts``. Batches repeat
    texts (one question with several candidate answers, "yes" and "no" as answers) and parsing is
    most of a batch's cost; the results are immutable, so repeats share them."""
    _require_text(texts)
    distinct = list(dict.fromkeys(texts))
    if len(distinct) == len(texts):
        return extract(texts)
    found = dict(zip(distinct, extract(distinct)))
    return [found[t] for t in texts]


_PREDICATE_DEPS = frozenset({"attr", "acomp", "oprd", "dobj", "pobj", "appos"})
_CONTENT_POS = frozenset({"NOUN", "PROPN", "ADJ", "NUM"})


def _noun_phrases(doc) -> list:
    """Noun phrases without determiners, pronouns and punctuation ("the city" -> "city"), and
    predicate complements the chunker misses ("is playwright", "was actually classical")."""
    out = []
    covered: set[int] = set()
    for chunk in doc.noun_chunks:
        kept = [t for t in chunk if t.pos_ not in ("DET", "PRON", "PUNCT")]
        # "Charles Babbage's analytical engine": the possessor is an entity of its own; the
        # phrase is what follows it (a whole possessive phrase hardly ever occurs verbatim).
        poss = [k for k, t in enumerate(kept) if t.tag_ == "POS" or t.dep_ == "case"]
        if poss:
            kept = kept[poss[-1] + 1 :]
        if kept:
            out.append(doc[kept[0].i : kept[-1].i + 1])
            covered.update(range(chunk.start, chunk.end))
    for tok in doc:
        if tok.i not in covered and tok.dep_ in _PREDICATE_DEPS and tok.pos_ in _CONTENT_POS:
            start = tok.i
            while start > 0 and doc[start - 1].head.i == tok.i and doc[start - 1].dep_ in ("compound", "amod") \
                    and doc[start - 1].i not in covered:
                start -= 1
            out.append(doc[start : tok.i + 1])
            covered.update(range(start, tok.i + 1))
    return sorted(out, key=lambda s: s.start)


_SHORT_ANSWER = 6
_FINITE_TAGS = frozenset({"VBD", "VBZ", "VBP", "MD"})  # past, present (3rd person, other), modal


def _predicate_run(w, start: int, end: int, in_subject) -> tuple[str, ...]:
    """A sentence (tokens ``start:end`` of ``w``, the doc's ``Words``) whose parse yields no claim
    outside its subject ("X's occupation is poet." with "poet" read as a verb): its last run of
    content words outside the subject is the claim."""
    run = []
    for k in range(end - 1, start - 1, -1):
        if k in in_subject:
            break
        if w.alpha[k] and not w.stop[k]:
            run.append(k)
        elif run:
            break
        elif not w.punct[k]:
            break
    if not run:
        return ()
    first, last = w.char_bounds(run[-1], run[0] + 1)
    return (w.doc_text[first:last],)


def _subject_tokens(doc) -> set[int]:
    """Token indices inside the subject of each sentence's main clause ("Antonio Calcagni's place
    of birth" in "... is Recanati"): the sentence is about them, it does not assert them."""
    out: set[int] = set()
    for sent in doc.sents:
        root = sent.root
        subject = [c for c in root.children if c.dep_ in ("nsubj", "nsubjpass")]
        for child in subject:
            out.update(t.i for t in child.subtree)
        if not subject and root.lemma_ == "be" and any(c.dep_ in ("attr", "acomp") and c.i > root.i for c in root.children):
            # A copula whose subject the parser lost ("Andrea di Alessandro's place of birth is
            # Brescia" read with "di" as an interjection): what precedes "is" is the subject.
            out.update(range(sent.start, root.i))
    return out


def _within(span, tokens: set[int]) -> bool:
    """Does ``span`` have a token among ``tokens`` (indices)? Read from the span's bounds: iterating
    a span builds a Token object per token."""
    return bool(tokens) and any(i in tokens for i in range(span.start, span.end))


def _phrases(texts: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([t for t in texts if t.strip()])) if texts else ()


def _entity(span) -> Entity:
    """``span``: an ``entity_spans`` name span, whose text is already cut from the doc's text."""
    return Entity(text=span.text, label=span.label_, start=span.start_char, end=span.end_char)
