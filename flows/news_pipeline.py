"""The Prefect flow: fetch -> clean -> segment -> annotate -> write, per batch of input files.

Each stage is a plain function in ``tasks/``; here fetch, each chunk and commit become
Prefect tasks that read and write the batch's staging directory, so only small specs
and counts travel between tasks (Prefect hashes task inputs; big frames would not do).
A batch is a group of input files: fetched together and committed together. Its records
are split into chunks (a single JSON dump may hold thousands of articles) as they are
fetched, and each chunk runs clean -> segment -> annotate -> write as one task run (the
stages stay separate functions and report their own times) in a worker process
(``ProcessPoolTaskRunner``) or on a Dask cluster. Commits happen one at a time, in batch
order, in the flow process, which owns the dataset; it reads a batch's articles one
chunk at a time, so memory is bounded by chunks, not by the batch (issue 14).
"""

import os
import time
from collections import deque
from functools import partial
from pathlib import Path
from typing import Protocol

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

from flows import artifacts
from tasks import accounting, annotate, clean, dedup, fetch, segment, store, write
from tasks.config import PipelineParams
from tasks.errors import TransientError
from tasks.store import BatchSpec

STAGES = ("fetch", "clean", "segment", "annotate", "write", "commit")
CONTENT = ("sentences", "tokens", "entities")


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


def _timed(stats: dict, stage: str, started: float) -> dict:
    seconds = stats.setdefault("seconds", {})
    seconds[stage] = seconds.get(stage, 0.0) + round(time.perf_counter() - started, 4)
    return stats


@task(name="fetch", retry_condition_fn=_transient, **_RETRY, **_TASK)
def fetch_stage(spec: BatchSpec, known: dict[str, str]) -> dict:
    """Read the batch's inputs into ``files.arrow`` and record chunks ``cNNNN-records.arrow``."""
    t0 = time.perf_counter()
    Path(spec.stage_dir).mkdir(parents=True, exist_ok=True)
    manifest = {}
    for key, sha in known.items():
        uri, member = key.split("\x1f", 1)
        manifest[(uri, member or None)] = sha
    qdir = str(Path(spec.out) / "_quarantine" / spec.run_id)
    sources = [fetch.Source(u) for u in spec.sources]
    # Records go to disk chunk by chunk while the batch is read (issue 14).
    chunks = store.RecordChunks(spec)
    try:
        result = fetch.fetch_batch(
            sources,
            spec.params.fetch,
            known=manifest,
            quarantine_dir=qdir,
            record_sink=chunks.add,
            sink_rows=spec.params.chunk_size,
        )
    except (OSError, TimeoutError, ConnectionError, TransientError):
        raise  # transient: Prefect retries the task
    except Exception:  # noqa: BLE001 - one input crashed fetch (a bug): isolate it (issue 5)
        result = fetch.fetch_one_by_one(sources, spec.params.fetch, manifest, qdir)
        chunks = store.RecordChunks(spec)
        chunks.add_all(result.records)
    store.save_stage(result.files, spec.path("files"))
    stats = {
        "spec": spec,
        "records": chunks.rows,
        "chunk_files": chunks.files,
        "chunk_records": chunks.sizes,  # records per chunk, for the CLI's progress
    }
    return _timed(stats, "fetch", t0)


def clean_stage(spec: BatchSpec, chunk: int) -> dict:
    """Clean a chunk's records into articles; count articles left out by reason."""
    t0 = time.perf_counter()
    result = clean.clean_batch(store.load_stage(spec.path("records", chunk)), spec.params.clean)
    store.save_stage(result.articles, spec.path("articles", chunk))
    rejected = {fid: dict(c) for fid, c in result.rejected.items()}
    stats = {"spec": spec, "chunk": chunk, "rejected": rejected}
    return _timed({**stats, "articles": result.articles.num_rows}, "clean", t0)


def segment_stage(prev: dict) -> dict:
    """Split a chunk's articles into sentences and base tokens."""
    t0 = time.perf_counter()
    spec, chunk = prev["spec"], prev["chunk"]
    result = segment.segment_batch(store.load_stage(spec.path("articles", chunk)))
    store.save_stage(result.sentences, spec.path("sentences", chunk))
    store.save_stage(result.tokens, spec.path("tokens", chunk))
    return _timed(prev, "segment", t0)


def annotate_stage(prev: dict) -> dict:
    """Morphology, entities, dialect and dedup signatures for a chunk."""
    t0 = time.perf_counter()
    spec, chunk = prev["spec"], prev["chunk"]
    articles, sentences, tokens = (
        store.load_stage(spec.path(name, chunk)) for name in ("articles", "sentences", "tokens")
    )
    result = annotate.annotate_batch(articles, tokens, spec.params.annotate)
    arts = accounting.finish_articles(result.articles, sentences, spec.run_id)
    store.save_stage(arts, spec.path("articles", chunk))
    store.save_stage(result.tokens, spec.path("tokens", chunk))
    store.save_stage(result.entities, spec.path("entities", chunk))
    if spec.params.dedup.enabled:
        sig = dedup.signatures_for_articles(arts, spec.params.dedup)
        store.save_stage(sig, spec.path("signatures", chunk))
    prev.update(
        morph_source=result.morph_source,
        ner_method=result.ner_method,
        dialect_method=result.dialect_method,
        **accounting.token_counts(result.tokens),
    )
    return _timed(prev, "annotate", t0)


def write_stage(prev: dict) -> dict:
    """Write a chunk's sentences, tokens and entities as Parquet into staging."""
    t0 = time.perf_counter()
    spec, chunk = prev["spec"], prev["chunk"]
    tables = {name: store.load_stage(spec.path(name, chunk)) for name in CONTENT}
    write.write_batch(tables, spec.stage_dir, spec.part(chunk), spec.params.write)
    prev.update(accounting.content_counts(tables))
    return _timed(prev, "write", t0)


@task(name="chunk", **_TASK)
def chunk_stage(spec: BatchSpec, chunk: int) -> dict:
    """clean -> segment -> annotate -> write of one chunk, as one task run.

    The stages stay separate functions and each adds its time to ``seconds``; one task
    run instead of four per chunk saves three rounds of task-run creation and state
    tracking per chunk (issue 14).
    """
    return run_chunk(spec, chunk)


def run_chunk(spec: BatchSpec, chunk: int) -> dict:
    """The chunk stages in order, called directly (the task body; bench/throughput.py)."""
    prev = clean_stage(spec, chunk)
    for stage in (segment_stage, annotate_stage, write_stage):
        prev = stage(prev)
    return prev


@task(name="commit", **_TASK)
def commit_stage(fetched: dict, chunks: list[dict | BaseException], had_rows: list[str]) -> dict:
    """Finish the batch's files rows, assign duplicates, and publish the batch atomically."""
    t0 = time.perf_counter()
    spec: BatchSpec = fetched["spec"]
    settled = accounting.settle_batch(
        spec, fetched["chunk_files"], chunks, had_rows, fetched.get("seconds")
    )
    store.commit_batch(
        spec.out, spec.stage_dir, spec.batch_id, settled.replace_file_ids, spec.params.write
    )
    return _timed(settled.stats, "commit", t0)


def _task_runner(params: PipelineParams):
    if params.dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=params.dask_address)
    workers = params.workers or _cpu_count()
    if workers <= 1:
        return ThreadPoolTaskRunner(max_workers=1)
    return ProcessPoolTaskRunner(
        max_workers=workers, initializer=_warm_worker, initargs=(params.annotate.morphology,)
    )


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _warm_worker(morphology: str) -> None:
    """Load the morphology once when a worker process starts, before its first chunk."""
    from flows.runtime import prepare_environment

    prepare_environment()
    if morphology != "none":
        from tasks.morphology import load_morphology

        load_morphology(morphology)


@task(name="start-worker", **_TASK)
def start_worker() -> int:
    """Nothing: submitted once per worker so the pool starts them all at once (issue 6)."""
    return os.getpid()


def _start_workers(runner, params: PipelineParams) -> list:
    """Start every pool worker now, so their start-up overlaps the first fetch.

    The process pool starts a worker only when a task finds none idle: the second one
    would otherwise start (imports, morphology load: ~3 s) only once fetch is done.
    """
    if not isinstance(runner, ProcessPoolTaskRunner):
        return []
    return [runner.submit(start_worker, {}) for _ in range(params.workers or _cpu_count())]


def plan_batches(sources: list[fetch.Source], batch_size: int) -> list[list[str]]:
    """Split sources into batches of ``batch_size`` in discovery order."""
    uris = [s.uri for s in sources]
    return [uris[i : i + batch_size] for i in range(0, len(uris), batch_size)]


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
def news_pipeline(params: PipelineParams) -> dict:
    """Turn raw Arabic news files into the annotated Parquet dataset at ``params.out``."""
    from flows.runtime import prepare_environment

    prepare_environment()
    annotate.check_annotators(params.annotate)  # before any work (issue 26)
    logger = get_run_logger()
    started = time.perf_counter()
    run_id = store.new_run_id()
    out = str(store.check_output_dir(params.out))
    sources = fetch.discover_sources(params.inputs, params.fetch)
    for warning in fetch.unmatched_inputs(params.inputs, params.fetch):
        # The CLI has printed it already; a deployment's run shows it as a warning.
        (logger.info if LISTENER.progress is not None else logger.warning)(warning)
    summary = artifacts.RunSummary(run_id=run_id, out=out, inputs=params.inputs)
    with store.acquire_lock(out, run_id) as lock:
        if lock.replaced:
            logger.warning("replaced the stale lock of a dead run: %s", lock.replaced)
        recovered = store.recover(out)
        if any(recovered.values()):
            logger.info("recovered staging of an earlier run: %s", recovered)
        pruned = store.prune_versions(out, params.write.keep_runs, params.write.keep_days)
        if any(pruned.values()):
            logger.info("dataset versions past the retention window removed: %s", pruned)
        known = {} if params.full_refresh else store.load_manifest(out)
        had_rows = sorted(store.known_file_ids(out))
        batches = plan_batches(sources, params.batch_size)
        logger.info(
            "run %s: %d inputs in %d batches -> %s", run_id, len(sources), len(batches), out
        )
        store.write_run_log(out, run_id, summary.log_record("running", params))
        progress = artifacts.start_progress(run_id, len(batches))
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
        window = 2 * max(params.workers or _cpu_count(), 1)
        with _task_runner(params) as runner:
            started_workers = _start_workers(runner, params)
            todo = deque(specs)
            fetching: deque = deque()
            running: deque = deque()
            done = 0
            while todo or fetching or running:
                # keep a bounded window of batches in flight: memory and staging stay flat
                while todo and len(fetching) + len(running) < window:
                    spec = todo.popleft()
                    args = {"spec": spec, "known": _known_for(spec, known)}
                    fetching.append(runner.submit(fetch_stage, args))
                if fetching and (not running or fetching[0].state.is_final()):
                    fetched = fetching.popleft().result()
                    if LISTENER.progress is not None:
                        LISTENER.progress.on_fetched(fetched["records"], len(batches))
                    running.append((fetched, _submit_chunks(runner, fetched)))
                    continue
                fetched, futures = running.popleft()
                stats = commit_stage(fetched, _results(futures), had_rows)
                summary.add_batch(stats)
                done += 1
                artifacts.update_progress(progress, done, len(batches))
                if LISTENER.progress is not None:
                    LISTENER.progress.on_batch(stats, done, len(batches))
            for f in started_workers:
                f.wait()
        store.remove_run_staging(out, run_id)
        if params.dedup.enabled:
            summary.stories = dedup.summarize_stories(out, params.dedup)
        summary.finish(time.perf_counter() - started)
        store.write_run_log(out, run_id, summary.log_record(summary.outcome, params))
    artifacts.publish_run_artifacts(summary)
    logger.info(summary.one_line())
    if summary.outcome == "failed":
        raise RuntimeError(f"run {run_id}: no input could be processed ({summary.one_line()})")
    return summary.as_dict()


def _known_for(spec: BatchSpec, known: dict) -> dict[str, str]:
    uris = set(spec.sources)
    return {f"{uri}\x1f{member or ''}": sha for (uri, member), sha in known.items() if uri in uris}


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
