"""Evaluation: question-file parsing, metrics, dataset loaders and ``citebot eval``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from citebot.index.errors import BadInputError
from citebot.index.eval.datasets import (
    EvalSet,
    datasets_dir,
    load_realtimeqa,
    load_squad,
    quiz_date,
    read_bbc,
    realtimeqa_in_split,
    squad_article_indexes,
)
from citebot.index.eval.metrics import (
    EvalQuestion,
    contains_answer,
    gold_rank,
    load_questions,
    mean_reciprocal_rank,
    normalize_answer,
    parse_questions,
    percentile,
    recall_at,
    score,
    summarize,
    worst_failures,
)
from tests.conftest import PROJECT_ROOT, SEED, ExplicitSettings

# --------------------------------------------------------------------------- parsing


def test_parse_accepts_every_optional_field_shape() -> None:
    lines = [
        '{"question": "Q1"}',
        "",
        '{"question": "Q2", "answer": "A", "article_id": "x", "answerable": true, "id": 7}',
        '{"question": "Q3", "answer": ["A", "B"], "article_id": ["x", "y"]}',
        '{"question": "Q4", "answerable": false}',
        '{"question": "Q5", "answers": ["A"], "gold_article_ids": ["z"], "as_of": "2022/06/17"}',
    ]
    q1, q2, q3, q4, q5 = parse_questions(lines, "q.jsonl")
    assert q1 == EvalQuestion("Q1")
    assert q2 == EvalQuestion("Q2", ("A",), ("x",), True, "7")
    assert q3.answers == ("A", "B") and q3.article_ids == ("x", "y")
    assert q4.answerable is False
    assert q5.answers == ("A",) and q5.article_ids == ("z",)
    assert q5.as_of == dt.date(2022, 6, 17) and q1.as_of is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "questions.jsonl:3: not valid JSON"),
        ('{"answer": "x"}', "questions.jsonl:3: missing 'question'"),
        ('["a list"]', "questions.jsonl:3: expected a JSON object"),
        ('{"question": ""}', "questions.jsonl:3: 'question' must be a non-empty string"),
        ('{"question": "q", "answer": 3}', "questions.jsonl:3: 'answer' must be"),
        ('{"question": "q", "answerable": "no"}', "questions.jsonl:3: 'answerable' must be"),
        ('{"question": "q", "as_of": "soon"}', "questions.jsonl:3: 'as_of' must be a date"),
    ],
)
def test_malformed_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_text('{"question": "ok"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(BadInputError) as info:
        load_questions(path)
    assert str(info.value).startswith(message)


def test_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such file"):
        load_questions(tmp_path / "absent.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="no questions"):
        load_questions(tmp_path / "empty.jsonl")


# --------------------------------------------------------------------------- metrics


def test_normalize_answer_squad_style() -> None:
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("“Squid Game”") == "squid game"
    assert normalize_answer("An apple, a day") == "apple day"


def test_contains_answer_respects_word_boundaries() -> None:
    assert contains_answer("Ingram is a co-founder of the Warriors.", ["warriors"])
    assert contains_answer("The show “Squid Game” returns.", ["“Squid Game”"])
    assert not contains_answer("He said 2020 was hard.", ["20"])
    assert not contains_answer("anything", [""])


def test_rank_recall_mrr() -> None:
    assert gold_rank(["a", "a", "b", "c"], ["c"]) == 3  # duplicates collapse
    assert gold_rank(["a"], ["z"]) is None
    ranks = [1, 3, None, 2]
    assert recall_at(ranks, 1) == 0.25
    assert recall_at(ranks, 3) == 0.75
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 3 + 1 / 2) / 4)
    assert recall_at([], 5) is None and mean_reciprocal_rank([]) is None


def test_percentile_interpolates() -> None:
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([5], 95) == 5
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([], 50) is None


def _results() -> list:
    hit = EvalQuestion("hit?", ("Derrick Ingram",), ("seed",))
    miss = EvalQuestion("miss?", ("Eric Adams",), ("other",))
    shy = EvalQuestion("answerable but abstained", ("x",), ("seed",))
    unans = EvalQuestion("unanswerable", answerable=False)
    unans_answered = EvalQuestion("unanswerable 2", answerable=False)
    return [
        score(
            hit,
            cited_ids=["seed"],
            answer_text="Derrick Ingram is an activist [1].",
            abstained=False,
            latency_ms=10,
        ),
        score(
            miss,
            cited_ids=["seed", "seed"],
            answer_text="Bill de Blasio said so [1].",
            abstained=False,
            latency_ms=20,
        ),
        score(
            shy, cited_ids=[], answer_text="I could not find that.", abstained=True, latency_ms=30
        ),
        score(
            unans, cited_ids=[], answer_text="I could not find that.", abstained=True, latency_ms=40
        ),
        score(
            unans_answered,
            cited_ids=["seed"],
            answer_text="One two three.",
            abstained=False,
            latency_ms=50,
        ),
    ]


def test_summarize_exact_numbers() -> None:
    s = summarize(_results(), ks=(1, 5))
    assert (s.questions, s.answerable, s.unanswerable, s.with_gold_article) == (5, 3, 2, 3)
    assert s.gold_cited == pytest.approx(1 / 3)
    assert s.recall == {1: pytest.approx(1 / 3), 5: pytest.approx(1 / 3)}
    assert s.mrr == pytest.approx(1 / 3)
    assert s.answer_found == pytest.approx(1 / 3)
    assert s.abstained == 2
    assert s.abstention_rate == 0.5
    assert s.false_abstentions == 1 and s.false_abstention_rate == pytest.approx(1 / 3)
    assert s.median_answer_words == 6  # answered: 6, 6 and 3 words
    assert s.latency_p50_ms == 30 and s.latency_p95_ms == pytest.approx(48)
    payload = json.loads(json.dumps(s.to_dict()))
    assert payload["recall"] == {"@1": pytest.approx(1 / 3), "@5": pytest.approx(1 / 3)}


def test_worst_failures_orders_by_severity() -> None:
    worst = worst_failures(_results(), 10)
    assert [r.question.question for r in worst] == ["miss?", "answerable but abstained"]
    assert worst[0].cited_ids == ["seed"]  # what was cited instead
    assert worst_failures(_results(), 1)[0].question.question == "miss?"
    assert worst_failures(_results(), 0) == []


# --------------------------------------------------------------------------- loaders


def test_split_rules() -> None:
    assert list(squad_article_indexes(48, "dev")) == list(range(24))
    assert list(squad_article_indexes(48, "heldout")) == list(range(24, 48))
    assert len(squad_article_indexes(48, "all")) == 48
    assert realtimeqa_in_split("20220617_0", "dev")
    assert quiz_date("20220617_0") == dt.date(2022, 6, 17) and quiz_date("x") is None
    assert not realtimeqa_in_split("20220917_0", "dev")
    assert realtimeqa_in_split("20220917_0", "heldout")
    with pytest.raises(BadInputError, match="unknown split"):
        realtimeqa_in_split("x", "test")


def test_datasets_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CITEBOT_DATASETS_DIR", str(tmp_path))
    assert datasets_dir() == tmp_path
    with pytest.raises(BadInputError, match="CITEBOT_DATASETS_DIR"):
        load_squad("dev")


def test_squad_loader_on_a_tiny_file(tmp_path: Path) -> None:
    data = {
        "data": [
            {
                "title": f"Art_{i}",
                "paragraphs": [
                    {
                        "context": f"Context {i}.",
                        "qas": [
                            {
                                "id": f"q{i}",
                                "question": f"What {i}? ",
                                "answers": [{"text": "Context"}, {"text": "Context"}],
                            }
                        ],
                    }
                ],
            }
            for i in range(26)
        ]
    }
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    dev = load_squad("dev", path=path)
    assert len(dev.articles) == 24 and dev.articles[0].title == "Art 0"
    assert dev.questions[0] == EvalQuestion("What 0?", ("Context",), ("squad:0:0",), True, "q0")
    held = load_squad("heldout", path=path)
    assert [a.id for a in held.articles] == ["squad:24:0", "squad:25:0"]
    written = held.write_articles(tmp_path / "out").read_text(encoding="utf-8").splitlines()
    assert json.loads(written[0]) == {"id": "squad:24:0", "title": "Art 24", "text": "Context 24."}


def test_read_bbc_headline_and_latin1(tmp_path: Path) -> None:
    (tmp_path / "sport").mkdir()
    path = tmp_path / "sport" / "199.txt"
    path.write_bytes("Headline caf\xe9\n\nBody text.\n".encode("latin-1"))
    article = read_bbc(path)
    assert (article.id, article.title, article.text) == (
        "bbc:sport:199",
        "Headline café",
        "Body text.",
    )


needs_datasets = pytest.mark.skipif(
    not (datasets_dir() / "squad-v1.1").exists(),
    reason=f"shared datasets not found at {datasets_dir()} (set CITEBOT_DATASETS_DIR)",
)


@needs_datasets
def test_real_dataset_dev_splits() -> None:
    squad = load_squad("dev")
    assert len(squad.articles) == 1048 and len(squad.questions) == 5696
    rtqa = load_realtimeqa("dev")
    assert len(rtqa.articles) == 218 and len(rtqa.questions) == 103
    assert all(q.as_of and q.as_of.month in (6, 7, 8) for q in rtqa.questions)
    ids = {a.id for a in rtqa.articles}
    assert all(set(q.article_ids) <= ids for q in rtqa.questions)
    assert isinstance(load_realtimeqa("dev", bbc_distractors=True), EvalSet)


# --------------------------------------------------------------------------- citebot eval


def _app() -> typer.Typer:
    """The real ``citebot`` app: a broken CLI (or a missing ``eval`` command) must fail here."""
    from citebot.bot.cli.app import app

    return app


def test_eval_is_a_command_of_the_real_cli() -> None:
    result = CliRunner().invoke(_app(), ["eval", "--help"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: citebot eval [OPTIONS] [FILE]")


def test_eval_cli_reports_bad_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "questions.jsonl"
    path.write_text('{"question": "ok"}\n{"answer": "x"}\n', encoding="utf-8")
    result = CliRunner().invoke(_app(), ["eval", str(path)])
    assert result.exit_code == BadInputError.exit_code
    assert "questions.jsonl:2: missing 'question'" in result.output
    assert "Traceback" not in result.output


def test_eval_cli_needs_a_file_or_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(_app(), ["eval"])
    assert result.exit_code == BadInputError.exit_code
    assert "--dataset" in result.output


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data dir holding only the seed article; returns (data dir, its article id)."""
    from citebot.index.library import Library

    data_dir = tmp_path_factory.mktemp("seed-data")
    library = Library(ExplicitSettings(data_dir=data_dir, auto_index_bundled=False))
    try:
        report = library.ingest([str(SEED)])
    finally:
        library.close()
    assert len(report.added) == 1, report
    return data_dir, report.added[0]


def test_eval_cli_exact_metrics_on_seed(
    seed_index: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, seed_id = seed_index
    monkeypatch.setenv("CITEBOT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CITEBOT_AUTO_INDEX_BUNDLED", "false")
    questions = [
        # hit: the seed article is cited and the answer names the group
        {
            "question": "What nonviolent activist group did Derrick Ingram co-found?",
            "answer": ["Warriors in the Garden", "the Warriors in The Garden"],
            "article_id": seed_id,
        },
        # miss: on-topic so it is answered, but the gold article and answer are elsewhere
        {
            "question": "What did Mayor de Blasio say about the NYPD's use of facial "
            "recognition technology?",
            "answer": "banned it in 2019",
            "article_id": "some-other-article",
        },
        # unanswerable: nothing in the index is about this
        {
            "question": "What is the recipe for traditional Neapolitan pizza dough?",
            "answerable": False,
        },
    ]
    path = tmp_path / "seed.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in questions) + "\n", encoding="utf-8")
    result = CliRunner().invoke(_app(), ["eval", str(path), "--json", "--failures", "5"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["questions"] == 3
    assert (report["answerable"], report["unanswerable"]) == (2, 1)
    assert report["gold_cited"] == 0.5
    assert report["recall"]["@1"] == 0.5
    assert report["mrr"] == 0.5
    assert report["answer_found"] == 0.5
    assert report["abstention_rate"] == 1.0
    assert report["false_abstentions"] == 0
    assert report["median_answer_words"] > 0
    assert report["latency_p50_ms"] > 0
    [failure] = report["failures"]
    assert failure["gold_article_ids"] == ["some-other-article"]
    assert [c["article_id"] for c in failure["cited"]] == [seed_id]

    table = CliRunner().invoke(_app(), ["eval", str(path), "--failures", "1"])
    assert table.exit_code == 0, table.output
    assert "gold article cited" in table.stdout and "worst misses" in table.stdout


# --------------------------------------------------------------------------- bench pieces


def _fake_results() -> dict:
    method = {
        "recall": {k: min(1.0, 0.5 + k / 20) for k in range(1, 11)},
        "mrr": 0.6,
        "answer_in_top5": 0.7,
        "latency_p50_ms": 12.0,
        "latency_p95_ms": 30.0,
    }
    citebot = dict(
        method,
        answer_found=0.5,
        gold_cited=0.8,
        gold_used=0.6,
        abstention_rate=0.75,
        false_abstention_rate=0.1,
        median_answer_words=21.0,
    )
    stage = {
        "stage": "seed",
        "chunks": 4,
        "starter_chunks": 1,
        "ask": {"p50_ms": 30.0, "p95_ms": 50.0},
        "search": {"p50_ms": 20.0, "p95_ms": 25.0},
        "starter": {"p50_ms": 10.0, "p95_ms": 15.0},
    }
    return {
        "quick": True,
        "seconds": 90.0,
        "errors": {},
        "machine": {"date": "today", "cores_logical": 2},
        "quality": {
            "datasets": {
                "seed": {
                    "articles": 1,
                    "questions": 3,
                    "methods": {
                        "citebot": citebot,
                        "hybrid": method,
                        "dense": method,
                        "bm25": method,
                        "starter": method,
                    },
                }
            }
        },
        "latency": {
            "questions": 3,
            "stages": [stage, dict(stage, stage="big", chunks=400)],
            "cold": {"runs": 1, "citebot_ask_s": 1.5, "starter_query_s": 6.0},
        },
        "ingest": {
            "sources": ["bbc"],
            "full": {"seconds": 10.0, "chunks": 100, "chunks_per_s": 10.0, "peak_rss_mb": 900.0},
            "raw_encode": {"seconds": 5.0, "chunks_per_s": 20.0, "batch_size": 64},
            "readd_unchanged": {"seconds": 0.3, "share_of_full": 0.03},
            "add_one_cli": {"median_s": 2.0},
            "status_cli": {"median_s": 1.0},
            "rebuild": {"seconds": 9.0, "chunks": 100},
            "peak_rss_mb": {"full_ingest": 900.0},
        },
        "discord_load": {"reply_p50_ms": 3.0, "bot": {"peak_rss_mb": 300.0}},
    }


def test_bench_report_writes_summary_and_plots(tmp_path: Path) -> None:
    from bench.report import write_plots, write_summary

    results = _fake_results()
    summary = write_summary(results, tmp_path).read_text(encoding="utf-8")
    row = "| citebot answer (citations) | 55.0% | 75.0% | 100.0% | 0.600 | 50.0% | 75.0%"
    assert row in summary
    assert "| LlamaIndex starter (top-k) |" in summary
    assert "`citebot ask` 1.50 s vs starter" in summary
    assert "| re-add unchanged corpus | 0.30 s | 3.0% of full" in summary
    assert "| discord bot: bot.peak_rss_mb | 300 MB |" in summary
    assert "| cores_logical | 2 |" in summary
    plots = write_plots(results, tmp_path)
    assert sorted(p.name for p in plots) == [
        "ingest.png",
        "latency_vs_size.png",
        "quality_recall.png",
    ]
    assert all(p.stat().st_size > 1000 for p in plots)


def test_bench_report_survives_missing_sections(tmp_path: Path) -> None:
    from bench.report import write_plots, write_summary

    results = {"quick": False, "seconds": 1.0, "machine": {}, "errors": {"ingest": "boom"}}
    text = write_summary(results, tmp_path).read_text(encoding="utf-8")
    assert "- ingest: boom" in text
    assert write_plots(results, tmp_path) == []


def test_chunk_rank_counts_chunks_not_articles() -> None:
    from bench.common import chunk_rank

    assert chunk_rank(["a", "a", "b"], ["b"]) == 3
    assert chunk_rank(["a"], ["b"]) is None


def test_starter_pipeline_retrieves_and_reopens(tmp_path: Path) -> None:
    from bench.starter import StarterPipeline, load_persisted, make_document

    starter = StarterPipeline(tmp_path / "starter")
    starter.add(
        [
            make_document(
                "nyc", "NYC mayor reassesses facial recognition", SEED.read_text("utf-8")
            ),
            make_document(
                "cake", "Baking", "Whisk eggs and sugar, fold in flour, bake 30 minutes."
            ),
        ]
    )
    starter.add([make_document("f1", "Formula 1", "The Monaco Grand Prix was won by a Ferrari.")])
    assert starter.nodes == 3
    assert starter.retrieve("Who is Derrick Ingram?", 1) == ["nyc"]
    assert starter.retrieve("Who won in Monaco?", 1) == ["f1"]
    reopened = load_persisted(tmp_path / "starter").as_retriever(similarity_top_k=1)
    [node] = reopened.retrieve("how long to bake the cake")
    assert node.node.metadata["article_id"] == "cake"


@pytest.mark.slow
@needs_datasets
def test_bench_quick_runs_end_to_end(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "bench", "all", "--quick", "--out", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "LlamaIndex starter" in summary and "## Ingest" in summary
    assert (tmp_path / "quality_recall.png").exists()
