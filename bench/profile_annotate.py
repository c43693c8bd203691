"""Profile one chunk through clean -> segment -> annotate (-> dedup signatures), in-process.

Usage::

    python bench/profile_annotate.py INPUT... [--chunk-size 250] [--chunk 1] [--warm 1]
        [--profile cprofile|none] [--top 30] [--save DIR]

Fetches the inputs, takes chunk ``--chunk`` of ``--chunk-size`` records, first runs
``--warm`` other chunks through the same stages (so the per-process caches of the
morphology are as warm as in a worker that has already done some chunks), then times
each stage of the profiled chunk (process CPU seconds and wall seconds) and, with
``--profile cprofile``, prints the top functions of annotate by cumulative and by
own time. ``--save DIR`` writes the tables of all chunks run as Arrow files (to compare outputs
before and after an optimization: ``--compare DIR``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _records(inputs: list[str]):
    from tasks import fetch
    from tasks.config import FetchConfig

    config = FetchConfig()
    sources = fetch.discover_sources(inputs, config)
    return fetch.fetch_batch(sources, config, known={}, quarantine_dir="/tmp/akhbar-prof-q").records


def _run_chunk(records, params, profile: cProfile.Profile | None = None) -> tuple[dict, dict]:
    from tasks import annotate, clean, dedup, segment

    times: dict[str, tuple[float, float]] = {}

    def timed(name, fn, *args):
        w0, c0 = time.perf_counter(), time.process_time()
        if profile is not None and name == "annotate":
            profile.enable()
        try:
            return fn(*args)
        finally:
            if profile is not None and name == "annotate":
                profile.disable()
            times[name] = (time.process_time() - c0, time.perf_counter() - w0)

    cleaned = timed("clean", clean.clean_batch, records, params.clean)
    seg = timed("segment", segment.segment_batch, cleaned.articles)
    res = timed("annotate", annotate.annotate_batch, cleaned.articles, seg.tokens, params.annotate)
    timed("signatures", dedup.signatures_for_articles, res.articles, params.dedup)
    tables = {
        "articles": res.articles,
        "sentences": seg.sentences,
        "tokens": res.tokens,
        "entities": res.entities,
    }
    return times, tables


def _compare(tables: dict, ref_dir: Path) -> int:
    import pyarrow.feather as feather

    bad = 0
    for name, table in tables.items():
        ref = feather.read_table(ref_dir / f"{name}.arrow")
        if ref.num_rows != table.num_rows:
            print(f"{name}: rows {ref.num_rows} -> {table.num_rows}")
            bad += 1
            continue
        for col in ref.column_names:
            if col not in table.column_names:
                print(f"{name}.{col}: missing")
                bad += 1
            elif not ref.column(col).equals(table.column(col)):
                a, b = ref.column(col).to_pylist(), table.column(col).to_pylist()
                diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
                if not diff:  # same values, other chunking or dictionary order
                    continue
                print(
                    f"{name}.{col}: {len(diff)} rows differ, e.g. row {diff[:1]}: "
                    f"{a[diff[0]] if diff else ''!r} -> {b[diff[0]] if diff else ''!r}"
                )
                bad += 1
    print("outputs identical" if not bad else f"{bad} differences")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--chunk-size", type=int, default=250)
    ap.add_argument("--chunk", type=int, default=1, help="which chunk is profiled")
    ap.add_argument("--warm", type=int, default=1, help="chunks run before it to warm caches")
    ap.add_argument("--profile", choices=("cprofile", "none"), default="cprofile")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--profile-warm", action="store_true", help="profile the warm-up chunks too")
    ap.add_argument("--save", type=Path, help="write the profiled chunk's tables here")
    ap.add_argument("--compare", type=Path, help="compare the chunk's tables with a --save dir")
    args = ap.parse_args(argv)

    from flows.runtime import prepare_environment

    prepare_environment()
    from tasks.config import PipelineParams
    from tasks.morphology import load_morphology

    params = PipelineParams(inputs=args.inputs)
    t0 = time.perf_counter()
    records = _records(args.inputs)
    print(f"fetch: {records.num_rows} records in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    load_morphology(params.annotate.morphology)
    print(f"load morphology: {time.perf_counter() - t0:.2f} s")
    size = args.chunk_size
    warm = [k for k in range(args.chunk - args.warm, args.chunk) if k >= 0]
    sums: dict[str, float] = {}
    kept: dict[str, list] = {}
    prof = cProfile.Profile() if args.profile == "cprofile" else None
    for k in warm:
        times, tabs = _run_chunk(
            records.slice(k * size, size), params, prof if args.profile_warm else None
        )
        for name, table in tabs.items():
            kept.setdefault(name, []).append(table)
        print(f"warm chunk {k}: " + ", ".join(f"{n} {c:.2f}s" for n, (c, _) in times.items()))
        for n, (c, _) in times.items():
            sums[n] = sums.get(n, 0.0) + c
    if warm:
        print("warm chunks cpu: " + ", ".join(f"{n} {c:.2f}s" for n, c in sums.items()))
    times, tables = _run_chunk(records.slice(args.chunk * size, size), params, prof)
    n_tok = tables["tokens"].num_rows
    print(f"chunk {args.chunk}: {tables['articles'].num_rows} articles, {n_tok} tokens")
    for name, (cpu, wall) in times.items():
        rate = n_tok / cpu if cpu else 0
        print(f"  {name:<10} cpu {cpu:6.2f} s  wall {wall:6.2f} s  ({rate:,.0f} tokens/cpu-s)")
    total = sum(c for c, _ in times.values())
    print(f"  {'total':<10} cpu {total:6.2f} s  ({n_tok / total:,.0f} tokens/cpu-s)")
    if prof is not None:
        for key in ("cumulative", "tottime"):
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(args.top)
            print(buf.getvalue())
    import pyarrow as pa

    for name, table in tables.items():  # --save/--compare cover the warm-up chunks too
        tables[name] = pa.concat_tables([*kept.get(name, []), table])
    if args.save:
        import pyarrow.feather as feather

        args.save.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            feather.write_feather(table, args.save / f"{name}.arrow", compression="uncompressed")
    if args.compare:
        return 1 if _compare(tables, args.compare) else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
