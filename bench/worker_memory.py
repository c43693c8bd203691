"""A worker's memory chunk after chunk: RSS and PSS of one process annotating a day.

Usage::

    python bench/worker_memory.py INPUT... [--chunks 6] [--chunk-size 250] [--trace]

Fetches, cleans and segments ``--chunks`` chunks first, then loads the annotators as
the pool's fork server does (``flows.stages.load_annotators``, then ``gc.freeze()``)
and annotates the chunks one after another in this process, as one worker would,
printing ``/proc/self/smaps_rollup`` (RSS, PSS, private dirty) after the load and after
each chunk (its tables released). ``--trace`` also takes tracemalloc snapshots after the
first and the last chunk and prints where the live Python allocations grown since the
load were made (the innermost frame in this repository): slow, 10-20x. Uses
``$AKHBAR_CACHE_DIR`` (run twice for a warm persistent cache). Issue 21.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
_REPO = str(Path(__file__).resolve().parents[1]) + "/"


def _memory() -> str:
    fields = {}
    with open("/proc/self/smaps_rollup") as fh:
        for line in fh:
            name, *rest = line.split()
            if name in ("Rss:", "Pss:", "Private_Dirty:"):
                fields[name[:-1]] = int(rest[0]) // 1024
    return ", ".join(f"{k} {v} MB" for k, v in fields.items())


def _growth(snapshot, base, top: int = 25) -> None:
    where: dict[str, list[int]] = {}
    for stat in snapshot.compare_to(base, "traceback"):
        place = "?"
        for frame in reversed(stat.traceback):
            if frame.filename.startswith(_REPO):
                place = f"{frame.filename[len(_REPO):]}:{frame.lineno}"
                break
        acc = where.setdefault(place, [0, 0])
        acc[0] += stat.size_diff
        acc[1] += stat.count_diff
    for place, (size, count) in sorted(where.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"  {size / 1e6:7.1f} MB {count:9,d} blocks  {place}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--chunk-size", type=int, default=250)
    ap.add_argument("--chunks", type=int, default=6)
    ap.add_argument("--trace", action="store_true")
    args = ap.parse_args(argv)

    from flows.runtime import prepare_environment

    prepare_environment()
    import tracemalloc

    from flows.stages import load_annotators
    from tasks import annotate, clean, fetch, segment
    from tasks.config import FetchConfig, PipelineParams

    params = PipelineParams(inputs=args.inputs)
    sources = fetch.discover_sources(args.inputs, FetchConfig())
    records = fetch.fetch_batch(sources, FetchConfig(), known={},
                                quarantine_dir="/tmp/akhbar-memory-q").records
    chunks = []
    for k in range(args.chunks):
        part = records.slice(k * args.chunk_size, args.chunk_size)
        if not part.num_rows:
            break
        cleaned = clean.clean_batch(part, params.clean)
        chunks.append((cleaned.articles, segment.segment_batch(cleaned.articles).tokens))
    del records
    load_annotators(params.annotate)
    gc.collect()
    gc.freeze()  # as flows/preload.py does before the workers fork
    if args.trace:
        tracemalloc.start(25)
    base = tracemalloc.take_snapshot() if args.trace else None
    print(f"loaded: {_memory()}", flush=True)
    for k, (articles, tokens) in enumerate(chunks):
        t0 = time.process_time()
        result = annotate.annotate_batch(articles, tokens, params.annotate)
        del result
        gc.collect()
        print(f"chunk {k} ({tokens.num_rows:,} tokens, {time.process_time() - t0:.1f} s CPU): "
              f"{_memory()}", flush=True)
        if args.trace and k in (0, len(chunks) - 1):
            _growth(tracemalloc.take_snapshot(), base)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
