"""Settings from ``quco.toml`` and ``QUCO_*`` variables, turned into components at the edge.

Precedence: command-line flags > environment > ``quco.toml`` > defaults. The library itself never
reads configuration; the CLI builds a ``Detector`` from a ``Settings``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quco.errors import ConfigError

if TYPE_CHECKING:
    from quco.backends.base import CountBackend

DEFAULT_INDEX = "indexes/demo.duckdb"


@dataclass(frozen=True)
class Settings:
    index: str = DEFAULT_INDEX
    model: str | None = None  # spaCy package name, "rules", or None for the default load order
    window: int = 1000
    unknown_policy: str = "risky"
    aggregate: str | None = None  # None: min in mode evidence, mean (the paper's) in mode quco
    mode: str = "evidence"  # stage 2: "evidence" (association above chance) or "quco" (QuCo-RAG's co-occurrence = 0 rule)
    claim_risk: float = 0.5  # mode "evidence": flag a sentence whose least supported claim's risk exceeds this
    # mode "evidence": silent claims supported through multi-hop bridges (unset: where the question describes a chain)
    bridges: bool | None = None
    calibration: str | None = None  # a calibration file from quco calibrate: reports gain p_fabrication
    entity_threshold: float | None = None  # absolute overrides; None = scale QuCo-RAG's values
    cooccur_threshold: float | None = None
    lone_entity_threshold: float | None = None
    case_fold: bool | None = None  # None: accept whatever the index was built with
    backend: str = "auto"  # auto (detected from the index), duckdb, mmap, sharded, infinigram-local, infinigram-api
    cooccur_mode: str = "exact"  # infinigram-local: exact word windows, or the engine's count_cnf ("cnf")
    tokenizer: str | None = None  # "hf:NAME" for a token-level infini-gram index built elsewhere
    token_dtype: str | None = None  # u8, u16 or u32 for such an index
    api_endpoint: str = "https://api.infini-gram.io/"
    api_index: str = "v4_olmo-2-0325-32b-instruct_llama"
    api_corpus_tokens: int = 4_600_000_000_000
    api_cache: str | None = "data/cache/infinigram-api.sqlite"  # "" or "none" disables the cache
    api_timeout: float = 20.0
    max_draft_sentences: int = 1000  # a longer draft is refused before its pairs are counted
    work_budget: int = 5_000  # local indexes: positions one query may examine before it estimates (approx)
    api_max_retry_after: float = 120.0  # honour a server's Retry-After up to this many seconds
    api_deadline: float = 300.0  # one request, all retries and waits included
    shards: tuple[str, ...] = ()  # backend = "sharded": local index paths, http(s)://quco-serve URLs, ray:PATH
    shard_timeout: float = 30.0  # seconds one shard may take for one batch (remote and Ray shards)
    shard_token_file: str | None = None  # bearer token for remote quco serve shards, read from this file
    ray_address: str | None = None  # Ray cluster for ray: shards ("auto", "ray://host:10001"); None: a local Ray
    reward_scheme: str = "evidence"  # quco.reward: "evidence" (quco's evidence model) or "corver" (CorVer's bins)
    reward_unknown: str = "neutral"  # quco.reward: an unknown count scores 0 ("neutral") or as unsupported ("penalize")

    def to_dict(self) -> dict:
        """Plain JSON values (tuples become lists); ``from_dict`` gives back an equal Settings."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        """The inverse of ``to_dict`` through JSON: list values of tuple fields become tuples again,
        so the result compares (and hashes) equal to the original."""
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) and _TYPES[k].startswith("tuple") else v
                                  for k, v in data.items()}
        return cls(**values)

    def thresholds(self):
        from quco.decide.trigger import Thresholds

        try:
            return Thresholds(
                entity_absolute=self.entity_threshold,
                cooccur_absolute=self.cooccur_threshold,
                lone_entity_absolute=self.lone_entity_threshold,
                aggregate=self.aggregate,
                unknown_policy=self.unknown_policy,
                mode=self.mode,
                claim_risk=self.claim_risk,
                bridges=self.bridges,
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def open_backend(self):
        from quco.normalize import Normalizer

        if self.backend == "infinigram-api":
            return self._open_api()
        if self.backend == "sharded" and self.shards:
            return self._open_shards()
        from quco.index.open import open_backend

        require = None if self.case_fold is None else Normalizer(case_fold=self.case_fold)
        return open_backend(
            self.index,
            backend=self.backend,
            require=require,
            cooccur=self.cooccur_mode,
            tokenizer=self.tokenizer,
            token_dtype=self.token_dtype,
            budget=self.work_budget,
        )

    def check_backend(self) -> None:
        """Fail fast on a missing or incompatible index without loading it."""
        from quco.normalize import Normalizer

        if self.backend == "infinigram-api":
            self._open_api().close()  # validates the settings; sends no request
            return
        if self.backend == "sharded" and self.shards:
            from quco.index.open import check_index

            for spec in self.shards:
                if not spec.startswith(("http://", "https://", "ray:")):
                    check_index(spec, require=None if self.case_fold is None else Normalizer(case_fold=self.case_fold))
            return
        from quco.index.open import check_index

        require = None if self.case_fold is None else Normalizer(case_fold=self.case_fold)
        check_index(self.index, backend=self.backend, require=require, tokenizer=self.tokenizer,
                    token_dtype=self.token_dtype)

    def index_identity(self) -> str:
        """Which corpus a run counts against, from metadata alone: the fingerprint of the local
        index (or of each local shard), the hosted index's name and endpoint, a remote shard's URL
        (``quco score`` refuses to resume against another)."""
        from quco.index.open import fingerprint

        if self.backend == "infinigram-api":
            return f"infinigram-api:{self.api_index}@{self.api_endpoint}"
        if self.backend == "sharded" and self.shards:
            return ",".join(spec if spec.startswith(("http://", "https://", "ray:")) else fingerprint(spec)
                            for spec in self.shards)
        return fingerprint(self.index, backend=self.backend)

    def _open_shards(self):
        """``backend = "sharded"``: one ``ShardedBackend`` over the configured shard specs."""
        from quco.backends.remote import RemoteShard
        from quco.backends.sharded import ShardedBackend
        from quco.index.open import open_backend
        from quco.normalize import Normalizer

        require = None if self.case_fold is None else Normalizer(case_fold=self.case_fold)
        token = None
        if self.shard_token_file:
            try:
                token = Path(self.shard_token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"shard_token_file {self.shard_token_file}: {exc.strerror}") from None
        ray_specs = [spec[4:] for spec in self.shards if spec.startswith("ray:")]
        actors: Iterator[CountBackend] = iter(())
        if ray_specs:
            from quco.backends.ray import init_ray
            from quco.index.sharded.ray import start_ray_shards

            init_ray(self.ray_address)
            actors = iter(start_ray_shards(ray_specs, budget=self.work_budget, timeout=self.shard_timeout))
        shards: list[CountBackend] = []
        for spec in self.shards:
            if spec.startswith(("http://", "https://")):
                shards.append(RemoteShard(spec, token=token, timeout=(3.05, self.shard_timeout)))
            elif spec.startswith("ray:"):
                shards.append(next(actors))
            else:
                shards.append(open_backend(spec, require=require, budget=self.work_budget))
        return ShardedBackend(shards, names=list(self.shards), timeout=self.shard_timeout)

    def _open_api(self):
        from quco.backends.infinigram_api import HttpClient, InfiniGramAPI, ResponseCache, RetryPolicy

        cache = None
        if self.api_cache and self.api_cache.lower() != "none":
            cache = ResponseCache(self.api_cache)
        try:
            return InfiniGramAPI(
                endpoint=self.api_endpoint,
                index=self.api_index,
                corpus_tokens=self.api_corpus_tokens,
                http=HttpClient(timeout=(3.05, self.api_timeout),
                                policy=RetryPolicy(max_retry_after=self.api_max_retry_after, deadline=self.api_deadline)),
                cache=cache,
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def detector(self, backend=None):
        from quco.decide.detector import Detector
        from quco.extract import Extractor

        backend = backend or self.open_backend()
        return Detector(backend, Extractor(self.model), self.thresholds(), window=self.window,
                        max_draft_sentences=self.max_draft_sentences, calibration=self.calibration_of("risk"))

    def answer_scorer(self, detector):
        """The answer-level scorer sharing ``detector``'s backend and extractor."""
        from quco.decide.answer import AnswerScorer

        return AnswerScorer(detector.backend, detector.extractor, window=detector.window,
                            unknown_policy=self.unknown_policy, calibration=self.calibration_of("answer_risk"),
                            bridges=self.bridges)

    def calibration_of(self, score: str):
        """The configured calibration if it maps ``score`` ("risk" or "answer_risk"), else None."""
        if not self.calibration:
            return None
        from quco.decide.calibration import Calibration

        cal = Calibration.load(self.calibration)
        return cal if cal.score == score else None


_TYPES = {f.name: f.type for f in fields(Settings)}
_ENV = {
    "QUCO_INDEX": "index",
    "QUCO_MODEL": "model",
    "QUCO_WINDOW": "window",
    "QUCO_UNKNOWN_POLICY": "unknown_policy",
    "QUCO_AGGREGATE": "aggregate",
    "QUCO_MODE": "mode",
    "QUCO_CLAIM_RISK": "claim_risk",
    "QUCO_CALIBRATION": "calibration",
    "QUCO_ENTITY_THRESHOLD": "entity_threshold",
    "QUCO_COOCCUR_THRESHOLD": "cooccur_threshold",
    "QUCO_LONE_ENTITY_THRESHOLD": "lone_entity_threshold",
    "QUCO_CASE_FOLD": "case_fold",
    "QUCO_BACKEND": "backend",
    "QUCO_COOCCUR_MODE": "cooccur_mode",
    "QUCO_TOKENIZER": "tokenizer",
    "QUCO_TOKEN_DTYPE": "token_dtype",
    "QUCO_API_ENDPOINT": "api_endpoint",
    "QUCO_API_INDEX": "api_index",
    "QUCO_API_CACHE": "api_cache",
    "QUCO_API_MAX_RETRY_AFTER": "api_max_retry_after",
    "QUCO_API_DEADLINE": "api_deadline",
    "QUCO_MAX_DRAFT_SENTENCES": "max_draft_sentences",
    "QUCO_WORK_BUDGET": "work_budget",
    "QUCO_SHARDS": "shards",
    "QUCO_SHARD_TIMEOUT": "shard_timeout",
    "QUCO_SHARD_TOKEN_FILE": "shard_token_file",
    "RAY_ADDRESS": "ray_address",
    "QUCO_REWARD_SCHEME": "reward_scheme",
    "QUCO_REWARD_UNKNOWN": "reward_unknown",
    "QUCO_BRIDGES": "bridges",
}


def _coerce(name: str, value, origin: str):
    kind = _TYPES[name]
    try:
        if "bool" in kind:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if "float" in kind:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind.startswith("tuple"):  # a TOML array, or a comma-separated list from the environment
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
                raise ValueError
            return tuple(i.strip() for i in items if i.strip())
        if not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: invalid value {value!r} for {name}") from None


def load_settings(config_path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None,
                  **overrides) -> Settings:
    """Settings from, in rising precedence: defaults, the user's config (``$XDG_CONFIG_HOME/quco/config.toml``,
    else ``~/.config/quco/config.toml``), the project's ``[tool.quco]`` in ``./pyproject.toml``, the
    project's ``quco.toml`` (or ``config_path`` / ``QUCO_CONFIG``, which must exist), ``QUCO_*``
    variables, then ``overrides`` (command-line flags)."""
    env = os.environ if env is None else env
    settings = Settings()
    for path, table_of in _config_files(config_path, env):
        settings = replace(settings, **_read_table(path, table_of))
    from_env = {field: _coerce(field, env[var], var) for var, field in _ENV.items() if env.get(var) not in (None, "")}
    settings = replace(settings, **from_env)
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(settings, **{k: _coerce(k, v, "--" + k.replace("_", "-")) for k, v in given.items()})


def _config_files(config_path, env: Mapping[str, str]) -> list[tuple[Path, Any]]:
    """The configuration files that exist, lowest precedence first, each with how to find its table."""
    explicit = config_path or env.get("QUCO_CONFIG")
    if config_path and not Path(config_path).exists():
        raise ConfigError(f"{config_path}: config file not found")
    home = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", str(Path.home()))) / ".config")
    files: list[tuple[Path, Any]] = [(Path(home) / "quco" / "config.toml", lambda d: d.get("quco", d))]
    files.append((Path("pyproject.toml"), lambda d: d.get("tool", {}).get("quco", {})))
    files.append((Path(explicit) if explicit else Path("quco.toml"), lambda d: d.get("quco", d)))
    return [(p, table_of) for p, table_of in files if p.is_file()]


def _read_table(path: Path, table_of) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    table = table_of(data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: the quco settings must be a table")
    unknown = sorted(set(table) - set(_TYPES))
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    return {k: _coerce(k, v, str(path)) for k, v in table.items()}
