"""Run logs (``OUT/_runs/<run_id>.json``: params, counts, status) and run reports' retention."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

# Run log --------------------------------------------------------------------


def write_run_log(out: str | Path, run_id: str, record: dict) -> None:
    """Write (or replace) ``_runs/<run_id>.json`` atomically."""
    path = Path(out) / "_runs" / f"{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1, default=str))
    os.replace(tmp, path)


def read_run_logs(out: str | Path) -> list[dict]:
    """All run logs of a dataset, oldest first."""
    root = Path(out) / "_runs"
    if not root.is_dir():
        return []
    logs = []
    for p in sorted(root.glob("*.json")):
        try:
            logs.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    return logs


# Reports ---------------------------------------------------------------------

# Per-run reports are ``_reports/<run_id>.html``; other files there (``report.html`` of
# ``akhbar report``) are the user's and never pruned.
_RUN_REPORT = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]+\.html")


def prune_reports(
    out: str | Path, keep_runs: int, keep_days: float, now: float | None = None
) -> int:
    """Delete per-run HTML reports outside the retention window, like versions (issue 25).

    Kept: the reports of the last ``keep_runs`` runs (run ids sort by start time) and
    those younger than ``keep_days``. Returns how many were deleted.
    """
    root = Path(out) / "_reports"
    if not root.is_dir():
        return 0
    now = time.time() if now is None else now
    reports = sorted(p for p in root.iterdir() if _RUN_REPORT.fullmatch(p.name))
    gone = 0
    for path in reports[: max(len(reports) - keep_runs, 0)]:
        try:
            if now - path.stat().st_mtime >= keep_days * 86400:
                path.unlink()
                gone += 1
        except OSError:
            continue
    return gone
