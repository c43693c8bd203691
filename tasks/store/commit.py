"""Atomic batch commits: merged parts, a ``COMMIT.json`` journal, one switch per table.

A batch's chunks stage one Parquet part each; the commit merges them into **one part
per table** (a new file every ~128 MB, ``tasks.write.PartWriter``), so a daily run adds
one file per table however many chunks it had (issue 25). Parts are named
``part-<group>-NNNN.parquet``, the group being the batch id (or a compaction's id).
Invariant: the sentences, tokens and entities of an article are in parts of the group of
its ``articles`` part, so rows of a re-processed input are found by group, without
reading every part.

Publishing, journaled so a run killed mid-commit is rolled forward by ``recover``:

1. the new parts are moved (``os.replace``) to ``OUT/_history/<table>/``, where every
   part of every kept version lives; no table directory changes yet;
2. each changed table directory is switched to the new version's file set at once
   (``tasks.store.tabledir``: a directory of hard links exchanged with the old one),
   in ``COMMIT_ORDER``: children first, then articles, stories, and ``files`` (the
   manifest) last, so the manifest never claims uncommitted rows;
3. the new version is published (``tasks.store.versions``).

A glob reader of one table directory thus sees the table of one version or the next,
never both or neither; readers of versions see each commit whole or not at all.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.config import WriteConfig
from tasks.store.staging import load_stage
from tasks.store.tabledir import sync_table_dir
from tasks.store.versions import (
    HISTORY,
    Version,
    current_version,
    link_history,
    part_path,
    publish_version,
    retire_part,
)
from tasks.write import PartWriter

CONTENT_TABLES = ("articles", "sentences", "tokens", "entities")
# Final switch order: children first, then articles, the stories over them, then files (the
# manifest).
COMMIT_ORDER = ("entities", "tokens", "sentences", "articles", "stories", "files")
# Tables a commit updates by key: a staged row replaces the published row with its key,
# and ``<stage>/upsert-<table>.json`` lists keys whose published rows go without one.
UPSERT_KEYS = {"stories": "story_id"}
JOURNAL = "COMMIT.json"
_GROUP_SUFFIX = re.compile(r"-r?\d{4}$")
# Article columns that point at other rows (articles, stories).
LINKS = ("duplicate_of", "near_duplicate_of", "story_id")
# Staged by the dedup assignment: published articles whose LINKS the commit rewrites
# (``article_id`` + LINKS; issue 26).
RELINK = "relink.arrow"

# What a rewritten part keeps of each row group: the rows as they go into the new part.
Rows = Callable[[pa.Table], pa.Table] | None


@dataclass
class CommitResult:
    """What a commit moved into the dataset."""

    batch_id: str
    moved: int
    rewritten: int


def part_group(name: str) -> str:
    """The group of a part: the batch (or compaction) that wrote it.

    >>> part_group("part-20250601T060000Z-1a2b3c-00000-0002.parquet")
    '20250601T060000Z-1a2b3c-00000'
    """
    stem = name.removeprefix("part-").removesuffix(".parquet")
    return _GROUP_SUFFIX.sub("", stem)


def commit_batch(
    out: str | Path,
    stage: str | Path,
    batch_id: str,
    replace_file_ids: Iterable[str] = (),
    config: WriteConfig | None = None,
) -> CommitResult:
    """Publish the parts staged under ``stage/parquet/<table>/`` atomically, as a new version.

    The staged chunk parts of each table are merged into one part per table. A table of
    ``UPSERT_KEYS`` (``stories``) is updated by key: only the published parts holding a
    key the batch restates are rewritten (their other rows go into the batch's part).

    Rows of ``replace_file_ids`` already in the dataset (from an earlier run or a
    killed one) are dropped in the same commit: the parts of their group are written
    again without them, into the batch's part, and the old parts are retired to
    ``_history``, so a changed or re-run input replaces its rows instead of adding a
    second copy. Published articles listed in ``stage/RELINK`` get their links
    replaced the same way (links to a dropped article, recomputed; issue 26).

    The run id recorded in the version is the staging directory's parent
    (``OUT/_staging/<run_id>/<batch_id>``).
    """
    out, stage = Path(out), Path(stage)
    config = config or WriteConfig()
    base = current_version(out)
    sources: dict[str, list[tuple[Path, Rows]]] = {}
    retired: dict[str, list[str]] = {}
    relink = load_stage(stage / RELINK) if (stage / RELINK).exists() else None
    rewritten = _replaced_rows(out, base, set(replace_file_ids), relink, sources, retired)
    for name, key in UPSERT_KEYS.items():
        _upserted_rows(out, stage, base, name, key, sources, retired)
    added: dict[str, list[Path]] = {}
    for name in COMMIT_ORDER:
        staged = sorted((stage / "parquet" / name).glob("part-*.parquet"))
        todo = [(p, None) for p in staged] + sources.get(name, [])
        if not todo:
            continue
        writer = PartWriter(name, stage / "merged" / name, f"part-{batch_id}", config)
        for path, keep in todo:
            _copy_rows(path, keep, writer)
        added[name] = writer.close(keep_empty=not base.tables.get(name))
    publish(out, stage, stage.parent.name, batch_id, base, added, retired)
    return CommitResult(batch_id, sum(len(v) for v in added.values()), rewritten)


def _copy_rows(path: Path, rows: Rows, writer: PartWriter) -> None:
    """Stream a part into ``writer`` one row group at a time (as ``rows`` rewrites them)."""
    parquet = pq.ParquetFile(path)
    for i in range(parquet.num_row_groups):
        table = parquet.read_row_group(i)
        writer.write(rows(table) if rows is not None else table)


def _replaced_rows(
    out: Path,
    base: Version,
    file_ids: set[str],
    relink: pa.Table | None,
    sources: dict[str, list[tuple[Path, Rows]]],
    retired: dict[str, list[str]],
) -> int:
    """Plan the rewrite of the groups holding rows of ``file_ids``; returns parts retired.

    The groups of ``articles`` parts holding a row of ``relink`` are rewritten too, the
    articles with their new links: children move with their articles, so an article's
    rows stay in one group.
    """
    if not file_ids and relink is None:
        return 0
    gone: set[str] = set()
    groups: set[str] = set()
    ids = pa.array(sorted(file_ids), pa.string())
    for part in base.tables.get("articles", []):
        col = pq.read_table(part_path(out, "articles", part), columns=["article_id", "file_id"])
        mask = pc.is_in(col.column("file_id"), ids)
        if pc.any(mask).as_py():
            gone.update(pc.filter(col.column("article_id"), mask).to_pylist())
            groups.add(part_group(part))
        if relink is not None and pc.any(
            pc.is_in(col.column("article_id"), relink.column("article_id"))
        ).as_py():
            groups.add(part_group(part))
    if not groups:
        return 0
    gone_arr = pa.array(sorted(gone), pa.string())

    def keep(table: pa.Table) -> pa.Table:
        return table.filter(pc.invert(pc.is_in(table.column("article_id"), gone_arr)))

    def keep_relinked(table: pa.Table) -> pa.Table:
        return apply_relink(keep(table), relink) if relink is not None else keep(table)

    n = 0
    for name in CONTENT_TABLES:
        for part in base.tables.get(name, []):
            if part_group(part) not in groups:
                continue
            rows = keep_relinked if name == "articles" else keep
            sources.setdefault(name, []).append((part_path(out, name, part), rows))
            retired.setdefault(name, []).append(part)
            n += 1
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


def _upserted_rows(
    out: Path,
    stage: Path,
    base: Version,
    name: str,
    key: str,
    sources: dict[str, list[tuple[Path, Rows]]],
    retired: dict[str, list[str]],
) -> None:
    """Plan the rewrite of the published parts of ``name`` holding a key the batch restates."""
    staged = sorted((stage / "parquet" / name).glob("part-*.parquet"))
    listed = stage / f"upsert-{name}.json"
    if not staged and not listed.exists():
        return
    keys = set(json.loads(listed.read_text())) if listed.exists() else set()
    for path in staged:
        keys.update(pq.read_table(path, columns=[key]).column(key).to_pylist())
    keys_arr = pa.array(sorted(keys), pa.string())

    def keep(table: pa.Table) -> pa.Table:
        return table.filter(pc.invert(pc.is_in(table.column(key), keys_arr)))

    for part in base.tables.get(name, []):
        path = part_path(out, name, part)
        if pc.any(pc.is_in(pq.read_table(path, columns=[key]).column(key), keys_arr)).as_py():
            sources.setdefault(name, []).append((path, keep))
            retired.setdefault(name, []).append(part)


def publish(
    out: Path,
    stage: Path,
    run_id: str,
    batch_id: str,
    base: Version,
    added: dict[str, list[Path]],
    retired: dict[str, list[str]],
) -> Version:
    """Journal and apply a new version: ``base`` minus ``retired`` plus ``added`` parts.

    ``added`` parts are complete files under ``stage``; they are moved into ``_history``
    and every changed table directory is switched to its new file set.
    """
    tables = {}
    for name in COMMIT_ORDER:
        gone = set(retired.get(name, ()))
        names = [p for p in base.tables.get(name, []) if p not in gone]
        tables[name] = names + [p.name for p in added.get(name, [])]
    version = Version(base.number + 1, tables, run_id, batch_id, time.time())
    moves = [
        (str(src), str(out / HISTORY / name / src.name))
        for name in COMMIT_ORDER
        for src in added.get(name, [])
    ]
    changed = [n for n in COMMIT_ORDER if added.get(n) or retired.get(n)]
    journal = {
        "layout": 2,
        "batch_id": batch_id,
        "out": str(out),
        "moves": moves,
        "switch": changed,
        "version": version.as_record(),
        "written_at": time.time(),
    }
    tmp = stage / (JOURNAL + ".tmp")
    tmp.write_text(json.dumps(journal))
    _fault_point("before_journal")
    os.replace(tmp, stage / JOURNAL)
    _apply_journal(stage)
    return version


def _apply_journal(stage: Path) -> None:
    """Do (or finish) a journaled commit; every step can be repeated after a crash."""
    journal = json.loads((stage / JOURNAL).read_text())
    out = Path(journal.get("out") or stage.parents[2])
    for src, dst in journal["moves"]:
        if os.path.exists(src):
            Path(dst).parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            _fault_point("mid_commit")
    if journal.get("layout") == 2:
        version = Version.from_record(journal["version"])
        for table in journal["switch"]:
            _switch_table(out, table, version.tables.get(table, []), stage)
            _fault_point("mid_commit")
        publish_version(out, version)
    elif journal.get("version") is not None:  # a journal written before issue 25
        for table, name in journal.get("added", []):
            link_history(out, table, name)
        for table, name in journal.get("retired", []):
            retire_part(out, table, name)
        publish_version(out, Version.from_record(journal["version"]))
    shutil.rmtree(stage, ignore_errors=True)


def _switch_table(out: Path, table: str, names: list[str], stage: Path) -> None:
    """Switch ``OUT/<table>`` to exactly ``names``, keeping every part it held in ``_history``."""
    target = out / table
    if target.is_dir():
        for part in target.glob("part-*.parquet"):
            link_history(out, table, part.name)  # parts of datasets older than _history
    sources = {n: part_path(out, table, n) for n in names}
    sync_table_dir(target, sources, stage / "switch" / table, out / HISTORY / table)


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
