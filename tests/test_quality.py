"""Detection quality v2: the evidence model, whole names, calibration and the `quco eval` report."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, SHARED, write_jsonl

from quco.backends.base import Corpus
from quco.batch.api import evaluate, score
from quco.cli.main import main as cli
from quco.config import load_settings
from quco.decide.calibration import Calibration, CalibrationError, fit, isotonic, reliability
from quco.decide.detector import Detector
from quco.decide.evidence import association, new_claims, window_span, word_forms
from quco.errors import OutputError, UsageError
from quco.index.duckdb.build import build_index

QUESTIONS = ["Who wrote Hamlet?", "Who wrote Oliver Twist?", "Where is Copenhagen?", "Who founded Arthur's Magazine?"]


@pytest.fixture(scope="module")
def env(tiny_index):
    return tiny_index.parent, load_settings(env={}, index=str(tiny_index), model="rules", window=10)


def labelled(path, n=40):
    rows = []
    for i in range(n):
        q = QUESTIONS[i % 2]
        right = "William Shakespeare" if q == QUESTIONS[0] else "Charles Dickens"
        wrong = "Charles Dickens" if q == QUESTIONS[0] else "William Shakespeare"
        rows.append({"question": q, "right": right, "wrong": wrong if i % 3 else "Copenhagen"})
    return write_jsonl(path, rows)


# -- the evidence model ---------------------------------------------------------------------------
def test_expected_cooccurrence_sees_only_the_document():
    short_docs = Corpus(tokens=1_000_000, documents=10_000)  # 100 tokens each: a window sees 100, not 2,001
    assert window_span(short_docs, 1000) == 100
    assert window_span(Corpus(tokens=10**9, documents=10), 1000) == 2001
    expected, pmi, risk = association(0, 10, 1000, short_docs, 1000)
    assert expected == pytest.approx(10 * 1000 * 100 / 1_000_000)
    assert risk == pytest.approx(1 / (1 + 0.5 / (expected + 0.5)))
    silent = association(0, 1, 1, short_docs, 1000)[2]
    stated = association(1, 1, 1, short_docs, 1000)[2]
    never_with_frequent = association(0, 5000, 5000, short_docs, 1000)[2]
    assert stated < 0.5 < silent < never_with_frequent and silent == pytest.approx(0.5, abs=1e-3)


def test_restated_claims_match_whole_words_only():
    canon = str.lower
    new, same = new_claims(["Martin", "art", "George Rankin's occupation", "politician", "occupation"],
                           ["George Rankin", "Art"], canon, context="what is george rankin's occupation")
    assert new == ["Martin", "politician"] and "art" in same and "occupation" in same


def test_appositive_and_title_bearing_names_stay_whole(model_extractor):
    # sentences from the shared corpus's Wikipedia text (PopQA subjects)
    cases = {
        "Charles Towneley Strachey, 4th Baron O'Hagan (born 6 September 1945), is a British Conservative party "
        "politician.": "Charles Towneley Strachey, 4th Baron O'Hagan",
        "Harvey Peltier, Sr. was an attorney, banker and politician from Thibodaux, Louisiana.": "Harvey Peltier, Sr.",
        "Anthony Eden, 1st Earl of Avon was Prime Minister of the United Kingdom.": "Anthony Eden, 1st Earl of Avon",
        'Steven Ernest "Steve" Sailer is an American journalist.': 'Steven Ernest "Steve" Sailer',
        "Enemy of the State is a 1998 American action thriller film.": "Enemy of the State",
    }
    for text, name in cases.items():
        ents = [e.text for e in model_extractor.entities(text)]
        assert name in ents, (text, ents)
        pairs = [(t.head, t.tail) for s in model_extractor.sentences(text) for t in s.triplets]
        assert not any(h in name and t in name for h, t in pairs), pairs  # no pair inside one name
    assert [e.text for e in model_extractor.entities("Paris, France is large.")][:2] == ["Paris", "France"]


def test_a_title_given_as_the_whole_answer_stays_whole(model_extractor):
    # right answers of HaluEval QA items: a title opening on a function word or made of common
    # words was cut to "Is England", "Doctor", "Figure", or not found at all
    titles = ["This Is England", "Their Satanic Majesties Request", "Doctor Who", "Go Figure", "Storm of Steel",
              "Heart of Gold", "From Hell", "It Happened One Night", "Top of the Pops"]
    for title, claims in zip(titles, model_extractor.claims_many(titles)):
        assert claims[0] == title, (title, claims)
    assert model_extractor.claims_many(["The Beatles"]) == [("Beatles",)]  # the article is still dropped
    # In running text an opener stays grammar, unless the run capitalises a function word.
    ents = [e.text for e in model_extractor.entities("His Dark Materials is a trilogy by Philip Pullman.")]
    assert ents == ["Dark Materials", "Philip Pullman"]
    ents = [e.text for e in model_extractor.entities("Russell Tovey played a skinhead in This Is England.")]
    assert "This Is England" in ents
    ents = [e.text for e in model_extractor.entities("Which One Direction album was released first?")]
    assert ents == ["One Direction"]
    assert model_extractor.claims_many(["In London", "Yes"]) == [("London",), ()]


def test_sentence_claims_are_the_predicate_not_the_subject(model_extractor):
    s = model_extractor.sentences("Antonio Calcagni's place of birth is Recanati.")[0]
    assert s.claims == ("Recanati",) and s.subjects == ("Antonio Calcagni",)
    # The parser reads "di" as an interjection and loses the subject: what precedes "is" is it.
    s = model_extractor.sentences("Andrea di Alessandro's place of birth is Brescia.")[0]
    assert s.claims == ("Brescia",) and s.subjects == ("Andrea di Alessandro",)
    assert model_extractor.sentences("Robert Viharo's occupation is guitarist.")[0].claims == ("guitarist",)
    assert model_extractor.claims_many(["screenwriter", "yes"]) == [("screenwriter",), ()]


def test_a_common_noun_claim_counts_in_all_its_word_forms(tmp_path, model_extractor):
    assert word_forms("actor") == ("actor", "actors", "actress", "actresses")
    assert word_forms("actresses")[:4] == ("actresses", "actress", "actor", "actors")
    assert word_forms("film producer") == ("film producer", "film producers")
    assert word_forms("countries") == ("countries", "country")
    assert word_forms("Brescia") == ("Brescia",) and word_forms("New York City") == ("New York City",)
    # An article that calls her an actress supports "... is actor"; a wrong occupation stays unsupported.
    filler = " ".join(f"filler{k}" for k in range(60))
    docs = ["Mara Quellwood is an English actress known for stage roles. " + filler,
            "The painter Ivo Brandt exhibited in Paris. " + filler,
            "Many actors and actresses trained at the academy. " + filler] + \
           [f"Another actor appeared in film number {k}. Gardeners and one gardener tended park {k}. " + filler
            for k in range(30)] + [f"Unrelated record {k}. " + filler for k in range(400)]
    build_index([write_jsonl(tmp_path / "c.jsonl", docs)], tmp_path / "i.duckdb", progress=False)
    from quco.index.duckdb.reader import DuckDBIndex

    det = Detector(DuckDBIndex(tmp_path / "i.duckdb"), model_extractor, window=50)
    true, false = det.check_many([("What is Mara Quellwood's occupation?", "Mara Quellwood's occupation is actor."),
                                  ("What is Mara Quellwood's occupation?", "Mara Quellwood's occupation is gardener.")])
    assert true.flagged is None and false.flagged is not None
    assert "'gardener' (counted with 'gardeners')" in " ".join(false.reasons)
    assert true.stage2_risk < 0.5 < false.stage2_risk


def test_an_ical_modifier_counts_under_its_noun_and_shows_where(tmp_path, model_extractor):
    forms = word_forms("theatrical director")
    assert {"theatre director", "theater director", "theatre directors"} <= set(forms)
    assert "music director" in word_forms("musical director")
    assert "biology teacher" in word_forms("biological teacher") and "historic event" in word_forms("historical event")
    assert word_forms("theatrical") == ("theatrical", "theatricals")  # no modifier, no other noun
    filler = " ".join(f"filler{k}" for k in range(60))
    docs = [{"id": "kp", "title": "Kurt Pellmann", "text": "Kurt Pellmann is a German theatre director and filmmaker. " + filler},
            {"id": "lm", "title": "Lena Marrow", "text": "Lena Josefine Marrow (born 1970) is a Danish theatre director. " + filler},
            {"id": "fe", "title": "Aarhus Festival", "text": "The festival of 1999 invited Lena Marrow. " + filler},
            {"id": "td", "title": "Theatre director", "text": "A theatre director oversees a production. " + filler}] + \
           [{"id": f"g{k}", "title": f"Park {k}", "text": f"A gardener tended park {k}. " + filler} for k in range(30)] + \
           [{"id": f"u{k}", "title": f"Record {k}", "text": f"Unrelated record {k}. " + filler} for k in range(300)]
    build_index([write_jsonl(tmp_path / "c.jsonl", docs)], tmp_path / "i.duckdb", progress=False)
    from quco.decide.provenance import with_sources
    from quco.index.duckdb.reader import DuckDBIndex

    det = Detector(DuckDBIndex(tmp_path / "i.duckdb"), model_extractor, window=50)
    q = "What is Kurt Pellmann's occupation?"
    true, false = with_sources(det.backend, det.check_many([(q, "Kurt Pellmann's occupation is theatrical director."),
                                                            (q, "Kurt Pellmann's occupation is gardener.")]), det.window)
    assert true.flagged is None and false.flagged is not None
    shown = [src.text for src in true.pairs[0].sources]
    assert shown and "German theatre director" in shown[0]  # the place of the form the corpus writes
    # Stated in the subject's own article, which writes her name in full: that article's sentence.
    (lena,) = with_sources(det.backend, det.check_many([("What is Lena Marrow's occupation?",
                                                         "Lena Marrow's occupation is theatrical director.")]), det.window)
    assert lena.flagged is None and lena.pairs[0].article == "Lena Marrow"
    assert "Danish theatre director" in lena.pairs[0].sources[0].text


# -- calibration ----------------------------------------------------------------------------------
def test_isotonic_fit_is_monotone_smoothed_and_bound_to_its_setting(tmp_path):
    risks = [0.1] * 10 + [0.5] * 10 + [0.9] * 10
    labels = [False] * 9 + [True] + [False] * 5 + [True] * 5 + [True] * 10
    breaks, means, counts = isotonic(risks, labels)
    assert breaks == [0.1, 0.5, 0.9] and means == [0.1, 0.5, 1.0] and counts == [10, 10, 10]
    setting = {"index": "duckdb:x", "corpus_tokens": 100, "extractor": "rules", "quco_version": "0.1.0",
               "mode": "evidence", "window": 5}
    cal = fit(risks, labels, score="risk", fitted_for=setting)
    assert cal.p(0.0) == cal.p(0.1) < cal.p(0.5) < cal.p(0.95) < 1.0  # one pseudo-row keeps it off 0 and 1
    assert 0 < cal.values[0] and cal.values[-1] < 1
    cal.save(tmp_path / "c.json")
    back = Calibration.load(tmp_path / "c.json")
    assert back.breakpoints == cal.breakpoints and back.p(0.7) == cal.p(0.7)
    back.check(**setting)
    with pytest.raises(CalibrationError, match=r"window 5 \(this run: 1000\)"):
        back.check(**{**setting, "window": 1000})
    with pytest.raises(UsageError, match="need"):
        fit(risks, [True] * 30, score="risk", fitted_for=setting)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(CalibrationError, match="not a calibration file"):
        Calibration.load(tmp_path / "bad.json")
    rel = reliability([0.2, 0.2, 0.8, 0.8], [False, True, True, True])
    assert rel["ece"] == pytest.approx(0.5 * 0.3 + 0.5 * 0.2) and rel["brier"] == pytest.approx((0.04 + 0.64 + 0.04 * 2) / 4)


def test_quco_calibrate_then_score_gives_p_fabrication(env, tmp_path, capsys):
    d, settings = env
    src = labelled(tmp_path / "l.jsonl")
    args = ["--index", str(d / "i.duckdb"), "--model", "rules", "--window", "10"]
    assert cli(["calibrate", str(src), "--pair-fields", "right,wrong", "--out", str(tmp_path / "cal.json"), *args]) == 0
    assert "calibrated answer_risk on 80 rows (40 positive)" in capsys.readouterr().out
    cal = Calibration.load(tmp_path / "cal.json")
    assert cal.score == "answer_risk" and cal.fitted_for["window"] == 10 and cal.fitted_for["extractor"] == "rules"
    assert cli(["score", str(src), "--pair-fields", "right,wrong", "-o", str(tmp_path / "s.jsonl"),
                "--calibration", str(tmp_path / "cal.json"), *args]) == 0
    rows = [json.loads(l) for l in open(tmp_path / "s.jsonl")]
    assert all(r["p_fabrication"] == cal.p(r["answer_risk"]) for r in rows)
    fab = [r["p_fabrication"] for r in rows if r["label"] == "fabricated"]
    ok = [r["p_fabrication"] for r in rows if r["label"] == "correct"]
    assert sum(fab) / len(fab) > sum(ok) / len(ok)
    # another window: refused with the reason, exit 2, no output written
    capsys.readouterr()
    assert cli(["score", str(src), "-o", str(tmp_path / "t.jsonl"), "--pair-fields", "right,wrong", "--calibration",
                str(tmp_path / "cal.json"), "--index", str(d / "i.duckdb"), "--model", "rules", "--window", "7"]) == 2
    assert "fitted for another setting: window 10 (this run: 7)" in capsys.readouterr().err
    # a question-level calibration goes to the Detector, which refuses an answer-level one
    with pytest.raises(CalibrationError, match="maps answer_risk"):
        Detector(settings.open_backend(), calibration=cal)
    (tmp_path / "notes.json").write_text('{"mine": 1}')
    with pytest.raises(OutputError, match="not a quco calibration"):
        from quco.batch.calibrate import calibrate_file
        from quco.batch.scoring import ScoreOptions

        calibrate_file(src, tmp_path / "notes.json", settings=settings, options=ScoreOptions(pair_fields=("right", "wrong")))


# -- the eval report ------------------------------------------------------------------------------
def test_eval_report_for_picking_an_operating_point(env, tmp_path):
    _, settings = env
    src = labelled(tmp_path / "l.jsonl")
    score(src, tmp_path / "s.jsonl", pair_fields=("right", "wrong"), settings=settings)
    r = evaluate(tmp_path / "s.jsonl", label_field="label", out_prefix=tmp_path / "ev")
    assert r.label_values == {"positive": ["fabricated"], "negative": ["correct"]}
    assert [t["threshold"] for t in r.thresholds][:2] == [0.05, 0.1]
    assert all(0 <= t["retrieval_rate"] <= 1 for t in r.thresholds)
    assert r.thresholds[0]["flagged"] >= r.thresholds[-1]["flagged"]
    assert set(r.baselines) >= {"random", "answer length (words)", "answer rarity"}
    assert r.provenance["extractor"] == "rules" and r.provenance["corpus_tokens"] == 37  # a number, shown as one
    assert r.calibration["of"].startswith("answer_risk (uncalibrated") and r.calibration["ece"] is not None
    assert r.operating_point["tpr"] is not None
    assert r.uncheckable["what"].startswith("answers with no claim")
    page = (tmp_path / "ev.html").read_text()
    for part in ("Operating points", "Baselines", "Worst false positives", "positive: fabricated; negative:",
                 "max-width:100%", "Reliability", "no checkable claim"):
        assert part in page, part
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    # Load the page in a narrow window and measure the figure: it must be scaled to the page,
    # not cropped (the PNG is 1,100 px wide).
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", "<script>addEventListener('load', () => { const i = document.images[0];"
                                  " document.title = 'img ' + Math.round(i.getBoundingClientRect().width) + ' of '"
                                  " + i.naturalWidth + ' in ' + document.documentElement.clientWidth; });</script></body>"))
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
             "--disable-background-networking", "--disable-component-update", f"--user-data-dir={tmp_path / 'chr'}",
             "--window-size=800,3000", "--virtual-time-budget=5000"]
    dom = subprocess.run(flags + ["--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    shown, natural, page_width = map(int, dom.split("<title>img ")[1].split("<")[0].replace(" of ", " ").replace(" in ", " ").split())
    assert natural == 1100 and shown <= page_width < natural
    shot = tmp_path / "ev-shot.png"
    subprocess.run(flags + [f"--screenshot={shot}", (tmp_path / "ev.html").as_uri()], capture_output=True, timeout=120)
    assert shot.stat().st_size > 50_000


def test_swap_fact_is_the_drafted_objects_not_any_accepted_answer(tmp_path, monkeypatch):
    """PopQA joins every accepted object's aliases in one list: the swap test's "stated" asks for
    the drafted object or an alias of its own, and a row whose article gives only another
    accepted answer is reported apart."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    from eval_swap import facts, object_aliases, subject_texts, swap_items

    def row(subj, obj, answers):
        return {"question": f"What is {subj}'s occupation?", "subj": subj, "prop": "occupation", "obj": obj,
                "possible_answers": json.dumps(answers), "s_wiki_title": subj}

    rows = [row("Ada Vell", "actor", ["film director", "director", "actor", "actress"]),
            row("Bo Kest", "actor", ["actor", "actress"]),
            row("Cy Darn", "film director", ["film director", "director", "actor", "actress"]),
            row("Di Orm", "politician", ["politician", "political figure"]),
            row("Ed Lune", "singer", ["singer"])]
    own = object_aliases(rows)
    assert own["actor"] == {"actor", "actress"} and own["politician"] == {"politician", "political figure"}
    assert own["film director"] == {"film director", "director", "actor", "actress"}  # one row: its whole list
    corpus = tmp_path / "c.jsonl"
    write_jsonl(corpus, [{"id": "1", "title": "Ada Vell", "text": "Ada Vell is an American film director."},
                         {"id": "2", "title": "Bo Kest", "text": "Bo Kest is a Welsh actress."},
                         {"id": "3", "title": "Cy Darn", "text": "Cy Darn directs films."},
                         {"id": "4", "title": "Di Orm", "text": "Di Orm was a political figure."},
                         {"id": "5", "title": "Ed Lune", "text": "Ed Lune paints."}])
    items = swap_items(rows)
    assert [(it["subj"], f) for it, f in zip(items, facts(items, subject_texts(items, [corpus])))] == [
        ("Ada Vell", "another answer only"), ("Bo Kest", "stated"), ("Cy Darn", "absent"),
        ("Di Orm", "stated"), ("Ed Lune", "absent")]


# -- on the shared corpus ---------------------------------------------------------------------------
@pytest.mark.skipif(not (SHARED / "eval" / "popqa_1000.jsonl").exists(), reason="../shared/data is absent")
def test_swap_test_evidence_mode_beats_the_paper_rule_on_stated_facts(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "QUCO_CONFIG"}
    index = tmp_path / "all.duckdb"
    build_index(sorted((SHARED / "corpus").glob("*.jsonl")), index, progress=False)
    out = {}
    for mode in ("evidence", "quco"):
        res = subprocess.run([sys.executable, str(ROOT / "scripts" / "eval_swap.py"), "--index", str(index), "--mode", mode,
                              "--out", str(tmp_path / f"{mode}.json")], cwd=ROOT, env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        table = json.loads((tmp_path / f"{mode}.json").read_text())["table"]
        out[mode] = {(r["split"], r["stage1"], r["fact"]): r for r in table}
    for split in ("dev", "held-out"):
        ev, qu = out["evidence"][split, "silent", "stated"], out["quco"][split, "silent", "stated"]
        assert ev["draft_auroc"] >= 0.88 and ev["draft_auroc"] > qu["draft_auroc"] + 0.05
        assert ev["draft_flagged_false"] >= 0.9 and ev["true_flagged_at_75pct_false"] <= 0.15
        assert ev["answer_auroc"] >= 0.88
        absent = out["evidence"][split, "silent", "absent"]
        assert absent["draft_flagged_true"] >= 0.8 and absent["draft_flagged_false"] >= 0.8  # no evidence: retrieve


def test_mode_and_calibration_are_configurable_and_audited(env, tmp_path):
    from quco.audit.log import AuditLog
    from quco.errors import ConfigError

    d, _ = env
    assert load_settings(env={"QUCO_MODE": "quco"}).thresholds().mode == "quco"
    assert load_settings(env={}).thresholds().mode == "evidence"
    with pytest.raises(ConfigError, match="mode must be one of"):
        load_settings(env={"QUCO_MODE": "magic"}).thresholds()
    settings = load_settings(env={}, index=str(d / "i.duckdb"), model="rules", window=10)
    det = settings.detector()
    reports = det.check_many([(q, "Hamlet was written by Charles Dickens.") for q in QUESTIONS] * 10)
    from quco import __version__

    cal = fit([r.risk for r in reports], [i % 2 == 0 for i in range(len(reports))], score="risk",
              fitted_for={"index": det.backend.identity, "corpus_tokens": det.backend.corpus.tokens,
                          "extractor": "rules", "quco_version": __version__, "mode": "evidence", "window": 10})
    cal.save(tmp_path / "risk.json")
    audited = tmp_path / "audit.duckdb"
    with AuditLog(audited) as log:
        det2 = Detector(det.backend, det.extractor, det.thresholds, window=10, calibration=cal, audit=log)
        r = det2.check_draft(QUESTIONS[0], "Hamlet was written by Charles Dickens.")
        assert r.p_fabrication == cal.p(r.risk)
        log.flush()
    import duckdb

    con = duckdb.connect(str(audited), read_only=True)
    row = con.execute("SELECT p_fabrication FROM decisions WHERE request_id = ?", [r.request_id]).fetchone()
    assert row[0] == pytest.approx(r.p_fabrication)
    quco_mode = load_settings(env={"QUCO_CALIBRATION": str(tmp_path / "risk.json"), "QUCO_MODE": "quco"},
                              index=str(d / "i.duckdb"), model="rules", window=10).detector()
    with pytest.raises(CalibrationError, match="mode 'evidence' \\(this run: 'quco'\\)"):
        quco_mode.check_question(QUESTIONS[0])


def test_quco_calibrate_refuses_bad_input_in_one_line(env, tmp_path, capsys):
    d, _ = env
    args = ["--index", str(d / "i.duckdb"), "--model", "rules"]
    assert cli(["calibrate", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "c.json"), *args]) == 3
    unlabelled = write_jsonl(tmp_path / "u.jsonl", [{"question": q, "answer": "Charles Dickens"} for q in QUESTIONS])
    capsys.readouterr()
    assert cli(["calibrate", str(unlabelled), "--answer-field", "answer", "--out", str(tmp_path / "c.json"), *args]) == 2
    err = capsys.readouterr().err
    assert "no field 'label' to calibrate against" in err and len(err.strip().splitlines()) == 1
    few = write_jsonl(tmp_path / "f.jsonl", [{"question": q, "answer": "Charles Dickens", "label": i % 2}
                                             for i, q in enumerate(QUESTIONS)])
    assert cli(["calibrate", str(few), "--answer-field", "answer", "--out", str(tmp_path / "c.json"), *args]) == 2
    assert "calibration needs at least 20" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()
