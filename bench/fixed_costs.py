"""Fixed costs of ``akhbar run``: a first run and an unchanged re-run, side by side (issue 21).

Usage::

    python bench/fixed_costs.py INPUT... [--other SRC_DIR] [--rounds N] [--workers N]

For each code version (this checkout, and with ``--other`` a source tree of another
version, e.g. ``git archive main | tar -x -C /tmp/main-src``, run with ``PYTHONPATH``
pointing at it) and each of ``--rounds`` rounds, alternating the versions so that both
see the same machine load: ``akhbar run INPUT --out <fresh>`` (the first run), then the
same command again (every input unchanged). Reported per run: wall time, CPU seconds of
the whole process tree, the most processes alive at once and the peak PSS of the tree
(``TreeMonitor`` of ``bench/throughput.py``). The load average is printed with each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import TreeMonitor, _child_env, _load, fresh_cache  # noqa: E402


def _one(cmd: list[str], env: dict[str, str], cwd: str) -> dict:
    load = _load()
    t0 = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    with TreeMonitor(proc) as mon:
        _, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {stderr.decode()[-2000:]}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(mon.cpu_s, 2),
        "max_processes": mon.max_procs,
        "peak_pss_mb": round(mon.peak_pss / 2**20),
        "load": load,
    }


def measure(inputs: list[str], src: str | None, workers: int | None) -> dict:
    """A first run into a fresh dataset and cache, then the unchanged re-run."""
    env = {**_child_env(None), "AKHBAR_CACHE_DIR": fresh_cache()}
    cwd = os.getcwd()
    if src:
        env["PYTHONPATH"] = src  # the other version's flows/ and tasks/ come first
        cwd = src
    out = Path(tempfile.mkdtemp(prefix="akhbar-fixed-")) / "out"
    cmd = [sys.executable, "-m", "flows.cli", "run", *map(os.path.abspath, inputs)]
    cmd += ["--out", str(out), "--json"] + (["--workers", str(workers)] if workers else [])
    return {"first": _one(cmd, env, cwd), "rerun": _one(cmd, env, cwd)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--other", help="source tree of another version (run with PYTHONPATH)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=0, help="passed to akhbar run (0: default)")
    args = ap.parse_args()
    versions = {"this": None, **({"other": args.other} if args.other else {})}
    results: dict[str, list[dict]] = {v: [] for v in versions}
    print(f"cores {os.cpu_count()}, load {_load()}, inputs {args.inputs}")
    for r in range(args.rounds):
        for name, src in versions.items():
            res = measure(args.inputs, src, args.workers or None)
            results[name].append(res)
            print(f"round {r + 1} {name}: {res}")
    for name, runs in results.items():
        for kind in ("first", "rerun"):
            walls = [x[kind]["wall_s"] for x in runs]
            cpus = [x[kind]["cpu_s"] for x in runs]
            procs = max(x[kind]["max_processes"] for x in runs)
            pss = max(x[kind]["peak_pss_mb"] for x in runs)
            print(
                f"{name:<6} {kind:<6} wall median {statistics.median(walls):.2f} s "
                f"(min {min(walls):.2f}), CPU median {statistics.median(cpus):.2f} s, "
                f"processes {procs}, peak PSS {pss} MB"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
