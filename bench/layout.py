"""Dataset layout as it grows (issue 25): parts per daily run, torn glob reads, compaction.

Usage::

    python bench/layout.py ZIP ZIP ZIP [--out DIR] [--workers N]

In one invocation:

1. ``akhbar run ZIP --out DIR`` once per ZIP (three daily runs), while a separate
   process globs every table folder in a tight loop and records each row count it sees
   (``sum(num_rows)`` of the footers of ``DIR/<table>/part-*.parquet``);
2. after each run: files per table folder and names new since the run before, and the
   run's commit seconds against its wall time (from ``_runs/<run_id>.json``);
3. every count the reader saw is checked against the counts of the versions
   (``_versions/``): a count no version had is a torn read;
4. what ``published_date`` and ``source_name`` cost on tokens: the size of the tokens
   parts against the same rows without those two columns, same writer settings;
5. ``akhbar compact DIR``: files per table after, rows before and after, and whether the
   articles' row groups are ordered by date (row-group statistics).

Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tasks.schemas import TABLES  # noqa: E402
from tasks.store import versions  # noqa: E402

AKHBAR = str(Path(sys.executable).parent / "akhbar")
_READER = """
import glob, sys, os
import pyarrow.parquet as pq
out, log, stop = sys.argv[1], sys.argv[2], sys.argv[3]
tables = sys.argv[4].split(",")
seen, missing, loops = set(), 0, 0
while not os.path.exists(stop):
    loops += 1
    for t in tables:
        try:
            n = sum(pq.ParquetFile(p).metadata.num_rows
                    for p in glob.glob(f"{out}/{t}/part-*.parquet"))
        except OSError:
            missing += 1
            continue
        seen.add((t, n))
with open(log, "w") as f:
    f.write(repr((sorted(seen), missing, loops)))
"""


def _folder(out: Path, table: str) -> list[str]:
    d = out / table
    return sorted(p.name for p in d.glob("part-*.parquet")) if d.is_dir() else []


def _rows(out: Path, table: str) -> int:
    return sum(pq.ParquetFile(out / table / n).metadata.num_rows for n in _folder(out, table))


def _version_counts(out: Path) -> set[tuple[str, int]]:
    had = {(t, 0) for t in TABLES}
    for v in versions.list_versions(out):
        for t in TABLES:
            paths = [versions.part_path(out, t, n) for n in v.tables.get(t, [])]
            had.add((t, sum(pq.ParquetFile(p).metadata.num_rows for p in paths)))
    return had


def _column_cost(out: Path) -> dict:
    """Bytes of the tokens parts with and without the two article columns."""
    with_cols = without = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in _folder(out, "tokens"):
            path = out / "tokens" / name
            table = pq.read_table(path)
            slim = table.drop_columns(["published_date", "source_name"])
            for t, label in ((table, "with"), (slim, "without")):
                dst = Path(tmp) / f"{label}.parquet"
                pq.write_table(t, dst, compression="zstd", compression_level=3)
                if label == "with":
                    with_cols += dst.stat().st_size
                else:
                    without += dst.stat().st_size
    return {"bytes_with": with_cols, "bytes_without": without, "ratio": with_cols / without}


def _row_groups_ordered(out: Path) -> dict:
    result = {}
    for name in _folder(out, "articles"):
        meta = pq.ParquetFile(out / "articles" / name).metadata
        col = meta.schema.to_arrow_schema().get_field_index("published_date")
        stats = [meta.row_group(i).column(col).statistics for i in range(meta.num_row_groups)]
        ordered = all(a.max <= b.min for a, b in zip(stats, stats[1:], strict=False))
        result[name] = {"row_groups": meta.num_row_groups, "ordered_by_date": ordered}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("zips", nargs="+")
    ap.add_argument("--out", default=None)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="akhbar-layout-")) / "out"
    log, stop = out.parent / "seen.txt", out.parent / "stop"
    stop.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(out), str(log), str(stop), ",".join(TABLES)]
    )
    report: dict = {"runs": []}
    try:
        for z in args.zips:
            before = {t: set(_folder(out, t)) for t in TABLES}
            t0 = time.perf_counter()
            proc = subprocess.run(
                [AKHBAR, "run", z, "--out", str(out), "--workers", str(args.workers), "--json"],
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(proc.stderr[-2000:])
            summary = json.loads(proc.stdout)
            log_file = out / "_runs" / f"{summary['run_id']}.json"
            seconds = json.loads(log_file.read_text()).get("seconds", {})
            report["runs"].append(
                {
                    "zip": os.path.basename(z),
                    "wall_s": round(wall, 1),
                    "commit_s": round(seconds.get("commit", 0.0), 2),
                    "files_per_table": {t: len(_folder(out, t)) for t in TABLES},
                    "new_names": {t: len(set(_folder(out, t)) - before[t]) for t in TABLES},
                    "rows": {t: _rows(out, t) for t in TABLES},
                }
            )
    finally:
        stop.write_text("")
        reader.wait(timeout=60)
    seen, missing, loops = eval(log.read_text())  # noqa: S307 - our own repr
    had = _version_counts(out)
    report["glob_reader"] = {
        "loops": loops,
        "distinct_counts_seen": len(seen),
        "lists_retried_part_gone": missing,
        "counts_no_version_had": sorted(set(seen) - had),
    }
    report["article_columns_on_tokens"] = _column_cost(out)
    rows_before = {t: _rows(out, t) for t in TABLES}
    t0 = time.perf_counter()
    proc = subprocess.run([AKHBAR, "compact", str(out)], capture_output=True, text=True)
    report["compact"] = {
        "wall_s": round(time.perf_counter() - t0, 1),
        "exit": proc.returncode,
        "files_per_table": {t: len(_folder(out, t)) for t in TABLES},
        "same_rows": rows_before == {t: _rows(out, t) for t in TABLES},
        "articles_row_groups": _row_groups_ordered(out),
    }
    report["out"] = str(out)
    report["load"] = os.getloadavg()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
