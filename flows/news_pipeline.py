"""The Prefect flow: fetch -> clean -> segment -> annotate -> write, per batch of input files.

Each stage is a plain function in ``tasks/``; here each becomes a Prefect task
that reads and writes the batch's staging directory, so only small specs and
counts travel between tasks (Prefect hashes task inputs; big frames would not
do). Batches run in parallel worker processes (``ProcessPoolTaskRunner``) or on
a Dask cluster; commits happen one at a time, in batch order, in the flow.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
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

STAGES = ("fetch", "clean", "segment", "annotate", "write")


class BatchSpec(BaseModel):
    """What a batch task needs: small and picklable."""

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
    stats.setdefault("seconds", {})[stage] = round(time.perf_counter() - started, 4)
    return stats


def _path(spec: BatchSpec, name: str) -> str:
    return str(Path(spec.stage_dir) / f"{name}.arrow")


@task(name="fetch", retry_condition_fn=_transient, **_RETRY, **_TASK)
def fetch_stage(spec: BatchSpec, known: dict[str, str]) -> dict:
    """Read the batch's inputs into ``files.arrow`` and ``records.arrow``."""
    t0 = time.perf_counter()
    Path(spec.stage_dir).mkdir(parents=True, exist_ok=True)
    manifest = {tuple(k.split("\x1f", 1)): v for k, v in known.items()}
    manifest = {(k[0], k[1] or None): v for k, v in manifest.items()}
    result = fetch.fetch_batch(
        [fetch.Source(u) for u in spec.sources],
        spec.params.fetch,
        known=manifest,
        quarantine_dir=str(Path(spec.out) / "_quarantine" / spec.run_id),
    )
    write.save_stage(result.files, _path(spec, "files"))
    write.save_stage(result.records, _path(spec, "records"))
    return _timed({"spec": spec, "records": result.records.num_rows}, "fetch", t0)


@task(name="clean", **_TASK)
def clean_stage(prev: dict) -> dict:
    """Clean records into ``articles.arrow``; count articles left out by reason."""
    t0 = time.perf_counter()
    spec: BatchSpec = prev["spec"]
    result = clean.clean_batch(write.load_stage(_path(spec, "records")), spec.params.clean)
    write.save_stage(result.articles, _path(spec, "articles"))
    prev["rejected"] = {fid: dict(c) for fid, c in result.rejected.items()}
    return _timed(prev, "clean", t0)


@task(name="segment", **_TASK)
def segment_stage(prev: dict) -> dict:
    """Split articles into ``sentences.arrow`` and base ``tokens.arrow``."""
    t0 = time.perf_counter()
    spec: BatchSpec = prev["spec"]
    result = segment.segment_batch(write.load_stage(_path(spec, "articles")))
    write.save_stage(result.sentences, _path(spec, "sentences"))
    write.save_stage(result.tokens, _path(spec, "tokens"))
    return _timed(prev, "segment", t0)


@task(name="annotate", **_TASK)
def annotate_stage(prev: dict) -> dict:
    """Morphology, entities, dialect and dedup signatures for the batch."""
    t0 = time.perf_counter()
    spec: BatchSpec = prev["spec"]
    articles = write.load_stage(_path(spec, "articles"))
    sentences = write.load_stage(_path(spec, "sentences"))
    tokens = write.load_stage(_path(spec, "tokens"))
    result = annotate.annotate_batch(articles, tokens, spec.params.annotate)
    n_sent = Counter(sentences.column("article_id").to_pylist())
    arts = result.articles
    counts = [n_sent.get(a, 0) for a in arts.column("article_id").to_pylist()]
    arts = annotate.set_column(arts, "n_sentences", pa.array(counts, pa.int32()))
    write.save_stage(arts, _path(spec, "articles"))
    write.save_stage(result.tokens, _path(spec, "tokens"))
    write.save_stage(result.entities, _path(spec, "entities"))
    if spec.params.dedup.enabled:
        sig = dedup.signatures_for_articles(arts, spec.params.dedup)
        write.save_stage(sig, _path(spec, "signatures"))
    prev.update(
        morph_source=result.morph_source,
        ner_method=result.ner_method,
        dialect_method=result.dialect_method,
        oov=int(pc.sum(result.tokens.column("is_oov")).as_py() or 0)
        if result.tokens.num_rows
        else 0,
        arabic_tokens=int(pc.sum(result.tokens.column("is_arabic")).as_py() or 0)
        if result.tokens.num_rows
        else 0,
    )
    return _timed(prev, "annotate", t0)


def _finish_files(spec: BatchSpec, files: pa.Table, articles: pa.Table, rejected: dict) -> pa.Table:
    """Fill n_articles, n_rejected, run and batch ids.

    A file whose every article was left out is itself quarantined.
    """
    kept = Counter(articles.column("file_id").to_pylist())
    rows = files.to_pylist()
    now = time.time()
    for row in rows:
        fid = row["file_id"]
        rej = rejected.get(fid, {})
        row["n_articles"] = kept.get(fid, 0)
        row["n_rejected"] = (row.get("n_rejected") or 0) + sum(rej.values())
        row["run_id"], row["batch_id"] = spec.run_id, spec.batch_id
        row["processed_at"] = now
        if row["status"] == "ok" and row["n_articles"] == 0:
            # every article of the file was unusable: the file itself is bad data
            reason = max(rej, key=rej.get) if rej else Reason.NO_ARTICLES.value
            what = ", ".join(f"{n} {r}" for r, n in sorted(rej.items())) or "no article records"
            row["status"], row["reason"] = "quarantined", reason
            where = row["source_uri"] + (f" member {row['member']!r}" if row["member"] else "")
            row["message"] = f"{where}: no usable article ({what})"
            _quarantine_late(spec, row)
    table = pa.Table.from_pylist(rows)
    from datetime import UTC, datetime

    stamps = pa.array([datetime.fromtimestamp(now, UTC)] * len(rows), pa.timestamp("us", tz="UTC"))
    return table.set_column(table.column_names.index("processed_at"), "processed_at", stamps)


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


@task(name="write", **_TASK)
def write_stage(prev: dict) -> dict:
    """Write the batch's Parquet files into staging, ready for an atomic commit."""
    t0 = time.perf_counter()
    spec: BatchSpec = prev["spec"]
    articles = write.load_stage(_path(spec, "articles"))
    files = _finish_files(
        spec, write.load_stage(_path(spec, "files")), articles, prev.get("rejected", {})
    )
    tables = {"files": files}
    for name in ("articles", "sentences", "tokens", "entities"):
        if name == "articles":
            tables[name] = articles.append_column(
                "run_id", pa.array([spec.run_id] * articles.num_rows)
            )
        else:
            tables[name] = write.load_stage(_path(spec, name))
    write.write_batch(
        {k: v for k, v in tables.items() if k != "articles"}, spec.stage_dir, spec.params.write
    )
    write.save_stage(tables["articles"], _path(spec, "articles"))
    prev.update(_batch_counts(files, tables))
    return _timed(prev, "write", t0)


def _batch_counts(files: pa.Table, tables: dict[str, pa.Table]) -> dict:
    status = Counter(files.column("status").to_pylist())
    reasons = Counter(
        f"{s}:{r}"
        for s, r in zip(
            files.column("status").to_pylist(), files.column("reason").to_pylist(), strict=True
        )
        if r and s != "ok"
    )
    ents = tables["entities"]
    top = Counter(
        zip(
            ents.column("text").to_pylist(),
            ents.column("label").cast(pa.string()).to_pylist(),
            strict=True,
        )
    )
    return {
        "files": len(files),
        "status": dict(status),
        "reasons": dict(reasons),
        "file_rows": [
            {
                k: r[k]
                for k in (
                    "source_uri",
                    "member",
                    "format",
                    "encoding",
                    "status",
                    "reason",
                    "n_articles",
                    "message",
                )
            }
            for r in files.to_pylist()
        ],
        "articles": tables["articles"].num_rows,
        "sentences": tables["sentences"].num_rows,
        "tokens": tables["tokens"].num_rows,
        "entities": ents.num_rows,
        "entity_labels": dict(Counter(ents.column("label").cast(pa.string()).to_pylist())),
        "top_entities": [[t, lab, n] for (t, lab), n in top.most_common(50)],
        "processed_file_ids": [
            r["file_id"] for r in files.to_pylist() if r["status"] in ("ok", "quarantined")
        ],
    }


@task(name="commit", **_TASK)
def commit_stage(prev: dict, replace: list[str]) -> dict:
    """Assign duplicates against the dataset's index and publish the batch atomically."""
    t0 = time.perf_counter()
    spec: BatchSpec = prev["spec"]
    articles = write.load_stage(_path(spec, "articles"))
    dup_stats: dict[str, Any] = {}
    if spec.params.dedup.enabled and articles.num_rows:
        index = dedup.DedupIndex.load(spec.out, spec.params.dedup)
        assigned = index.assign(articles, write.load_stage(_path(spec, "signatures")))
        articles = _merge_dedup(articles, assigned)
        index.save(spec.batch_id)
        dup_stats = {
            "exact_duplicates": int(pc.sum(pc.is_valid(articles.column("duplicate_of"))).as_py()),
            "near_duplicates": int(
                pc.sum(pc.is_valid(articles.column("near_duplicate_of"))).as_py()
            ),
        }
        if spec.params.dedup.drop_duplicates:
            _drop_duplicate_rows(spec, articles)
    write.write_batch({"articles": articles}, spec.stage_dir, spec.params.write)
    write.commit_batch(spec.out, spec.stage_dir, spec.batch_id, replace, spec.params.write)
    prev.update(dup_stats)
    return _timed(prev, "commit", t0)


def _merge_dedup(articles: pa.Table, assigned: pa.Table) -> pa.Table:
    by_id = {r["article_id"]: r for r in assigned.to_pylist()}
    ids = articles.column("article_id").to_pylist()
    for name in ("duplicate_of", "near_duplicate_of", "story_id"):
        values = pa.array([by_id.get(a, {}).get(name) for a in ids], pa.string())
        if name in articles.column_names:
            articles = articles.set_column(articles.column_names.index(name), name, values)
        else:
            articles = articles.append_column(name, values)
    return articles


def _drop_duplicate_rows(spec: BatchSpec, articles: pa.Table) -> None:
    dup = pc.or_(
        pc.is_valid(articles.column("duplicate_of")),
        pc.is_valid(articles.column("near_duplicate_of")),
    )
    drop = pc.filter(articles.column("article_id"), dup)
    if not len(drop):
        return
    import pyarrow.parquet as pq

    for name in ("sentences", "tokens", "entities"):
        path = Path(spec.stage_dir) / "parquet" / f"{name}.parquet"
        table = pq.read_table(path)
        keep = pc.invert(pc.is_in(table.column("article_id"), drop))
        write.write_parquet(table.filter(keep), name, path, spec.params.write)


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

    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def _warm_worker(morphology: str) -> None:
    """Load the morphology once when a worker process starts, before its first batch."""
    from flows.runtime import prepare_environment

    prepare_environment()
    if morphology != "none":
        from tasks.morphology import load_morphology

        load_morphology(morphology)


def plan_batches(sources: list[fetch.Source], batch_size: int) -> list[list[str]]:
    """Split sources into batches of ``batch_size`` in discovery order."""
    uris = [s.uri for s in sources]
    return [uris[i : i + batch_size] for i in range(0, len(uris), batch_size)]


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
    with write.acquire_lock(out, run_id):
        recovered = write.recover(out)
        if any(recovered.values()):
            logger.info("recovered staging of an earlier run: %s", recovered)
        known = {} if params.full_refresh else write.load_manifest(out)
        had_rows = write.known_file_ids(out)
        batches = plan_batches(sources, params.batch_size)
        logger.info(
            "run %s: %d inputs in %d batches -> %s", run_id, len(sources), len(batches), out
        )
        write.write_run_log(out, run_id, summary.log_record("running", params))
        progress = artifacts.start_progress(run_id, len(batches))
        known_flat = {f"{k[0]}\x1f{k[1] or ''}": v for k, v in known.items()}
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
        with _task_runner(params) as runner:
            futures = [_submit_chain(runner, spec, known_flat) for spec in specs]
            for i, fut in enumerate(futures):
                stats = fut.result()
                replace = [f for f in stats["processed_file_ids"] if f in had_rows]
                stats = commit_stage(stats, replace)
                summary.add_batch(stats)
                artifacts.update_progress(progress, i + 1, len(batches))
                _on_batch(stats, i + 1, len(batches))
        write.remove_run_staging(out, run_id)
        summary.finish(time.perf_counter() - started)
        write.write_run_log(out, run_id, summary.log_record(summary.outcome, params))
    artifacts.publish_run_artifacts(summary)
    logger.info(summary.one_line())
    if summary.outcome == "failed":
        raise RuntimeError(f"run {run_id}: no input could be processed ({summary.one_line()})")
    return summary.as_dict()


def _submit_chain(runner, spec: BatchSpec, known: dict[str, str]):
    batch_known = {k: v for k, v in known.items() if k.split("\x1f", 1)[0] in set(spec.sources)}
    f = runner.submit(fetch_stage, {"spec": spec, "known": batch_known})
    for stage in (clean_stage, segment_stage, annotate_stage, write_stage):
        f = runner.submit(stage, {"prev": f})
    return f


# The CLI sets this to drive its progress bar; None in deployments.
BATCH_CALLBACK: Callable[[dict, int, int], None] | None = None


def _on_batch(stats: dict, done: int, total: int) -> None:
    if BATCH_CALLBACK is not None:
        BATCH_CALLBACK(stats, done, total)
