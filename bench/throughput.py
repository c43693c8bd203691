"""End-to-end throughput of ``akhbar run`` against plain camel-tools, on the same articles.

Usage::

    python bench/throughput.py INPUT... [--workers N] [--repeat K] [--runs R]
        [--no-baseline] [--no-direct] [--dask N] [--other SRC_DIR] [--json PATH]

In one invocation this measures, each in a fresh child process tree:

1. **pipeline**: ``akhbar run INPUT --out <fresh dir> --json`` (all annotation on, the
   CLI started cold). Reported: wall time; start-up (CLI start until the flow writes its
   run log, i.e. imports + local Prefect server + flow run creation + discovery);
   words/s (tokens) and articles/s over the whole wall time; seconds per stage summed
   over chunks (from ``OUT/_runs/<run_id>.json``); peak PSS of the whole process tree
   (``/proc/<pid>/smaps_rollup`` every 0.25 s, PSS summed over the CLI, its Prefect
   server, the fork server and the workers, so pages they share count once), with each
   process's PSS at that peak, and peak summed RSS beside it.
2. **direct**: the same stage code (``flows/stages.py``, the flow's task bodies), the
   same run bookkeeping (``flows.run.open_run``: lock, run logs, the stories summary),
   the same chunking, worker count and worker pool (``flows.pool``, its fork server
   started first as the CLI does), and the same HTML report, called with no Prefect
   server, flow run, task runs or artifacts: fetch in the main process, chunks in the
   pool, commit in the main process.
   The *Prefect orchestration share* is ``1 - wall(direct) / wall(pipeline)``: everything
   Prefect adds around identical work (server start and stop, flow/task run creation
   and state tracking, result and log traffic, the task runner's scheduling).
3. **baseline**: plain camel-tools as its README shows it, on the pipeline's own output
   sentences (so the very same articles and tokens): ``simple_word_tokenize`` per
   sentence, ``MorphologyDB(build_bama_db(), 'a')`` + ``Analyzer(db)`` at its defaults,
   ``analyze()`` for every token, first analysis kept, rows collected in Python lists and
   written with ``pandas.DataFrame.to_parquet``. Timed from its cold process start;
   reading the sentences is excluded (it favours the baseline).
4. **ratio** pipeline words/s / baseline words/s.

``--repeat K`` (K > 1) also runs the pipeline on K copies of the inputs (JSON arrays in
zip/json files rewritten with distinct urls and titles, so every article gets a new id)
and reports the peak PSS and wall-time ratios of K x over 1 x.

``--warm EARLIER...`` also measures a warm run (a new day into an existing dataset and
its persistent word-type analysis cache) against a cold one; every other run gets a
fresh analysis cache (``AKHBAR_CACHE_DIR``), so none profits from an earlier one.

``--dask N`` instead runs only the pipeline, on a local Dask cluster of N worker processes
(``--dask-address``), for the scale-out speed-up (N=1 vs N=2).

The machine is shared: ``--runs R`` repeats the pipeline measurement and reports
min/median/max; the load average is printed with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_ENV = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def _rollup(pid: int) -> tuple[int, int]:
    """(Pss, Rss) of one process in bytes, from ``/proc/<pid>/smaps_rollup``."""
    pss = rss = 0
    with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
        for line in f:
            if line.startswith(b"Pss:"):
                pss = int(line.split()[1]) * 1024
            elif line.startswith(b"Rss:"):
                rss = int(line.split()[1]) * 1024
    return pss, rss


def _role(p: psutil.Process) -> str:
    """A short name for a process of the tree (for the per-process memory figures)."""
    try:
        cmd = " ".join(p.cmdline())
    except psutil.Error:
        return "?"
    if "uvicorn" in cmd:
        return "prefect-server"
    if "forkserver" in cmd:
        try:  # the pool's workers are forks of the fork server: the same command line
            parent = " ".join(p.parent().cmdline()) if p.parent() else ""
        except psutil.Error:
            parent = ""
        return "worker" if "forkserver" in parent else "forkserver"
    if "resource_tracker" in cmd:
        return "resource-tracker"
    if "--_direct" in cmd or "--_baseline" in cmd or " run " in f" {cmd} ":
        return "main"
    return "worker"


class TreeMonitor:
    """Poll a process tree every ``interval`` s: peak summed PSS (and RSS), files appearing.

    Memory is PSS from ``/proc/<pid>/smaps_rollup``: a page shared by several processes
    of the tree (a forked worker's copy-on-write pages, shared libraries) is split among
    them, so the sum counts it once; RSS counts it in every process (issue 21). At the
    sample with the highest summed PSS, each process's PSS is kept (``peak_by_process``).
    """

    def __init__(self, proc: psutil.Popen, interval: float = 0.25, watch: Path | None = None):
        self.proc = proc
        self.interval = interval
        self.watch = watch
        self.peak_pss = 0
        self.peak_rss = 0
        self.peak_by_process: list[tuple[str, int, int]] = []  # (role, pid, PSS bytes)
        self.max_procs = 0
        self.first_seen: float | None = None
        self.samples: list[tuple[float, int]] = []
        self._cpu: dict[int, float] = {}  # pid -> user+system CPU seconds last seen
        self._roles: dict[int, str] = {}
        runs = watch / "_runs" if watch is not None else None
        self._existing = set(runs.glob("*.json")) if runs is not None and runs.is_dir() else set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        root = psutil.Process(self.proc.pid)
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            pss = rss = 0
            each = []
            for p in procs:
                try:
                    p_pss, p_rss = _rollup(p.pid)
                    cpu = p.cpu_times()
                    self._cpu[p.pid] = cpu.user + cpu.system
                except (OSError, psutil.Error):
                    continue
                if p.pid not in self._roles:
                    self._roles[p.pid] = _role(p)
                pss += p_pss
                rss += p_rss
                each.append((self._roles[p.pid], p.pid, p_pss))
            now = time.perf_counter()
            self.samples.append((now, pss))
            if pss > self.peak_pss:
                self.peak_pss, self.peak_by_process = pss, each
            self.peak_rss = max(self.peak_rss, rss)
            self.max_procs = max(self.max_procs, len(procs))
            if self.first_seen is None and self.watch is not None and self._appeared():
                self.first_seen = now
            self._stop.wait(self.interval)

    @property
    def cpu_s(self) -> float:
        """CPU seconds of the tree (to the last sample of each process): less sensitive
        than wall time to other load on a shared machine."""
        return sum(self._cpu.values())

    def peak_processes(self) -> list[str]:
        """Each process's PSS at the tree's peak, largest first, e.g. ``worker 412``."""
        rows = sorted(self.peak_by_process, key=lambda r: -r[2])
        return [f"{role} {pss / 2**20:.0f}" for role, _, pss in rows if pss >= 2**20]

    def _appeared(self) -> bool:
        runs = self.watch / "_runs"
        return runs.is_dir() and any(p not in self._existing for p in runs.glob("*.json"))


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def _child_env(prefect_home: str | None) -> dict[str, str]:
    env = {**os.environ, **_ENV}
    env.pop("PREFECT_API_URL", None)  # the CLI starts its own local server, as a user's would
    if prefect_home:
        env["PREFECT_HOME"] = prefect_home
    return env


def fresh_cache() -> str:
    """A cache directory holding only the BAMA DB: the word-type analysis cache is cold.

    Every measured run gets one unless told otherwise, so a run never profits from the
    analyses a previous run of the benchmark left in the user cache.
    """
    from tasks.morphology import build_bama_db

    db = build_bama_db()
    cache = Path(tempfile.mkdtemp(prefix="akhbar-bench-cache-"))
    shutil.copy2(db, cache / db.name)
    return str(cache)


def run_pipeline(
    inputs: list[str],
    workers: int | None,
    prefect_home: str | None,
    dask: str | None = None,
    ner: str | None = None,
    out: Path | None = None,
    cache: str | None = None,
    src: str | None = None,
) -> dict:
    """``akhbar run`` in a child process tree; wall, start-up, stages, peak PSS.

    ``out`` is a fresh directory unless given (an existing dataset: a warm run);
    ``cache`` (``AKHBAR_CACHE_DIR``) a fresh one (cold analysis cache) unless given;
    ``src`` another version's source tree, run as ``python -m flows.cli`` from it.
    """
    out = out or Path(tempfile.mkdtemp(prefix="akhbar-bench-out-"))
    env = {**_child_env(prefect_home), "AKHBAR_CACHE_DIR": cache or fresh_cache()}
    cmd = [str(Path(sys.executable).with_name("akhbar")), "run", *inputs, "--out", str(out)]
    if src:
        env["PYTHONPATH"] = src  # its flows/ and tasks/ before this checkout's
        cmd = [sys.executable, "-m", "flows.cli", "run"]
        cmd += [os.path.abspath(i) for i in inputs] + ["--out", str(out)]
    cmd += ["--json"] + (["--workers", str(workers)] if workers else [])
    cmd += ["--dask-address", dask] if dask else []
    cmd += ["--ner", ner] if ner else []
    load = _load()
    t0 = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=src)
    with TreeMonitor(proc, watch=out) as mon:
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"akhbar run failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    log = json.loads(max((out / "_runs").glob("*.json")).read_text())  # this run's (newest)
    startup = (mon.first_seen - t0) if mon.first_seen else None
    tokens, articles = log["tokens"], log["articles"]
    return {
        "wall_s": round(wall, 2),
        "startup_s": round(startup, 2) if startup is not None else None,
        "flow_s": log.get("duration_s"),
        "tokens": tokens,
        "articles": articles,
        "words_per_s": round(tokens / wall),
        "articles_per_s": round(articles / wall, 1),
        "words_per_s_after_startup": round(tokens / (wall - startup)) if startup else None,
        "stage_seconds": log.get("seconds", {}),
        "peak_pss_mb": round(mon.peak_pss / 2**20),
        "peak_rss_mb": round(mon.peak_rss / 2**20),
        "pss_at_peak_mb": mon.peak_processes(),
        "cpu_s": round(mon.cpu_s, 1),
        "max_processes": mon.max_procs,
        "workers": log.get("workers"),
        "load_before": load,
        "load_after": _load(),
        "out": str(out),
    }


# ---------------------------------------------------------------------------
# direct: the flow's stage code on the same process pool, without Prefect
# ---------------------------------------------------------------------------


def direct_main(inputs: list[str], out: str, workers: int) -> None:
    """Run the flow's work minus Prefect: the same run bookkeeping, stages and pool.

    ``workers`` as ``akhbar run --workers`` (0: chosen from the input's size, as the
    flow chooses). Like ``akhbar run``: the fork server starts first, then the run is
    opened (``flows.run.open_run``: lock, recovery, the run logs, the stories summary
    on leaving), each batch is fetched, its chunks go to the pool and it is committed,
    and the HTML report is written; only the Prefect flow, task runs and artifacts are
    left out.
    """
    import logging

    from flows import artifacts, stages
    from flows import pool as pools
    from flows.run import open_run, pending_inputs
    from flows.runtime import prepare_environment
    from tasks.config import PipelineParams

    prepare_environment()
    params = PipelineParams(inputs=inputs, out=out, workers=workers)
    if pools.run_workers(workers, pending_inputs(params)):
        pools.start_fork_server(params.annotate)  # as the CLI does, before the run opens
    pool = None
    try:
        with open_run(params, logging.getLogger("akhbar.direct")) as run:
            n = pools.run_workers(workers, run.pending())
            run.summary.workers = n
            pool = pools.ChunkPool(n, params.annotate) if n else None
            for i, spec in enumerate(run.specs):
                t0 = time.perf_counter()
                fetched = stages.fetch_stage(spec, run.known_for(spec))
                t1 = time.perf_counter()
                ks = range(len(fetched["chunk_files"]))
                if pool is None:
                    results = [stages.run_chunk(spec, k) for k in ks]
                else:
                    futures = [pool.submit(stages.run_chunk, spec, k) for k in ks]
                    results = [f.result() for f in futures]
                t2 = time.perf_counter()
                if pool is not None and i == len(run.specs) - 1:
                    pool.close()  # as the flow: the last commit runs without the workers
                stats = stages.commit_stage(fetched, results, run.had_rows)
                run.summary.add_batch(stats)
                phases = {"fetch": t1 - t0, "chunks": t2 - t1, "commit": time.perf_counter() - t2}
                counts = {"tokens": stats["tokens"], "articles": stats["articles"], "workers": n}
                counts["phases"] = {k: round(v, 2) for k, v in phases.items()}
                print(json.dumps(counts))
        artifacts.write_run_report(run.summary)
    finally:
        if pool is not None:
            pool.close()


def run_direct(inputs: list[str], workers: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="akhbar-bench-direct-"))
    cmd = [sys.executable, __file__, "--_direct", str(out), "--workers", str(workers), *inputs]
    stdout, measured = _run_monitored(cmd, "direct run")
    counts = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return {
        "phases": [c["phases"] for c in counts],
        "tokens": sum(c["tokens"] for c in counts),
        **measured,
    }


def _run_monitored(cmd: list[str], what: str) -> tuple[str, dict]:
    """Run a helper subprocess; its stdout, and wall time, peak tree PSS and load around it."""
    load = _load()
    env = {**_child_env(None), "AKHBAR_CACHE_DIR": fresh_cache()}
    t0 = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    with TreeMonitor(proc) as mon:
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed: {stderr.decode()[-2000:]}")
    return stdout.decode(), {
        "wall_s": round(wall, 2),
        "peak_pss_mb": round(mon.peak_pss / 2**20),
        "peak_rss_mb": round(mon.peak_rss / 2**20),
        "pss_at_peak_mb": mon.peak_processes(),
        "cpu_s": round(mon.cpu_s, 1),
        "load_before": load,
        "load_after": _load(),
    }


# ---------------------------------------------------------------------------
# baseline: plain camel-tools, README style
# ---------------------------------------------------------------------------


def baseline_main(sentences_parquet: str, dest: str) -> None:
    """Tokenize, analyze every token, keep the first analysis, write Parquet with pandas."""
    import pyarrow.parquet as pq

    # Reading the pipeline's sentences is not the baseline's work: done before the clock.
    table = pq.read_table(sentences_parquet, columns=["article_id", "sentence_index", "text"])
    aids = table.column("article_id").to_pylist()
    sidx = table.column("sentence_index").to_pylist()
    texts = table.column("text").to_pylist()
    t0 = time.perf_counter()

    from tasks.camel_env import ensure_camel_data

    ensure_camel_data()  # offline catalogue: camel_tools.morphology would download it
    import pandas as pd
    from camel_tools.morphology.analyzer import Analyzer
    from camel_tools.morphology.database import MorphologyDB
    from camel_tools.tokenizers.word import simple_word_tokenize

    from tasks.morphology import build_bama_db

    db = MorphologyDB(str(build_bama_db()), "a")
    analyzer = Analyzer(db)
    t_loaded = time.perf_counter()
    rows: dict[str, list] = {
        k: []
        for k in (
            "article_id",
            "sentence_index",
            "token_index",
            "token",
            "lex",
            "pos",
            "diac",
            "gloss",
            "bw",
        )
    }
    for aid, si, text in zip(aids, sidx, texts, strict=True):
        for ti, token in enumerate(simple_word_tokenize(text)):
            analyses = analyzer.analyze(token)
            a = analyses[0] if analyses else {}
            rows["article_id"].append(aid)
            rows["sentence_index"].append(si)
            rows["token_index"].append(ti)
            rows["token"].append(token)
            for k in ("lex", "pos", "diac", "gloss", "bw"):
                rows[k].append(a.get(k))
    pd.DataFrame(rows).to_parquet(dest)
    t_end = time.perf_counter()
    print(
        json.dumps(
            {"tokens": len(rows["token"]), "load_s": t_loaded - t0, "analyze_s": t_end - t_loaded}
        )
    )


def run_baseline(pipeline_out: str) -> dict:
    sentences = str(Path(pipeline_out) / "sentences")
    dest = Path(tempfile.mkdtemp(prefix="akhbar-bench-base-")) / "tokens.parquet"
    cmd = [sys.executable, __file__, "--_baseline", sentences, str(dest)]
    stdout, measured = _run_monitored(cmd, "baseline")
    res = json.loads(stdout.strip().splitlines()[-1])
    timed = res["load_s"] + res["analyze_s"]  # from the first camel-tools import to the file
    return {
        "timed_s": round(timed, 2),
        "tokens": res["tokens"],
        "words_per_s": round(res["tokens"] / timed),
        "words_per_s_after_load": round(res["tokens"] / res["analyze_s"]),
        **measured,
    }


# ---------------------------------------------------------------------------
# repeated input
# ---------------------------------------------------------------------------


def _json_members(path: Path):
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if name.endswith(".json"):
                    yield name, zf.read(name)
    elif path.suffix == ".json":
        yield path.name, path.read_bytes()


def build_repeated(inputs: list[str], k: int, dest: Path) -> list[str]:
    """K copies of every JSON array in the inputs (zips or .json), with distinct urls/titles."""
    files = []
    for inp in inputs:
        p = Path(inp)
        files += sorted(p.rglob("*")) if p.is_dir() else [p]
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for path in files:
        for name, data in _json_members(path):
            records = json.loads(data)
            for c in range(k):
                copy = []
                for rec in records:
                    rec = dict(rec)
                    if c:
                        rec["url"] = f"{rec.get('url') or ''}#copy{c}"
                        rec["title"] = f"{rec.get('title') or ''} ({c})"
                    copy.append(rec)
                target = dest / f"{path.stem}-copy{c}.zip"
                with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
                    zf.writestr(name.replace(".json", f"-copy{c}.json"), json.dumps(copy))
                written.append(str(target))
    if not written:
        raise SystemExit("--repeat needs JSON arrays (in .zip or .json files) as inputs")
    return written


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:,.2f}"
    return f"{min(values):,.2f} / {statistics.median(values):,.2f} / {max(values):,.2f}"


def _print_runs(label: str, runs: list[dict]) -> None:
    print(f"\n== {label} ({len(runs)} run{'s' * (len(runs) > 1)}; min / median / max) ==")
    r0 = runs[0]
    print(f"articles {r0['articles']:,}, tokens {r0['tokens']:,}")
    for key in (
        "wall_s",
        "startup_s",
        "flow_s",
        "words_per_s",
        "articles_per_s",
        "words_per_s_after_startup",
        "peak_pss_mb",
        "peak_rss_mb",
        "cpu_s",
    ):
        vals = [r[key] for r in runs if r.get(key) is not None]
        if vals:
            print(f"{key:<27} {_spread(vals)}")
    for r in runs:
        print(f"PSS MB per process at the peak: {', '.join(r['pss_at_peak_mb'])}")
    stages = sorted({s for r in runs for s in r["stage_seconds"]})
    for s in stages:
        print(f"  stage {s:<19} {_spread([r['stage_seconds'].get(s, 0.0) for r in runs])}")
    print("load (1/5 min) " + ", ".join(f"{r['load_before']}->{r['load_after']}" for r in runs))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--workers", type=int, default=0, help="passed to akhbar run (0 = per core)")
    ap.add_argument("--repeat", type=int, default=1, help="also run on K copies of the input")
    ap.add_argument(
        "--runs", type=int, default=1, help="pipeline measurements at 1x (0: only --repeat, --warm)"
    )
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-direct", action="store_true")
    ap.add_argument("--prefect-home", help="PREFECT_HOME for the runs (default: inherited)")
    ap.add_argument(
        "--dask",
        type=int,
        default=0,
        help="run the pipeline on a local Dask cluster of N worker processes (1 thread each; "
        "the cluster is started before the clock; its workers' memory is not in the tree)",
    )
    ap.add_argument(
        "--warm",
        nargs="+",
        metavar="EARLIER",
        help="also measure a warm run: INPUT into a dataset (and analysis cache) that already "
        "holds EARLIER, against INPUT alone with a cold cache",
    )
    ap.add_argument("--json", type=Path, help="also write all figures here")
    ap.add_argument("--ner", help="passed to akhbar run (e.g. rules vs model, issue 12)")
    ap.add_argument(
        "--other",
        metavar="SRC_DIR",
        help="also run the pipeline of another version's source tree (e.g. `git archive main"
        " | tar -x -C DIR`), alternating with this one, and give its Prefect share against"
        " this checkout's direct run",
    )
    ap.add_argument("--_direct", help=argparse.SUPPRESS)
    ap.add_argument("--_baseline", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._direct:
        direct_main(args.inputs, args._direct, args.workers)
        return 0
    if args._baseline:
        baseline_main(args._baseline, args.inputs[0])
        return 0

    workers = args.workers or None
    print(f"cores {os.cpu_count()}, load {_load()}, workers {args.workers or 'per core'}")
    report: dict = {"inputs": args.inputs, "workers": args.workers}
    if args.dask:
        from distributed import LocalCluster

        cluster = LocalCluster(
            n_workers=args.dask, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        report["dask_workers"] = args.dask
        try:
            runs = [
                run_pipeline(args.inputs, None, args.prefect_home, cluster.scheduler_address)
                for _ in range(args.runs)
            ]
        finally:
            cluster.close()
        _print_runs(f"pipeline on a LocalCluster of {args.dask} Dask workers", runs)
        if args.json:
            args.json.write_text(json.dumps({**report, "pipeline": runs}, indent=2))
        return 0
    runs, others = [], []
    for _ in range(args.runs):
        runs.append(run_pipeline(args.inputs, workers, args.prefect_home, ner=args.ner))
        if args.other:
            others.append(
                run_pipeline(args.inputs, workers, args.prefect_home, ner=args.ner, src=args.other)
            )
    report["pipeline"] = runs
    if runs:  # --runs 0: only the --repeat or --warm measurements
        _print_runs("pipeline: akhbar run", runs)
    if others:
        report["other_pipeline"] = others
        _print_runs(f"pipeline of {args.other}", others)
    best = min(runs, key=lambda r: r["wall_s"]) if runs else None
    if best is not None and not args.no_direct:
        direct = run_direct(args.inputs, args.workers)
        report["direct"] = direct
        share = 1 - direct["wall_s"] / best["wall_s"]
        report["orchestration_share"] = round(share, 3)
        print(
            f"\n== direct (same stage code and pool, no Prefect) ==\nwall_s {direct['wall_s']}"
            f"  phases per batch {direct['phases']}"
            f"  peak_pss_mb {direct['peak_pss_mb']} ({', '.join(direct['pss_at_peak_mb'])})"
            f"  cpu_s {direct['cpu_s']}"
            f"  load {direct['load_before']}->"
            f"{direct['load_after']}"
        )
        print(f"Prefect orchestration share 1 - direct/pipeline (fastest run): {share:.1%}")
        if others:
            other = min(others, key=lambda r: r["wall_s"])
            report["other_orchestration_share"] = round(1 - direct["wall_s"] / other["wall_s"], 3)
            print(
                f"the same share for {args.other} (fastest run, against this direct run): "
                f"{report['other_orchestration_share']:.1%}"
            )
    if best is not None and not args.no_baseline:
        base = run_baseline(best["out"])
        report["baseline"] = base
        ratio = best["words_per_s"] / base["words_per_s"]
        report["ratio"] = round(ratio, 2)
        print(
            f"\n== baseline: plain camel-tools ==\ntokens {base['tokens']:,}  timed_s "
            f"{base['timed_s']}  words/s {base['words_per_s']:,} (after DB load "
            f"{base['words_per_s_after_load']:,})  peak_pss_mb {base['peak_pss_mb']}  "
            f"cpu_s {base['cpu_s']}  "
            f"load {base['load_before']}->{base['load_after']}"
        )
        print(f"ratio pipeline / baseline words/s (fastest run): {ratio:.2f}x")
    if args.repeat > 1:
        with tempfile.TemporaryDirectory(prefix="akhbar-bench-rep-") as tmp:
            one = build_repeated(args.inputs, 1, Path(tmp) / "x1")
            many = build_repeated(args.inputs, args.repeat, Path(tmp) / f"x{args.repeat}")
            r1 = run_pipeline(one, workers, args.prefect_home)
            rk = run_pipeline(many, workers, args.prefect_home)
        report["scaling"] = {"x1": r1, f"x{args.repeat}": rk}
        _print_runs("scaling 1x (rewritten input)", [r1])
        _print_runs(f"scaling {args.repeat}x", [rk])
        print(
            f"\n{args.repeat}x / 1x: wall {rk['wall_s'] / r1['wall_s']:.2f}x, "
            f"peak PSS {rk['peak_pss_mb'] / r1['peak_pss_mb']:.2f}x, "
            f"tokens {rk['tokens'] / r1['tokens']:.2f}x"
        )
    if args.warm:
        report["warm"] = measure_warm(args.inputs, args.warm, workers, args.prefect_home)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


def measure_warm(
    inputs: list[str], earlier: list[str], workers: int | None, prefect_home: str | None
) -> dict:
    """A new day into an existing dataset with its analysis cache, against a cold run of it.

    Cold: ``inputs`` into a fresh dataset with a fresh cache. Warm: ``earlier`` into a
    fresh dataset and cache (not measured), then ``inputs`` into that same dataset. The
    annotate stage's seconds (summed over chunks) are compared.
    """
    cold = run_pipeline(inputs, workers, prefect_home)
    out = Path(tempfile.mkdtemp(prefix="akhbar-bench-warm-"))
    cache = fresh_cache()
    run_pipeline(earlier, workers, prefect_home, out=out, cache=cache)
    warm = run_pipeline(inputs, workers, prefect_home, out=out, cache=cache)
    _print_runs("cold: the new input, fresh dataset and analysis cache", [cold])
    _print_runs("warm: the new input into the dataset and cache of EARLIER", [warm])
    speedup = cold["stage_seconds"]["annotate"] / warm["stage_seconds"]["annotate"]
    print(f"\nannotate seconds cold / warm: {speedup:.2f}x; "
          f"wall cold / warm: {cold['wall_s'] / warm['wall_s']:.2f}x")
    return {"cold": cold, "warm": warm, "annotate_speedup": round(speedup, 2)}


if __name__ == "__main__":
    raise SystemExit(main())
