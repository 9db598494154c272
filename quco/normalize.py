"""Text normalisation shared by index builds and queries.

The exact same function must run on the corpus and on every query, otherwise counts silently
disagree; so the settings are stored inside each index and re-created from there at query time.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache

# Python's \w is Unicode-aware: letters, digits, marks joined to letters, and underscore.
_WORD = re.compile(r"\w+")
TOKENIZER_NAME = "regex-word-v1"


@dataclass(frozen=True)
class Normalizer:
    """NFKC + optional case folding + word tokenisation (``\\w+``)."""

    nfkc: bool = True
    case_fold: bool = True
    tokenizer: str = TOKENIZER_NAME

    def __post_init__(self) -> None:
        if self.tokenizer != TOKENIZER_NAME:
            # Only one tokenizer exists; an index naming another one was built by other code.
            from quco.errors import IndexSettingsError

            raise IndexSettingsError(f"unknown tokenizer {self.tokenizer!r} (this quco knows {TOKENIZER_NAME!r})")

    def normalize(self, text: str) -> str:
        if self.nfkc:
            text = unicodedata.normalize("NFKC", text)
        if self.case_fold:
            text = text.casefold()
        return text

    def tokens(self, text: str) -> list[str]:
        return _WORD.findall(self.normalize(text))

    def canonical(self, text: str) -> str:
        """The phrase as the index sees it: normalised tokens joined by single spaces."""
        if len(text) <= _CACHED_CHARS:  # phrases: the same few are asked for many times a batch
            return _canonical(self.nfkc, self.case_fold, text)
        return " ".join(self.tokens(text))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Normalizer:
        return cls(**{k: data[k] for k in ("nfkc", "case_fold", "tokenizer") if k in data})


_CACHED_CHARS = 256


@lru_cache(maxsize=1 << 14)
def _canonical(nfkc: bool, case_fold: bool, text: str) -> str:
    """``Normalizer(nfkc, case_fold).canonical(text)``: a pure function of the settings and the text."""
    return " ".join(Normalizer(nfkc, case_fold).tokens(text))


def invalid_text(text: str) -> str | None:
    """Why ``text`` is not valid Unicode (undecodable bytes kept by surrogateescape, or a lone
    surrogate from a JSON escape), or None. quco's one UTF-8 policy: such input is rejected with
    its position, never silently replaced, in every command."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"invalid UTF-8 at character {exc.start + 1}"
    return None


# Numbers written as words, with the digits they stand for: a claim "four" is counted with "4",
# "third" with "3rd"; an answer "third" is a claim although it is a stop word.
_CARDINALS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
              "sixteen seventeen eighteen nineteen twenty").split()
_ORDINALS = "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split()


def _suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


NUMBER_WORDS: dict[str, str] = {**{w: str(i) for i, w in enumerate(_CARDINALS)},
                                **{w: f"{i}{_suffix(i)}" for i, w in enumerate(_ORDINALS, 1)}}
ORDINAL_WORDS = frozenset(_ORDINALS)

