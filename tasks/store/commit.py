"""Atomic batch commits: a ``COMMIT.json`` journal, then ``os.replace`` of every staged part.

A batch becomes visible by ``os.replace`` of complete files staged on the same
filesystem, so readers never see a temp file or a half-written Parquet file.
Before the first rename a ``COMMIT.json`` journal listing every move is written
atomically; a run killed mid-commit is rolled forward by ``recover`` on the next
run. Content tables are moved before ``files``, so the manifest (read from ``files``)
never claims uncommitted rows.
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
from tasks.write import write_parquet

CONTENT_TABLES = ("articles", "sentences", "tokens", "entities")
# Final move order: children first, then articles, then files (the manifest).
COMMIT_ORDER = ("entities", "tokens", "sentences", "articles", "files")
JOURNAL = "COMMIT.json"


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
    """Publish every part staged under ``stage/parquet/<table>/`` atomically.

    Earlier rows of re-processed inputs are dropped in the same commit.

    Rows of ``replace_file_ids`` already in the dataset (from an earlier run or a
    killed one) are removed by rewriting the parts that hold them, so a changed
    or re-run input replaces its rows instead of adding a second copy.
    """
    out, stage = Path(out), Path(stage)
    config = config or WriteConfig()
    moves: list[tuple[str, str]] = []
    rewritten = _stage_rewrites(out, stage, set(replace_file_ids), config, moves)
    for name in COMMIT_ORDER:
        for src in sorted((stage / "parquet" / name).glob("part-*.parquet")):
            moves.append((str(src), str(out / name / src.name)))
    journal = {"batch_id": batch_id, "moves": moves, "written_at": time.time()}
    tmp = stage / (JOURNAL + ".tmp")
    tmp.write_text(json.dumps(journal))
    _fault_point("before_journal")
    os.replace(tmp, stage / JOURNAL)
    _apply_journal(stage)
    return CommitResult(batch_id, len(moves), rewritten)


def _stage_rewrites(
    out: Path, stage: Path, file_ids: set[str], config: WriteConfig, moves: list
) -> int:
    if not file_ids or not (out / "articles").is_dir():
        return 0
    gone: set[str] = set()
    parts: list[str] = []
    for part in sorted((out / "articles").glob("part-*.parquet")):
        col = pq.read_table(part, columns=["article_id", "file_id"])
        mask = pc.is_in(col.column("file_id"), pa.array(sorted(file_ids)))
        if pc.any(mask).as_py():
            gone.update(pc.filter(col.column("article_id"), mask).to_pylist())
            parts.append(part.name)
    if not gone:
        return 0
    gone_arr = pa.array(sorted(gone))
    rewrite_dir = stage / "rewrite"
    n = 0
    for name in CONTENT_TABLES:
        for part_name in parts:
            final = out / name / part_name
            if not final.exists():
                continue
            table = pq.read_table(final)
            keep = pc.invert(pc.is_in(table.column("article_id"), gone_arr))
            write_parquet(table.filter(keep), name, rewrite_dir / name / part_name, config)
            moves.append((str(rewrite_dir / name / part_name), str(final)))
            n += 1
    return n


def _apply_journal(stage: Path) -> None:
    journal = json.loads((stage / JOURNAL).read_text())
    for src, dst in journal["moves"]:
        if os.path.exists(src):
            Path(dst).parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            _fault_point("mid_commit")
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
