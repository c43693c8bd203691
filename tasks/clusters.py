"""Word clusters learnt from unlabeled news, shared by the learned taggers.

``train_clusters`` reads raw news (the same zip/JSON/JSONL/txt dumps the pipeline
ingests), tokenizes it with the pipeline's own tokenizer, trains word2vec embeddings
(gensim, one thread so a seed gives the same model) and cuts them into a hierarchy of
k-means clusters, coarse to fine, like the bit-string prefixes of Brown clusters. Only
the cluster ids of frequent word types ship (``tasks/models/clusters/clusters.tsv``),
never text. Taggers use them as features: a word unseen in the small labelled sets
still falls in the cluster of words that behave like it (names, months, verbs...).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from tasks.clean import clean_text, normalize_ar
from tasks.errors import ConfigError

MODEL_DIR = Path(__file__).parent / "models" / "clusters"
CLUSTERS_FILE = "clusters.tsv"
CARD_FILE = "MODEL_CARD.md"
DEFAULT_SIZES = (16, 64, 256, 1024)
_DIGITS = re.compile(r"[0-9\u0660-\u0669\u06f0-\u06f9]")
_TEXT_KEYS = ("title", "content", "text", "body")
# Proclitics tried in turn when a word is not in the table: و/ف, then ب/ل/ك, then ال
# (والرياض -> الرياض -> رياض); لل is ل + ال with the alef dropped (للرياض -> الرياض).
_CONJ = ("و", "ف")
_PREP = ("ب", "ل", "ك")


def cluster_key(word: str) -> str:
    """The table key of a word: normalized (dediac, alef/yaa/teh marbuta), digits as 0."""
    return _DIGITS.sub("0", normalize_ar(word))


def _stripped(key: str) -> Iterator[str]:
    """Forms of ``key`` with proclitics removed, longest first."""
    seen = key
    if len(seen) > 3 and seen[0] in _CONJ:
        seen = seen[1:]
        yield seen
    if len(seen) > 4 and seen.startswith("لل"):
        yield "ا" + seen[1:]
        yield seen[2:]
        return
    if len(seen) > 3 and seen[0] in _PREP:
        seen = seen[1:]
        yield seen
    if len(seen) > 4 and seen.startswith("ال"):
        yield seen[2:]


@dataclass(frozen=True)
class WordClusters:
    """Cluster ids (coarse to fine) of word types, looked up by ``cluster_key``."""

    sizes: tuple[int, ...]
    table: dict[str, tuple[str, ...]]
    sha256: str

    def lookup(self, word: str) -> tuple[str, ...] | None:
        """Cluster ids of ``word``, or of the word without its proclitics; None if unknown."""
        return _lookup(self, word)

    def __hash__(self) -> int:
        return hash(self.sha256)


@lru_cache(maxsize=60_000)  # a few chunks' vocabulary; more grows workers (issue 14)
def _lookup(wc: WordClusters, word: str) -> tuple[str, ...] | None:
    key = cluster_key(word)
    hit = wc.table.get(key)
    if hit is not None:
        return hit
    for form in _stripped(key):
        hit = wc.table.get(form)
        if hit is not None:
            return hit
    return None


def read_clusters(path: Path) -> WordClusters:
    """Read a ``clusters.tsv`` (header ``#sizes`` line, then ``key<TAB>id...``)."""
    data = Path(path).read_bytes()
    lines = data.decode("utf-8").splitlines()
    if not lines or not lines[0].startswith("#sizes\t"):
        raise ConfigError(f"{path} is not a clusters file (no '#sizes' header)")
    sizes = tuple(int(x) for x in lines[0].split("\t")[1:])
    table = {}
    for line in lines[1:]:
        key, *ids = line.split("\t")
        table[key] = tuple(ids)
    return WordClusters(sizes, table, hashlib.sha256(data).hexdigest())


@lru_cache(maxsize=4)
def load_clusters(model_dir: str | None = None) -> WordClusters | None:
    """The shipped word clusters (or those in ``model_dir``), once per process; None if absent."""
    path = Path(model_dir or MODEL_DIR) / CLUSTERS_FILE
    if not path.is_file():
        return None
    return read_clusters(path)


def _texts_from_bytes(name: str, data: bytes) -> Iterator[str]:
    lower = name.lower()
    if lower.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in sorted(z.namelist()):
                if not member.endswith("/"):
                    yield from _texts_from_bytes(member, z.read(member))
    elif lower.endswith(".json"):
        records = json.loads(data.decode("utf-8", "replace"))
        yield from _record_texts(records if isinstance(records, list) else [records])
    elif lower.endswith(".jsonl"):
        lines = data.decode("utf-8", "replace").splitlines()
        yield from _record_texts(json.loads(line) for line in lines if line.strip())
    elif lower.endswith(".txt"):
        yield data.decode("utf-8", "replace")


def _record_texts(records: Iterable) -> Iterator[str]:
    for rec in records:
        if isinstance(rec, dict):
            for k in _TEXT_KEYS:
                if isinstance(rec.get(k), str):
                    yield rec[k]


def check_corpus(paths: Iterable[str | Path]) -> None:
    """Name a missing corpus path before any work (every trainer over unlabeled news)."""
    for path in paths:
        if not Path(path).exists():
            raise ConfigError(f"corpus path {str(path)!r} does not exist")


def corpus_lines(paths: Iterable[str | Path]) -> Iterator[str]:
    """Cleaned lines of text (as the pipeline cleans them) of raw news dumps.

    Reads .zip (of the below), .json (an array of records), .jsonl and .txt; records
    give their title/content/text/body.
    """
    for path in paths:
        p = Path(path)
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files:
            if not f.is_file():
                continue
            for text in _texts_from_bytes(f.name, f.read_bytes()):
                yield from clean_text(text).split("\n")


def corpus_sentences(paths: Iterable[str | Path]) -> Iterator[list[str]]:
    """Tokenized, keyed sentences (one per line of :func:`corpus_lines`) of raw news dumps."""
    from tasks.segment import tokenize_with_offsets

    for line in corpus_lines(paths):
        toks = [cluster_key(t) for t, _, _ in tokenize_with_offsets(line)]
        if toks:
            yield toks


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 20) -> tuple:
    """Spherical k-means of unit rows of ``x``: (labels, unit centroids)."""
    k = min(k, len(x))
    centroids = x[rng.choice(len(x), size=k, replace=False)].copy()
    labels = np.zeros(len(x), dtype=np.int64)
    for _ in range(iters):
        labels = np.concatenate(
            [np.argmax(x[i : i + 8192] @ centroids.T, axis=1) for i in range(0, len(x), 8192)]
        )
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, x)
        counts = np.bincount(labels, minlength=k)
        empty = counts == 0
        # an emptied cluster restarts at a random word rather than staying dead
        sums[empty] = x[rng.choice(len(x), size=int(empty.sum()), replace=False)]
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-9)
    return labels, centroids


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def cluster_hierarchy(
    vectors: np.ndarray, sizes: tuple[int, ...], seed: int
) -> list[np.ndarray]:
    """Cluster ids of each row at every size, coarse to fine, nested.

    The finest level clusters the vectors; each coarser level clusters the centroids
    of the level below, so a fine cluster always sits inside one coarse cluster.
    """
    rng = np.random.default_rng(seed)
    order = sorted(sizes, reverse=True)
    labels, centroids = _kmeans(_unit(vectors.astype(np.float32)), order[0], rng)
    levels = {order[0]: labels}
    for size in order[1:]:
        parent, centroids = _kmeans(centroids, size, rng)
        labels = parent[labels]
        levels[size] = labels
    return [levels[s] for s in sorted(sizes)]


def train_clusters(
    corpus: list[str],
    out_dir: str | Path,
    *,
    seed: int = 13,
    dim: int = 100,
    window: int = 5,
    min_count: int = 5,
    epochs: int = 5,
    sizes: tuple[int, ...] = DEFAULT_SIZES,
    command: str = "",
) -> dict:
    """Train word2vec on ``corpus`` and write ``clusters.tsv`` and a model card.

    Returns the card's figures (tokens, sentences, vocabulary, seconds, sha256).
    """
    try:
        from gensim.models import Word2Vec
    except ImportError as e:  # training-only dependency
        raise ConfigError("training clusters needs gensim: pip install -e '.[train]'") from e

    check_corpus(corpus)  # like the NER and POS trainers, before any work
    t0 = time.perf_counter()
    sentences = list(corpus_sentences(corpus))
    if not sentences:
        raise ConfigError(f"no text found in the corpus {corpus!r}")
    n_tokens = sum(len(s) for s in sentences)
    model = Word2Vec(
        sentences,
        vector_size=dim,
        window=window,
        min_count=min_count,
        sg=0,
        epochs=epochs,
        seed=seed,
        workers=1,  # one thread: the same seed gives the same vectors
    )
    words = list(model.wv.index_to_key)
    levels = cluster_hierarchy(model.wv.vectors, sizes, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["#sizes\t" + "\t".join(str(s) for s in sorted(sizes))]
    for i, w in enumerate(words):
        lines.append(w + "\t" + "\t".join(str(int(level[i])) for level in levels))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    (out / CLUSTERS_FILE).write_bytes(data)
    stats = {
        "sentences": len(sentences),
        "tokens": n_tokens,
        "vocabulary": len(words),
        "seconds": round(time.perf_counter() - t0, 1),
        "sha256": hashlib.sha256(data).hexdigest(),
        "seed": seed,
        "sizes": sorted(sizes),
        "dim": dim,
        "window": window,
        "min_count": min_count,
        "epochs": epochs,
    }
    (out / CARD_FILE).write_text(_card(corpus, stats, command), encoding="utf-8")
    return stats


def _card(corpus: list[str], stats: dict, command: str) -> str:
    names = ", ".join(Path(c).name for c in corpus)
    return f"""# Word clusters (akhbar)

Hierarchical word clusters used as features by akhbar's learned NER and POS taggers.

- **What it is**: for each of {stats['vocabulary']:,} word types (normalized: dediacritized,
  alef/yaa/teh marbuta unified, digits as 0), its cluster id at {stats['sizes']} clusters,
  coarse to fine and nested. No text is stored.
- **How**: word2vec CBOW (gensim; dim {stats['dim']}, window {stats['window']},
  min_count {stats['min_count']}, {stats['epochs']} epochs, one thread), then spherical
  k-means of the vectors into the finest level and of each level's centroids into the next.
- **Training data**: SaudiNewsNet (Alhagri, M. A. (2015). Saudi Newspapers Arabic Corpus),
  files {names}: {stats['sentences']:,} lines, {stats['tokens']:,} tokens, unlabeled. The
  corpus is distributed by its author for research; only cluster ids derived from it ship.
- **Command**: `{command or 'akhbar train clusters --corpus ... --out ...'}`
- **Seed**: {stats['seed']}
- **Training time**: {stats['seconds']} s on 2 cores
- **sha256 of clusters.tsv**: `{stats['sha256']}`
- **Scores**: clusters have none of their own; the NER and POS model cards report what
  they add on held-aside data.
"""
