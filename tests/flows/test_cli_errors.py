"""Bad options fail fast (issue 5): exit 2, a message naming the value, no output written.

Each case runs ``python -m flows.cli`` in a subprocess; none may start Prefect (they
finish in a couple of seconds) or create the ``--out`` directory.
"""

from __future__ import annotations

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
    # (options, words the message must contain)
    (["--morphology", "fancy"], ["fancy", "morphology"]),
    (["--morphology", "/nowhere/x.db"], ["/nowhere/x.db"]),
    (["--batch-size", "0"], ["--batch-size", "0"]),
    (["--batch-size", "-5"], ["--batch-size", "-5"]),
    (["--dedup-threshold", "1.5"], ["threshold", "1.5"]),
    (["--dedup-threshold", "0"], ["threshold", "0"]),
    (["--dedup-threshold", "nan"], ["threshold", "nan"]),
    (["--dedup-threshold", "high"], ["--dedup-threshold", "high"]),
    (["--story-threshold", "1.5"], ["story_threshold", "1.5"]),
    (["--story-containment", "0"], ["story_containment", "0"]),
    (["--workers", "-1"], ["workers", "-1"]),
    (["--max-file-mb", "0"], ["max_file_bytes", "0"]),
    (["--min-arabic-ratio", "1.5"], ["min_arabic_ratio", "1.5"]),
    (["--ner", "spacy"], ["ner", "spacy"]),  # a path is allowed, so pydantic checks it
    (["--dask-address", "localhost:8786"], ["localhost:8786"]),
]


@pytest.mark.parametrize(("options", "words"), CASES, ids=lambda c: " ".join(c)[:40])
def test_bad_option_exits_2_naming_the_value_and_writes_nothing(tmp_path, options, words):
    out = tmp_path / "out"
    t0 = time.monotonic()
    proc = _akhbar("run", SAMPLES, "--out", str(out), *options)
    assert proc.returncode == 2, proc.stderr
    for word in words:
        assert word in proc.stderr, (word, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert time.monotonic() - t0 < 60  # failed before starting Prefect


def test_missing_input_names_it_and_creates_no_out(tmp_path):
    out = tmp_path / "out"
    proc = _akhbar("run", str(tmp_path / "no-such-dir"), "--out", str(out))
    assert proc.returncode == 2
    assert "no-such-dir" in proc.stderr and "does not exist" in proc.stderr
    assert not out.exists()


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
