"""Bring a dataset back to a clean state after a run that died (SIGKILL, crash)."""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from tasks.store.commit import JOURNAL, _apply_journal
from tasks.store.lock import _pid_alive
from tasks.store.reads import read_table
from tasks.store.runs import read_run_logs, write_run_log
from tasks.store.versions import VERSIONS

# Temp files a process leaves directly under OUT (lock candidate, writability probe).
_DEAD_TEMP = re.compile(r"\.(?:lock|write-probe)-(\d+)(?:-\w+\.tmp)?")


def recover(out: str | Path, run_id: str | None = None) -> dict[str, int]:
    """Bring a dataset back to a clean state after a run that died (SIGKILL, crash).

    Call it while holding the lock, before any work. It

    - rolls forward commits that were journaled (``COMMIT.json`` written) and discards
      staging without a journal (that batch is simply processed again);
    - marks run logs still ``running`` (other than ``run_id``) as ``interrupted``;
    - removes quarantine copies of a dead run for inputs whose ``files`` row was never
      committed (the re-run quarantines them again under its own run id);
    - removes temp files a dead process left outside the tables (``*.tmp`` lock, probe
      index and version files). Tables themselves never hold temp files.

    Returns:
        Counts: rolled_forward, discarded (batches), interrupted_runs, quarantine_removed.
    """
    out = Path(out)
    done = {"rolled_forward": 0, "discarded": 0, "interrupted_runs": 0, "quarantine_removed": 0}
    root = out / "_staging"
    if root.is_dir():
        for run_dir in sorted(root.iterdir()):
            if run_dir.name == run_id:
                continue
            batches = sorted(p for p in run_dir.iterdir() if p.is_dir()) if run_dir.is_dir() else []
            for batch in batches:
                if (batch / JOURNAL).exists():
                    _apply_journal(batch)
                    done["rolled_forward"] += 1
                else:
                    shutil.rmtree(batch, ignore_errors=True)
                    done["discarded"] += 1
            if run_dir.is_dir():
                shutil.rmtree(run_dir, ignore_errors=True)
            else:
                run_dir.unlink(missing_ok=True)
    interrupted = _mark_interrupted_runs(out, run_id)
    done["interrupted_runs"] = len(interrupted)
    done["quarantine_removed"] = _prune_quarantine(out, interrupted)
    _remove_dead_temp_files(out)
    return done


def _mark_interrupted_runs(out: Path, run_id: str | None) -> list[str]:
    dead = []
    for log in read_run_logs(out):
        rid = log.get("run_id")
        if rid and rid != run_id and log.get("status") == "running":
            log["status"] = "interrupted"
            log["interrupted_found_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            write_run_log(out, rid, log)
            dead.append(rid)
    return dead


def _prune_quarantine(out: Path, run_ids: list[str]) -> int:
    """Drop quarantine entries of dead runs whose ``files`` row never got committed."""
    removed = 0
    dirs = [out / "_quarantine" / r for r in run_ids if (out / "_quarantine" / r).is_dir()]
    if not dirs:
        return 0
    files = read_table(out, "files", ["file_id", "run_id"])
    committed = {
        (r, f)
        for f, r in zip(
            files.column("file_id").to_pylist(), files.column("run_id").to_pylist(), strict=True
        )
    }
    for qdir in dirs:
        for entry in sorted(qdir.iterdir()):
            # Entries are <file_id>__<basename> and <file_id>__<basename>.json.
            fid = entry.name.split("__", 1)[0]
            if entry.is_file() and (qdir.name, fid) not in committed:
                entry.unlink(missing_ok=True)
                removed += entry.suffix == ".json"
        if not any(qdir.iterdir()):
            qdir.rmdir()
    return removed


def _remove_dead_temp_files(out: Path) -> None:
    for tmp in out.iterdir():
        m = _DEAD_TEMP.fullmatch(tmp.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            tmp.unlink(missing_ok=True)
    for name in ("_index", VERSIONS):
        # Under the lock nobody else writes the index or versions: a temp file there is dead.
        if (out / name).is_dir():
            for tmp in (out / name).rglob("*.tmp"):
                tmp.unlink(missing_ok=True)
