"""The output dataset on disk: staging, the lock, atomic commits, recovery, run logs, reads.

Dataset layout under ``OUT``::

    files/ articles/ sentences/ tokens/ entities/   part-<batch_id>[-<chunk>].parquet
    _staging/<run_id>/<batch_id>/                    a batch being built (never read by consumers)
    _quarantine/<run_id>/                            originals of quarantined inputs + JSON sidecars
    _runs/<run_id>.json                              run log (params, counts, status)
    _reports/<run_id>.html                           run reports (pruned like versions)
    _versions/<NNNNNNNN>.json                        dataset versions: the parts of every table
    _history/<table>/                                every part of every kept version (the
                                                     table dirs hard-link the current ones)
    _index/                                          persistent indexes (dedup)
    _lock                                            the writer's lock (pid, host, start time)

- ``staging``: run ids, the output directory check, a batch's staging files.
- ``lock``: one writer at a time; a lock left by a dead run is replaced.
- ``commit``: journaled atomic commits: a batch's chunk parts merged, one part per table.
- ``tabledir``: a table directory switches its file set at once (glob readers).
- ``compact``: rewrite tables into large files sorted by date, as a new version.
- ``recovery``: roll a killed run's journaled commit forward, discard the rest.
- ``versions``: each commit publishes a version; ``_history`` and retention.
- ``reads``: snapshots of one version, published tables, the manifest of inputs held.
- ``runs``: run logs.

``tasks.write`` only turns tables into Parquet parts; everything about the dataset
directory itself is here.
"""

from tasks.store.commit import COMMIT_ORDER, CONTENT_TABLES, JOURNAL, CommitResult, commit_batch
from tasks.store.lock import (
    LOCK,
    Lock,
    acquire_lock,
    check_unlocked,
    describe_holder,
    lock_holder,
)
from tasks.store.reads import (
    Snapshot,
    check_dataset,
    known_file_ids,
    load_manifest,
    read_table,
    snapshot,
)
from tasks.store.recovery import recover
from tasks.store.runs import prune_reports, read_run_logs, write_run_log
from tasks.store.staging import (
    BatchSpec,
    RecordChunks,
    check_output_dir,
    drop_staged_articles,
    load_stage,
    new_run_id,
    remove_run_staging,
    save_stage,
    stage_record_chunks,
    staging_dir,
)
from tasks.store.versions import (
    HISTORY,
    VERSIONS,
    Version,
    current_version,
    prune_versions,
    version_as_of,
)

__all__ = [
    "COMMIT_ORDER",
    "CONTENT_TABLES",
    "JOURNAL",
    "HISTORY",
    "LOCK",
    "VERSIONS",
    "BatchSpec",
    "RecordChunks",
    "CommitResult",
    "Lock",
    "Snapshot",
    "Version",
    "acquire_lock",
    "check_dataset",
    "check_output_dir",
    "check_unlocked",
    "commit_batch",
    "current_version",
    "describe_holder",
    "drop_staged_articles",
    "known_file_ids",
    "load_manifest",
    "load_stage",
    "lock_holder",
    "new_run_id",
    "prune_reports",
    "prune_versions",
    "read_run_logs",
    "read_table",
    "recover",
    "remove_run_staging",
    "save_stage",
    "snapshot",
    "stage_record_chunks",
    "staging_dir",
    "version_as_of",
    "write_run_log",
]
