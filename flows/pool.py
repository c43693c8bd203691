"""Where a run's chunks are computed: how many worker processes, and how they start.

The workers fork from one process that loaded the annotators first (Python's
``forkserver`` start method, preloading ``flows.preload``), so the pages of the
morphology DB, the taggers and the imports are shared by all of them instead of
being loaded once per worker (issue 21: measured as PSS). The workers import no
Prefect: the chunk's Prefect task run lives in a thread of the flow process, which
hands the chunk to this pool and waits for it.

A run with fewer chunks than cores gets fewer workers, and one chunk's worth of input
gets none: its chunks run in the flow process (``choose_workers``).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from tasks.config import AnnotateConfig

T = TypeVar("T")

# About the input bytes of one chunk (250 articles: ~750 KB of text, ~200 KB zipped).
# Counted on the bytes as stored, so an archive looks smaller than its chunks are: the
# estimate errs towards fewer workers only for tiny inputs, which is what it is for.
CHUNK_BYTES = 250_000
PRELOAD_ENV = "AKHBAR_PRELOAD_ANNOTATE"
# Chunks a worker annotates before a fresh fork of the server replaces it (None: never).
# A process keeps ~250 MB after its first chunk (per-type caches, allocator arenas), so
# one chunk per fork cut the two-day peak PSS from ~1.8 to 1.4 GB, but the fresh workers
# redo their per-type work: one day took 67.7 s instead of 28.3 s (issue 21).
CHUNKS_PER_WORKER: int | None = None


def cpu_count() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def choose_workers(requested: int, cpus: int, pending_bytes: int | None) -> int:
    """Worker processes for a run: 1 means the chunks run in the flow process.

    Args:
        requested: ``--workers``; a positive number is taken as given, 0 means choose.
        cpus: Cores available.
        pending_bytes: Bytes of the inputs that are new or changed, None when unknown
            (a URL): then one worker per core.

    Returns:
        ``requested`` if positive; else one per core, but no more than the input's
        estimated chunks (``CHUNK_BYTES`` each), and at least 1. A worker costs a
        process start and a share of memory; one that would get no chunk is not started.
    """
    if requested > 0:
        return requested
    cpus = max(cpus, 1)
    if pending_bytes is None:
        return cpus
    return max(1, min(cpus, math.ceil(pending_bytes / CHUNK_BYTES)))


def local_bytes(uris: list[str]) -> int | None:
    """Summed size of local files ``uris``; None when one is a URL (size unknown)."""
    total = 0
    for uri in uris:
        if "://" in uri and not uri.startswith("file://"):
            return None
        try:
            total += os.path.getsize(uri.removeprefix("file://"))
        except OSError:
            continue  # unreadable: fetch records it as failed, it makes no chunk
    return total


def run_workers(requested: int, pending: list[str], dask: bool = False) -> int:
    """Worker processes a run starts for ``pending`` inputs: 0 for none (no pool).

    None on Dask (its workers do the chunks), and none when one process would do them all.
    """
    if dask:
        return 0
    workers = choose_workers(requested, cpu_count(), local_bytes(pending))
    return workers if workers > 1 else 0


def start_fork_server(annotate: AnnotateConfig):
    """Start the workers' fork server, which loads the annotators; return its context.

    It runs in a process of its own, so the CLI calls this before it starts Prefect
    (issue 21): the models load while the Prefect server starts and the flow run is
    created, instead of after. Does nothing when the server is running already.
    """
    from multiprocessing import forkserver

    ctx = multiprocessing.get_context("forkserver")
    # The fork server reads what to load from its environment when it starts.
    os.environ[PRELOAD_ENV] = json.dumps(annotate.model_dump(mode="json"))
    ctx.set_forkserver_preload(["flows.preload"])
    try:
        forkserver.ensure_running()  # returns at once: the server preloads on its own
    finally:
        os.environ.pop(PRELOAD_ENV, None)
    return ctx


def stop_fork_server() -> None:
    """Stop a fork server that no pool will use (the flow decided on fewer workers)."""
    import signal
    from multiprocessing import forkserver

    server = forkserver._forkserver
    if server._forkserver_pid is None:
        return
    try:
        os.kill(server._forkserver_pid, signal.SIGTERM)  # it may still be loading models
    except ProcessLookupError:
        pass
    server._stop()


class ChunkPool:
    """``workers`` processes forked from a server that loaded the annotators first."""

    def __init__(self, workers: int, annotate: AnnotateConfig) -> None:
        self.workers = workers
        self._annotate = annotate
        ctx = start_fork_server(annotate)  # a no-op when the CLI started it already
        from flows.stages import load_annotators

        # Each worker checks the annotators are loaded (a no-op when the server loaded
        # them): a server that could not load them fails its chunks with the reason.
        self._executor = ProcessPoolExecutor(
            workers,
            mp_context=ctx,
            initializer=load_annotators,
            initargs=(annotate,),
            max_tasks_per_child=CHUNKS_PER_WORKER,
        )

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """``fn(*args)`` in a worker, as a future."""
        return self._executor.submit(fn, *args)

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker; blocks until it returns (or raises its exception)."""
        return self.submit(fn, *args).result()

    def close(self) -> None:
        """Stop the workers (their memory is returned before the run's last commit)."""
        self._executor.shutdown(wait=True, cancel_futures=True)


class _Current:
    """The pool of the flow running in this process, if any (none in Dask workers)."""

    def __init__(self) -> None:
        self.pool: ChunkPool | None = None

    def __reduce__(self):
        return (_Current, ())


CURRENT = _Current()


def in_pool(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in the current run's worker pool, or here when it has none."""
    pool = CURRENT.pool
    return fn(*args) if pool is None else pool.run(fn, *args)
