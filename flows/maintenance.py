"""The dataset upkeep flow: ``compact`` on a schedule (issue 25; ``prefect.yaml``).

A thin Prefect layer over ``tasks.store.compact``: the flow takes the writer lock like a
run, so a scheduled compaction waits for no one and never overlaps a pipeline run (it
fails, naming the holder, and the next schedule tries again).
"""

from __future__ import annotations

from datetime import date

from prefect import flow

from tasks.config import WriteConfig


@flow(name="compact-dataset", log_prints=True, validate_parameters=True)
def compact_dataset(
    out: str = "data/out",
    before: date | None = None,
    write: WriteConfig | None = None,
) -> dict:
    """Rewrite the tables of ``out`` into large sorted files, published as a new version."""
    from flows.runtime import prepare_environment
    from tasks.store.compact import compact

    prepare_environment()
    result = compact(out, before=before, config=write or WriteConfig())
    print(f"compaction {result.run_id}: version {result.version}, {result.tables}")
    return {"run_id": result.run_id, "version": result.version, "tables": result.tables}
