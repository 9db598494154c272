"""Whether a question describes a chain: the condition under which a bridge may vouch for a claim.

A bridge (``quco.decide.bridges``) supports a claim the corpus never states near the question's
entity: the entity near B, B near the claim. That is the right reading of a question that walks a
chain ("Who is the spouse of *the director of* Jump for Glory?", "What county shares a border with
*the county in which* Johnnycake is located?"): the answer is a hop away by the question's own
description. For a question asking one attribute of its entity ("What is Aki Hata's occupation?",
"In what city was Ferenc Puskás born?") the corpus either states the fact near the entity or does
not hold it, and a bridge can only vouch through a type-level neighbour ("Japanese" near the
entity, "Tokyo" near "Japanese"): a fact the corpus lacks, which should be retrieved.

The question's relations are counted on its text with its names masked, so that a name's own
words ("Bank of America", "Man on Wire") are no relation:

- a possessive ("E's occupation", "Gisvi's city of birth");
- a preposition after a content word or a name ("the director *of*", "based *in*", "played *for*");
- a relative word after one ("the association *which* published", "the area *where*");
- a participle of a reduced relative clause after a noun ("the country *containing*", "a group
  *known* as");
- a noun phrase naming an entity by its kind just before it, the relative clause unmarked ("the
  company E is part of", "the country E is from").

Two or more relations describe a chain: the first ties the answer to something, the second ties
that to the entity. One relation is one hop. The count reads only the question's wording; a
comparison or a yes/no question is read elsewhere (``quco.decide.compare``, ``yes_no``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from quco.errors import InvalidValue

__all__ = ["CHAIN_RELATIONS", "bridges_for", "check_bridges", "describes_chain", "relations"]

CHAIN_RELATIONS = 2  # relations in a question that make it a chain

_NAME = "\x00"  # a masked name
_TOKEN = re.compile(r"\x00|['’]s\b|[A-Za-z][\w-]*")
_FUNCTION = frozenset("""a an the and or of in on at to for from by with as both also either neither which what who whom
whose when where why how is are was were be been being do does did has have had can could will would that this these
those there it its their his her one ones other than not into during after before""".split())
_PREPOSITIONS = frozenset("of in for from by at on to with as after into".split())
_RELATIVE = frozenset("that which who whom whose where when".split())
_PARTICIPLES = frozenset("""named known called located based containing founded produced directed written created born
formed published released played considered featured owned run led made""".split())
_DETERMINERS = frozenset("the a an".split())
_COPULAS = frozenset("is are was were".split())


def relations(question: str, names: Iterable[str] = ()) -> int:
    """How many relations the question's wording describes (the module's list), its ``names``
    masked first, longest first."""
    return _relations(_tokens(question, names))


def _relations(tokens: list[str]) -> int:
    n = 0
    for i, token in enumerate(tokens):
        if i == 0:
            continue
        word, prev = token.lower(), tokens[i - 1]
        after_content = prev == _NAME or prev.lower() not in _FUNCTION
        if word in ("'s", "’s"):
            n += 1
        elif word in _PREPOSITIONS or word in _RELATIVE:
            n += after_content
        elif word in _PARTICIPLES:
            n += after_content and prev != _NAME
        elif token == _NAME and _kind_before(tokens, i):
            n += 1
    return n


def describes_chain(question: str, names: Iterable[str] = ()) -> bool:
    """Whether the question reaches its answer through something it describes: two relations, or
    one that describes an intermediate the answer is tied to ("What position did *the receiver of*
    the 2007 FIFA U-20 Golden Shoe play?"), not the answer itself ("Who was *the director of* …?")."""
    tokens = _tokens(question, names)
    return _relations(tokens) >= CHAIN_RELATIONS or _describes_intermediate(tokens)


def check_bridges(setting) -> None:
    """The bridges setting (``Thresholds.bridges``, ``AnswerScorer(bridges=)``): True, False or None."""
    if not (setting is None or isinstance(setting, bool)):
        raise InvalidValue(f"bridges must be true, false or unset (where the question describes a chain), not {setting!r}")


def bridges_for(setting: bool | None, question: str, names: Iterable[str] = ()) -> bool:
    """Whether bridges are looked for on ``question`` under the bridges ``setting``: always (True),
    never (False), or where the question describes a chain (None)."""
    return setting if setting is not None else describes_chain(question, names)


def _tokens(question: str, names: Iterable[str]) -> list[str]:
    text = question
    for name in sorted({n for n in names if n.strip()}, key=len, reverse=True):
        text = text.replace(name, f" {_NAME} ")
    return _TOKEN.findall(text)


def _marks_relation(tokens: list[str], i: int) -> bool:
    """Whether token ``i`` opens a relation to what precedes it."""
    word = tokens[i].lower()
    return tokens[i] == _NAME or word in _PREPOSITIONS or word in _RELATIVE or word in _PARTICIPLES


def _describes_intermediate(tokens: list[str]) -> bool:
    """A phrase opened by a determiner, at most three lower-case words, then a relation ("the
    receiver of", "the state where", "the company E"), that is not the answer the question asks
    for: the phrase right after an opening "who/what/which is|was|are|were"."""
    for j, token in enumerate(tokens):
        if token.lower() not in _DETERMINERS:
            continue
        if j == 2 and tokens[0].lower() in ("who", "what", "which") and tokens[1].lower() in _COPULAS:
            continue
        k = j + 1
        while k < len(tokens) and k - j <= 3 and tokens[k][:1].islower() and tokens[k].lower() not in _FUNCTION \
                and tokens[k].lower() not in _PARTICIPLES:
            k += 1
        if k > j + 1 and k < len(tokens) and _marks_relation(tokens, k):
            return True
    return False


def _kind_before(tokens: list[str], i: int) -> bool:
    """A name right after a lower-case noun of a phrase opened by a determiner: "the company E"."""
    prev = tokens[i - 1]
    if prev == _NAME or not prev[:1].islower() or prev.lower() in _FUNCTION:
        return False
    return any(t.lower() in _DETERMINERS for t in tokens[max(0, i - 4): i - 1])
