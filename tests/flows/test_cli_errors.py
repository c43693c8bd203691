"""Bad options fail fast (issue 5): exit 2, a message naming the value, no output written.

Each case runs ``python -m flows.cli`` in a subprocess; none may start Prefect (they
finish in a couple of seconds) or create the ``--out`` directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = str(REPO / "data" / "samples")


def _akhbar(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


CASES = [
    # (options, words the message must contain: the option as typed, its value)
    (["--morphology", "fancy"], ["fancy", "morphology"]),
    (["--morphology", "/nowhere/x.db"], ["/nowhere/x.db"]),
    (["--batch-size", "0"], ["--batch-size", "0"]),
    (["--batch-size", "-5"], ["--batch-size", "-5"]),
    (["--dedup-threshold", "1.5"], ["--dedup-threshold 1.5:"]),
    (["--dedup-threshold", "1.0"], ["--dedup-threshold 1:", "less than 1"]),
    (["--dedup-threshold", "0"], ["--dedup-threshold 0:"]),
    (["--dedup-threshold", "nan"], ["--dedup-threshold nan: must be a number"]),
    (["--dedup-threshold", "high"], ["--dedup-threshold", "high"]),
    (["--story-threshold", "1.5"], ["--story-threshold 1.5:"]),
    (["--story-threshold", "nan"], ["--story-threshold nan: must be a number"]),
    (["--story-containment", "0"], ["--story-containment 0:"]),
    (["--workers", "-1"], ["--workers -1:"]),
    (["--max-file-mb", "0"], ["--max-file-mb 0:"]),
    (["--max-file-mb", "-1"], ["--max-file-mb -1:"]),
    (["--min-arabic-ratio", "1.5"], ["--min-arabic-ratio 1.5:"]),
    (["--ner", "spacy"], ["--ner spacy:"]),  # a path is allowed, so pydantic checks it
    (["--dask-address", "localhost:8786"], ["--dask-address localhost:8786:"]),
]


@pytest.mark.parametrize(("options", "words"), CASES, ids=lambda c: " ".join(c)[:40])
def test_bad_option_exits_2_naming_the_value_and_writes_nothing(tmp_path, options, words):
    out = tmp_path / "out"
    t0 = time.monotonic()
    proc = _akhbar("run", SAMPLES, "--out", str(out), *options)
    assert proc.returncode == 2, proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)
    assert "max_file_bytes" not in proc.stderr and "Input should" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert time.monotonic() - t0 < 60  # failed before starting Prefect


def test_missing_input_and_empty_folder_are_named_and_the_missing_one_gets_a_row(tmp_path):
    # Issue 26: every input gets a files row, a missing path too (failed / not_found),
    # and a folder holding no input is named in a warning; the run still succeeds.
    import pyarrow.parquet as pq

    out, empty = tmp_path / "out", tmp_path / "inbox"
    empty.mkdir()
    missing = tmp_path / "no-such-file.txt"
    good = str(REPO / "data" / "samples" / "002_tunis_culture.txt")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "run",
            good,
            str(missing),
            str(empty),
            "--out",
            str(out),
            "--workers",
            "1",
            "--morphology",
            "none",
            "--ner",
            "rules",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("akhbar: warning:")]
    assert any(str(empty) in ln and "holds no input file" in ln for ln in warnings), warnings
    assert any(str(missing) in ln and "does not exist" in ln for ln in warnings), warnings
    rows = pq.read_table(out / "files").to_pylist()
    by_uri = {r["source_uri"]: (r["status"], r["reason"]) for r in rows}
    assert by_uri[str(missing)] == ("failed", "not_found")
    assert by_uri[good] == ("ok", None)


def test_glob_matching_nothing_is_a_usage_error(tmp_path):
    proc = _akhbar("run", str(tmp_path / "*.json"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "*.json" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_is_refused(tmp_path):
    out = tmp_path / "taken"
    out.write_text("not a dataset")
    proc = _akhbar("run", SAMPLES, "--out", str(out))
    assert proc.returncode == 2
    assert str(out) in proc.stderr and "not a directory" in proc.stderr
    assert out.read_text() == "not a dataset"


def test_unwritable_out_is_refused(tmp_path):
    # Below a regular file no directory can be made, even as root (CI runs as root,
    # which ignores mode bits, so a chmod-ed directory would not do).
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = blocker / "out"
    proc = _akhbar("run", SAMPLES, "--out", str(out))
    assert proc.returncode == 2
    assert str(out) in proc.stderr and "not writable" in proc.stderr


def test_locked_out_is_refused_before_any_work(tmp_path):
    # A live holder: this test process itself.
    from tasks import store

    out = tmp_path / "out"
    out.mkdir()
    with store.acquire_lock(out, "holder-run"):
        proc = _akhbar("run", SAMPLES, "--out", str(out))
    assert proc.returncode == 2
    assert "holder-run" in proc.stderr and "pid " in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == []  # nothing written, lock released


def test_unknown_command_and_missing_input_are_usage_errors():
    assert _akhbar("frobnicate").returncode == 2
    assert _akhbar("run").returncode == 2


def test_train_with_a_missing_corpus_names_it(tmp_path):
    proc = _akhbar("train", "clusters", "--corpus", str(tmp_path / "nope"), "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "nope" in proc.stderr


def test_train_embeddings_with_a_missing_corpus_names_it(tmp_path):
    proc = _akhbar("train", "embeddings", "--corpus", str(tmp_path / "nope"), "--out",
                   str(tmp_path / "e"))
    assert proc.returncode == 2
    assert "nope" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "e").exists()


def test_train_ner_with_missing_data_names_it(tmp_path):
    proc = _akhbar("train", "ner", "--data", str(tmp_path / "nope.txt"), "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "nope.txt" in proc.stderr


def test_run_with_a_bad_ner_model_dir_names_it(tmp_path):
    proc = _akhbar("run", SAMPLES, "--out", str(tmp_path / "out"), "--ner", str(tmp_path / "m"))
    assert proc.returncode == 2
    assert str(tmp_path / "m") in proc.stderr


# Options whose camel-tools data is absent (issue 26): each names the package to install.
MISSING_DATA = [
    (["--ner", "camelbert"], "camel_data -i ner-arabert"),
    (["--morphology", "calima-msa-r13"], "camel_data -i light"),
    (["--dialect", "camel-did"], "camel_data -i dialectid-default"),
]


@pytest.mark.parametrize(("options", "command"), MISSING_DATA, ids=["ner", "morphology", "dialect"])
def test_option_whose_data_is_absent_fails_before_any_work(tmp_path, options, command):
    out = tmp_path / "out"
    env = {**os.environ, "CAMELTOOLS_DATA": str(tmp_path / "no-camel-data")}
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", SAMPLES, "--out", str(out), *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert " ".join(options) in lines[0] and command in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert time.monotonic() - t0 < 60  # before Prefect started


def test_a_failed_run_exits_without_waiting_on_the_stopped_api(tmp_path):
    # Nothing listens on port 9: the one input fails, so the run fails (exit 1). Piped,
    # the log lines left for the temporary server used to be retried for ~75 s at exit.
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "run",
            "http://127.0.0.1:9/a.html",
            "--out",
            str(tmp_path / "out"),
            "--workers",
            "1",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines, failed_at = [], None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("akhbar: run failed"):
            failed_at = time.monotonic()
    proc.wait(timeout=300)
    assert failed_at is not None, "".join(lines[-20:])
    assert proc.returncode == 1
    assert time.monotonic() - failed_at < 15
    assert not any("Error logging to API" in ln for ln in lines)
    # the flow run ends Failed with the reason, not with an exception: no traceback in the
    # run log, and the summary names what went wrong with the input
    assert not any("Traceback" in ln for ln in lines), "".join(lines)
    assert any(ln.startswith("problems: failed:") for ln in lines), "".join(lines)
