"""Plain glob readers during commits (issue 25): one merged part per table per commit, and a
table directory that switches its file set at once, so no glob ever sees a torn table."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tasks import store, write
from tasks.config import WriteConfig
from tasks.store import tabledir, versions
from tasks.store.commit import part_group

CFG = WriteConfig()
TABLES = ("articles", "tokens", "stories", "files")


def _batch(stage: Path, batch_id: str, run_id: str, seq: int, chunks: int = 3) -> None:
    """Stage ``chunks`` chunk parts of 2 articles each, a files part and a stories part.

    The stories part founds story ``s<seq>`` and restates ``s<seq-1>`` and ``s0`` (a
    repost of yesterday's story and of the first one), so every commit rewrites rows
    that earlier commits published.
    """
    fids = [f"f{seq}-{k}" for k in range(chunks)]
    for k, fid in enumerate(fids):
        aids = [f"{fid}-a{i}" for i in range(2)]
        articles = pa.table(
            {
                "article_id": aids,
                "file_id": [fid] * 2,
                "run_id": [run_id] * 2,
                "published_date": [date(2025, 1, 1 + seq % 28)] * 2,
            }
        )
        tokens = pa.table(
            {
                "article_id": aids * 3,
                "sentence_index": pa.array([0] * 6, pa.int32()),
                "token_index": pa.array([0, 0, 1, 1, 2, 2], pa.int32()),
            }
        )
        tokens = write.with_article_columns(
            tokens, articles.append_column("source_name", pa.nulls(2, pa.string()))
        )
        write.write_batch(
            {"articles": articles, "tokens": tokens}, stage, f"{batch_id}-{k:04d}", CFG
        )
    files = pa.table(
        {
            "file_id": fids,
            "source_uri": [f"/in/{f}" for f in fids],
            "status": ["ok"] * chunks,
            "run_id": [run_id] * chunks,
            "processed_at": pa.array([datetime.now(UTC)] * chunks, pa.timestamp("us", tz="UTC")),
        }
    )
    touched = sorted({f"s{seq}", f"s{max(seq - 1, 0)}", "s0"})
    stories = pa.table(
        {"story_id": touched, "n_articles": pa.array([seq] * len(touched), pa.int32())}
    )
    write.write_batch({"files": files, "stories": stories}, stage, batch_id, CFG)


def _commit(out: Path, run_id: str, seq: int, replace=()) -> store.CommitResult:
    batch_id = f"{run_id}-{seq:05d}"
    stage = store.staging_dir(out, run_id, batch_id)
    _batch(stage, batch_id, run_id, seq)
    return store.commit_batch(out, stage, batch_id, replace, CFG)


def _counts(out: Path, version: versions.Version) -> dict[str, int]:
    return {
        t: sum(
            pq.ParquetFile(versions.part_path(out, t, n)).metadata.num_rows
            for n in version.tables.get(t, [])
        )
        for t in TABLES
    }


def test_a_commit_adds_one_part_per_table_however_many_chunks(tmp_path):
    for seq in range(3):
        _commit(tmp_path, "r1", seq)
    v = versions.current_version(tmp_path)
    for table in ("articles", "tokens", "files"):
        assert len(v.tables[table]) == 3, table  # 3 commits of 3 chunks: 3 parts, not 9
        assert sorted(p.name for p in (tmp_path / table).glob("*.parquet")) == v.tables[table]
    # stories are updated by key: each commit rewrites the parts holding s0 and s<seq-1>
    # into its own part, so the table stays at one part and each story has one row
    assert len(v.tables["stories"]) == 1
    stories = store.read_table(tmp_path, "stories")
    assert sorted(stories.column("story_id").to_pylist()) == ["s0", "s1", "s2"]
    assert set(stories.column("n_articles").to_pylist()) == {2}  # restated by commit 2
    # children carry the article's date (issue 25)
    tokens = store.read_table(tmp_path, "tokens", ["published_date"])
    assert tokens.column("published_date").null_count == 0


def test_a_replaced_input_rewrites_its_group_into_the_new_part(tmp_path):
    _commit(tmp_path, "r1", 0)
    _commit(tmp_path, "r1", 1)
    result = _commit(tmp_path, "r2", 2, replace=["f0-1"])
    v = versions.current_version(tmp_path)
    assert result.rewritten == 2  # articles and tokens of group r1-00000
    assert [part_group(n) for n in v.tables["articles"]] == ["r1-00001", "r2-00002"]
    ids = store.read_table(tmp_path, "articles", ["article_id"]).column("article_id").to_pylist()
    assert len(ids) == len(set(ids)) == 16 and not any(a.startswith("f0-1-") for a in ids)
    tokens = store.read_table(tmp_path, "tokens", ["article_id"]).column("article_id")
    assert set(tokens.to_pylist()) == set(ids)


_READER = textwrap.dedent(
    """
    import glob, sys, os
    import pyarrow.parquet as pq
    out, tables, log, stop = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
    seen, missing = set(), 0
    while not os.path.exists(stop):
        for t in tables:
            try:
                n = sum(pq.ParquetFile(p).metadata.num_rows
                        for p in glob.glob(f"{out}/{t}/part-*.parquet"))
            except OSError:  # a part the commit removed after the listing: list again
                missing += 1
                continue
            seen.add((t, n))
    with open(log, "w") as f:
        f.write(repr((sorted(seen), missing)))
    """
)


def _observe_while_committing(out: Path, commits: int) -> tuple[set, int]:
    _commit(out, "r0", 0)
    log, stop = out.parent / "seen.txt", out.parent / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(out), ",".join(TABLES), str(log), str(stop)]
    )
    try:
        for seq in range(1, commits + 1):
            _commit(out, "r1", seq, replace=[f"f{seq - 2}-0"] if seq % 4 == 0 else ())
    finally:
        stop.write_text("")
        reader.wait(timeout=60)
    seen, missing = eval(log.read_text())  # noqa: S307 - our own repr of ints and strings
    return set(seen), missing


def test_a_glob_reader_never_sees_a_row_count_no_version_had(tmp_path):
    out = tmp_path / "out"
    seen, _ = _observe_while_committing(out, commits=25)
    had = {(t, n) for v in versions.list_versions(out) for t, n in _counts(out, v).items()}
    had |= {(t, 0) for t in TABLES}  # before the first commit
    assert len({n for t, n in seen if t == "stories"}) > 3  # the reader saw commits happen
    assert seen <= had, sorted(seen - had)


def test_without_the_exchange_the_table_dir_still_ends_right(tmp_path, monkeypatch):
    # Where renameat2 is missing the directory is updated in place (new parts, then the
    # old ones leave): glob readers may see a moment of both, versions stay exact.
    monkeypatch.setattr(tabledir, "_EXCHANGE", None)
    for seq in range(4):
        _commit(tmp_path, "r1", seq, replace=["f0-0"] if seq == 3 else ())
    v = versions.current_version(tmp_path)
    for table in TABLES:
        assert sorted(p.name for p in (tmp_path / table).glob("*.parquet")) == sorted(
            v.tables[table]
        )


def _observe_every_step(out: Path, monkeypatch, commits: int) -> set:
    """Glob every table after each file operation of the commits: a reader at every moment."""
    import os

    seen: set = set()

    def look() -> None:
        for t in TABLES:
            paths = (out / t).glob("part-*.parquet")
            seen.add((t, sum(pq.ParquetFile(p).metadata.num_rows for p in paths)))

    for name in ("link", "replace", "rename", "unlink"):
        original = getattr(os, name)

        def spy(*args, _original=original, **kwargs):
            result = _original(*args, **kwargs)
            look()
            return result

        monkeypatch.setattr(os, name, spy)
    for seq in range(commits):
        _commit(out, "r1", seq, replace=[f"f{seq - 2}-0"] if seq % 3 == 2 else ())
    monkeypatch.undo()
    return seen


def _had(out: Path) -> set:
    had = {(t, n) for v in versions.list_versions(out) for t, n in _counts(out, v).items()}
    return had | {(t, 0) for t in TABLES}


def test_at_no_step_of_a_commit_does_a_table_dir_show_a_count_no_version_had(tmp_path, monkeypatch):
    seen = _observe_every_step(tmp_path, monkeypatch, commits=6)
    assert seen <= _had(tmp_path), sorted(seen - _had(tmp_path))


def test_the_step_check_catches_an_in_place_update(tmp_path, monkeypatch):
    # The same check on the fallback (no exchange): between "new parts in" and "old parts
    # out" the stories folder holds both, and the check sees it.
    monkeypatch.setattr(tabledir, "_EXCHANGE", None)
    seen = _observe_every_step(tmp_path, monkeypatch, commits=6)
    assert seen - _had(tmp_path)


def test_without_hard_links_parts_move_between_history_and_the_table_dir(tmp_path, monkeypatch):
    import errno
    import os

    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, "hard links not supported here")

    monkeypatch.setattr(os, "link", no_links)
    for seq in range(3):
        _commit(tmp_path, "r1", seq)
    _commit(tmp_path, "r2", 3, replace=["f0-0"])
    v = versions.current_version(tmp_path)
    for table in TABLES:
        assert sorted(p.name for p in (tmp_path / table).glob("*.parquet")) == sorted(
            v.tables[table]
        )
    # a part lives in one place: the current ones in the folder, the replaced in _history
    assert not set(v.tables["articles"]) & {
        p.name for p in (tmp_path / "_history" / "articles").glob("*")
    }
    old = store.read_table(tmp_path, "articles", ["article_id"], as_of="r1")
    assert any(a.startswith("f0-0-") for a in old.column("article_id").to_pylist())
    now = store.read_table(tmp_path, "articles", ["article_id"])
    assert not any(a.startswith("f0-0-") for a in now.column("article_id").to_pylist())
