"""(head, relation, tail) triplets from a sentence's dependency parse.

For each entity in a sentence, the nearest governing verb gives the relation and the subject of
that verb's clause (climbing through conjunctions, relative and participial clauses) gives the
head: "Hamlet is a tragedy written by William Shakespeare" -> (Hamlet, written by, William
Shakespeare). Sentences where no verb links two entities fall back to co-mentioned entity pairs,
with the words between them as the relation; the rule-based pipeline (no parse) uses pairs only.
"""

from __future__ import annotations

from .types import Triplet

SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass", "csubj", "csubjpass", "expl"})
CLIMB_DEPS = frozenset({"conj", "xcomp", "advcl", "ccomp", "acl", "relcl", "pcomp", "prep", "pobj", "attr", "dobj", "appos", "npadvmod"})
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


def _clause_subject(verb, token_to_ent):
    cur = verb
    for _ in range(16):
        for child in cur.children:
            if child.dep_ in SUBJECT_DEPS:
                ent = token_to_ent.get(child.i) or _entity_of(child.subtree, token_to_ent)
                if ent is not None:
                    return ent
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
    words = []
    for child in verb.children:
        if child.dep_ == "neg":
            words.append(child.text)
    words.append(verb.text)
    words.extend(c.text for c in verb.children if c.dep_ == "prt")
    root = ent.root
    if root.dep_ == "pobj" and root.head.dep_ in ("prep", "agent", "dative") and root.head.head.i == verb.i:
        words.append(root.head.text)
    return " ".join(words)


def parsed_triplets(sent, ents) -> list[Triplet]:
    token_to_ent = {t.i: e for e in ents for t in e}
    out: list[Triplet] = []
    seen = set()
    for ent in ents:
        verb = _governing_verb(ent.root)
        if verb is None:
            continue
        head = _clause_subject(verb, token_to_ent)
        if head is None or head is ent or head.start == ent.start:
            continue
        key = (head.text.lower(), ent.text.lower())
        if key in seen:
            continue
        seen.add(key)
        out.append(Triplet(head.text, _relation(verb, ent), ent.text, "svo"))
    return out


def pair_triplets(sent, ents) -> list[Triplet]:
    """Co-mentioned entity pairs: consecutive ones, then the first entity with each later one."""
    out: list[Triplet] = []
    seen = set()
    doc = sent.doc
    order = [(i, i + 1) for i in range(len(ents) - 1)] + [(0, j) for j in range(2, len(ents))]
    for i, j in order:
        a, b = ents[i], ents[j]
        key = (a.text.lower(), b.text.lower())
        if key in seen or key[0] == key[1]:
            continue
        seen.add(key)
        between = [t.text for t in doc[a.end : b.start] if t.is_alpha][:_MAX_REL_WORDS] if j == i + 1 else []
        out.append(Triplet(a.text, " ".join(between), b.text, "pair"))
        if len(out) >= _MAX_PAIRS:
            break
    return out


def sentence_triplets(sent, ents, *, has_parse: bool) -> list[Triplet]:
    if len(ents) < 2:
        return []
    if has_parse:
        found = parsed_triplets(sent, ents)
        if found:
            return found
    return pair_triplets(sent, ents)
