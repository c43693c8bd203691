"""The Prefect flow: fetch -> clean -> segment -> annotate -> write, per batch of input files.

Each stage is a plain function in ``tasks/``; here each becomes a Prefect task
that reads and writes the batch's staging directory, so only small specs and
counts travel between tasks (Prefect hashes task inputs; big frames would not
do). A batch is a group of input files: fetched together and committed together.
Its records are split into chunks (a single JSON dump may hold thousands of
articles) and each chunk runs clean -> segment -> annotate -> write in a worker
process (``ProcessPoolTaskRunner``) or on a Dask cluster. Commits happen one at
a time, in batch order, in the flow process, which owns the dataset.
"""


import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
from pydantic import BaseModel

from flows import artifacts
from tasks import annotate, clean, dedup, fetch, segment, write
from tasks.config import PipelineParams
from tasks.errors import Reason, TransientError

STAGES = ("fetch", "clean", "segment", "annotate", "write", "commit")
CONTENT = ("sentences", "tokens", "entities")


class BatchSpec(BaseModel):
    """What a batch's tasks need: small and picklable."""

    run_id: str
    batch_id: str
    seq: int
    out: str
    stage_dir: str
    sources: list[str]
    params: PipelineParams


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


def _path(spec: BatchSpec, name: str, chunk: int | None = None) -> str:
    prefix = "" if chunk is None else f"c{chunk:04d}-"
    return str(Path(spec.stage_dir) / f"{prefix}{name}.arrow")


def _part(spec: BatchSpec, chunk: int) -> str:
    return f"{spec.batch_id}-{chunk:04d}"


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
    try:
        result = fetch.fetch_batch(sources, spec.params.fetch, known=manifest, quarantine_dir=qdir)
    except (OSError, TimeoutError, ConnectionError, TransientError):
        raise  # transient: Prefect retries the task
    except Exception:  # noqa: BLE001 - one input crashed fetch (a bug): isolate it (issue 5)
        result = _fetch_one_by_one(sources, spec, manifest, qdir)
    write.save_stage(result.files, _path(spec, "files"))
    size = spec.params.chunk_size
    records = result.records
    chunks = []
    for k, start in enumerate(range(0, records.num_rows, size)):
        part = records.slice(start, size)
        write.save_stage(part, _path(spec, "records", k))
        chunks.append(sorted(set(part.column("file_id").to_pylist())))
    stats = {"spec": spec, "records": records.num_rows, "chunk_files": chunks}
    return _timed(stats, "fetch", t0)


def _fetch_one_by_one(
    sources: list[fetch.Source], spec: BatchSpec, manifest: dict, qdir: str
) -> fetch.FetchResult:
    """Fetch each source alone; one that crashes fetch becomes a failed files row."""
    empty = fetch.fetch_batch([], spec.params.fetch)
    files, records = [empty.files], [empty.records]
    for src in sources:
        try:
            one = fetch.fetch_batch([src], spec.params.fetch, known=manifest, quarantine_dir=qdir)
        except Exception as exc:  # noqa: BLE001 - e.g. RecursionError on deeply nested JSON
            row = {
                "file_id": fetch.file_id_for(src.uri, None),
                "source_uri": src.uri,
                "status": "failed",
                "reason": Reason.PROCESSING_ERROR.value,
                "message": f"{src.uri}: fetch crashed: {type(exc).__name__}: {exc}"[:500],
            }
            files.append(pa.Table.from_pylist([row], schema=empty.files.schema))
            continue
        files.append(one.files)
        records.append(one.records)
    return fetch.FetchResult(pa.concat_tables(files), pa.concat_tables(records))


@task(name="clean", **_TASK)
def clean_stage(spec: BatchSpec, chunk: int) -> dict:
    """Clean a chunk's records into articles; count articles left out by reason."""
    t0 = time.perf_counter()
    result = clean.clean_batch(write.load_stage(_path(spec, "records", chunk)), spec.params.clean)
    write.save_stage(result.articles, _path(spec, "articles", chunk))
    rejected = {fid: dict(c) for fid, c in result.rejected.items()}
    return _timed({"spec": spec, "chunk": chunk, "rejected": rejected}, "clean", t0)


@task(name="segment", **_TASK)
def segment_stage(prev: dict) -> dict:
    """Split a chunk's articles into sentences and base tokens."""
    t0 = time.perf_counter()
    spec, chunk = prev["spec"], prev["chunk"]
    result = segment.segment_batch(write.load_stage(_path(spec, "articles", chunk)))
    write.save_stage(result.sentences, _path(spec, "sentences", chunk))
    write.save_stage(result.tokens, _path(spec, "tokens", chunk))
    return _timed(prev, "segment", t0)


@task(name="annotate", **_TASK)
def annotate_stage(prev: dict) -> dict:
    """Morphology, entities, dialect and dedup signatures for a chunk."""
    t0 = time.perf_counter()
    spec, chunk = prev["spec"], prev["chunk"]
    articles = write.load_stage(_path(spec, "articles", chunk))
    sentences = write.load_stage(_path(spec, "sentences", chunk))
    tokens = write.load_stage(_path(spec, "tokens", chunk))
    result = annotate.annotate_batch(articles, tokens, spec.params.annotate)
    n_sent = Counter(sentences.column("article_id").to_pylist())
    arts = result.articles
    counts = [n_sent.get(a, 0) for a in arts.column("article_id").to_pylist()]
    arts = annotate.set_column(arts, "n_sentences", pa.array(counts, pa.int32()))
    arts = annotate.set_column(arts, "run_id", pa.array([spec.run_id] * arts.num_rows, pa.string()))
    write.save_stage(arts, _path(spec, "articles", chunk))
    write.save_stage(result.tokens, _path(spec, "tokens", chunk))
    write.save_stage(result.entities, _path(spec, "entities", chunk))
    if spec.params.dedup.enabled:
        sig = dedup.signatures_for_articles(arts, spec.params.dedup)
        write.save_stage(sig, _path(spec, "signatures", chunk))
    toks = result.tokens
    prev.update(
        morph_source=result.morph_source,
        ner_method=result.ner_method,
        dialect_method=result.dialect_method,
        oov=int(pc.sum(toks.column("is_oov")).as_py() or 0) if toks.num_rows else 0,
        arabic_tokens=int(pc.sum(toks.column("is_arabic")).as_py() or 0) if toks.num_rows else 0,
    )
    return _timed(prev, "annotate", t0)


@task(name="write", **_TASK)
def write_stage(prev: dict) -> dict:
    """Write a chunk's sentences, tokens and entities as Parquet into staging."""
    t0 = time.perf_counter()
    spec, chunk = prev["spec"], prev["chunk"]
    tables = {name: write.load_stage(_path(spec, name, chunk)) for name in CONTENT}
    write.write_batch(tables, spec.stage_dir, _part(spec, chunk), spec.params.write)
    ents = tables["entities"]
    labels = ents.column("label").cast(pa.string()).to_pylist()
    top = Counter(zip(ents.column("text").to_pylist(), labels, strict=True))
    prev.update(
        sentences=tables["sentences"].num_rows,
        tokens=tables["tokens"].num_rows,
        entities=ents.num_rows,
        entity_labels=dict(Counter(labels)),
        top_entities=[[t, lab, n] for (t, lab), n in top.most_common(50)],
    )
    return _timed(prev, "write", t0)


def _finish_files(
    spec: BatchSpec, files: pa.Table, kept: Counter, rejected: dict, broken: dict[str, str]
) -> pa.Table:
    """Fill n_articles, n_rejected, run and batch ids.

    A file whose every article was left out is itself quarantined; a file whose
    chunk crashed is marked failed with the error, so no input is ever dropped.
    """
    rows = files.to_pylist()
    for row in rows:
        fid = row["file_id"]
        rej = rejected.get(fid, {})
        row["n_articles"] = kept.get(fid, 0)
        row["n_rejected"] = (row.get("n_rejected") or 0) + sum(rej.values())
        row["run_id"], row["batch_id"] = spec.run_id, spec.batch_id
        where = row["source_uri"] + (f" member {row['member']!r}" if row["member"] else "")
        if fid in broken:
            row["status"], row["reason"] = "failed", Reason.PROCESSING_ERROR.value
            row["message"] = f"{where}: processing failed: {broken[fid]}"
            row["n_articles"] = 0
        elif row["status"] == "ok" and row["n_articles"] == 0:
            # every article of the file was unusable: the file itself is bad data
            reason = max(rej, key=rej.get) if rej else Reason.NO_ARTICLES.value
            what = ", ".join(f"{n} {r}" for r, n in sorted(rej.items())) or "no article records"
            row["status"], row["reason"] = "quarantined", reason
            row["message"] = f"{where}: no usable article ({what})"
            _quarantine_late(spec, row)
    now = datetime.now(UTC)
    for row in rows:
        row["processed_at"] = now
    return pa.Table.from_pylist(rows)


def _quarantine_late(spec: BatchSpec, row: dict) -> None:
    try:
        data = fetch.read_input(row["source_uri"], row["member"], spec.params.fetch)
    except OSError:
        data = b""
    fetch.write_quarantine(
        str(Path(spec.out) / "_quarantine" / spec.run_id),
        row["source_uri"],
        row["member"],
        data,
        row["file_id"],
        row["reason"],
        row["message"],
    )


@task(name="commit", **_TASK)
def commit_stage(fetched: dict, chunks: list[dict | BaseException], had_rows: list[str]) -> dict:
    """Finish the batch's files rows, assign duplicates, and publish the batch atomically."""
    t0 = time.perf_counter()
    spec: BatchSpec = fetched["spec"]
    params = spec.params
    stats: dict[str, Any] = {"seconds": dict(fetched.get("seconds", {}))}
    broken: dict[str, str] = {}
    good: list[dict] = []
    for k, res in enumerate(chunks):
        if isinstance(res, BaseException):
            for fid in fetched["chunk_files"][k]:
                broken[fid] = f"{type(res).__name__}: {res}"
        else:
            good.append(res)
    rejected: dict[str, Counter] = {}
    for res in good:
        for fid, counts in res.get("rejected", {}).items():
            rejected.setdefault(fid, Counter()).update(counts)
        for stage, sec in res.get("seconds", {}).items():
            stats["seconds"][stage] = stats["seconds"].get(stage, 0.0) + sec
    parts = [
        (res["chunk"], write.load_stage(_path(spec, "articles", res["chunk"]))) for res in good
    ]
    if broken:  # drop every row of a file that had a chunk crash (no half files)
        parts = [(k, _without_files(spec, k, t, broken)) for k, t in parts]
    kept = Counter(fid for _, t in parts for fid in t.column("file_id").to_pylist())
    fetched_files = write.load_stage(_path(spec, "files"))
    files = _finish_files(spec, fetched_files, kept, rejected, broken)
    dup_stats = _assign_duplicates(spec, parts) if params.dedup.enabled else {}
    for k, table in parts:
        write.write_batch({"articles": table}, spec.stage_dir, _part(spec, k), params.write)
    write.write_batch({"files": files}, spec.stage_dir, spec.batch_id, params.write)
    processed = [r["file_id"] for r in files.to_pylist() if r["status"] != "skipped_unchanged"]
    replace = sorted(set(processed) & set(had_rows))
    write.commit_batch(spec.out, spec.stage_dir, spec.batch_id, replace, params.write)
    stats.update(_batch_counts(files, good, parts))
    for row in fetched_files.to_pylist():
        if row.get("n_rejected"):  # records fetch could not use (broken JSON line, wrong types)
            rejected.setdefault(row["file_id"], Counter())[Reason.BAD_RECORD.value] += row[
                "n_rejected"
            ]
    stats["rejected"] = {fid: dict(c) for fid, c in rejected.items()}
    stats.update(dup_stats)
    for name in ("morph_source", "ner_method", "dialect_method"):
        stats[name] = next((r[name] for r in good if r.get(name)), None)
    return _timed(stats, "commit", t0)


def _without_files(spec: BatchSpec, chunk: int, articles: pa.Table, broken: dict) -> pa.Table:
    bad = pc.is_in(articles.column("file_id"), pa.array(sorted(broken)))
    gone = pc.filter(articles.column("article_id"), bad)
    if len(gone):
        _filter_staged(spec, chunk, gone)
    return articles.filter(pc.invert(bad))


def _filter_staged(spec: BatchSpec, chunk: int, article_ids: pa.Array) -> None:
    import pyarrow.parquet as pq

    for name in CONTENT:
        path = Path(spec.stage_dir) / "parquet" / name / f"part-{_part(spec, chunk)}.parquet"
        if path.exists():
            table = pq.read_table(path)
            keep = pc.invert(pc.is_in(table.column("article_id"), article_ids))
            write.write_parquet(table.filter(keep), name, path, spec.params.write)


def _assign_duplicates(spec: BatchSpec, parts: list[tuple[int, pa.Table]]) -> dict:
    """Flag exact and near duplicates against the dataset's persistent index (serial)."""
    if not parts or not sum(t.num_rows for _, t in parts):
        return {}
    config = spec.params.dedup
    index = dedup.DedupIndex.load(spec.out, config)
    articles = pa.concat_tables([t for _, t in parts])
    sigs = pa.concat_tables([write.load_stage(_path(spec, "signatures", k)) for k, _ in parts])
    assigned = {r["article_id"]: r for r in index.assign(articles, sigs).to_pylist()}
    index.save(spec.batch_id)
    exact = near = 0
    for i, (k, table) in enumerate(parts):
        ids = table.column("article_id").to_pylist()
        for name in ("duplicate_of", "near_duplicate_of", "story_id"):
            values = pa.array([assigned[a][name] for a in ids], pa.string())
            table = annotate.set_column(table, name, values)
        exact += int(pc.sum(pc.is_valid(table.column("duplicate_of"))).as_py() or 0)
        near += int(pc.sum(pc.is_valid(table.column("near_duplicate_of"))).as_py() or 0)
        if config.drop_duplicates:
            dup = pc.or_(
                pc.is_valid(table.column("duplicate_of")),
                pc.is_valid(table.column("near_duplicate_of")),
            )
            _filter_staged(spec, k, pc.filter(table.column("article_id"), dup))
        parts[i] = (k, table)
    return {"exact_duplicates": exact, "near_duplicates": near}


def _batch_counts(files: pa.Table, chunks: list[dict], parts: list[tuple[int, pa.Table]]) -> dict:
    rows = files.to_pylist()
    top: Counter = Counter()
    labels: Counter = Counter()
    for res in chunks:
        labels.update(res.get("entity_labels", {}))
        for text, label, n in res.get("top_entities", []):
            top[(text, label)] += n
    keys = ("source_uri", "member", "format", "encoding", "status", "reason", "n_articles")
    return {
        "files": len(rows),
        "status": dict(Counter(r["status"] for r in rows)),
        "reasons": dict(
            Counter(
                f"{r['status']}:{r['reason']}"
                for r in rows
                if r["reason"] and r["status"] in ("quarantined", "failed")
            )
        ),
        "file_rows": [{k: r[k] for k in (*keys, "message")} for r in rows],
        "articles": sum(t.num_rows for _, t in parts),
        "sentences": sum(r.get("sentences", 0) for r in chunks),
        "tokens": sum(r.get("tokens", 0) for r in chunks),
        "entities": sum(r.get("entities", 0) for r in chunks),
        "oov": sum(r.get("oov", 0) for r in chunks),
        "arabic_tokens": sum(r.get("arabic_tokens", 0) for r in chunks),
        "entity_labels": dict(labels),
        "top_entities": [[t, lab, n] for (t, lab), n in top.most_common(50)],
    }


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
    import os

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
    import os

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
        f = runner.submit(clean_stage, {"spec": spec, "chunk": k})
        for stage in (segment_stage, annotate_stage, write_stage):
            f = runner.submit(stage, {"prev": f})
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
    logger = get_run_logger()
    started = time.perf_counter()
    run_id = write.new_run_id()
    out = str(write.check_output_dir(params.out))
    sources = fetch.discover_sources(params.inputs, params.fetch)
    summary = artifacts.RunSummary(run_id=run_id, out=out, inputs=params.inputs)
    with write.acquire_lock(out, run_id) as lock:
        if lock.replaced:
            logger.warning("replaced the stale lock of a dead run: %s", lock.replaced)
        recovered = write.recover(out)
        if any(recovered.values()):
            logger.info("recovered staging of an earlier run: %s", recovered)
        known = {} if params.full_refresh else write.load_manifest(out)
        had_rows = sorted(write.known_file_ids(out))
        batches = plan_batches(sources, params.batch_size)
        logger.info(
            "run %s: %d inputs in %d batches -> %s", run_id, len(sources), len(batches), out
        )
        write.write_run_log(out, run_id, summary.log_record("running", params))
        progress = artifacts.start_progress(run_id, len(batches))
        specs = [
            BatchSpec(
                run_id=run_id,
                batch_id=f"{run_id}-{i:05d}",
                seq=i,
                out=out,
                stage_dir=str(write.staging_dir(out, run_id, f"{run_id}-{i:05d}")),
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
                    running.append((fetched, _submit_chunks(runner, fetched)))
                    continue
                fetched, futures = running.popleft()
                stats = commit_stage(fetched, _results(futures), had_rows)
                summary.add_batch(stats)
                done += 1
                artifacts.update_progress(progress, done, len(batches))
                _on_batch(stats, done, len(batches))
            for f in started_workers:
                f.wait()
        write.remove_run_staging(out, run_id)
        if params.dedup.enabled:
            summary.stories = _story_clusters(out, params)
        summary.finish(time.perf_counter() - started)
        write.write_run_log(out, run_id, summary.log_record(summary.outcome, params))
    artifacts.publish_run_artifacts(summary)
    logger.info(summary.one_line())
    if summary.outcome == "failed":
        raise RuntimeError(f"run {run_id}: no input could be processed ({summary.one_line()})")
    return summary.as_dict()


def _story_clusters(out: str, params: PipelineParams) -> dict:
    """Largest near-duplicate story clusters of the whole dataset, for the run summary."""
    cols = ["article_id", "duplicate_of", "near_duplicate_of", "story_id", "title", "source_name"]
    found = dedup.summarize_duplicates(
        write.read_table(out, "articles", cols), dedup.DedupIndex.load(out, params.dedup)
    )
    return {
        "n_stories": found.n_stories,
        "n_in_stories": found.n_in_stories,
        "largest": found.largest,
    }


def _known_for(spec: BatchSpec, known: dict) -> dict[str, str]:
    uris = set(spec.sources)
    return {f"{uri}\x1f{member or ''}": sha for (uri, member), sha in known.items() if uri in uris}


# The CLI sets this to drive its progress bar; None in deployments.
BATCH_CALLBACK: Callable[[dict, int, int], None] | None = None


def _on_batch(stats: dict, done: int, total: int) -> None:
    if BATCH_CALLBACK is not None:
        BATCH_CALLBACK(stats, done, total)
