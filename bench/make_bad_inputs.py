"""Make the bad-input torture set, and optionally run the pipeline on it with peak memory.

Usage::

    python bench/make_bad_inputs.py DIR [--per-kind 9] [--good 12] [--huge]
                                        [--without KIND ...] [--run OUT] [--workers 1]

Writes ``per_kind`` inputs of each kind in ``tests/badinputs.py`` (23 kinds; the 20 MB
single line with ``--huge``) plus good articles into DIR. With ``--run OUT`` it then
runs ``akhbar run DIR --out OUT``, polls the resident memory of the whole process tree
(CLI, workers, Prefect server) every 0.1 s, and prints the peak, the duration, and the
accounting check of the run's ``files`` rows (problems, and known gaps per kind).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.badinputs import (  # noqa: E402
    KINDS,
    KNOWN_GAPS,
    check_accounting,
    make_bad_inputs,
    make_good_inputs,
)


def run_with_peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """Run ``cmd``; return (exit code, seconds, peak RSS of the process tree in MB, stdout)."""
    import psutil

    t0 = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=err)
        root = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        continue
            except psutil.Error:
                pass
            peak = max(peak, total)
            time.sleep(0.1)
        out.seek(0)
        if proc.returncode:
            err.seek(0)
            print(err.read()[-3000:], file=sys.stderr)
        return proc.returncode, time.monotonic() - t0, peak / 1e6, out.read()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("dir", help="where to write the inputs (created)")
    p.add_argument("--per-kind", type=int, default=9)
    p.add_argument("--good", type=int, default=12, help="good articles added (default 12)")
    p.add_argument("--huge", action="store_true", help="add the 20 MB single-line file")
    p.add_argument("--without", action="append", default=[], choices=sorted(KINDS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run", metavar="OUT", help="run the pipeline into OUT and measure it")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=80)
    args = p.parse_args(argv)

    expected = make_bad_inputs(args.dir, per_kind=args.per_kind, huge=args.huge, seed=args.seed)
    for path in [q for q, e in expected.items() if e.kind in args.without]:
        os.remove(path)
        del expected[path]
    expected.update(make_good_inputs(args.dir, args.good))
    kinds = Counter(e.kind for e in expected.values())
    n_rows = sum(len(e.members) for e in expected.values())
    print(f"{len(expected)} inputs ({n_rows} files rows expected) of {len(kinds)} kinds:")
    print("  " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    if not args.run:
        return 0

    env = dict(os.environ, DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    # A cold Prefect home migrates its database first: slow on a busy machine.
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    env.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="akhbar-bad-prefect-"))
    cmd = [sys.executable, "-m", "flows.cli", "run", args.dir, "--out", args.run]
    cmd += ["--workers", str(args.workers), "--batch-size", str(args.batch_size), "--json"]
    rc, seconds, peak_mb, stdout = run_with_peak_rss(cmd, env)
    print(f"exit {rc} in {seconds:.1f} s; peak RSS of the process tree {peak_mb:.0f} MB")
    if rc != 0:
        return 1
    import json

    from tasks import store

    summary = json.loads(stdout[stdout.rfind("\n{") + 1 :] if "\n{" in stdout else stdout)
    rows = store.read_table(args.run, "files").to_pylist()
    rows = [r for r in rows if r["run_id"] == summary["run_id"]]
    acc = check_accounting(rows, expected)
    print(
        f"files rows {len(rows)}; status {summary['files']}; articles {summary['articles']}; "
        f"articles left out {summary.get('rejected_articles')}"
    )
    for kind, n in sorted(acc.gaps.items()):
        print(f"known gap {kind} x{n}: {KNOWN_GAPS[kind][1]}")
    for problem in acc.problems:
        print("PROBLEM " + problem)
    print("accounting: " + ("every input accounted for" if not acc.problems else "problems"))
    return 1 if acc.problems else 0


if __name__ == "__main__":
    sys.exit(main())
