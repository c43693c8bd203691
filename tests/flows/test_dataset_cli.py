"""``akhbar compact`` and ``akhbar paths`` (issue 25), and the compaction flow."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from flows.cli import main
from flows.maintenance import compact_dataset
from tasks import store
from tasks.store import versions
from tests.tasks.test_store_compact import _commit

RUNS = ["20250301T060000Z-aaaaaa", "20250302T060000Z-bbbbbb"]


def _dataset(out):
    for seq, run in enumerate(RUNS):
        _commit(out, run, seq, day=10 + seq)


def test_paths_prints_the_files_of_one_version(tmp_path, capsys):
    _dataset(tmp_path)
    assert main(["paths", str(tmp_path), "articles"]) == 0
    now = capsys.readouterr().out.split()
    assert len(now) == 2 and all("/_history/articles/" in p for p in now)
    assert main(["paths", str(tmp_path), "articles", "--as-of", RUNS[0]]) == 0
    then = capsys.readouterr().out.split()
    assert then == now[:1]
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in now) == 12


def test_paths_names_a_bad_table_or_run(tmp_path, capsys):
    _dataset(tmp_path)
    assert main(["paths", str(tmp_path), "token"]) == 2
    assert "unknown table 'token'" in capsys.readouterr().err
    assert main(["paths", str(tmp_path), "tokens", "--as-of", "nope"]) == 2
    assert "--as-of 'nope'" in capsys.readouterr().err


def test_compact_command_and_flow(tmp_path, capsys):
    _dataset(tmp_path)
    assert main(["compact", str(tmp_path), "--before", "2025-03-02"]) == 0
    assert "articles: 2 -> 2 parts" in capsys.readouterr().out  # only run 1 was before
    with pytest.raises(SystemExit) as exit_:
        main(["compact", str(tmp_path), "--before", "someday"])
    assert exit_.value.code == 2
    assert "not a date" in capsys.readouterr().err
    result = compact_dataset.fn(out=str(tmp_path))
    assert result["tables"]["articles"] == {"parts_before": 2, "parts_after": 1, "rows": 12}
    assert len(versions.current_version(tmp_path).tables["tokens"]) == 1
    assert store.read_table(tmp_path, "tokens").num_rows == 24
