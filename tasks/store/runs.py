"""Run logs: ``OUT/_runs/<run_id>.json`` (params, counts, status)."""

from __future__ import annotations

import json
import os
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
