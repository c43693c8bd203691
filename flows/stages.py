"""The bodies of the flow's tasks, as plain functions that import no Prefect.

``flows/news_pipeline.py`` wraps them as Prefect tasks. Without Prefect they run in
the chunk pool's worker processes (``flows/pool.py``: no Prefect import there, so each
worker is lighter), in a run where every input is unchanged (``flows/run.py``) and in
``bench/throughput.py``'s direct mode (issue 21).

Each stage reads and writes the batch's staging directory, so only small specs and
counts travel between them. A chunk runs clean -> segment -> annotate -> write; each
stage adds its seconds to ``stats["seconds"]``.
"""

from __future__ import annotations

import time
from pathlib import Path

from tasks import accounting, annotate, clean, dedup, fetch, segment, store, write
from tasks.config import AnnotateConfig
from tasks.errors import TransientError
from tasks.store import BatchSpec

CONTENT = ("sentences", "tokens", "entities")


def timed(stats: dict, stage: str, started: float) -> dict:
    """Add the seconds since ``started`` to ``stats["seconds"][stage]``."""
    seconds = stats.setdefault("seconds", {})
    seconds[stage] = seconds.get(stage, 0.0) + round(time.perf_counter() - started, 4)
    return stats


def fetch_stage(spec: BatchSpec, known: dict[str, str]) -> dict:
    """Read the batch's inputs into ``files.arrow`` and record chunks ``cNNNN-records.arrow``.

    ``known`` maps ``"<uri>\\x1f<member>"`` to the sha256 the dataset holds for it.
    """
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
    return timed(stats, "fetch", t0)


def clean_stage(spec: BatchSpec, chunk: int) -> dict:
    """Clean a chunk's records into articles; count articles left out by reason."""
    t0 = time.perf_counter()
    result = clean.clean_batch(store.load_stage(spec.path("records", chunk)), spec.params.clean)
    store.save_stage(result.articles, spec.path("articles", chunk))
    rejected = {fid: dict(c) for fid, c in result.rejected.items()}
    stats = {"spec": spec, "chunk": chunk, "rejected": rejected}
    return timed({**stats, "articles": result.articles.num_rows}, "clean", t0)


def segment_stage(prev: dict) -> dict:
    """Split a chunk's articles into sentences and base tokens."""
    t0 = time.perf_counter()
    spec, chunk = prev["spec"], prev["chunk"]
    result = segment.segment_batch(store.load_stage(spec.path("articles", chunk)))
    store.save_stage(result.sentences, spec.path("sentences", chunk))
    store.save_stage(result.tokens, spec.path("tokens", chunk))
    return timed(prev, "segment", t0)


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
    return timed(prev, "annotate", t0)


def write_stage(prev: dict) -> dict:
    """Write a chunk's sentences, tokens and entities as Parquet into staging."""
    t0 = time.perf_counter()
    spec, chunk = prev["spec"], prev["chunk"]
    tables = {name: store.load_stage(spec.path(name, chunk)) for name in CONTENT}
    articles = store.load_stage(spec.path("articles", chunk))
    tables = {name: write.with_article_columns(t, articles) for name, t in tables.items()}
    write.write_batch(tables, spec.stage_dir, spec.part(chunk), spec.params.write)
    prev.update(accounting.content_counts(tables))
    return timed(prev, "write", t0)


def run_chunk(spec: BatchSpec, chunk: int) -> dict:
    """clean -> segment -> annotate -> write of one chunk, in order."""
    prev = clean_stage(spec, chunk)
    for stage in (segment_stage, annotate_stage, write_stage):
        prev = stage(prev)
    return prev


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
    return timed(settled.stats, "commit", t0)


def load_annotators(config: AnnotateConfig) -> None:
    """Load what annotating a chunk needs (morphology DB, POS tagger, NER model) now.

    Called where the workers fork from, so the loaded pages are shared among them
    (issue 21), and in a worker that did not get them that way. Each loader is cached
    per process, so annotating later finds them loaded; nothing is annotated here.
    """
    from flows.runtime import prepare_environment

    prepare_environment()
    if config.morphology != "none":
        from tasks.morphology import load_morphology

        morphology = load_morphology(config.morphology)
        if morphology is not None and morphology.source == "bama":
            from tasks.morphology.pos_infer import load_tagger

            load_tagger()
    if config.ner != "none":
        from tasks.entities import resolve_ner_method
        from tasks.entities.gazetteers import load_gazetteers

        load_gazetteers()

        method = resolve_ner_method(config.ner)
        if method not in ("rules", "camelbert"):
            from tasks.entities.ner_infer import load_model

            load_model(None if method == "model" else method)
