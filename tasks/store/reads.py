"""Reads of the published dataset: snapshots of one version, the manifest of inputs held."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tasks.schemas import TABLES
from tasks.store.versions import Version, current_version, part_path, version_as_of

_PROCESSED = ("ok", "quarantined", "skipped_unchanged")
_READ_ATTEMPTS = 3


@dataclass(frozen=True)
class Snapshot:
    """One version of a dataset, for reads that must agree across tables.

    Take it once (``snapshot(out)``) and read every table through it: a batch that
    commits meanwhile publishes a newer version and leaves this one intact.
    """

    out: Path
    version: Version

    def paths(self, name: str) -> list[str]:
        """The part files of table ``name`` in this version (``_history`` links first)."""
        return [str(part_path(self.out, name, p)) for p in self.version.tables.get(name, [])]

    def read_table(
        self, name: str, columns: list[str] | None = None, filter: pc.Expression | None = None
    ) -> pa.Table:
        """Read one table of this version (empty table with the schema if it has no parts).

        ``filter`` is pushed down into the scan (row groups skipped by statistics).
        """
        import pyarrow.dataset as ds

        schema = TABLES[name]
        for attempt in range(_READ_ATTEMPTS):
            paths = self.paths(name)
            if not paths:
                empty = schema.empty_table()
                return empty.select(columns) if columns else empty
            try:
                dataset = ds.dataset(paths, schema=schema, format="parquet")
                return dataset.to_table(columns=columns, filter=filter)
            except OSError:  # FileNotFoundError, or pyarrow's 'Failed to open local file'
                # A part without a _history link moved there between lookup and open.
                if attempt == _READ_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")


def check_dataset(out: str | Path) -> Path:
    """``out`` as a path, if it holds an akhbar dataset (or a run's log) (issue 26).

    Raises:
        ConfigError: ``out`` does not exist, or holds no ``_versions``, ``_runs`` or
            table folder: naming it, and how to make one.
    """
    from tasks.errors import ConfigError

    root = Path(out)
    if not root.is_dir():
        raise ConfigError(f"dataset directory {str(out)!r} does not exist")
    if not any((root / name).is_dir() for name in ("_versions", "_runs", *TABLES)):
        raise ConfigError(
            f"{str(out)!r} is not an akhbar dataset (no _versions, _runs or table folder "
            f"in it); make one with `akhbar run INPUT... --out {out}`"
        )
    return root


def snapshot(out: str | Path, as_of: str | None = None) -> Snapshot:
    """The current version of ``out``, or the last one run ``as_of`` committed.

    Raises:
        ConfigError: ``as_of`` names no run with a retained version.
    """
    version = current_version(out) if as_of is None else version_as_of(out, as_of)
    return Snapshot(Path(out), version)


def read_table(
    out: str | Path, name: str, columns: list[str] | None = None, as_of: str | None = None
) -> pa.Table:
    """Read one published table of a dataset's current version (or of run ``as_of``)."""
    return snapshot(out, as_of).read_table(name, columns)


def load_manifest(out: str | Path) -> dict[tuple[str, str | None], str]:
    """``(source_uri, member) -> sha256`` of inputs the dataset already holds.

    Built from the ``files`` table: the latest processed row of each input.
    """
    files = read_table(out, "files", ["source_uri", "member", "sha256", "status", "processed_at"])
    if not files.num_rows:
        return {}
    latest: dict[tuple[str, str | None], tuple] = {}
    for row in files.to_pylist():
        key = (row["source_uri"], row["member"])
        stamp = row["processed_at"] or datetime.min.replace(tzinfo=UTC)
        if key not in latest or stamp >= latest[key][0]:
            latest[key] = (stamp, row["status"], row["sha256"])
    return {k: v[2] for k, v in latest.items() if v[1] in _PROCESSED and v[2]}


def known_file_ids(out: str | Path) -> set[str]:
    """file_ids that have rows in the published ``articles`` table."""
    table = read_table(out, "articles", ["file_id"])
    return set(pc.unique(table.column("file_id")).to_pylist()) if table.num_rows else set()
