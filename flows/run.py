"""One run's bookkeeping, shared by the Prefect flow and the run where nothing changed.

``open_run`` takes the dataset's lock, recovers and prunes, reads what the dataset
holds, plans the batches and writes the ``running`` run log; on leaving it removes the
run's staging, summarizes the stories and writes the final run log. The flow
(``flows/news_pipeline.py``) does the batches in between.

``run_if_unchanged`` is the whole run when every input is a local file the dataset
already holds with the same sha256 (issue 21): each batch is fetched (every input gets
its ``skipped_unchanged`` files row, as in any run) and committed in this process,
without starting the Prefect server, a worker or a model. Nothing in it imports Prefect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeAlias

from flows import artifacts
from tasks import dedup, fetch, store
from tasks.config import FetchConfig, PipelineParams
from tasks.store import BatchSpec

Logger: TypeAlias = logging.Logger | logging.LoggerAdapter
# The run log's ``orchestration`` when no flow run was needed.
INLINE = "none: every input unchanged"


@dataclass
class OpenRun:
    """A run holding the dataset's lock: its batches and what the dataset already holds."""

    params: PipelineParams
    run_id: str
    out: str
    sources: list[fetch.Source]
    specs: list[BatchSpec]
    known: dict[tuple[str, str | None], str]
    had_rows: list[str]
    summary: artifacts.RunSummary
    started: float = field(default_factory=time.perf_counter)

    def known_for(self, spec: BatchSpec) -> dict[str, str]:
        """The manifest entries of ``spec``'s inputs, keyed ``"<uri>\\x1f<member>"``."""
        uris = set(spec.sources)
        return {
            f"{uri}\x1f{member or ''}": sha
            for (uri, member), sha in self.known.items()
            if uri in uris
        }

    def pending(self) -> list[str]:
        """Inputs that are not known unchanged (new, changed, URLs, unreadable)."""
        return _pending(self.sources, self.known, self.params.fetch)


def _pending(
    sources: list[fetch.Source],
    known: dict[tuple[str, str | None], str],
    config: FetchConfig,
) -> list[str]:
    if not known:  # a new dataset or --full-refresh: nothing to compare with
        return [s.uri for s in sources]
    return [s.uri for s in sources if not fetch.is_unchanged(s.uri, config, known)]


def pending_inputs(params: PipelineParams) -> list[str]:
    """The inputs a run of ``params`` would process, judged without the dataset's lock.

    What ``OpenRun.pending`` will say unless another run commits in between: the CLI
    uses it to start the workers' fork server before Prefect (issue 21); the flow
    decides again under the lock.
    """
    sources = fetch.discover_sources(params.inputs, params.fetch)
    known = {} if params.full_refresh else store.load_manifest(params.out)
    return _pending(sources, known, params.fetch)


def plan_batches(sources: list[fetch.Source], batch_size: int) -> list[list[str]]:
    """Split sources into batches of ``batch_size`` in discovery order."""
    uris = [s.uri for s in sources]
    return [uris[i : i + batch_size] for i in range(0, len(uris), batch_size)]


@contextmanager
def open_run(
    params: PipelineParams,
    logger: Logger,
    only_if_unchanged: bool = False,
    quiet_warnings: bool = False,
) -> Iterator[OpenRun | None]:
    """Lock the dataset and plan the run; on exit, finish its stories and run log.

    With ``only_if_unchanged``, yields None (and writes no run log) unless every input
    is unchanged.
    """
    started = time.perf_counter()
    run_id = store.new_run_id()
    out = str(store.check_output_dir(params.out))
    sources = fetch.discover_sources(params.inputs, params.fetch)
    for warning in fetch.unmatched_inputs(params.inputs, params.fetch):
        # The CLI has printed it already (quiet); a deployment's run shows it as a warning.
        (logger.info if quiet_warnings else logger.warning)(warning)
    summary = artifacts.RunSummary(run_id=run_id, out=out, inputs=params.inputs)
    with store.acquire_lock(out, run_id) as lock:
        if lock.replaced:
            logger.warning("replaced the stale lock of a dead run: %s", lock.replaced)
        recovered = store.recover(out)
        if any(recovered.values()):
            logger.info("recovered staging of an earlier run: %s", recovered)
        pruned = store.prune_versions(out, params.write.keep_runs, params.write.keep_days)
        pruned["reports"] = store.prune_reports(out, params.write.keep_runs, params.write.keep_days)
        if any(pruned.values()):
            logger.info("dataset versions past the retention window removed: %s", pruned)
        known = {} if params.full_refresh else store.load_manifest(out)
        had_rows = sorted(store.known_file_ids(out))
        batches = plan_batches(sources, params.batch_size)
        logger.info(
            "run %s: %d inputs in %d batches -> %s", run_id, len(sources), len(batches), out
        )
        specs = [
            BatchSpec(
                run_id=run_id,
                batch_id=f"{run_id}-{i:05d}",
                seq=i,
                out=out,
                stage_dir=str(store.staging_dir(out, run_id, f"{run_id}-{i:05d}")),
                sources=batch,
                params=params,
            )
            for i, batch in enumerate(batches)
        ]
        run = OpenRun(params, run_id, out, sources, specs, known, had_rows, summary, started)
        if only_if_unchanged and (not sources or run.pending()):
            yield None
            return
        store.write_run_log(out, run_id, summary.log_record("running", params))
        yield run
        store.remove_run_staging(out, run_id)
        if params.dedup.enabled:
            summary.stories = dedup.summarize_stories(out, params.dedup)
        summary.finish(time.perf_counter() - started)
        store.write_run_log(out, run_id, summary.log_record(summary.outcome, params))


def run_if_unchanged(params: PipelineParams, logger: Logger | None = None) -> dict | None:
    """The whole run, in this process, if every input is unchanged; else None (nothing done).

    The check runs under the dataset's lock, so no other run can change the dataset
    between it and the commits.
    """
    from flows.stages import commit_stage, fetch_stage

    logger = logger or logging.getLogger("akhbar.run")
    if params.full_refresh:
        return None
    with open_run(params, logger, only_if_unchanged=True, quiet_warnings=True) as run:
        if run is None:
            return None
        run.summary.orchestration = INLINE
        run.summary.workers = 0
        for spec in run.specs:
            fetched = fetch_stage(spec, run.known_for(spec))
            if fetched["chunk_files"]:  # changed since the check: impossible under the lock
                raise RuntimeError(f"batch {spec.batch_id} has records after the check")
            run.summary.add_batch(commit_stage(fetched, [], run.had_rows))
    logger.info(run.summary.one_line())
    return run.summary.as_dict()
