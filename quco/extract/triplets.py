"""(head, relation, tail) triplets from a sentence's dependency parse.

For each entity in a sentence, the nearest governing verb gives the relation and the subject of
that verb's clause (climbing through conjunctions, relative and participial clauses) gives the
head: "Hamlet is a tragedy written by William Shakespeare" -> (Hamlet, written by, William
Shakespeare). Sentences where no verb links two entities fall back to co-mentioned entity pairs,
with the words between them as the relation; the rule-based pipeline (no parse) uses pairs only.
"""

from __future__ import annotations

from quco.extract.types import Triplet

SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass", "csubj", "csubjpass", "expl"})
CLIMB_DEPS = frozenset({"conj", "xcomp", "advcl", "ccomp", "acl", "relcl", "pcomp", "prep", "pobj", "attr", "dobj", "appos", "npadvmod"})
PRONOUNS = frozenset({"he", "she", "it", "they", "his", "her", "its", "their"})
_MAX_PAIRS = 6
_MAX_REL_WORDS = 5


def _entity_of(tokens, token_to_ent):
    for t in tokens:
        ent = token_to_ent.get(t.i)
        if ent is not None:
            return ent
    return None


def _governing_verb(tok):
    cur = tok
    for _ in range(32):
        if cur.head.i == cur.i:
            return cur if cur.pos_ in ("VERB", "AUX") else None
        cur = cur.head
        if cur.pos_ in ("VERB", "AUX"):
            return cur
    return None


class _Pronoun:
    """The clause's subject is a pronoun: the caller resolves it to the discourse entity."""


PRONOUN = _Pronoun()


def _clause_subject(verb, token_to_ent):
    cur = verb
    for _ in range(16):
        for child in cur.children:
            if child.dep_ in SUBJECT_DEPS:
                ent = token_to_ent.get(child.i) or _entity_of(child.subtree, token_to_ent)
                if ent is not None:
                    return ent
                if child.lower_ in PRONOUNS:
                    return PRONOUN
                if child.tag_ == "WDT" and cur.dep_ == "relcl":  # "X, which was founded ..." -> X
                    ent = token_to_ent.get(cur.head.i)
                    if ent is not None:
                        return ent
        # "tragedy written by ..." (acl) and "X and then Y" (conj): the subject sits higher up.
        if cur.head.i == cur.i or cur.dep_ not in CLIMB_DEPS:
            return None
        cur = cur.head
    return None


def _relation(verb, ent) -> str:
    """Verb (with negation and particle) plus the words on the path down to the entity:
    "was the daughter of X" -> "was daughter of", "written by X" -> "written by"."""
    words = [c.text for c in verb.children if c.dep_ == "neg"]
    words.append(verb.text)
    words.extend(c.text for c in verb.children if c.dep_ == "prt")
    path: list[str] = []
    last = ""  # the part of speech of the word last taken into the path
    cur = ent.root.head
    while cur.i != verb.i and len(path) < 6 and cur.head.i != cur.i:
        if ent.start <= cur.i < ent.end:
            pass
        elif cur.pos_ == "PROPN" and last == "ADP":
            # The entity hangs by its preposition off another name: the words beyond that name
            # attach it, not this one ("staged by Charles Dickens in Vienna": "staged in" Vienna).
            break
        elif cur.pos_ in ("ADP", "NOUN", "ADJ", "VERB"):
            path.append(cur.text)
            last = cur.pos_
        cur = cur.head
    words.extend(reversed(path[:4]))
    return " ".join(words)


def parsed_triplets(sent, ents, context: str | None = None) -> list[Triplet]:
    """``ents``: the sentence's entity spans (token bounds); ``context``: the entity a pronoun
    subject ("She was ...") refers to, from earlier text."""
    ents = [sent.doc[e.start : e.end] for e in ents]  # the parse is read through the tokens
    token_to_ent = {t.i: e for e in ents for t in e}
    out: list[Triplet] = []
    seen = set()
    for ent in ents:
        verb = _governing_verb(ent.root)
        if verb is None:
            continue
        head = _clause_subject(verb, token_to_ent)
        if head is PRONOUN:
            head_text = context
        elif head is None or head is ent or head.start == ent.start:
            continue
        else:
            head_text = head.text
        if not head_text or head_text.lower() == ent.text.lower():
            continue
        key = (head_text.lower(), ent.text.lower())
        if key in seen:
            continue
        seen.add(key)
        out.append(Triplet(head_text, _relation(verb, ent), ent.text, "svo"))
    return out


def pair_triplets(w, ents) -> list[Triplet]:
    """Co-mentioned entity pairs: consecutive ones, then the first entity with each later one.
    ``w``: the doc's ``Words``."""
    out: list[Triplet] = []
    seen = set()
    order = [(i, i + 1) for i in range(len(ents) - 1)] + [(0, j) for j in range(2, len(ents))]
    for i, j in order:
        a, b = ents[i], ents[j]
        key = (a.text.lower(), b.text.lower())
        if key in seen or key[0] == key[1]:
            continue
        seen.add(key)
        between = _alpha_words(w, a.end, b.start) if j == i + 1 else []
        out.append(Triplet(a.text, " ".join(between), b.text, "pair"))
        if len(out) >= _MAX_PAIRS:
            break
    return out


def _alpha_words(w, start: int, end: int) -> list[str]:
    """The (at most ``_MAX_REL_WORDS``) alphabetic words among tokens ``start:end``."""
    return [w.text[k] for k in range(start, end) if w.alpha[k]][:_MAX_REL_WORDS]


def sentence_triplets(doc, w, bounds: tuple[int, int], ents, *, has_parse: bool,
                      context: str | None = None) -> list[Triplet]:
    """The triplets of the sentence ``doc[start:end]`` (``bounds``; ``w``: the doc's ``Words``)
    with its entity spans ``ents``."""
    start, end = bounds
    if has_parse and ents:
        found = parsed_triplets(doc[start:end], ents, context)
        if found or len(ents) < 2:
            return found
    if len(ents) < 2:
        # Without a parse, "She ... X" still links X to the entity the text is about.
        if context and ents and w.lower[start] in PRONOUNS and ents[0].text.lower() != context.lower():
            return [Triplet(context, " ".join(_alpha_words(w, start + 1, ents[0].start)), ents[0].text, "pair")]
        return []
    return pair_triplets(w, ents)


def claim_relation(sentence, claim: str, anchor: str) -> str:
    """The relation a sentence states between ``anchor`` and ``claim`` (a retrieval query's): the
    parse's relation when a triplet ends in the claim, otherwise the words between the anchor and
    the claim ("is a" in "Hamlet is a tragedy"), or the (at most four) words before the claim when
    the anchor is not in the sentence."""
    triplet = next((t for t in sentence.triplets if t.tail == claim), None)
    if triplet is not None:
        return triplet.relation
    text = sentence.text
    at = text.find(claim)
    if at < 0:
        return ""
    before = text[:at]
    a = before.lower().rfind(anchor.lower())
    span = before[a + len(anchor):] if a >= 0 else before
    words = [w.strip(".,;:!?\"'()") for w in span.split()]
    words = [w for w in words if w and w.lower() not in ("'s", "’s", "s")]
    return " ".join(words if a >= 0 else words[-4:])
