"""The Prefect flow: fetch -> clean -> segment -> annotate -> write, per batch of input files.

Each stage is a plain function (``flows/stages.py`` over ``tasks/``); here fetch, each
chunk and commit become Prefect tasks that read and write the batch's staging
directory, so only small specs and counts travel between tasks (Prefect hashes task
inputs; big frames would not do). A batch is a group of input files: fetched together
and committed together. Its records are split into chunks (a single JSON dump may hold
thousands of articles) as they are fetched, and each chunk runs clean -> segment ->
annotate -> write as one task run (the stages stay separate functions and report their
own times).

The task runs live in threads of the flow process; a chunk's work goes to the run's
worker pool (``flows/pool.py``: processes forked after the annotators are loaded, so
they share those pages), or runs in the flow process when the input is one chunk's
worth, or on a Dask cluster. Commits happen one at a time, in batch order, in the flow
process, which owns the dataset; it reads a batch's articles one chunk at a time, so
memory is bounded by chunks, not by the batch (issue 14). A run where every input is
unchanged needs none of this (``flows/run.py``, issue 21).
"""

from collections import deque
from functools import partial
from typing import Protocol

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from flows import artifacts, stages
from flows.pool import CURRENT, ChunkPool, in_pool, run_workers, stop_fork_server
from flows.run import open_run
from tasks.annotate import check_annotators
from tasks.config import PipelineParams
from tasks.errors import TransientError
from tasks.store import BatchSpec

STAGES = ("fetch", "clean", "segment", "annotate", "write", "commit")


def _transient(task, task_run, state) -> bool:
    """Retry only failures that can pass (I/O, network), never deterministic parse errors."""
    try:
        state.result()
    except (OSError, TimeoutError, ConnectionError, TransientError):
        return True
    except Exception:  # noqa: BLE001 - anything else is deterministic
        return False
    return False


_RETRY = dict(retries=2, retry_delay_seconds=[1, 4], retry_jitter_factor=0.5)
_TASK = dict(cache_policy=NO_CACHE, persist_result=False)


@task(name="fetch", retry_condition_fn=_transient, **_RETRY, **_TASK)
def fetch_stage(spec: BatchSpec, known: dict[str, str]) -> dict:
    """Read the batch's inputs into ``files.arrow`` and record chunks ``cNNNN-records.arrow``.

    Runs in the flow process (it needs no annotator), while the workers start.
    """
    return stages.fetch_stage(spec, known)


@task(name="chunk", **_TASK)
def chunk_stage(spec: BatchSpec, chunk: int) -> dict:
    """clean -> segment -> annotate -> write of one chunk, as one task run.

    The stages stay separate functions and each adds its time to ``seconds``; one task
    run instead of four per chunk saves three rounds of task-run creation and state
    tracking per chunk (issue 14). The work itself goes to the run's worker pool.
    """
    return in_pool(stages.run_chunk, spec, chunk)


@task(name="commit", **_TASK)
def commit_stage(fetched: dict, chunks: list[dict | BaseException], had_rows: list[str]) -> dict:
    """Finish the batch's files rows, assign duplicates, and publish the batch atomically."""
    return stages.commit_stage(fetched, chunks, had_rows)


def _task_runner(params: PipelineParams, workers: int):
    if params.dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=params.dask_address)
    # Threads only wait on the pool; two per worker keep a chunk queued for each.
    return ThreadPoolTaskRunner(max_workers=1 if workers <= 1 else 2 * workers)


def _submit_chunks(runner, fetched: dict) -> list:
    spec = fetched["spec"]
    futures = []
    for k in range(len(fetched["chunk_files"])):
        f = runner.submit(chunk_stage, {"spec": spec, "chunk": k})
        if LISTENER.progress is not None:
            f.add_done_callback(partial(_chunk_done, records=fetched["chunk_records"][k]))
        futures.append(f)
    return futures


def _results(futures: list) -> list[dict | BaseException]:
    out: list[dict | BaseException] = []
    for f in futures:
        try:
            out.append(f.result())
        except Exception as exc:  # noqa: BLE001 - a crashed chunk fails its files, not the run
            out.append(exc)
    return out


@flow(name="news-pipeline", log_prints=True, validate_parameters=True)
def news_pipeline(params: PipelineParams) -> dict | State:
    """Turn raw Arabic news files into the annotated Parquet dataset at ``params.out``.

    Returns the run summary. When no input could be processed the flow run ends Failed
    with that summary as its data and the reason as its message: every input's row says
    why, so the run log carries no traceback.
    """
    from flows.runtime import prepare_environment

    prepare_environment()
    check_annotators(params.annotate)  # data an option needs, before any work (issue 26)
    logger = get_run_logger()
    with open_run(params, logger, quiet_warnings=LISTENER.progress is not None) as run:
        summary = run.summary
        workers = run_workers(params.workers, run.pending(), dask=bool(params.dask_address))
        summary.workers = workers
        progress = artifacts.start_progress(run.run_id, len(run.specs))
        # A pool only when there is work for more than one process (issue 21); the CLI
        # may have started its fork server already, expecting one.
        pool = ChunkPool(workers, params.annotate) if workers else None
        if pool is None:
            stop_fork_server()
        CURRENT.pool = pool
        window = 2 * max(workers, 1)
        total = len(run.specs)
        try:
            with _task_runner(params, workers) as runner:
                todo = deque(run.specs)
                fetching: deque = deque()
                running: deque = deque()
                done = 0
                while todo or fetching or running:
                    # keep a bounded window of batches in flight: memory and staging stay flat
                    while todo and len(fetching) + len(running) < window:
                        spec = todo.popleft()
                        args = {"spec": spec, "known": run.known_for(spec)}
                        fetching.append(runner.submit(fetch_stage, args))
                    if fetching and (not running or fetching[0].state.is_final()):
                        fetched = fetching.popleft().result()
                        if LISTENER.progress is not None:
                            LISTENER.progress.on_fetched(fetched["records"], total)
                        running.append((fetched, _submit_chunks(runner, fetched)))
                        continue
                    fetched, futures = running.popleft()
                    results = _results(futures)
                    if pool is not None and not (todo or fetching or running):
                        pool.close()  # the last commit runs without the workers' memory
                    stats = commit_stage(fetched, results, run.had_rows)
                    summary.add_batch(stats)
                    done += 1
                    artifacts.update_progress(progress, done, total)
                    if LISTENER.progress is not None:
                        LISTENER.progress.on_batch(stats, done, total)
        finally:
            CURRENT.pool = None
            if pool is not None:
                pool.close()
    artifacts.publish_run_artifacts(summary)
    logger.info(summary.one_line())
    if summary.outcome == "failed":
        return Failed(
            message=f"run {run.run_id}: no input could be processed ({summary.one_line()})",
            data=summary.as_dict(),
        )
    return summary.as_dict()


class RunProgress(Protocol):
    """What the flow reports as it goes (the CLI's live display implements it)."""

    def on_fetched(self, records: int, batches: int) -> None:
        """A batch was read: ``records`` article records in it, of ``batches`` batches."""

    def on_chunk(self, records: int, stats: dict | None) -> None:
        """A chunk of ``records`` records finished (``stats`` None if it crashed)."""

    def on_batch(self, stats: dict, done: int, total: int) -> None:
        """Batch ``done`` of ``total`` was committed with these counts."""


class _Listener:
    """Who hears the flow's progress in this process (the CLI's display; none in deployments).

    The flow object travels to worker processes pickled by value, with the module
    globals it uses; the listener holds a live terminal, so it stays behind.
    """

    def __init__(self) -> None:
        self.progress: RunProgress | None = None

    def __reduce__(self):
        return (_Listener, ())


LISTENER = _Listener()


def _chunk_done(future, records: int) -> None:
    # Called in the runner's thread as soon as a chunk's last task ends, so the display
    # advances per chunk, not per (possibly huge) batch (issue 18).
    try:
        stats = future.result()
    except BaseException:  # noqa: BLE001 - a crashed chunk still counts as done
        stats = None
    if LISTENER.progress is not None:
        LISTENER.progress.on_chunk(records, stats)
