"""Chaos test: SIGKILL ``akhbar run`` at random moments, re-run, compare with a clean run.

Usage::

    python bench/chaos.py INPUT [--kills 10] [--seed 0] [--batch-size 2] [--workers 2]
                          [--work-dir DIR] [--run-args "--no-dedup ..."]
    python bench/chaos.py --make-input /tmp/chaos-in      # ~50 inputs of every outcome

It first runs ``akhbar run INPUT`` once into a fresh directory (the reference) and
times it from the moment the run takes its lock (the Prefect server start before that
is not interesting). Then, into another directory, it starts the same command N times
and kills its whole process group (CLI + flow, worker processes, the temporary
Prefect server) with SIGKILL after a random delay; after every kill it checks what a
reader would see (only complete ``part-*.parquet`` files in the table directories).
A last run goes to completion, and the two datasets are compared: row counts, the
``article_id`` set, every row of every table (minus run ids and timestamps), key
uniqueness, orphans, each input's latest outcome, quarantine sidecars and leftovers.
Prints ``identical`` or the differences (exit 1).
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tasks import store  # noqa: E402

TABLES = ("files", "articles", "sentences", "tokens", "entities")
KEYS = {
    "articles": ("article_id",),
    "sentences": ("article_id", "sentence_index"),
    "tokens": ("article_id", "sentence_index", "token_index"),
    "entities": ("article_id", "sentence_index", "token_start", "token_end"),
}
# Columns that legitimately differ between a killed-and-resumed dataset and a clean one.
VOLATILE = {"run_id", "batch_id", "processed_at"}
# Morphology readings ranked with corpus priors that accumulate over the batches a worker
# process has annotated (tasks/morphology/ranker.py): they depend on processing history, so a
# resumed run (or another schedule of chunks over workers) may rank a few words apart.
# Compared separately and reported, not counted as data loss or duplication.
RANKED = {"lemma", "pos", "upos", "diac", "gloss", "bw", "d3tok"}


def _env(prefect_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
    )
    env.pop("PREFECT_API_URL", None)
    return env


def _command(inp: str, out: Path, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "flows.cli",
        "run",
        inp,
        "--out",
        str(out),
        "--batch-size",
        str(args.batch_size),
        "--workers",
        str(args.workers),
        *args.extra,
    ]


def snapshot(dest: Path) -> Path:
    """Copy the code (tasks/, flows/) so that every run of the bench runs the same code.

    The repository is a shared working tree: a stage edited between the clean run and
    a resumed one would show up as a difference that no crash caused.
    """
    shutil.rmtree(dest, ignore_errors=True)
    for pkg in ("tasks", "flows"):
        shutil.copytree(REPO / pkg, dest / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _start(cmd: list[str], env: dict, log: Path, src: Path = REPO) -> subprocess.Popen:
    fh = open(log, "ab")  # noqa: SIM115 - closed with the process
    # ``python -m`` puts the cwd first on sys.path: the snapshot's modules are the ones run.
    # A new session makes the run a process group we can kill whole.
    return subprocess.Popen(
        cmd, cwd=src, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
    )


def _first_commit(proc: subprocess.Popen, out: Path) -> float | None:
    """Wait for the run's first committed batch; its time, or None if it exited first."""
    while proc.poll() is None:
        if (out / "files").is_dir() and any((out / "files").glob("part-*.parquet")):
            return time.monotonic()
        time.sleep(0.05)
    return None


def _wait_lock(proc: subprocess.Popen, out: Path, timeout: float = 180) -> float | None:
    """Wait until the run holds OUT/_lock; the time it appeared, or None if it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A killed run leaves its lock behind: wait for one naming this process.
        if store.lock._read_holder(out / "_lock").get("pid") == proc.pid:
            return time.monotonic()
        if proc.poll() is not None:
            return None
        time.sleep(0.05)
    raise TimeoutError(f"no lock in {out} after {timeout} s")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    # Orphaned members (server, workers) are reaped by init; wait until none is left.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise RuntimeError(f"process group {proc.pid} survived SIGKILL")


def reader_view_problems(out: Path) -> list[str]:
    """What a reader listing the table directories right now would trip over."""
    problems = []
    for name in TABLES:
        d = out / name
        if not d.is_dir():
            continue
        for p in d.iterdir():
            if not (p.name.startswith("part-") and p.name.endswith(".parquet")):
                problems.append(f"{name}/{p.name}: not a part file")
                continue
            try:
                pq.read_table(p)
            except Exception as exc:  # noqa: BLE001 - any read failure is the finding
                problems.append(f"{name}/{p.name}: unreadable ({exc})")
    return problems


def _state(out: Path) -> str:
    """Where a kill landed, from what it left behind."""
    staging = out / "_staging"
    batches = (
        [b for r in staging.iterdir() if r.is_dir() for b in r.iterdir()]
        if staging.is_dir()
        else []
    )
    files = _rows(out, "files")
    done = len(
        {(r["source_uri"], r["member"]) for r in files if r["status"] != "skipped_unchanged"}
    )
    if any((b / store.JOURNAL).exists() for b in batches):
        return f"mid-commit (journal present), {done} inputs done"
    if not (out / "_runs").is_dir():
        return "before the first run log"
    return f"between commits, {done} inputs done"


def _rows(out: Path, name: str) -> list[dict]:
    return store.read_table(out, name).to_pylist()


def _freeze(row: dict, skip: set[str] = VOLATILE) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in row.items() if k not in skip))


def _outcomes(files: list[dict]) -> dict[tuple, tuple]:
    """Each input's latest outcome; an unchanged input keeps its processing run's outcome."""
    latest: dict[tuple, tuple] = {}
    for r in sorted(files, key=lambda r: (r["processed_at"] is not None, r["processed_at"])):
        key = (r["source_uri"], r["member"])
        if r["status"] != "skipped_unchanged" or key not in latest:
            latest[key] = (r["status"], r["reason"], r["n_articles"])
    return latest


def _quarantine(out: Path) -> Counter:
    root = out / "_quarantine"
    return Counter(p.name for p in root.glob("*/*")) if root.is_dir() else Counter()


def dataset_problems(out: Path) -> list[str]:
    """Invariants of one dataset: unique keys, no orphans, no leftovers."""
    problems = reader_view_problems(out)
    ids = {r["article_id"] for r in _rows(out, "articles")}
    file_ids = {r["file_id"] for r in _rows(out, "files")}
    for name, key in KEYS.items():
        rows = _rows(out, name)
        dup = len(rows) - len({tuple(r[k] for k in key) for r in rows})
        if dup:
            problems.append(f"{name}: {dup} duplicate {key}")
        if name != "articles":
            orphans = {r["article_id"] for r in rows} - ids
            if orphans:
                problems.append(f"{name}: {len(orphans)} orphan article_ids")
    if {r["file_id"] for r in _rows(out, "articles")} - file_ids:
        problems.append("articles whose file_id has no files row")
    if (out / "_lock").exists():
        problems.append("_lock left behind")
    staging = out / "_staging"
    if staging.is_dir() and any(staging.iterdir()):
        problems.append(f"staging left behind: {[p.name for p in staging.iterdir()]}")
    logs = store.read_run_logs(out)
    if not logs or logs[-1].get("status") != "completed":
        problems.append("last run log is not completed")
    if any(g.get("status") == "running" for g in logs):
        problems.append("a run log still says running")
    committed = {(r["run_id"], r["file_id"]) for r in _rows(out, "files")}
    root = out / "_quarantine"
    stray = [
        p.name
        for p in (root.glob("*/*") if root.is_dir() else [])
        if (p.parent.name, p.name.split("__", 1)[0]) not in committed
    ]
    if stray:
        problems.append(f"quarantine entries without a committed files row: {stray[:3]}")
    return problems


def compare(clean: Path, chaos: Path) -> tuple[list[str], list[str]]:
    """Differences between the reference dataset and the killed-and-resumed one.

    Returns ``(differences, notes)``: notes are the history-dependent morphology
    readings (``RANKED`` columns of tokens that otherwise match).
    """
    diffs = [f"clean: {p}" for p in dataset_problems(clean)]
    diffs += [f"chaos: {p}" for p in dataset_problems(chaos)]
    notes = []
    for name in TABLES[1:]:
        a, b = _rows(clean, name), _rows(chaos, name)
        if len(a) != len(b):
            diffs.append(f"{name}: {len(a)} rows clean vs {len(b)} after kills")
        skip = VOLATILE | RANKED if name == "tokens" else VOLATILE
        fa = Counter(_freeze(r, skip) for r in a)
        fb = Counter(_freeze(r, skip) for r in b)
        if fa != fb:
            diffs.append(
                f"{name}: {sum((fa - fb).values())} rows only in clean, "
                f"{sum((fb - fa).values())} only after kills"
            )
        elif name == "tokens":
            ranked = Counter(map(_freeze, a)) - Counter(map(_freeze, b))
            if ranked:
                notes.append(
                    f"tokens: {sum(ranked.values())} of {len(a)} rows got another morphology "
                    "reading (history-dependent corpus priors)"
                )
    ida = {r["article_id"] for r in _rows(clean, "articles")}
    idb = {r["article_id"] for r in _rows(chaos, "articles")}
    if ida != idb:
        diffs.append(f"article_id sets differ: {len(ida - idb)} missing, {len(idb - ida)} extra")
    oa, ob = _outcomes(_rows(clean, "files")), _outcomes(_rows(chaos, "files"))
    for key in sorted(set(oa) | set(ob), key=repr):
        if oa.get(key) != ob.get(key):
            diffs.append(f"input {key}: {oa.get(key)} clean vs {ob.get(key)} after kills")
    qa, qb = set(_quarantine(clean)), set(_quarantine(chaos))
    if qa != qb:
        diffs.append(f"quarantine: {sorted(qa ^ qb)[:5]} differ")
    return diffs, notes


def _inputs(inp: str) -> list:
    from tasks import fetch
    from tasks.config import FetchConfig

    return fetch.discover_sources([inp], FetchConfig())


def make_input(root: Path, n_good: int = 40) -> Path:
    """~50 inputs: distinct articles, exact re-posts, a zip, and bad files of each outcome."""
    from tests.badinputs import KINDS, make_good_inputs

    good = make_good_inputs(root, n_good, seed=7)
    paths = sorted(good)
    for k, p in enumerate(paths[:3]):  # exact re-posts: dedup must survive kills
        shutil.copy(p, root / f"repost-{k}.txt")
    for p in sorted((REPO / "data" / "samples").iterdir()):
        shutil.copy(p, root / f"sample-{p.name}")
    import random as _r

    rng = _r.Random(3)
    for kind in ("empty", "png_bytes", "non_arabic", "zip_traversal", "dangling_symlink"):
        KINDS[kind](root / f"bad-{kind}", rng, 0)
    return root


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("input", nargs="?", help="input path (file, directory, archive)")
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--fault-share",
        type=float,
        default=0.3,
        help="share of kills made by a crash point inside a commit (AKHBAR_FAULT)",
    )
    p.add_argument("--work-dir", default=None, help="keep outputs here (default: a temp dir)")
    p.add_argument("--make-input", metavar="DIR", help="write a chaos input set to DIR and exit")
    p.add_argument("--run-args", default="", help='more akhbar run options, e.g. "--no-dedup"')
    args = p.parse_args(argv)
    args.extra = shlex.split(args.run_args)
    if args.make_input:
        print(make_input(Path(args.make_input)))
        return 0
    if not args.input:
        p.error("INPUT is required")
    rng = random.Random(args.seed)
    args.input = str(Path(args.input).resolve())  # runs start in the code snapshot
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="akhbar-chaos-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    clean, chaos = work / "clean", work / "chaos"
    for d in (clean, chaos):
        shutil.rmtree(d, ignore_errors=True)
    src = snapshot(work / "src")
    home = work / "prefect-home"
    home.mkdir(exist_ok=True)
    env = _env(home)

    t0 = time.monotonic()
    proc = _start(_command(args.input, clean, args), env, work / "clean.log", src)
    locked = _wait_lock(proc, clean)
    first = _first_commit(proc, clean)
    rc = proc.wait()
    t_end = time.monotonic()
    if rc != 0 or locked is None:
        print(f"clean run failed (exit {rc}); see {work / 'clean.log'}")
        return 2
    span = t_end - locked
    # Worker start-up and model loading come before the first commit of every run.
    warmup = (first - locked) if first and locked else 0.0
    print(
        f"clean run: {t_end - t0:.1f} s, {span:.1f} s after taking the lock, "
        f"first commit {warmup:.1f} s after it"
    )

    landed: Counter = Counter()
    problems: list[str] = []
    n_batches = -(-len(_inputs(args.input)) // args.batch_size)
    for k in range(args.kills):
        fault = None
        if rng.random() < args.fault_share:
            # Crash inside a commit on purpose: random times rarely land there.
            point = rng.choice(["before_journal", "mid_commit", "mid_commit"])
            fault = f"{point}:{rng.randint(1, max(1, min(3, n_batches)))}"
        run_env = env | {"AKHBAR_FAULT": fault} if fault else env
        proc = _start(_command(args.input, chaos, args), run_env, work / "chaos.log", src)
        if fault:
            rc = proc.wait()
            _kill_group(proc)
            where = f"fault {fault}" if rc == -signal.SIGKILL else f"fault {fault} not hit"
            landed[where.split(":")[0]] += 1
            problems += [f"after kill {k + 1}: {p}" for p in reader_view_problems(chaos)]
            print(f"kill {k + 1}/{args.kills}: {where} ({_state(chaos)})", flush=True)
            continue
        if rng.random() < 0.1:  # now and then die before the run starts its work
            time.sleep(rng.uniform(0.5, 5.0))
            where = "before the lock"
        else:
            if _wait_lock(proc, chaos) is None:
                landed["finished before the kill"] += 1
                continue
            # Spread kills over the span so that work is left for later kills too.
            # About half the work is done across all kills, so every kill finds some left.
            busy = max(span - warmup, 1.0)
            time.sleep(rng.uniform(0.5 * warmup, warmup + busy / args.kills))
            where = None
        finished = proc.poll() is not None
        _kill_group(proc)
        where = "after it finished" if finished else (where or _state(chaos))
        landed[where.split(",")[0]] += 1
        problems += [f"after kill {k + 1}: {p}" for p in reader_view_problems(chaos)]
        print(f"kill {k + 1}/{args.kills}: {where}", flush=True)
    proc = _start(_command(args.input, chaos, args), env, work / "chaos.log", src)
    rc = proc.wait()
    if rc != 0:
        problems.append(f"final run exited {rc}; see {work / 'chaos.log'}")
    found, notes = compare(clean, chaos)
    diffs = problems + found
    arts = store.read_table(clean, "articles", ["article_id"]).num_rows
    runs = len(store.read_run_logs(chaos))
    print(f"kills landed: {dict(landed)}; chaos dataset written by {runs} runs")
    print(f"clean dataset: {arts} articles; outputs in {work}")
    if diffs:
        print("DIFFERENCES:")
        for d in diffs:
            print("  " + d)
        return 1
    print("identical")
    for note in notes:
        print("note: " + note)
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
