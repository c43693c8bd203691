"""Nothing lost under faults (issue 5): bad-input torture, quarantine, status, locks, kills.

These tests start the real ``akhbar`` CLI in subprocesses (a local Prefect server each
time, about 10-20 s). The SIGKILL chaos test is long and runs only with
``AKHBAR_SLOW_TESTS=1``; ``bench/chaos.py`` is its full version.

Arabic-letter threshold (``CleanConfig.min_arabic_ratio = 0.5``), measured on the 3,333
articles of the two SaudiNewsNet sample days (``test_min_arabic_ratio_on_real_news``):
the median share of Arabic letters is 1.0, the 1st percentile 0.96 and the 0.1th 0.64
(sports items that start with an image URL); a single article is below 0.5 (0.35, its
body carries an inline JavaScript chart). English text quoting Arabic names sits below
0.2 and a half-and-half bilingual text near 0.5, so 0.5 keeps real Arabic news with
URLs, Latin names and numbers, and rejects text that is mostly another language.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from tasks import fetch, store
from tasks.clean import arabic_ratio
from tasks.config import CleanConfig
from tests.badinputs import KINDS, check_accounting, make_bad_inputs, make_good_inputs

REPO = Path(__file__).resolve().parents[2]
SLOW = os.environ.get("AKHBAR_SLOW_TESTS") == "1"


def akhbar(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess (offline Prefect settings come from conftest's env)."""
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _summary(stdout: str) -> dict:
    """The ``--json`` run summary (the last top-level JSON object on stdout)."""
    start = stdout.rfind("\n{")
    return json.loads(stdout[start + 1 :] if start >= 0 else stdout)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def torture(tmp_path_factory):
    """One pipeline run over >= 200 malformed inputs of every kind plus good articles.

    OUT starts with a stale lock left by a dead process, which the run must replace.
    """
    root = tmp_path_factory.mktemp("torture")
    inp, out = root / "in", root / "out"
    expected = make_bad_inputs(inp, per_kind=9)
    good = make_good_inputs(inp, 12)
    expected.update(good)
    out.mkdir()
    stale = {"pid": _dead_pid(), "host": socket.gethostname(), "run_id": "dead", "token": "x"}
    (out / "_lock").write_text(json.dumps(stale))
    t0 = time.monotonic()
    proc = akhbar(
        "run", str(inp), "--out", str(out), "--workers", "1", "--batch-size", "80", "--json"
    )
    return {
        "proc": proc,
        "expected": expected,
        "good": good,
        "out": out,
        "seconds": time.monotonic() - t0,
    }


def _run_rows(torture: dict) -> tuple[str, list[dict]]:
    summary = _summary(torture["proc"].stdout)
    rows = store.read_table(torture["out"], "files").to_pylist()
    return summary["run_id"], [r for r in rows if r["run_id"] == summary["run_id"]]


def test_torture_run_completes_and_accounts_for_every_input(torture):
    proc = torture["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = torture["expected"]
    kinds = {e.kind for e in expected.values()} - {"good"}
    assert len(expected) >= 200 and len(kinds) >= 12
    run_id, rows = _run_rows(torture)
    assert len(rows) == sum(len(e.members) for e in expected.values())
    acc = check_accounting(rows, expected)
    assert acc.problems == []
    if acc.gaps:  # documented in tests/badinputs.KNOWN_GAPS, to be fixed in their stage
        warnings.warn(f"known accounting gaps (kind: rows): {acc.gaps}", stacklevel=1)
    assert set(acc.kinds) == kinds | {"good"}
    summary = _summary(proc.stdout)
    assert summary["outcome"] == "completed"
    # Articles left out of good files are counted by reason, never silently.
    n_non_arabic = sum(1 for e in expected.values() if e.kind == "non_arabic")
    assert summary["rejected_articles"].get("not_arabic", 0) >= n_non_arabic


def test_good_articles_are_all_present(torture):
    arts = store.read_table(torture["out"], "articles", ["file_id", "text"]).to_pylist()
    by_file: dict[str, list[str]] = {}
    for a in arts:
        by_file.setdefault(a["file_id"], []).append(a["text"])
    for path in torture["good"]:
        texts = by_file.get(fetch.file_id_for(path, None), [])
        tag = Path(path).read_text(encoding="utf-8").rsplit("بلغ ", 1)[1].split()[0]
        assert any(f"بلغ {tag} مشاركا" in t for t in texts), path


def test_quarantine_copies_originals_with_sidecars(torture):
    run_id, rows = _run_rows(torture)
    qdir = torture["out"] / "_quarantine" / run_id
    kinds = {p: e.kind for p, e in torture["expected"].items()}
    checked = set()
    for r in rows:
        if r["status"] != "quarantined":
            continue
        base = Path(r["member"] or r["source_uri"]).name
        sidecar = qdir / f"{r['file_id']}__{base}.json"
        assert sidecar.is_file(), sidecar
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        assert (meta["reason"], meta["message"]) == (r["reason"], r["message"])
        assert meta["source_uri"] == r["source_uri"] and meta["member"] == r["member"]
        if r["member"] is None:
            original = Path(r["source_uri"]).read_bytes()
            if original:
                copy = qdir / f"{r['file_id']}__{base}"
                assert copy.read_bytes() == original
                assert meta["sha256"] == hashlib.sha256(original).hexdigest()
                checked.add(kinds[r["source_uri"]])
    # fetch-time (binary, JSON) and clean-time (not Arabic, nothing left) quarantines
    assert {"png_bytes", "invalid_json", "non_arabic", "only_diacritics_tatweel"} <= checked


def test_run_replaced_the_stale_lock_and_left_nothing_behind(torture):
    out = torture["out"]
    assert torture["proc"].returncode == 0
    assert not (out / "_lock").exists()
    assert not any((out / "_staging").iterdir())
    for name in store.COMMIT_ORDER:
        names = [p.name for p in (out / name).iterdir()]
        assert names and all(n.startswith("part-") and n.endswith(".parquet") for n in names)
    assert [g["status"] for g in store.read_run_logs(out)] == ["completed"]


def test_status_prints_runs_last_commit_and_counts(torture):
    run_id, rows = _run_rows(torture)
    proc = akhbar("status", str(torture["out"]))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert run_id in text and "completed" in text
    assert f"last successful run: {run_id}" in text
    assert f"last commit: batch {run_id}-" in text
    n_binary = sum(1 for r in rows if r["reason"] == "binary_file")
    assert any("binary_file" in line and f" {n_binary} " in line for line in text.splitlines())
    for reason in ("broken_link", "not_a_regular_file", "unsafe_archive_member", "not_arabic"):
        assert reason in text


def test_status_of_a_missing_dataset_is_a_usage_error(tmp_path):
    proc = akhbar("status", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "nope" in proc.stderr


def test_rerun_gives_every_input_one_row_again(torture):
    first_id, first = _run_rows(torture)
    proc = akhbar(
        "run",
        str(torture["out"].parent / "in"),
        "--out",
        str(torture["out"]),
        "--workers",
        "1",
        "--batch-size",
        "80",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_id = _summary(proc.stdout)["run_id"]
    rows = [
        r for r in store.read_table(torture["out"], "files").to_pylist() if r["run_id"] == run_id
    ]
    keys = [(r["source_uri"], r["member"]) for r in rows]
    assert len(keys) == len(set(keys)) == len(first)
    before = {(r["source_uri"], r["member"]): r for r in first}
    for r in rows:
        old = before[(r["source_uri"], r["member"])]
        if old["status"] == "ok" or (old["status"] == "quarantined" and old["sha256"]):
            assert r["status"] == "skipped_unchanged", r
        elif old["status"] == "failed":
            assert (r["status"], r["reason"]) == ("failed", old["reason"])  # retried
    # Nothing was re-added: the article set is the first run's.
    arts = store.read_table(torture["out"], "articles", ["article_id", "run_id"]).to_pylist()
    assert {a["run_id"] for a in arts} == {first_id}


# Two runs at once ------------------------------------------------------------


def _reader_problems(out: Path) -> tuple[list[str], int]:
    """Read the published tables as a consumer would; what went wrong, and the article count."""
    import duckdb
    import pyarrow.dataset as ds

    problems = []
    n_articles = 0
    for name in store.COMMIT_ORDER:
        d = out / name
        if not d.is_dir():
            continue
        names = [p.name for p in d.iterdir()]
        problems += [f"{name}/{n}" for n in names if not n.endswith(".parquet")]
        try:
            n = ds.dataset(str(d), format="parquet").count_rows()
            n_sql = duckdb.sql(f"select count(*) from read_parquet('{d}/*.parquet')").fetchall()[0]
        except FileNotFoundError:
            continue  # a part replaced between listing and opening: readers retry
        except Exception as exc:  # noqa: BLE001 - any other read failure is the finding
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if name == "articles":
            n_articles = max(n, n_sql[0])
    problems += _snapshot_join_problems(out)
    return problems, n_articles


def _snapshot_join_problems(out: Path) -> list[str]:
    """Join the tables of one version, as ``akhbar query`` does: nothing may dangle (issue 16)."""
    from tasks.report import connect_dataset

    con = connect_dataset(out)
    joins = {
        "tokens without their article": "tokens anti join articles using (article_id)",
        "sentences without their article": "sentences anti join articles using (article_id)",
        "entities without their sentence": (
            "entities anti join sentences using (article_id, sentence_index)"
        ),
        "articles without their files row": "articles anti join files using (file_id)",
    }
    found = []
    for what, sql in joins.items():
        (n,) = con.execute(f"select count(*) from {sql}").fetchone()
        if n:
            found.append(f"{n} {what} in version {store.current_version(out).number}")
    return found


def test_second_run_is_refused_and_readers_see_only_whole_batches(tmp_path):
    inp, out = tmp_path / "in", tmp_path / "out"
    make_good_inputs(inp, 8)
    log = (tmp_path / "first.out").open("w+")
    first = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", str(inp), "--out", str(out)]
        + ["--workers", "1", "--batch-size", "1", "--no-dedup"],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[int] = []
    problems: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while not (out / "_lock").exists():
            assert first.poll() is None, "first run ended before taking the lock"
            assert time.monotonic() < deadline, "first run never took the lock"
            time.sleep(0.1)
        second = akhbar("run", str(inp), "--out", str(out), "--workers", "1")
        assert first.poll() is None, "first run ended before the second was refused"
        # While the first run commits batch after batch, read like a consumer.
        while first.poll() is None:
            found, n = _reader_problems(out)
            problems += found
            seen.append(n)
            time.sleep(0.05)
    finally:
        first.wait(timeout=600)
        log.seek(0)
        first_log = log.read()
        log.close()
    assert second.returncode == 2, second.stderr[-2000:]
    msg = second.stderr
    assert f"pid {first.pid}" in msg and socket.gethostname() in msg
    assert "is locked by run" in msg and "started 20" in msg
    assert first.returncode == 0, first_log[-3000:]
    # The refused run wrote nothing: one run log, the first run's rows only.
    assert len(store.read_run_logs(out)) == 1
    assert store.read_table(out, "articles").num_rows >= 8
    assert problems == []
    assert seen == sorted(seen)  # one file per batch: article counts only grow
    assert len(set(seen)) >= 3, seen  # the reader did watch batches being committed


# Arabic-letter ratio threshold -------------------------------------------------

_NEWS = (
    "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في المدينة بطاقة مئتي سرير، "
    "وقال الوزير إن المشروع يخدم أكثر من نصف مليون نسمة."
)
_WITH_URL = _NEWS + " http://www.example.com/sites/default/files/2015/06/photo-B60U8570.jpg"
_WITH_QUOTE = _NEWS + ' وقال المدير "we are ready for the season" في مؤتمر صحفي.'
_ENGLISH_WITH_NAMES = (
    "The ministry of health opened a new hospital in the city today, the minister "
    "محمد العلي said, adding that it serves half a million people in عمان."
)
_BILINGUAL = (
    _NEWS + " The ministry of health announced today the opening of a new hospital in "
    "the city with two hundred beds; the minister said it serves half a million people."
)


def test_min_arabic_ratio_keeps_arabic_with_urls_and_quotes_rejects_english():
    threshold = CleanConfig().min_arabic_ratio
    assert threshold == 0.5
    assert arabic_ratio(_NEWS) == 1.0
    assert arabic_ratio(_WITH_URL) > 0.6 and arabic_ratio(_WITH_QUOTE) > 0.7
    assert arabic_ratio(_ENGLISH_WITH_NAMES) < 0.2
    # Arabic beside its English translation is the boundary the threshold sits on.
    assert 0.35 < arabic_ratio(_BILINGUAL) < 0.65


@pytest.mark.shared
def test_min_arabic_ratio_on_real_news(shared_dir):
    import zipfile

    from tasks.clean import clean_text

    ratios = []
    for z in sorted((shared_dir / "corpora" / "saudinewsnet").glob("*.zip")):
        with zipfile.ZipFile(z) as zf:
            for name in zf.namelist():
                if not name.endswith(".json"):
                    continue
                doc = json.loads(zf.read(name))
                for item in doc if isinstance(doc, list) else [doc]:
                    text = clean_text(item.get("content") or "")
                    if len(text) >= 20:
                        ratios.append(arabic_ratio(text))
    kept = sum(r >= CleanConfig().min_arabic_ratio for r in ratios)
    assert len(ratios) > 1000
    assert kept / len(ratios) > 0.999


# SIGKILL and resume (long: the bench runs more kills) ---------------------------


@pytest.mark.skipif(not SLOW, reason="set AKHBAR_SLOW_TESTS=1 (several pipeline runs)")
def test_sigkill_at_commit_and_random_moments_then_rerun_equals_clean_run(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    import chaos

    inp = tmp_path / "in"
    make_good_inputs(inp, 10)
    for kind in ("png_bytes", "non_arabic", "zip_traversal"):
        KINDS[kind](inp / f"bad-{kind}", __import__("random").Random(0), 0)
    code = chaos.main(
        [str(inp), "--kills", "4", "--seed", "3", "--batch-size", "2", "--workers", "1"]
        + ["--fault-share", "0.5", "--work-dir", str(tmp_path / "work")]
    )
    assert code == 0
