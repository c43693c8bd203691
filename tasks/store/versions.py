"""Dataset versions: each commit publishes a manifest of the parts of every table.

A reader that globs ``OUT/<table>/`` while a batch commits can see tokens whose article
is not published yet (content tables move before ``articles``). A version fixes that:

- ``OUT/_versions/<NNNNNNNN>.json`` lists, for every table, the part files of one
  committed state, with the run and batch that made it. The highest number is the
  current version; it is written (atomically) after every move of its commit.
- ``OUT/_history/<table>/`` holds every part of every retained version, so a reader of
  an older version finds its parts even after a newer version replaced them. The table
  directory holds hard links to the current version's parts and is switched to the next
  version's set at once (``tasks.store.tabledir``), so plain globbing of
  ``OUT/<table>/part-*.parquet`` sees one version of the table at every moment.
- Parts are never rewritten in place: a commit that drops rows of a re-processed input
  writes the remaining rows under a new part name.

Retention (``WriteConfig.keep_runs``, ``WriteConfig.keep_days``), applied when a run
starts: the last version of each of the last ``keep_runs`` runs and every version
younger than ``keep_days`` are kept; other version files are deleted, and so are the
``_history`` links no kept version lists.

A dataset written before versions existed has none: its current state is what the
table directories hold (version 0), until the first commit publishes version 1.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tasks.errors import ConfigError
from tasks.schemas import TABLES

VERSIONS = "_versions"
HISTORY = "_history"


@dataclass(frozen=True)
class Version:
    """One committed state of the dataset: the part file names of every table."""

    number: int
    tables: dict[str, list[str]] = field(default_factory=dict)
    run_id: str | None = None
    batch_id: str | None = None
    created: float = 0.0

    def as_record(self) -> dict:
        """The JSON record of ``_versions/<NNNNNNNN>.json``."""
        return {
            "version": self.number,
            "run_id": self.run_id,
            "batch_id": self.batch_id,
            "created": self.created,
            "tables": self.tables,
        }

    @classmethod
    def from_record(cls, record: dict) -> Version:
        """Read a version back from its JSON record."""
        return cls(
            number=int(record["version"]),
            tables={k: list(v) for k, v in record.get("tables", {}).items()},
            run_id=record.get("run_id"),
            batch_id=record.get("batch_id"),
            created=float(record.get("created") or 0.0),
        )


def _version_file(out: Path, number: int) -> Path:
    return out / VERSIONS / f"{number:08d}.json"


def version_numbers(out: str | Path) -> list[int]:
    """Numbers of the version files present, oldest first."""
    root = Path(out) / VERSIONS
    if not root.is_dir():
        return []
    return sorted(int(p.stem) for p in root.glob("*.json") if p.stem.isdigit())


def read_version(out: str | Path, number: int) -> Version:
    """Load one version file."""
    return Version.from_record(json.loads(_version_file(Path(out), number).read_text()))


def list_versions(out: str | Path) -> list[Version]:
    """Every retained version, oldest first (one that vanishes while listing is skipped)."""
    found = []
    for n in version_numbers(out):
        try:
            found.append(read_version(out, n))
        except (OSError, ValueError):
            continue  # pruned between the listing and the read
    return found


def legacy_version(out: str | Path) -> Version:
    """Version 0: what the table directories hold, for a dataset without versions."""
    out = Path(out)
    tables = {}
    for name in TABLES:
        d = out / name
        tables[name] = sorted(p.name for p in d.glob("part-*.parquet")) if d.is_dir() else []
    return Version(0, tables)


def current_version(out: str | Path) -> Version:
    """The dataset's current version (version 0 when it has none yet)."""
    for n in reversed(version_numbers(out)):
        try:
            return read_version(out, n)
        except (OSError, ValueError):
            continue
    return legacy_version(out)


def version_as_of(out: str | Path, run_id: str) -> Version:
    """The last version that run ``run_id`` committed.

    Raises:
        ConfigError: no retained version belongs to ``run_id`` (names the retained runs).
    """
    versions = [v for v in list_versions(out) if v.run_id == run_id]
    if versions:
        return versions[-1]
    kept = sorted({v.run_id for v in list_versions(out) if v.run_id})
    raise ConfigError(
        f"--as-of {run_id!r}: no version of that run is kept in {out} "
        f"(runs with a version: {', '.join(kept) or 'none'})"
    )


def part_path(out: str | Path, table: str, name: str) -> Path:
    """Where to read a part: its ``_history`` link, else the table directory."""
    out = Path(out)
    linked = out / HISTORY / table / name
    return linked if linked.exists() else out / table / name


def publish_version(out: str | Path, version: Version) -> None:
    """Write ``version`` as the new current version (atomically; rewriting is harmless)."""
    path = _version_file(Path(out), version.number)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(version.as_record()))
    os.replace(tmp, path)


def link_history(out: str | Path, table: str, name: str) -> None:
    """Hard-link a published part into ``_history/<table>/`` (a copy-free second name).

    On a filesystem without hard links the part is left alone: readers then find it in
    its table directory, and a replaced part is moved (not linked) to ``_history``.
    """
    out = Path(out)
    src, dst = out / table / name, out / HISTORY / table / name
    if dst.exists() or not src.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except FileExistsError:
        pass
    except OSError:
        return


def retire_part(out: str | Path, table: str, name: str) -> None:
    """Take a replaced part out of its table directory, keeping it under ``_history``."""
    out = Path(out)
    src, dst = out / table / name, out / HISTORY / table / name
    if not src.exists():
        return
    if dst.exists():
        src.unlink(missing_ok=True)
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


def prune_versions(
    out: str | Path, keep_runs: int, keep_days: float, now: float | None = None
) -> dict[str, int]:
    """Delete versions outside the retention window and the parts only they needed.

    Kept: the last version of each of the last ``keep_runs`` runs, versions younger
    than ``keep_days`` and the current version. Runs call it under the writer lock
    before their first commit, so a reader of any version of the previous run keeps
    its parts until the next run starts.

    Returns:
        Counts: ``versions`` and ``parts`` deleted.
    """
    out = Path(out)
    now = time.time() if now is None else now
    versions = list_versions(out)
    if not versions:
        return {"versions": 0, "parts": 0}
    last_of_run: dict[str | None, int] = {}
    for v in versions:
        last_of_run[v.run_id] = v.number
    runs = sorted(last_of_run, key=lambda r: last_of_run[r])[-keep_runs:]
    keep = {last_of_run[r] for r in runs} | {versions[-1].number}
    keep |= {v.number for v in versions if now - v.created < keep_days * 86400}
    gone = 0
    for v in versions:
        if v.number not in keep:
            _version_file(out, v.number).unlink(missing_ok=True)
            gone += 1
    needed: dict[str, set[str]] = {}
    for v in versions:
        if v.number in keep:
            for table, names in v.tables.items():
                needed.setdefault(table, set()).update(names)
    parts = 0
    history = out / HISTORY
    for table in TABLES:
        d = history / table
        if not d.is_dir():
            continue
        for p in d.glob("part-*.parquet"):
            if p.name not in needed.get(table, ()):
                p.unlink(missing_ok=True)
                parts += 1
    return {"versions": gone, "parts": parts}
