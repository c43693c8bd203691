"""Subword-aware word vectors learnt from unlabeled news, shared by the learned taggers.

Issue 22. ``train_embeddings`` reads raw news (the dumps the pipeline ingests, read by
``tasks.clusters.corpus_sentences``), trains fastText (gensim, one thread so a seed
gives the same vectors) and writes ``embeddings.npz``: the vectors of the frequent word
types and the vectors of the hashed character n-gram buckets, as float16, with the
k-means centroids of the word vectors at a few granularities. No text ships.

Inference needs numpy only. A word in the table gets its vector; any other word gets
the mean of its n-gram bucket vectors, hashed exactly as fastText does (FNV-1a over the
UTF-8 bytes of each n-gram of ``<word>``, bytes taken as signed chars), so an unseen
name or inflected form still lands near the words it shares pieces with. Cluster ids
are the nearest centroid, so they too cover unseen words.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from tasks.clusters import _kmeans, _unit, check_corpus, cluster_key, corpus_sentences
from tasks.errors import ConfigError

MODEL_DIR = Path(__file__).parent / "models" / "embeddings"
VECTORS_FILE = "embeddings.npz"
CARD_FILE = "MODEL_CARD.md"
DEFAULT_SIZES = (64, 256, 1024)


def ft_hash(data: bytes) -> int:
    """fastText's n-gram hash: 32-bit FNV-1a over bytes read as signed chars."""
    h = 2166136261
    for b in data:
        h ^= (b - 256 if b > 127 else b) & 0xFFFFFFFF
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def char_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """The character n-grams of ``<word>`` fastText uses, ``min_n`` to ``max_n`` long."""
    w = "<" + word + ">"
    out = []
    for n in range(min_n, max_n + 1):
        for i in range(len(w) - n + 1):
            out.append(w[i : i + n])
    return out


@dataclass(eq=False)
class WordVectors:
    """fastText vectors: a table of word types plus hashed n-gram buckets (numpy only)."""

    words: dict[str, int]
    vectors: np.ndarray  # (n_words, dim) float16
    buckets: np.ndarray  # (n_buckets, dim) float16
    min_n: int
    max_n: int
    centroids: dict[int, np.ndarray]  # k -> (k, dim) unit float32, for cluster ids
    sha256: str
    _cache: dict = field(default_factory=dict, repr=False)
    _grams: dict = field(default_factory=dict, repr=False)  # n-gram -> bucket row

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def known(self, word: str) -> bool:
        """True when the (normalized) word has its own vector."""
        return cluster_key(word) in self.words

    def vector(self, word: str) -> np.ndarray:
        """The float32 vector of ``word``; zero only when it has no n-gram at all."""
        key = cluster_key(word)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if len(self._cache) > 100_000:  # bounded like the other per-type caches (issue 14)
            self._cache.clear()
        row = self.words.get(key)
        if row is not None:
            vec = self.vectors[row].astype(np.float32)
        else:
            vec = self._oov(key)
        self._cache[key] = vec
        return vec

    def _oov(self, key: str) -> np.ndarray:
        rows = [self._bucket(g) for g in char_ngrams(key, self.min_n, self.max_n)]
        if not rows:
            return np.zeros(self.dim, dtype=np.float32)
        return self.buckets[rows].astype(np.float32).mean(0)

    def _bucket(self, gram: str) -> int:
        """The bucket row of an n-gram; unseen words share most of theirs, so the Python
        hash is paid once per distinct n-gram (bounded like the other caches)."""
        row = self._grams.get(gram)
        if row is None:
            if len(self._grams) > 200_000:
                self._grams.clear()
            row = self._grams[gram] = ft_hash(gram.encode("utf-8")) % len(self.buckets)
        return row

    def clusters(self, word: str) -> tuple[int, ...]:
        """Nearest-centroid cluster ids of the word's vector, coarse to fine."""
        key = ("c", cluster_key(word))
        hit = self._cache.get(key)
        if hit is None:
            v = self.vector(word)
            v = v / max(float(np.linalg.norm(v)), 1e-9)
            hit = tuple(int(np.argmax(self.centroids[k] @ v)) for k in sorted(self.centroids))
            self._cache[key] = hit
        return hit

    def __hash__(self) -> int:
        return hash(self.sha256)


def read_vectors(path: str | Path) -> WordVectors:
    """Read an ``embeddings.npz`` written by ``train_embeddings``."""
    p = Path(path)
    data = p.read_bytes()
    with np.load(p, allow_pickle=False) as z:
        words = {w: i for i, w in enumerate(z["words"].tolist())}
        centroids = {int(k): z[f"centroids_{k}"].astype(np.float32) for k in z["sizes"]}
        return WordVectors(words, z["vectors"], z["buckets"], int(z["min_n"]), int(z["max_n"]),
                           centroids, hashlib.sha256(data).hexdigest())


@lru_cache(maxsize=4)
def load_vectors(model_dir: str | None = None) -> WordVectors | None:
    """The shipped vectors (or those in ``model_dir``), once per process; None if absent."""
    path = Path(model_dir or MODEL_DIR) / VECTORS_FILE
    if not path.is_file():
        return None
    return read_vectors(path)


def train_embeddings(
    corpus: list[str],
    out_dir: str | Path,
    *,
    seed: int = 13,
    dim: int = 64,
    window: int = 5,
    min_count: int = 5,
    epochs: int = 5,
    min_n: int = 3,
    max_n: int = 5,
    bucket: int = 100_000,
    sizes: tuple[int, ...] = DEFAULT_SIZES,
    command: str = "",
) -> dict:
    """Train fastText on ``corpus``; write ``embeddings.npz`` and a model card.

    Returns the card's figures (tokens, vocabulary, seconds, size, sha256).
    """
    try:
        from gensim.models import FastText
    except ImportError as e:  # training-only dependency
        raise ConfigError("training embeddings needs gensim: pip install -e '.[train]'") from e

    check_corpus(corpus)  # before any work
    if not 1 <= min_n <= max_n:
        raise ConfigError(f"n-gram lengths {min_n!r}..{max_n!r} must satisfy 1 <= min <= max")
    t0, cpu0 = time.perf_counter(), time.process_time()
    sentences = list(corpus_sentences(corpus))
    if not sentences:
        raise ConfigError(f"no text found in the corpus {corpus!r}")
    n_tokens = sum(len(s) for s in sentences)
    model = FastText(
        vector_size=dim, window=window, min_count=min_count, sg=0, min_n=min_n, max_n=max_n,
        bucket=bucket, seed=seed, workers=1,  # one thread: the same seed, the same vectors
    )
    model.build_vocab(corpus_iterable=sentences)
    model.train(corpus_iterable=sentences, total_examples=len(sentences),
                total_words=n_tokens, epochs=epochs)
    wv = model.wv
    words = np.array(wv.index_to_key)
    vectors = wv.vectors.astype(np.float16)
    rng = np.random.default_rng(seed)
    arrays = {
        "words": words,
        "vectors": vectors,
        "buckets": wv.vectors_ngrams.astype(np.float16),
        "min_n": np.int64(min_n),
        "max_n": np.int64(max_n),
        "sizes": np.array(sorted(sizes), dtype=np.int64),
    }
    unit = _unit(wv.vectors.astype(np.float32))
    for k in sorted(sizes):
        _, centroids = _kmeans(unit, k, rng)
        arrays[f"centroids_{k}"] = centroids.astype(np.float16)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / VECTORS_FILE
    _write_npz(path, arrays)
    stats = {
        "sentences": len(sentences),
        "tokens": n_tokens,
        "vocabulary": len(words),
        "seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(time.process_time() - cpu0, 1),
        "megabytes": round(path.stat().st_size / 2**20, 1),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "seed": seed, "dim": dim, "window": window, "min_count": min_count, "epochs": epochs,
        "min_n": min_n, "max_n": max_n, "bucket": bucket, "sizes": sorted(sizes),
    }
    (out / CARD_FILE).write_text(_card(corpus, stats, command), encoding="utf-8")
    load_vectors.cache_clear()
    return stats


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` with fixed zip timestamps: the same vectors give the same bytes."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
            z.writestr(zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0)),
                       buf.getvalue())


def _card(corpus: list[str], stats: dict, command: str) -> str:
    names = ", ".join(Path(c).name for c in corpus)
    return f"""# Word vectors (akhbar)

Subword-aware word vectors used as features by akhbar's learned NER (and available to the
POS tagger): `tasks/embeddings.py` loads them with numpy only.

- **What it is**: `{VECTORS_FILE}` holds float16 vectors (dim {stats['dim']}) of
  {stats['vocabulary']:,} word types (normalized: dediacritized, alef/yaa/teh marbuta
  unified, digits as 0), {stats['bucket']:,} hashed character n-gram bucket vectors
  (n = {stats['min_n']}..{stats['max_n']}) and spherical k-means centroids of the word
  vectors at {stats['sizes']} clusters. A word not in the table gets the mean of its
  n-gram vectors, hashed as fastText hashes them. No text is stored.
- **How**: fastText CBOW (gensim; window {stats['window']}, min_count
  {stats['min_count']}, {stats['epochs']} epochs, one thread).
- **Training data**: SaudiNewsNet (Alhagri, M. A. (2015). Saudi Newspapers Arabic Corpus),
  files {names}: {stats['sentences']:,} lines, {stats['tokens']:,} tokens, unlabeled. The
  corpus is distributed by its author for research; only vectors derived from it ship.
- **Command**: `{command or 'akhbar train embeddings --corpus ... --out ...'}`
- **Seed**: {stats['seed']}
- **Training time**: {stats['seconds']} s wall, {stats['cpu_seconds']} s of CPU (one
  thread; wall time depends on the machine's load)
- **Size**: {stats['megabytes']} MB
- **sha256 of {VECTORS_FILE}**: `{stats['sha256']}`
- **Scores**: vectors have none of their own; the NER model card reports what they add
  on held-aside data.
"""
