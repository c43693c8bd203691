"""Atomic batch commits: a ``COMMIT.json`` journal, ``os.replace`` of every part, a new version.

A batch becomes visible by ``os.replace`` of complete files staged on the same
filesystem, so readers never see a temp file or a half-written Parquet file.
Before the first rename a ``COMMIT.json`` journal listing every move is written
atomically; a run killed mid-commit is rolled forward by ``recover`` on the next
run. Content tables are moved before ``files``, so the manifest (read from ``files``)
never claims uncommitted rows, and the commit ends by publishing a new version
(``tasks.store.versions``): readers of versions see each commit whole or not at all.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.config import WriteConfig
from tasks.store.staging import load_stage
from tasks.store.versions import (
    Version,
    current_version,
    link_history,
    part_path,
    publish_version,
    retire_part,
)
from tasks.write import write_parquet

CONTENT_TABLES = ("articles", "sentences", "tokens", "entities")
# Final move order: children first, then articles, the stories over them, then files (the
# manifest).
COMMIT_ORDER = ("entities", "tokens", "sentences", "articles", "stories", "files")
# Tables a commit restates whole: a staged part replaces every part of the base version.
WHOLE_TABLES = ("stories",)
JOURNAL = "COMMIT.json"
# Article columns that point at other rows (articles, stories).
LINKS = ("duplicate_of", "near_duplicate_of", "story_id")
# Staged by the dedup assignment: published articles whose LINKS the commit rewrites
# (``article_id`` + LINKS; issue 26).
RELINK = "relink.arrow"


@dataclass
class CommitResult:
    """What a commit moved into the dataset."""

    batch_id: str
    moved: int
    rewritten: int


def commit_batch(
    out: str | Path,
    stage: str | Path,
    batch_id: str,
    replace_file_ids: Iterable[str] = (),
    config: WriteConfig | None = None,
) -> CommitResult:
    """Publish every part staged under ``stage/parquet/<table>/`` atomically, as a new version.

    A table of ``WHOLE_TABLES`` (``stories``) is restated by each commit that stages it:
    its staged part replaces all of its earlier parts in the new version.

    Rows of ``replace_file_ids`` already in the dataset (from an earlier run or a
    killed one) are dropped in the same commit: the parts that hold them are written
    again without them, under new names, and the old parts are retired to
    ``_history``, so a changed or re-run input replaces its rows instead of adding a
    second copy. Published articles listed in ``stage/RELINK`` get their links
    replaced the same way (links to a dropped article, recomputed; issue 26).

    The run id recorded in the version is the staging directory's parent
    (``OUT/_staging/<run_id>/<batch_id>``).
    """
    out, stage = Path(out), Path(stage)
    config = config or WriteConfig()
    run_id = stage.parent.name
    base = current_version(out)
    moves: list[tuple[str, str]] = []
    added: list[tuple[str, str]] = []
    retired: list[tuple[str, str]] = []
    relink = load_stage(stage / RELINK) if (stage / RELINK).exists() else None
    rewritten = _stage_rewrites(
        out, stage, base, batch_id, set(replace_file_ids), relink, config, moves, added, retired
    )
    for name in COMMIT_ORDER:
        staged = sorted((stage / "parquet" / name).glob("part-*.parquet"))
        if staged and name in WHOLE_TABLES:
            retired.extend((name, old) for old in base.tables.get(name, []))
        for src in staged:
            moves.append((str(src), str(out / name / src.name)))
            added.append((name, src.name))
    tables = {t: list(base.tables.get(t, [])) for t in COMMIT_ORDER}
    for table, name in retired:
        tables[table].remove(name)
    for table, name in added:
        tables[table].append(name)
    version = Version(base.number + 1, tables, run_id, batch_id, time.time())
    journal = {
        "batch_id": batch_id,
        "out": str(out),
        "moves": moves,
        "added": added,
        "retired": retired,
        "version": version.as_record(),
        "written_at": time.time(),
    }
    tmp = stage / (JOURNAL + ".tmp")
    tmp.write_text(json.dumps(journal))
    _fault_point("before_journal")
    os.replace(tmp, stage / JOURNAL)
    _apply_journal(stage)
    return CommitResult(batch_id, len(moves), rewritten)


def _stage_rewrites(
    out: Path,
    stage: Path,
    base: Version,
    batch_id: str,
    file_ids: set[str],
    relink: pa.Table | None,
    config: WriteConfig,
    moves: list,
    added: list,
    retired: list,
) -> int:
    if not file_ids and relink is None:
        return 0
    gone: set[str] = set()
    parts: list[str] = []
    for part in base.tables.get("articles", []):
        col = pq.read_table(part_path(out, "articles", part), columns=["article_id", "file_id"])
        mask = pc.is_in(col.column("file_id"), pa.array(sorted(file_ids), pa.string()))
        hit = pc.any(mask).as_py()
        if hit:
            gone.update(pc.filter(col.column("article_id"), mask).to_pylist())
        if relink is not None:
            hit = hit or pc.any(pc.is_in(col.column("article_id"), relink.column("article_id")))
        if hit:
            parts.append(part)
    if not parts:
        return 0
    gone_arr = pa.array(sorted(gone), pa.string())
    rewrite_dir = stage / "rewrite"
    n = 0
    for name in CONTENT_TABLES:
        held = set(base.tables.get(name, []))
        for i, part_name in enumerate(parts):
            if part_name not in held:
                continue
            table = pq.read_table(part_path(out, name, part_name))
            kept = table.filter(pc.invert(pc.is_in(table.column("article_id"), gone_arr)))
            if name == "articles" and relink is not None:
                kept = apply_relink(kept, relink)
            elif kept.num_rows == table.num_rows:
                continue  # a part only relinked: its child tables stay as they are
            retired.append((name, part_name))
            n += 1
            if kept.num_rows:
                # A new name: a reader of the previous version still finds the old part.
                new_name = f"part-{batch_id}-r{i:04d}.parquet"
                write_parquet(kept, name, rewrite_dir / name / new_name, config)
                moves.append((str(rewrite_dir / name / new_name), str(out / name / new_name)))
                added.append((name, new_name))
    return n


def apply_relink(articles: pa.Table, relink: pa.Table) -> pa.Table:
    """``articles`` with the ``LINKS`` of ``relink``'s rows (by ``article_id``) replaced."""
    pos = pc.index_in(articles.column("article_id"), value_set=relink.column("article_id"))
    hit = pc.is_valid(pos)
    for name in LINKS:
        if name not in articles.column_names:
            continue
        i = articles.column_names.index(name)
        typ = articles.schema.field(name).type
        new = pc.take(relink.column(name), pos).cast(typ)
        articles = articles.set_column(i, name, pc.if_else(hit, new, articles.column(name)))
    return articles


def _apply_journal(stage: Path) -> None:
    """Do (or finish) a journaled commit; every step can be repeated after a crash."""
    journal = json.loads((stage / JOURNAL).read_text())
    for src, dst in journal["moves"]:
        if os.path.exists(src):
            Path(dst).parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            _fault_point("mid_commit")
    if journal.get("version") is not None:
        out = Path(journal.get("out") or stage.parents[2])
        for table, name in journal.get("added", []):
            link_history(out, table, name)
        for table, name in journal.get("retired", []):
            retire_part(out, table, name)
        publish_version(out, Version.from_record(journal["version"]))
    shutil.rmtree(stage, ignore_errors=True)


_FAULT_HITS: Counter[str] = Counter()


def _fault_point(name: str) -> None:
    """Crash here when ``AKHBAR_FAULT=<name>:<n>`` and this is the n-th hit (bench/chaos.py).

    SIGKILLs the whole process group, as a power cut or the OOM killer would, at the
    commit moments random kill times rarely hit. Does nothing when the variable is unset.
    """
    want = os.environ.get("AKHBAR_FAULT")
    if not want or not want.startswith(name + ":"):
        return
    _FAULT_HITS[name] += 1
    if _FAULT_HITS[name] == int(want.split(":", 1)[1]):
        import signal

        os.killpg(os.getpgid(0), signal.SIGKILL)
