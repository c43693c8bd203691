"""Annotate stage: normalized forms, morphology, named entities and dialect.

Token-level string work (norm, dediac, translit, is_arabic) is done once per
distinct word type of the batch and broadcast back with Arrow ``take``; the
morphology (``tasks/morphology/``) caches analyses per type per process.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasks.clean import normalize_ar
from tasks.config import AnnotateConfig
from tasks.errors import ConfigError, SchemaError
from tasks.schemas import ARTICLE_COLUMNS, ENTITIES, TOKENS, conform

_ARABIC = re.compile(r"[\u0621-\u064a\u0671-\u06d3\u06fa-\u06ff]")
MORPH_COLUMNS = ("lemma", "pos", "upos", "diac", "gloss", "bw", "d3tok", "is_oov", "analysis_count")


@dataclass
class AnnotateResult:
    """Fully annotated tokens, entities, and article-level columns."""

    tokens: pa.Table
    entities: pa.Table
    articles: pa.Table
    morph_source: str | None
    ner_method: str | None
    dialect_method: str | None


@lru_cache(maxsize=1)
def _ar2bw():
    from camel_tools.utils.charmap import CharMapper

    return CharMapper.builtin_mapper("ar2bw")


def normalize_types(types: list[str]) -> dict[str, list]:
    """``dediac``, ``norm``, ``translit`` and ``is_arabic`` for each word type."""
    from camel_tools.utils.dediac import dediac_ar as dediac

    norm, ar2bw = normalize_ar, _ar2bw()
    out: dict[str, list] = {"dediac": [], "norm": [], "translit": [], "is_arabic": []}
    for t in types:
        is_ar = _ARABIC.search(t) is not None
        out["dediac"].append(dediac(t) if is_ar else t)
        out["norm"].append(norm(t) if is_ar else t)
        out["translit"].append(ar2bw(t) if is_ar else t)
        out["is_arabic"].append(is_ar)
    return out


def sentence_lists(tokens: pa.Table) -> tuple[list[list[str]], np.ndarray]:
    """Token texts grouped by sentence, and the row where each sentence starts."""
    words = tokens.column("text").to_pylist()
    starts = np.flatnonzero(tokens.column("token_index").to_numpy() == 0)
    bounds = list(starts) + [len(words)]
    return [words[bounds[i] : bounds[i + 1]] for i in range(len(starts))], starts


def annotate_batch(articles: pa.Table, tokens: pa.Table, config: AnnotateConfig) -> AnnotateResult:
    """Annotate the tokens of a batch and find entities and dialect.

    Adds token columns norm, dediac, translit, is_arabic, lemma, pos, upos, diac,
    gloss, bw, d3tok, is_oov, analysis_count, morph_source; builds the
    ``entities`` table; adds ``articles.dialect``/``dialect_method``/``dialect_score``
    and ``n_tokens``.
    """
    for name in ("article_id", "sentence_index", "token_index", "text", "char_start", "char_end"):
        if name not in tokens.column_names:
            raise SchemaError(f"annotate needs tokens column {name!r}; has {tokens.column_names}")
    # A batch allocates millions of short-lived tuples and lists and no reference cycles;
    # with the collector on, each allocation burst triggers collections that re-scan the
    # morphology's growing caches (a fifth of annotate's time). Collection resumes after.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _annotate(articles, tokens, config)
    finally:
        if enabled:
            gc.enable()
        release_free_memory()


@lru_cache(maxsize=1)
def _malloc_trim():
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to call
        return None


def release_free_memory() -> None:
    """Give freed memory back to the system: Arrow's pool, then the C heap.

    A chunk's short-lived tables, lists, tuples and arrays leave tens of MB free but
    held by Arrow's allocator (~35 MB after a chunk) and glibc's heap (~70 MB) of each
    worker (issue 21). It takes a few ms and changes no result.
    """
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _annotate(articles: pa.Table, tokens: pa.Table, config: AnnotateConfig) -> AnnotateResult:
    cols = {name: tokens.column(name) for name in tokens.column_names}
    if tokens.num_rows:
        encoded = pc.dictionary_encode(tokens.column("text")).combine_chunks()
        per_type = normalize_types(encoded.dictionary.to_pylist())
        for name, values in per_type.items():
            cols[name] = pc.take(pa.array(values, type=TOKENS.field(name).type), encoded.indices)

    sentences, starts = sentence_lists(tokens)
    morph_source = None
    morph: dict[str, list] | None = None
    if config.morphology != "none" and tokens.num_rows:
        from tasks.morphology import load_morphology

        morphology = load_morphology(config.morphology)
        morph_source = morphology.source
        morph = morphology.analyze_sentences(sentences, persistent=config.analysis_cache)
        if morphology.source == "bama":
            # The learned tagger (issue 13) picks UPOS and lemma among BAMA's readings; it
            # was trained on BAMA's readings, so calima's MLE choice is left as it is.
            from tasks.morphology.pos_infer import load_tagger

            tagger = load_tagger()
            if tagger is not None:
                morph = tagger.retag(sentences, morphology, morph, config.analysis_cache)
        for name in MORPH_COLUMNS:
            cols[name] = pa.array(morph[name], type=_plain(TOKENS.field(name).type))
        cols["morph_source"] = pa.array([morph_source] * tokens.num_rows, pa.string())
    out_tokens = _conform_tokens(cols, tokens.num_rows)

    entities, ner_method = _entities(articles, tokens, sentences, starts, morph, config)
    out_articles, dialect_method = _article_columns(articles, tokens, config)
    return AnnotateResult(
        out_tokens, entities, out_articles, morph_source, ner_method, dialect_method
    )


def _plain(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_dictionary(t) else t


def _conform_tokens(cols: dict[str, pa.ChunkedArray | pa.Array], n: int) -> pa.Table:
    arrays = []
    for field in TOKENS:
        col = cols.get(field.name)
        arrays.append(pa.nulls(n, field.type) if col is None else col.cast(field.type))
    return pa.Table.from_arrays(
        [a if isinstance(a, pa.ChunkedArray) else pa.chunked_array([a], a.type) for a in arrays],
        schema=TOKENS,
    )


def _entities(articles, tokens, sentences, starts, morph, config: AnnotateConfig):
    if config.ner == "none" or not sentences:
        return ENTITIES.empty_table(), None
    from tasks.entities import recognize_entities, resolve_ner_method
    from tasks.entities.spans import entity_name

    method = resolve_ner_method(config.ner)
    docs = tokens.column("article_id").take(pa.array(starts)).to_pylist()
    spans = recognize_entities(sentences, morph, method, documents=docs,
                               persistent=config.analysis_cache)
    if method not in ("rules", "camelbert"):
        from tasks.entities.ner_infer import model_method

        method = model_method(method)  # crf:<sha256 prefix>, as in entities.method
    texts = dict(
        zip(
            articles.column("article_id").to_pylist(),
            articles.column("text").to_pylist(),
            strict=True,
        )
    )
    cs = tokens.column("char_start").to_numpy()
    ce = tokens.column("char_end").to_numpy()
    firsts = [int(starts[sp.sentence]) + sp.token_start for sp in spans]
    # One take per column instead of a scalar lookup per span.
    index = pa.array(firsts, pa.int64())
    aids = tokens.column("article_id").take(index).to_pylist()
    sidxs = tokens.column("sentence_index").take(index).to_pylist()
    # The article's date and source are added when the chunk is written (tasks.write).
    rows: dict[str, list] = {n: [] for n in ENTITIES.names if n not in ARTICLE_COLUMNS}
    for sp, first, article, sentence_index in zip(spans, firsts, aids, sidxs, strict=True):
        last = int(starts[sp.sentence]) + sp.token_end - 1
        start = int(cs[first]) + sp.skip_chars
        end = int(ce[last]) - sp.trim_chars
        rows["article_id"].append(article)
        rows["sentence_index"].append(sentence_index)
        rows["token_start"].append(sp.token_start)
        rows["token_end"].append(sp.token_end)
        rows["char_start"].append(start)
        rows["char_end"].append(end)
        rows["text"].append(texts[article][start:end])
        rows["name"].append(entity_name(rows["text"][-1]))
        rows["label"].append(sp.label)
        rows["method"].append(sp.method)
        rows["score"].append(sp.score)
    table = pa.table({n: pa.array(v, type=_plain(ENTITIES.field(n).type)) for n, v in rows.items()})
    return conform(table, ENTITIES), method


def _article_columns(articles: pa.Table, tokens: pa.Table, config: AnnotateConfig):
    ids = articles.column("article_id")
    if tokens.num_rows:
        counts = pc.value_counts(tokens.column("article_id")).to_pylist()
        n_by_id = {c["values"]: c["counts"] for c in counts}
    else:
        n_by_id = {}
    n_tokens = pa.array([n_by_id.get(a, 0) for a in ids.to_pylist()], pa.int32())
    articles = set_column(articles, "n_tokens", n_tokens)
    if config.dialect == "none" or not articles.num_rows:
        return articles, None
    from tasks.dialect import identify_dialects, resolve_dialect_method

    method = resolve_dialect_method(config.dialect)
    labels = identify_dialects(articles.column("text").to_pylist(), method)
    articles = set_column(articles, "dialect",
                          pa.array([lab for lab, _, _ in labels], pa.string()))
    articles = set_column(articles, "dialect_method",
                          pa.array([m for _, m, _ in labels], pa.string()))
    articles = set_column(articles, "dialect_score",
                          pa.array([s for _, _, s in labels], pa.float32()))
    # the run records what the rows record: linear:<sha> for the model
    return articles, labels[0][1] if labels else method


def check_annotators(config: AnnotateConfig) -> None:
    """Fail before any work when a chosen annotator's data is not installed (issue 26).

    ``auto`` modes never fail here (they fall back to what ships); an explicit
    ``calima-msa-r13``, ``camelbert`` or ``camel-did`` without camel-tools' data does.

    Raises:
        ConfigError: one line naming the option, what is missing and the command that
            installs it.
    """
    from tasks.camel_env import missing_official_data

    chosen = {
        "--morphology calima-msa-r13": config.morphology == "calima-msa-r13",
        "--ner camelbert": config.ner == "camelbert",
        "--dialect camel-did": config.dialect == "camel-did",
    }
    for option, used in chosen.items():
        problem = missing_official_data(option) if used else None
        if problem:
            raise ConfigError(problem)


def set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """Replace column ``name`` of ``table`` (or append it) with ``values``."""
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)
