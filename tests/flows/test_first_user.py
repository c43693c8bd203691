"""What a first-time user trips over (issue 26): accounting words, read-also sources.

Runs go through the flow's stage functions in-process (``run_batches``), no Prefect.
"""

from __future__ import annotations

import json
from pathlib import Path

from tasks.report import connect_dataset
from tests.flows.test_references import run_batches

ARABIC = "أعلنت وزارة الصحة اليوم عن حملة وطنية جديدة للتلقيح في جميع المدن والقرى."


def test_rejected_records_are_counted_and_named_as_n_rejected_says(tmp_path: Path) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    lines = [
        json.dumps({"title": "خبر", "content": ARABIC}, ensure_ascii=False),
        '{"title": "خبر", "content": "لم يكتمل',  # unterminated string
        "42",  # not a record
        json.dumps({"title": "news", "content": "The ministry announced a new campaign."}),
        json.dumps({"title": "خبر", "content": ARABIC + " ثانية"}, ensure_ascii=False),
        json.dumps({"title": "خبر", "content": ARABIC + " ثالثة"}, ensure_ascii=False),
    ]
    (inputs / "dump.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_batches(inputs, out)
    (row,) = (
        connect_dataset(out)
        .execute("select status, n_articles, n_rejected, message from files")
        .fetchall()
    )
    status, n_articles, n_rejected, message = row
    assert (status, n_articles, n_rejected) == ("ok", 3, 3)
    assert "3 of 6 records rejected" in message, message
    assert "not_arabic" in message, message
    # The JSON error is whole, position included, not cut after "starting at".
    assert "Unterminated string starting at: line 1 column" in message, message


def test_read_also_articles_take_their_files_source(tmp_path: Path) -> None:
    from tests.seed_layout import Header, SeedArticle, render_seed_txt

    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    main = SeedArticle("افتتاح معرض الكتاب", ARABIC + "\n" + ARABIC, site="عكاظ", dateline="جدة")
    related = SeedArticle("أمطار على الرياض", "تشهد الرياض أمطارا غزيرة منذ صباح اليوم. " * 4)
    text = render_seed_txt(main, Header(), [related])
    (inputs / "a.txt").write_text(text, encoding="utf-8")
    run_batches(inputs, out)
    rows = (
        connect_dataset(out)
        .execute("select part, source_name from articles order by part")
        .fetchall()
    )
    assert rows == [(1, "عكاظ"), (2, "عكاظ")]


REPO = Path(__file__).resolve().parents[2]


def _help(command: str) -> str:
    from flows.cli import _parser

    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[command].format_help()


def test_readme_names_public_sources_and_the_venv_and_stays_short() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme) < 12_000
    assert "source .venv/bin/activate" in readme
    train = [ln for ln in readme.splitlines() if "akhbar train" in ln and "--data" in ln]
    assert not any("../shared" in ln for ln in train), train
    for source in ("UD_Arabic-PUD", "anercorp", "SaudiNewsNet"):
        assert source in readme
    assert "not annotated" in readme and "Exit codes" in readme
    annotation = (REPO / "docs" / "annotation.md").read_text(encoding="utf-8")
    assert "## Retraining the models" in annotation
    assert "akhbar train ner --data ANERCorp_CamelLab_train.txt" in annotation


def test_docs_explain_noan_headlines_unchanged_and_exit_codes() -> None:
    output = (REPO / "docs" / "output.md").read_text(encoding="utf-8")
    assert '"entities", "stories"):' in output  # the DuckDB snippet's views
    assert "`NOAN`" in output and "Titles (`articles.title`) are not annotated" in output
    assert "reason `unchanged`" in output and "`akhbar run` exits 0" in output


def test_help_and_status_list_stories(tmp_path: Path, capsys) -> None:
    from flows.cli import main
    from tests.dataset_factory import write_tiny_dataset

    for command in ("run", "query", "schema"):
        assert "stories" in " ".join(_help(command).split()), command
    assert "Exit codes" in " ".join(_help("run").split())
    out = write_tiny_dataset(tmp_path / "out")
    assert main(["status", str(out)]) == 0
    assert "stories: 0 rows" in capsys.readouterr().out


def test_run_artifact_of_a_run_that_annotated_nothing_says_so() -> None:
    from collections import Counter

    from flows.artifacts import RunSummary, render_markdown

    summary = RunSummary(run_id="r2", out="data/out", inputs=["in"])
    summary.status = Counter({"skipped_unchanged": 6})
    text = render_markdown(summary)
    assert "None" not in text and "0.0%" not in text
    assert "Nothing annotated" in text
