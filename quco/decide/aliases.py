"""The corpus's own aliases for a claim: "A playwright or dramatist is a person who writes plays."

A common-noun claim the corpus never writes near its anchor may be written there under another
name: the article on "Kazuyoshi Sekine" calls him a *dramatist*, the draft a *playwright*. The
corpus says which words name the same thing in the opening sentence of the article titled with the
claim ("A playwright or dramatist is…", "A disc jockey, more commonly abbreviated as DJ, is…",
"A screenwriter (also called scriptwriter, scribe, or scenarist) is…"). A claim with no article
of its own (or none giving another name) may be given as another name elsewhere: in the opening of
the article on that other name ("A manga artist, also known as a mangaka (Japanese: 漫画家), is…"
gives *manga artist* for "mangaka") or glossed in parentheses after it ("…voice actors (声優,
seiyū) and actresses…" gives *voice actors* for "seiyū"); the sentences holding the claim are
read for these (``quco.decide.reading.read_statements``). No thesaurus or model is used: an alias
is what the corpus itself gives, and only there. The article's wording decides: an opening joining
two kinds as one subject ("An actor or actress is…") makes them aliases.

Only a *silent* claim is looked for (``quco.decide.bridges.silent``), and an alias only ever
supports: the claim's evidence becomes the alias's when the alias is associated with the anchor
more strongly, never weaker. A backend without titles, text or places (``QueryError``) or that
fails gives no aliases.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from quco.backends.base import CountBackend
from quco.decide.evidence import ClaimEvidence, claim_evidence, claim_pairs, word_forms
from quco.decide.lookups import cooccurrences_of, counts_of
from quco.decide.reading import read_statements, shorten
from quco.errors import BackendError, QueryError

__all__ = ["Alias", "AliasMemo", "aliases_of", "by_alias", "given_as", "lookup_aliases"]

_COMMON_NOUN = re.compile(r"(?!.*[A-Z])[^\W\d_]+(?: [^\W\d_]+){0,3}")  # lower-case words, any letters ("seiyū")
_NAME = re.compile(r"[A-Z][\w'’-]*(?: (?:[A-Z][\w'’-]*|of|de|del|la|le|upon|on|am|an der))*")  # a place's, a person's
_SAYS_ALIAS = (r"(?:or|also called|also known as|sometimes called|otherwise known as|"
               r"(?:previously|formerly|once|historically)\s+(?:romanized|known|called|spelled)\s+as|"
               r"(?:more\s+)?(?:commonly\s+)?abbreviated(?:\s+as)?)")
# "Santurtzi (Spanish: Santurce; Basque: …)": a name in another language, glossed after the title
_GLOSS = re.compile(r"\b[A-Z][a-z]+:\s*(?P<name>[^;:\[\](),]+?)\s*(?=[;\[\](),]|$)")
_SPLIT = re.compile(r",\s*(?:or\s+)?|\s+or\s+")
_LEAD = re.compile(r"^(?:an?|the|simply)\s+", re.I)
MAX_ALIAS_WORDS = 4


@dataclass(frozen=True)
class Alias:
    """Another name the corpus gives a claim, and where it says so (``said``: the article whose
    opening gives it, or the sentence glossing the claim)."""

    name: str
    said: str


def aliases_of(sentence: str, claim: str) -> tuple[str, ...]:
    """The names an article's opening ``sentence`` gives its subject ``claim`` beside its title
    ("A playwright or dramatist is…" -> ("dramatist",)); () when it gives none."""
    m = re.match(rf"\W*(?:an?\s+|the\s+)?{re.escape(claim)}\s*[(,]?\s*{_SAYS_ALIAS}\s+(?P<rest>[^();:]+?)"
                 r"\s*(?:\)|,?\s+(?:is|are|was|were)\b)", sentence, re.I)
    parts = _SPLIT.split(m.group("rest")) if m is not None else []
    if _NAME.fullmatch(claim) and (g := re.match(rf"\W*(?:the\s+)?{re.escape(claim)}\s*\((?P<gloss>[^)]*)\)", sentence)):
        parts += [x.group("name") for x in _GLOSS.finditer(g.group("gloss"))]
    return _kept(parts, claim)


def given_as(sentence: str, claim: str) -> tuple[str, ...]:
    """The names a sentence of *another* article gives for the common noun ``claim``: the subject of
    an opening naming the claim as its other name ("A manga artist, also known as a mangaka (…),
    is…" -> ("manga artist",)), or the words a parenthesis glossing it follows ("voice actors (声優,
    seiyū)" -> ("voice actors",)); () when it gives none."""
    c = re.escape(claim)
    opening = re.match(rf"\W*(?:an?\s+|the\s+)?(?P<alias>[a-z]+(?: [a-z]+){{0,3}}?)\s*[(,]?\s*{_SAYS_ALIAS}\s+"
                       rf"(?:an?\s+|the\s+)?{c}(?!\w)", sentence, re.I)
    parts = [opening.group("alias")] if opening is not None else []
    parts += [_FUNCTION_WORDS.sub("", m.group("alias"))
              for m in re.finditer(rf"(?<![\w-])(?P<alias>[a-z]+(?: [a-z]+)?)\s+\((?:[^()]*?,\s*)?{c}\)", sentence)]
    return _kept(parts, claim)


_FUNCTION_WORDS = re.compile(r"^(?:(?:an?|the|and|or|of|in|as|to|by|for|with)\s+)+")


def _kept(parts: Sequence[str], claim: str) -> tuple[str, ...]:
    """The candidate names that can be aliases of ``claim``: one to ``MAX_ALIAS_WORDS`` words of
    Latin letters, not a form of the claim itself."""
    own = set(word_forms(claim)) | {claim.lower()}
    out = []
    for part in parts:
        alias = _LEAD.sub("", part.strip())
        if alias and 1 <= len(alias.split()) <= MAX_ALIAS_WORDS and alias.lower() not in own \
                and re.fullmatch(r"[\w' -]+", alias) and all(ord(ch) < 0x250 for ch in alias):  # Latin letters
            out.append(alias)
    return tuple(dict.fromkeys(out))


class AliasMemo:
    """Each claim's aliases, remembered for the last ``size`` claims looked up (with none too): an
    article's opening never changes, and a service or a training run checks the same claims again.
    Safe to share between threads."""

    def __init__(self, size: int = 65536):
        self.size = size
        self._seen: OrderedDict[str, tuple[Alias, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def aliases_many(self, backend: CountBackend, claims: Sequence[str]) -> dict[str, tuple[Alias, ...]]:
        """claim -> its aliases (those with any), looking up only the claims not remembered."""
        with self._lock:
            known = {c: self._seen[c] for c in claims if c in self._seen}
        missing = [c for c in claims if c not in known]
        found = lookup_aliases(backend, missing, remember=True) if missing else {}
        with self._lock:
            for c in missing:
                if c in found:  # a failed lookup is not remembered: asked again next time
                    self._seen[c] = found[c]
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
        return {c: a for c, a in {**known, **found}.items() if a}


def lookup_aliases(backend: CountBackend, claims: Sequence[str], remember: bool = False) -> dict[str, tuple[Alias, ...]]:
    """claim -> its aliases, read from the opening of the article titled with it
    (``CountBackend.article_places_many``), else, for a common noun, from the sentences of other
    articles holding it (``given_as``); a backend batch each. With ``remember``, claims found to
    have none map to () (a failure still gives {})."""
    claims = sorted({c for c in claims if _COMMON_NOUN.fullmatch(c) or _NAME.fullmatch(c) and len(c.split()) <= MAX_ALIAS_WORDS})
    if not claims:
        return {}
    try:
        places = backend.article_places_many([(c, c) for c in claims], limit=1)
    except (QueryError, BackendError):
        return {}
    found: dict[str, tuple[Alias, ...]] = {}
    for c, p in zip(claims, places):
        src = p.sources[0] if p.sources else None
        if src is None or not src.text:
            found[c] = ()
            continue
        said = f"the article {src.title or c!r} opens {shorten(' '.join(src.text.split()))!r}"
        found[c] = tuple(Alias(a, said) for a in aliases_of(src.text, c))
    elsewhere = [c for c, a in found.items() if not a and _COMMON_NOUN.fullmatch(c)]
    if elsewhere:
        read = read_statements(backend, elsewhere)
        for c in elsewhere:
            given = {a: f"a sentence says {shorten(' '.join(st.sentence.split()))!r}"
                     for st in read.get(c) or () for a in given_as(st.sentence, c)}
            found[c] = tuple(Alias(a, said) for a, said in given.items())
    return found if remember else {c: a for c, a in found.items() if a}


def by_alias(backend: CountBackend, quiet: dict, window: int, memo: AliasMemo | None = None) -> dict:
    """(claim, anchors) -> the claim's evidence through its alias, for the silent claims (``quiet``:
    (claim, anchors) -> ``ClaimEvidence``) an alias supports better; two more backend batches
    (the aliases' counts, then their co-occurrences with the anchors) when any claim has one."""
    claims = [c for c, _ in quiet]
    aliases = memo.aliases_many(backend, claims) if memo is not None else lookup_aliases(backend, claims)
    keys = [(c, anchors) for c, anchors in quiet if c in aliases]
    if not keys:
        return {}
    counts = counts_of(backend, sorted({f for c, _ in keys for x in aliases[c] for f in word_forms(x.name)}
                                       | {a for _, anchors in keys for a in anchors}))
    cooccur = cooccurrences_of(backend, sorted({p for c, anchors in keys for x in aliases[c] for a in anchors
                                                for p in claim_pairs(a, x.name, counts)}), window)
    out = {}
    for c, anchors in keys:
        found = [(ev, x) for x in aliases[c]
                 if (ev := claim_evidence(x.name, anchors, counts, cooccur, backend.corpus, window))]
        best = min(found, key=lambda f: f[0].risk, default=None)
        if best is not None and best[0].cooccur and best[0].risk < quiet[(c, anchors)].risk:  # seen near the anchor
            out[(c, anchors)] = _as_claim(best[0], c, best[1].said)
    return out


def _as_claim(alias_ev: ClaimEvidence, claim: str, said: str) -> ClaimEvidence:
    """The alias's evidence as the claim's: the claim keeps its name, the alias is said, and where."""
    return replace(alias_ev, phrase=claim, forms=(alias_ev.phrase, *alias_ev.forms), alias=alias_ev.phrase,
                   alias_said=said or None)
