"""``akhbar query``, ``akhbar schema``, ``akhbar report`` and ``akhbar run`` off a terminal."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.cli import EXIT_OK, EXIT_USAGE, main
from tests.dataset_factory import write_tiny_dataset
from tests.flows.prefect_server import N_SAMPLES


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny") / "out")


def test_query_prints_a_table_over_the_views(tiny: Path, capsys) -> None:
    sql = "select source_name, count(*) n from articles group by 1 order by n desc"
    assert main(["query", str(tiny), sql]) == EXIT_OK
    out = capsys.readouterr().out
    assert "source_name" in out and "صوت المغرب" in out
    assert "2 rows" in out


def test_query_csv_and_json(tiny: Path, capsys) -> None:
    sql = "select label, count(*) n from entities group by label order by label"
    assert main(["query", str(tiny), sql, "--format", "csv"]) == EXIT_OK
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["label", "n"], ["LOC", "3"], ["ORG", "1"]]
    assert main(["query", str(tiny), "select title from articles limit 1", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "الرباط تطلق برنامج الماء"


def test_query_joins_tables(tiny: Path, capsys) -> None:
    # sentences mentioning an entity: entities join sentences on (article_id, sentence_index)
    sql = (
        "select s.text from entities e join sentences s using (article_id, sentence_index) "
        "where e.text = 'وزارة الطاقة'"
    )
    assert main(["query", str(tiny), sql, "--format", "csv"]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[1] == "وزارة الطاقة ترحب"


def test_query_truncates_long_results(tiny: Path, capsys) -> None:
    assert main(["query", str(tiny), "select * from tokens", "--max-rows", "2"]) == EXIT_OK
    assert "more not shown" in capsys.readouterr().out


def test_query_errors_exit_2_with_the_reason(tiny: Path, tmp_path: Path, capsys) -> None:
    assert main(["query", str(tiny), "select * from nope"]) == EXIT_USAGE
    assert "nope" in capsys.readouterr().err
    assert main(["query", str(tmp_path / "missing"), "select 1"]) == EXIT_USAGE
    assert "missing" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["status", "query", "report"])
def test_a_folder_that_is_not_a_dataset_is_a_usage_error(tmp_path: Path, capsys, command) -> None:
    # Issue 26: a typo in the path printed 0 rows / "no run" and exited 0.
    folder = tmp_path / "scrapes"
    folder.mkdir()
    (folder / "a.txt").write_text("خبر", encoding="utf-8")
    argv = [
        command,
        str(folder),
        *(["select count(*) from articles"] if command == "query" else []),
    ]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert str(folder) in err and "not an akhbar dataset" in err
    assert not (folder / "_reports").exists()


def test_schema_prints_field_descriptions(capsys) -> None:
    assert main(["schema", "entities"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("entities (schema version")
    assert "PER, LOC, ORG or MISC" in out
    assert "articles (" not in out
    assert main(["schema"]) == EXIT_OK
    everything = capsys.readouterr().out
    for table in ("files", "articles", "sentences", "tokens", "entities", "stories"):
        assert f"\n{table} (schema version" in "\n" + everything
    assert main(["schema", "stories"]) == EXIT_OK
    stories = capsys.readouterr().out
    for column in ("canonical_article_id", "first_seen", "n_sources", "merged_into"):
        assert f"  {column} " in stories
    assert "Story this one was merged into" in stories
    assert main(["schema", "nope"]) == EXIT_USAGE


def test_report_command_writes_html(tiny: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "r.html"
    assert main(["report", str(tiny), "--html", str(target)]) == EXIT_OK
    assert capsys.readouterr().out.strip() == str(target)
    assert "وزارة الطاقة" in target.read_text(encoding="utf-8")
    assert main(["report", str(tmp_path / "missing")]) == EXIT_USAGE


@pytest.mark.server
def test_run_off_a_terminal_prints_plain_lines_and_summary(sample_dataset: Path) -> None:
    stderr = (sample_dataset.parent / "run.stderr").read_text()
    stdout = (sample_dataset.parent / "run.stdout").read_text()
    # no progress bar escapes when not attached to a terminal, one plain line per batch
    assert "\x1b[" not in stderr
    assert f"akhbar: batch 1/1 committed: {N_SAMPLES} files" in stderr
    assert "completed" in stdout.splitlines()[0]
    assert len(stdout.splitlines()) <= 25  # one screen
    assert pq.read_table(sample_dataset / "articles").num_rows >= 5


def test_query_as_of_reads_the_dataset_as_an_earlier_run_left_it(tmp_path: Path, capsys) -> None:
    import pyarrow as pa

    from tasks import store, write
    from tasks.config import WriteConfig

    out = tmp_path / "out"
    for run, title in (("r1", "الخبر الأول"), ("r2", "الخبر بعد التعديل")):
        batch = f"{run}-00000"
        stage = store.staging_dir(out, run, batch)
        files = pa.table(
            {"file_id": ["f1"], "source_uri": ["in/a.txt"], "status": ["ok"], "run_id": [run]}
        )
        arts = pa.table(
            {"article_id": [f"a-{run}"], "file_id": ["f1"], "title": [title], "run_id": [run]}
        )
        write.write_batch({"files": files, "articles": arts}, stage, batch, WriteConfig())
        # r2 re-processed in/a.txt: its rows replace r1's
        store.commit_batch(out, stage, batch, ["f1"] if run == "r2" else [], WriteConfig())
    sql = "select title from articles"
    assert main(["query", str(out), sql, "--format", "csv"]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[1:] == ["الخبر بعد التعديل"]
    assert main(["query", str(out), sql, "--format", "csv", "--as-of", "r1"]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[1:] == ["الخبر الأول"]
    assert main(["query", str(out), sql, "--as-of", "r0"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "'r0'" in err and "r1, r2" in err


def test_query_piped_is_not_squeezed_to_80_columns(tiny: Path, capsys) -> None:
    # Issue 26: off a terminal rich assumed 80 columns and folded every wide row.
    sql = "select repeat('ب', 150) as wide, 'آخر عمود' as last"
    assert main(["query", str(tiny), sql]) == EXIT_OK
    out = capsys.readouterr().out
    assert "ب" * 150 in out
    assert any("ب" * 150 in line and "آخر عمود" in line for line in out.splitlines())


def test_status_cells_are_not_cut(tiny: Path, tmp_path: Path, capsys) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(tiny, out)
    (out / "_runs").mkdir()
    log = {
        "run_id": "20250301T080000Z-abcdef",
        "status": "completed",
        "files": {"ok": 1200, "quarantined": 31, "skipped_unchanged": 4000, "failed": 2},
        "articles": 123456,
        "tokens": 12345678,
        "duration_s": 1234.567,
    }
    (out / "_runs" / "20250301T080000Z-abcdef.json").write_text(json.dumps(log))
    assert main(["status", str(out)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "…" not in text
    assert "ok 1200, quarantined 31, skipped_unchanged 4000, failed 2" in text
    assert "quarantined" in text and "not_arabic" in text


def test_summary_of_a_run_that_annotated_nothing_says_so(capsys) -> None:
    from flows.console import Console

    result = {
        "run_id": "r2",
        "outcome": "completed",
        "out": "data/out",
        "files": {"skipped_unchanged": 6},
        "articles": 0,
        "sentences": 0,
        "tokens": 0,
        "oov_rate": 0.0,
        "entities": 0,
        "duration_s": 1.5,
        "morph_source": None,
        "ner_method": None,
        "exact_duplicates": 0,
        "near_duplicates": 0,
    }
    Console().print_summary(result)
    text = capsys.readouterr().out
    assert "None" not in text and "0.0%" not in text
    assert "nothing annotated" in text
