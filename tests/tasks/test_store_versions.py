"""Tests for tasks.store.versions: snapshot reads, --as-of, _history and retention."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks import store, write
from tasks.config import WriteConfig
from tasks.errors import ConfigError
from tasks.report import connect_dataset
from tasks.store import versions

CFG = WriteConfig()


def _tables(file_id: str, run_id: str, n_articles: int = 2) -> dict[str, pa.Table]:
    """One files row and ``n_articles`` articles, each with one sentence and two tokens."""
    aids = [f"{file_id}-{run_id}-a{i}" for i in range(n_articles)]
    zeros = pa.array([0] * n_articles, pa.int32())
    return {
        "files": pa.table(
            {
                "file_id": [file_id],
                "source_uri": [f"/in/{file_id}.txt"],
                "status": ["ok"],
                "run_id": [run_id],
                "processed_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
            }
        ),
        "articles": pa.table(
            {"article_id": aids, "file_id": [file_id] * n_articles, "run_id": [run_id] * n_articles}
        ),
        "sentences": pa.table({"article_id": aids, "sentence_index": zeros}),
        "tokens": pa.table(
            {
                "article_id": aids * 2,
                "sentence_index": pa.concat_arrays([zeros, zeros]),
                "token_index": pa.array([0] * n_articles + [1] * n_articles, pa.int32()),
            }
        ),
    }


def _commit(out: Path, run_id: str, seq: int, file_id: str, replace=(), config=CFG) -> None:
    batch_id = f"{run_id}-{seq:05d}"
    stage = store.staging_dir(out, run_id, batch_id)
    tables = _tables(file_id, run_id)
    write.write_batch({"files": tables.pop("files")}, stage, batch_id, config)
    write.write_batch(tables, stage, f"{batch_id}-0000", config)
    store.commit_batch(out, stage, batch_id, replace, config)


def _ids(table: pa.Table, column: str = "article_id") -> set[str]:
    return set(table.column(column).to_pylist())


def test_each_commit_publishes_a_version_listing_every_part(tmp_path):
    _commit(tmp_path, "r1", 0, "f1")
    _commit(tmp_path, "r1", 1, "f2")
    assert versions.version_numbers(tmp_path) == [1, 2]
    v = versions.current_version(tmp_path)
    assert (v.number, v.run_id, v.batch_id) == (2, "r1", "r1-00001")
    assert v.tables["articles"] == ["part-r1-00000-0000.parquet", "part-r1-00001-0000.parquet"]
    assert v.tables["files"] == ["part-r1-00000-0000.parquet", "part-r1-00001-0000.parquet"]
    # every published part also has a _history link, so it survives being replaced
    for name in v.tables["tokens"]:
        assert (tmp_path / "_history" / "tokens" / name).samefile(tmp_path / "tokens" / name)


def test_a_replaced_part_leaves_the_table_dir_and_as_of_still_reads_it(tmp_path):
    _commit(tmp_path, "r1", 0, "f1")
    _commit(tmp_path, "r1", 1, "f2")
    _commit(tmp_path, "r2", 0, "f1", replace=["f1"])  # f1 changed: its new rows replace the old
    old = "part-r1-00000-0000.parquet"
    # plain globbing sees the current version only: no old f1 rows, no duplicates
    globbed = pq.read_table(sorted((tmp_path / "articles").glob("part-*.parquet")))
    assert old not in {p.name for p in (tmp_path / "articles").iterdir()}
    assert sorted(globbed.column("run_id").to_pylist()) == ["r1", "r1", "r2", "r2"]
    assert (tmp_path / "_history" / "articles" / old).exists()
    current = store.read_table(tmp_path, "articles")
    assert _ids(current) == _ids(globbed)
    before = store.read_table(tmp_path, "articles", as_of="r1")
    assert {r["file_id"]: r["run_id"] for r in before.to_pylist()} == {"f1": "r1", "f2": "r1"}
    tokens = store.read_table(tmp_path, "tokens", as_of="r1")
    assert _ids(tokens) == _ids(before)
    con = connect_dataset(tmp_path, as_of="r1")
    assert con.execute("select count(*) from articles where run_id = 'r2'").fetchone() == (0,)


def test_as_of_an_unknown_run_names_the_runs_kept(tmp_path):
    _commit(tmp_path, "r1", 0, "f1")
    with pytest.raises(ConfigError, match=r"'nope'.*r1"):
        store.read_table(tmp_path, "articles", as_of="nope")


def _run(out: Path, run_id: str, batches: list[tuple[str, list[str]]], cfg=CFG) -> None:
    """A run as the flow does it: prune at the start, under the lock, then commit."""
    store.prune_versions(out, cfg.keep_runs, cfg.keep_days)
    for seq, (file_id, replace) in enumerate(batches):
        _commit(out, run_id, seq, file_id, replace, cfg)


def test_retention_in_runs_deletes_old_versions_and_the_parts_only_they_needed(tmp_path):
    cfg = WriteConfig(keep_runs=2)
    _run(tmp_path, "r1", [("f1", []), ("f2", [])], cfg)
    _run(tmp_path, "r2", [("f1", ["f1"])], cfg)
    old = tmp_path / "_history" / "articles" / "part-r1-00000-0000.parquet"
    assert old.exists()
    # r1's first version is not its last: pruned when r2 started
    assert [v.batch_id for v in versions.list_versions(tmp_path)] == ["r1-00001", "r2-00000"]
    _run(tmp_path, "r3", [("f2", ["f2"])], cfg)
    assert old.exists()  # r1's last version is still within the last 2 runs (r1, r2)
    _run(tmp_path, "r4", [], cfg)
    assert not old.exists()  # only r1 needed it, and r1 left the window
    with pytest.raises(ConfigError, match="r1"):
        store.read_table(tmp_path, "articles", as_of="r1")
    assert _ids(store.read_table(tmp_path, "articles", as_of="r2"), "file_id") == {"f1", "f2"}
    assert store.read_table(tmp_path, "articles", as_of="r2").num_rows == 4


def test_retention_in_days_keeps_young_versions(tmp_path):
    for i, run in enumerate(("r1", "r2", "r3")):
        _commit(tmp_path, run, 0, "f1", replace=["f1"] if i else ())
    assert store.prune_versions(tmp_path, 1, 1.0) == {"versions": 0, "parts": 0}
    assert [v.run_id for v in versions.list_versions(tmp_path)] == ["r1", "r2", "r3"]
    two_days_later = time.time() + 2 * 86400
    assert versions.prune_versions(tmp_path, 1, 1.0, now=two_days_later) == {
        "versions": 2,
        "parts": 6,  # the articles, sentences and tokens parts of f1 that r1 and r2 wrote
    }
    assert [v.run_id for v in versions.list_versions(tmp_path)] == ["r3"]


def test_a_dataset_without_versions_reads_its_table_dirs_until_the_first_commit(tmp_path):
    legacy = _tables("f0", "r0")
    for name, table in legacy.items():
        write.write_parquet(table, name, tmp_path / name / "part-r0-00000.parquet", CFG)
    assert versions.current_version(tmp_path).number == 0
    assert store.read_table(tmp_path, "articles").num_rows == 2
    _commit(tmp_path, "r1", 0, "f0", replace=["f0"])
    v = versions.current_version(tmp_path)
    assert v.number == 1 and "part-r0-00000.parquet" not in v.tables["articles"]
    assert not (tmp_path / "articles" / "part-r0-00000.parquet").exists()
    retired = tmp_path / "_history" / "articles" / "part-r0-00000.parquet"
    assert retired.exists()
    # version 0 was never published, so the next run start finds no version needing it
    store.prune_versions(tmp_path, CFG.keep_runs, CFG.keep_days)
    assert not retired.exists()
    assert store.read_table(tmp_path, "articles").column("run_id").to_pylist() == ["r1", "r1"]


def test_a_reader_joining_tables_never_sees_a_torn_state_while_a_run_commits(tmp_path):
    # The writer commits batches (some replacing earlier files) as fast as it can; the
    # reader joins tokens, sentences, articles and files of one snapshot in a loop.
    # Without versions a glob reader sees tokens whose article is not published yet.
    _commit(tmp_path, "r0", 0, "f0")
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(1, 40):
                replace = [f"f{i - 5}"] if i >= 5 and i % 3 == 0 else []
                fid = replace[0] if replace else f"f{i}"
                _commit(tmp_path, "r1", i, fid, replace=replace)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    try:
        while not done.is_set() or reads < 3:
            snap = store.snapshot(tmp_path)
            files = snap.read_table("files", ["file_id"])
            arts = snap.read_table("articles", ["article_id", "file_id"])
            sents = snap.read_table("sentences", ["article_id"])
            toks = snap.read_table("tokens", ["article_id"])
            assert _ids(toks) == _ids(sents) == _ids(arts), f"torn at version {snap.version}"
            assert _ids(arts, "file_id") <= _ids(files, "file_id")
            assert arts.num_rows == len(_ids(arts))  # no article twice
            con = connect_dataset(tmp_path)
            orphans = con.execute(
                "select count(*) from tokens t anti join articles a using (article_id)"
            ).fetchone()
            assert orphans == (0,)
            reads += 1
    finally:
        thread.join()
    assert not errors, errors
    assert reads >= 3
    assert versions.current_version(tmp_path).number == 40


def test_run_reports_are_pruned_like_versions(tmp_path):
    reports = tmp_path / "_reports"
    reports.mkdir()
    runs = [f"2025060{d}T060000Z-1a2b3c" for d in range(1, 8)]
    for run in runs:
        (reports / f"{run}.html").write_text("<html/>")
    (reports / "report.html").write_text("<html/>")  # `akhbar report`'s: the user's
    now = time.time()
    old = now - 10 * 86400
    for run in runs[:5]:
        os.utime(reports / f"{run}.html", (old, old))
    # keep_days=3 keeps the two young ones; keep_runs=3 also keeps the last three
    assert store.prune_reports(tmp_path, keep_runs=3, keep_days=3, now=now) == 4
    left = sorted(p.name for p in reports.iterdir())
    assert left == [f"{r}.html" for r in runs[4:]] + ["report.html"]
