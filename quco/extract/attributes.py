"""The attribute ruler's assignments (POS from tags, lemmas and morphology of function words),
made by a table lookup per token instead of spaCy's token ``Matcher``.

The pinned pipeline's ``attribute_ruler`` maps each token's tag (and, for some words, its lower
form, dependency label or whitespace) to a coarse POS, a morphology and sometimes a lemma, through
179 token patterns. Run through the generic ``Matcher`` it costs about a tenth of a draft's whole
parse; the same patterns depend on only four attributes of a token (tag, lower form, dependency,
whitespace) and on one neighbour for a handful of two-token ones, so their outcome per combination
is computed once and remembered. ``FastAttributes`` compiles the ruler's own patterns (nothing is
hand-copied: a different model brings its own) and refuses any it cannot evaluate exactly, so the
caller then keeps the ruler. The result is the ruler's, attribute for attribute
(``tests/test_extract_attributes.py`` compares every token of corpus paragraphs and of texts with
every kind of pattern the pinned model has).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_KEYS = ("TAG", "LOWER", "DEP", "IS_SPACE")
_SET = ("POS", "TAG", "DEP", "LEMMA", "MORPH")
_MEMO = 200_000  # distinct (tag, lower, dep, space) combinations remembered before starting over

Token = tuple[str, str, str, bool]  # tag, lower form, dependency label, is-space
Test = Callable[[Token], bool]


class Unsupported(ValueError):
    """A ruler pattern this module cannot evaluate exactly (the ruler is then kept)."""


def _value_test(key: str, spec) -> Test:
    at = _KEYS.index(key)
    if key == "IS_SPACE":
        if not isinstance(spec, bool):
            raise Unsupported(f"IS_SPACE {spec!r}")
        return lambda t: t[at] is spec
    if isinstance(spec, str):
        return lambda t: t[at] == spec
    if isinstance(spec, dict) and len(spec) == 1:
        (op, arg), = spec.items()
        if op == "IN" and isinstance(arg, list):
            allowed = frozenset(arg)
            return lambda t: t[at] in allowed
        if op == "NOT_IN" and isinstance(arg, list):
            barred = frozenset(arg)
            return lambda t: t[at] not in barred
        if op == "REGEX" and isinstance(arg, str):
            pattern = re.compile(arg)
            return lambda t: pattern.search(str(t[at])) is not None
    raise Unsupported(f"{key} {spec!r}")


def _token_test(token_spec: dict) -> Test:
    if not token_spec or any(k not in _KEYS for k in token_spec):
        raise Unsupported(f"token pattern {token_spec!r}")
    tests = [_value_test(k, v) for k, v in token_spec.items()]
    return lambda t: all(test(t) for test in tests)


class FastAttributes:
    """Applies an ``AttributeRuler``'s patterns to a parsed ``Doc`` as the ruler would: matches are
    found on the doc as it comes in, then applied in pattern order (a later pattern wins)."""

    def __init__(self, ruler, vocab):
        self._vocab = vocab
        # Single-token patterns as (order, test, attribute ids -> value ids), filed under the tags
        # (else the lower forms) they require, so that a new combination tests only its candidates.
        self._by_tag: dict[str, list] = {}
        self._by_lower: dict[str, list] = {}
        self._any: list[tuple[int, Test, dict]] = []
        self._multi: list[tuple[int, list[Test], int, dict]] = []  # (order, tests, index, attributes)
        for order, entry in enumerate(ruler.patterns):
            attrs = self._attrs(entry["attrs"])
            for pattern in entry["patterns"]:
                tests = [_token_test(spec) for spec in pattern]
                index = entry.get("index", 0)
                if not -len(tests) <= index < len(tests):
                    raise Unsupported(f"index {index} of {pattern!r}")
                if len(tests) == 1:
                    self._file(pattern[0], (order, tests[0], attrs))
                else:
                    self._multi.append((order, tests, index % len(tests), attrs))
        self._memo: dict[tuple[int, int, int, int], tuple[tuple, list, list]] = {}

    def _file(self, spec: dict, single: tuple[int, Test, dict]) -> None:
        for key, table in (("TAG", self._by_tag), ("LOWER", self._by_lower)):
            value = spec.get(key)
            values = [value] if isinstance(value, str) else value.get("IN") if isinstance(value, dict) else None
            if isinstance(values, list):
                for v in dict.fromkeys(values):
                    table.setdefault(v, []).append(single)
                return
        self._any.append(single)

    def _attrs(self, attrs: dict) -> dict[int, int]:
        out = {}
        for name, value in attrs.items():
            if name not in _SET or not isinstance(value, str):
                raise Unsupported(f"sets {name}={value!r}")
            key = self._vocab.morphology.add(value) if name == "MORPH" else self._vocab.strings.add(value)
            out[_SET.index(name)] = key
        return out

    def _matches(self, key: tuple[int, int, int, int]) -> tuple[tuple, list, list]:
        """For one token's (tag, lower, dep, space) ids: what its single-token patterns set, merged
        in pattern order ((column, value) pairs), those patterns themselves and the two-token
        patterns it can start, in pattern order."""
        found = self._memo.get(key)
        if found is None:
            token = self._token(key, self._vocab.strings)
            candidates = self._by_tag.get(token[0], []) + self._by_lower.get(token[1], []) + self._any
            candidates.sort(key=lambda c: c[0])
            single = [(order, attrs) for order, test, attrs in candidates if test(token)]
            found = (_merged(single), single, [m for m in self._multi if m[1][0](token)])
            if len(self._memo) >= _MEMO:
                self._memo.clear()
            self._memo[key] = found
        return found

    def __call__(self, doc):
        from spacy.attrs import DEP, IS_SPACE, LEMMA, LOWER, MORPH, POS, TAG

        n = len(doc)
        if n == 0:
            return doc
        tag, lower, dep, space, *values = doc.to_array([TAG, LOWER, DEP, IS_SPACE, POS, TAG, DEP, LEMMA, MORPH]).T.tolist()
        keys = list(zip(tag, lower, dep, space))
        found = [self._matches(key) for key in keys]
        extra: dict[int, list] = {}  # token -> two-token patterns that set it
        for i, (_, _, starts) in enumerate(found):
            for order, tests, index, attrs in starts:
                if i + len(tests) <= n and all(
                        test(self._token(keys[i + k], self._vocab.strings)) for k, test in enumerate(tests) if k):
                    extra.setdefault(i + index, []).append((order, attrs))
        changed = False
        for i, (merged, single, _) in enumerate(found):
            if i in extra:
                merged = _merged(sorted(single + extra[i], key=lambda h: h[0]))
            for column, value in merged:
                values[column][i] = value
                changed = True
        if changed:
            import numpy

            doc.from_array([POS, TAG, DEP, LEMMA, MORPH], numpy.array(values, dtype="uint64").T)
        return doc

    @staticmethod
    def _token(key: tuple[int, int, int, int], strings) -> Token:
        tag, lower, dep, space = key
        return (strings[tag] if tag else "", strings[lower], strings[dep] if dep else "", bool(space))


def _merged(hits: list) -> tuple[tuple[int, int], ...]:
    """What ``hits`` ((order, attributes) in pattern order) set, a later pattern winning."""
    out: dict[int, int] = {}
    for _, attrs in hits:
        out.update(attrs)
    return tuple(out.items())


def fast_attributes(nlp) -> FastAttributes | None:
    """A ``FastAttributes`` for ``nlp``'s ``attribute_ruler``, or None when it has none or one
    with a pattern this module cannot evaluate exactly."""
    if "attribute_ruler" not in nlp.pipe_names:
        return None
    from spacy.pipeline import AttributeRuler

    ruler = nlp.get_pipe("attribute_ruler")
    if not isinstance(ruler, AttributeRuler):
        return None
    try:
        return FastAttributes(ruler, nlp.vocab)
    except Unsupported:
        return None
