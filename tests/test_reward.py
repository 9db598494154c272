"""quco.reward: schemes, the trainer's call shapes, unknown counts, the cache, verl, the CLI."""

import json
import pickle
import subprocess
import sys

import pytest
from conftest import ROOT, write_jsonl

from quco.backends.base import Cooccurrence, Corpus, Count, CountBackend
from quco.backends.cached import CachedBackend
from quco.errors import BackendError, InvalidArgument, InvalidValue, UsageError
from quco.extract import Extractor
from quco.reward import open_reward
from quco.reward.core import Reward
from quco.reward.schemes import CorverBins, claim_score, corver_completion, evidence_completion


@pytest.fixture(scope="module")
def reward(tiny_index, model_extractor):
    return open_reward(tiny_index, model=model_extractor.model_name)


# CorVer's published mapping (github.com/shichengf/CorVer, train/sentence_reward.py and its tests):
# count -> sentence reward, boundaries included; None = no valid (head, tail) pair.
CORVER_TABLE = [(None, 0.0), (0, -0.3), (1, -0.1), (4, -0.1), (5, 0.0), (19, 0.0), (20, 0.1), (999, 0.1)]


@pytest.mark.parametrize(("count", "expected"), CORVER_TABLE)
def test_corver_bins_reproduce_the_published_mapping(count, expected):
    assert CorverBins()(count) == expected


def test_corver_later_revision_and_aggregation():
    assert CorverBins(zero=-0.2)(0) == -0.2  # the authors' later revision
    # per-token mean: a 3-word sentence at -0.3 and a 1-word one at +0.1 -> (-0.9 + 0.1) / 4
    assert corver_completion([-0.3, 0.1], [3, 1]) == pytest.approx(-0.2)
    assert corver_completion([], []) == 0.0


def test_evidence_scores_are_bounded_and_ignore_unchecked_sentences():
    assert claim_score(0.0) == 1.0 and claim_score(1.0) == -1.0 and claim_score(0.5) == 0.0
    assert evidence_completion([None, 0.5, None, -0.1]) == pytest.approx(0.2)  # padding neither dilutes nor helps
    assert evidence_completion([None, None]) == 0.0


def test_true_draft_outranks_wrong_one(reward):
    q = "Who wrote Hamlet?"
    right, wrong, empty = reward(prompts=[q, q, q], completions=[
        "Hamlet was written by William Shakespeare.", "Hamlet was written by Charles Dickens.", "I do not know."])
    assert right > 0 > wrong and empty == 0.0
    assert all(-1.0 <= r <= 1.0 for r in (right, wrong))


def test_conversational_format_and_extra_kwargs(reward):
    q = "Who wrote Hamlet?"
    plain = reward(prompts=[q], completions=["Hamlet was written by William Shakespeare."])
    chat = reward(prompts=[[{"role": "system", "content": "Be brief."}, {"role": "user", "content": q}]],
                  completions=[[{"role": "assistant", "content": [{"type": "text", "text":
                                                                   "Hamlet was written by William Shakespeare."}]}]],
                  completion_ids=[[1, 2]], trainer_state=object(), answer=["x"])
    assert chat == plain
    logged = {}
    reward(prompts=[q], completions=["Hamlet was written by William Shakespeare."], log_metric=logged.__setitem__)
    assert logged["quco/checked_sentences"] == 1.0 and logged["quco/unknown_claims"] == 0.0


def test_details_say_why(reward):
    d = reward.details(["Who wrote Hamlet?"], ["Hamlet is a tragedy. Hamlet was written by Charles Dickens."])[0]
    assert d.status == "ok" and d.checked >= 1 and d.corpus_tokens > 0 and d.index.startswith("duckdb:")
    wrong = d.sentences[1]
    assert wrong.text == "Hamlet was written by Charles Dickens." and wrong.reward is not None and wrong.reward < 0
    claim = wrong.claims[0]
    assert claim.claim == "Charles Dickens" and claim.cooccur == 0 and claim.score == wrong.reward
    assert json.loads(json.dumps(d.to_dict()))["sentences"][1]["claims"][0]["claim"] == "Charles Dickens"


def test_bad_inputs(reward):
    with pytest.raises(UsageError, match="one prompt per completion"):
        reward(prompts=["a", "b"], completions=["x"])
    with pytest.raises(InvalidArgument):
        reward(prompts="a", completions="x")
    with pytest.raises(InvalidValue):
        Reward(reward.detector.backend, scheme="nope")
    bad, long_one = reward.details(["Who wrote Hamlet?"] * 2, ["Hamlet\x00", "Hamlet was written. " * 6000])
    assert bad.status == "invalid" and bad.reward == 0.0  # never silently repaired, never a crash mid-training
    assert long_one.status == "truncated"
    assert reward.last_stats.invalid == 1 and reward.last_stats.truncated == 1


class Flaky(CountBackend):
    """Counts 'Charles Dickens' fail; everything else is answered by ``inner``."""

    name = "flaky"

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    @property
    def corpus(self) -> Corpus:
        return self.inner.corpus

    def count_many(self, phrases):
        self.calls += 1
        if "Charles Dickens" in phrases:
            raise BackendError("shard down")
        return self.inner.count_many(phrases)

    def cooccur_many(self, pairs, window=1000):
        return self.inner.cooccur_many(pairs, window)


def test_unknown_counts_are_neutral_counted_or_penalized(tiny_index, model_extractor):
    from quco.index.open import open_backend

    flaky = Flaky(open_backend(tiny_index))
    q, wrong = "Who wrote Hamlet?", "Hamlet was written by Charles Dickens."
    neutral = Reward(flaky, model_extractor)
    d = neutral.details([q], [wrong])[0]
    assert d.reward == 0.0 and d.unknown == 1 and d.sentences[0].claims[0].error == "shard down"
    assert neutral.last_stats.unknown == 1
    assert Reward(flaky, model_extractor, unknown="penalize")(prompts=[q], completions=[wrong]) == [-1.0]
    assert Reward(flaky, model_extractor, scheme="corver", unknown="penalize")(prompts=[q], completions=[wrong]) == [-0.3]


class FlakyPairs(Flaky):
    """As ``Flaky``, and co-occurrences with 'Denmark' fail too."""

    def cooccur_many(self, pairs, window=1000):
        if any("Denmark" in (a, b) for a, b in pairs):
            raise BackendError("pair shard down")
        return self.inner.cooccur_many(pairs, window)


CALLED = [
    ("Who wrote Hamlet?", "Hamlet was written by William Shakespeare. It is set in Denmark."),
    ("Who wrote Hamlet?", "Hamlet was written by Charles Dickens. He lived in Copenhagen."),
    ("Who wrote Hamlet?", "It was written by him. Oliver Twist is a novel by Charles Dickens."),
    ("Where is Hamlet set?", "Denmark. Copenhagen is the capital of Denmark."),
    ("Where is Hamlet set?", "I do not know."),
    ("Who wrote Hamlet?", "Hamlet\x00"),  # invalid: 0, counted as such
    ("Who wrote Oliver Twist?", [{"role": "assistant", "content": "Oliver Twist was written by Charles Dickens."}]),
]


@pytest.mark.parametrize("scheme", ["evidence", "corver"])
@pytest.mark.parametrize("unknown", ["neutral", "penalize"])
def test_call_gives_the_numbers_details_gives(tiny_index, model_extractor, scheme, unknown):
    """``__call__`` computes its floats without the reports: the same numbers and batch figures as
    ``details``, with failed counts and co-occurrences, pronouns, nothing to check, chat messages."""
    from dataclasses import replace

    from quco.index.open import open_backend

    prompts, completions = [p for p, _ in CALLED], [c for _, c in CALLED]
    for backend in (open_backend(tiny_index), Flaky(open_backend(tiny_index)), FlakyPairs(open_backend(tiny_index))):
        for ex in (model_extractor, Extractor("rules")):
            r = Reward(backend, ex, scheme=scheme, unknown=unknown, cache=0)
            called = r(prompts=prompts, completions=completions)
            stats = replace(r.last_stats, seconds=0.0)
            assert called == [d.reward for d in r.details(prompts, completions)]
            assert stats == replace(r.last_stats, seconds=0.0)
    assert stats.invalid == 1 and stats.unknown > 0  # the failures were seen


def test_cache_answers_repeats_and_never_remembers_a_failure(tiny_index):
    from quco.index.open import open_backend

    flaky = Flaky(open_backend(tiny_index))
    cached = CachedBackend(flaky, size=2)
    assert [c.count for c in cached.count_many(["Hamlet", "Denmark", "Hamlet"])] == [1, 2, 1]
    calls = flaky.calls
    assert cached.count_many(["Denmark"])[0] == Count("Denmark", 2) and flaky.calls == calls  # a hit
    with pytest.raises(BackendError):
        cached.count_many(["Charles Dickens"])
    with pytest.raises(BackendError):  # asked again, not served from memory
        cached.count_many(["Charles Dickens"])
    cached.count_many(["Copenhagen", "Oliver Twist", "Hamlet"])
    assert len(cached._counts) <= 2  # bounded
    co = cached.cooccur_many([("Hamlet", "Denmark")], 50)
    assert isinstance(co[0], Cooccurrence) and cached.cooccur_many([("Hamlet", "Denmark")], 50) == co
    assert pickle.loads(pickle.dumps(cached)).count("Hamlet").count == 1


def test_reward_pickles_by_configuration(reward):
    again = pickle.loads(pickle.dumps(reward))
    q = ["Who wrote Hamlet?"]
    c = ["Hamlet was written by William Shakespeare."]
    assert again(prompts=q, completions=c) == reward(prompts=q, completions=c)


def test_corver_scheme_takes_the_first_non_pronoun_pair(tiny_index, model_extractor):
    corver = open_reward(tiny_index, model=model_extractor.model_name, scheme="corver")
    d = corver.details(["Who wrote Hamlet?"], ["Hamlet was written by William Shakespeare. Hamlet was written by Charles "
                                               "Dickens."])[0]
    first, second = d.sentences
    assert first.claims[0].cooccur == 1 and first.reward == -0.1  # 1 <= c < 5
    assert second.claims[0].cooccur == 0 and second.reward == -0.3
    words = [len(first.text.split()), len(second.text.split())]
    assert d.reward == pytest.approx((-0.1 * words[0] - 0.3 * words[1]) / sum(words), abs=1e-6)


def test_verl_entry_points(tiny_index, monkeypatch):
    import quco.reward.verl as verl

    monkeypatch.setenv("QUCO_INDEX", str(tiny_index))
    monkeypatch.setenv("QUCO_REWARD_SCHEME", "evidence")
    monkeypatch.setattr(verl, "_reward", None)
    one = verl.compute_score("popqa", "Hamlet was written by Charles Dickens.", "William Shakespeare",
                             extra_info={"question": "Who wrote Hamlet?"})
    assert one["score"] < 0 and one["checked"] == 1 and one["unknown"] == 0
    batch = verl.compute_score_batch(["a", "a"], ["Hamlet was written by William Shakespeare.", "No idea."], [None, None],
                                     [{"question": "Who wrote Hamlet?"}, None])
    assert batch[0]["score"] > 0 and batch[1]["score"] == 0.0


def test_cli_reward_file(tiny_index, tmp_path):
    rows = [{"prompt": "Who wrote Hamlet?", "completion": "Hamlet was written by Charles Dickens.", "id": 7},
            {"prompt": [{"role": "user", "content": "Who wrote Hamlet?"}],
             "completion": [{"role": "assistant", "content": "Hamlet was written by William Shakespeare."}]},
            {"prompt": "Who wrote Hamlet?"}]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.parquet"
    cmd = [sys.executable, "-m", "quco.cli.main", "reward", str(src), "-o", str(out), "--index", str(tiny_index),
           "--details", "--json"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["rows"] == 3 and stats["rewarded"] == 2 and stats["errors"] == 1
    import duckdb

    got = duckdb.connect().execute(f"SELECT row, reward, id, details FROM read_parquet('{out}') ORDER BY row").fetchall()
    assert got[0][0] == 1 and got[0][1] < 0 < got[1][1] and got[0][2] == 7
    assert json.loads(got[0][3])[0]["claims"][0]["claim"] == "Charles Dickens"
    errors = [json.loads(line) for line in open(stats["errors_file"])]
    assert errors[0]["row"] == 3 and "completion" in errors[0]["reason"]
    # the input is never an output; a failed run leaves the previous output as it was
    before = out.read_bytes()
    r = subprocess.run(cmd[:6] + [str(src)] + cmd[7:], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 9 and "is the input" in r.stderr and r.stderr.count("\n") == 1
    r = subprocess.run(cmd[:4] + [str(tmp_path / "missing.jsonl")] + cmd[5:], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and out.read_bytes() == before


def test_rules_extractor_reward_is_fast_path(tiny_index):
    rules = Reward(CachedBackend(__import__("quco.index.open", fromlist=["x"]).open_backend(tiny_index)), Extractor("rules"))
    assert isinstance(rules.detector.backend, CachedBackend)  # not wrapped twice
    q = "Who wrote Hamlet?"
    right, wrong = rules(prompts=[q, q], completions=["Hamlet was written by William Shakespeare.",
                                                     "Hamlet was written by Charles Dickens."])
    assert right > wrong


def test_worker_processes_give_the_same_rewards(tiny_index):
    from quco.index.open import open_backend

    q = "Who wrote Hamlet?"
    completions = [f"Hamlet was written by {name}. It is set in {place}." for name in
                   ("William Shakespeare", "Charles Dickens", "Oliver Twist", "Denmark") for place in ("Denmark", "Paris")] * 20
    prompts = [q] * len(completions)
    alone = Reward(open_backend(tiny_index), Extractor("rules"))
    shared = Reward(open_backend(tiny_index), Extractor("rules"), workers=2)
    try:
        assert shared(prompts=prompts, completions=completions) == alone(prompts=prompts, completions=completions)
        assert shared._pool is not None and shared.last_stats.completions == len(completions)
    finally:
        shared.close()
    with pytest.raises(InvalidValue):
        Reward(open_backend(tiny_index), workers=0)


def test_call_equals_details_on_shared_popqa_drafts(shared_index, model_extractor):
    """The same equality on real rows: PopQA drafts stating the row's object and another row's."""
    from conftest import SHARED

    rows = [json.loads(line) for line in open(SHARED / "eval" / "popqa_1000.jsonl", encoding="utf-8")][:240]
    prompts, completions = [], []
    for k, row in enumerate(rows):
        other = rows[(k + 37) % len(rows)]
        for obj in (row["obj"], other["obj"]):
            prompts.append(row["question"])
            completions.append(f"{row['subj']}'s {row['prop']} is {obj}. {other['subj']}'s {other['prop']} is "
                               f"{other['obj']}.")
    for scheme in ("evidence", "corver"):
        for ex in (model_extractor, Extractor("rules")):
            r = Reward(shared_index, ex, scheme=scheme)
            assert r(prompts=prompts, completions=completions) == [d.reward for d in r.details(prompts, completions)]
