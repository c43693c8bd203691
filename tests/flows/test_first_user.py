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
