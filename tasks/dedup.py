"""Exact and near-duplicate detection across runs, and story clusters (issue 9).

Arabic news is heavily syndicated: one agency dispatch appears on many sites with a new
title, a dateline or a trailing "اقرأ أيضا" list. The work is split in two:

1. ``compute_signatures`` runs in the batch workers (parallel). Per article it gives the
   SHA-256 of the normalized text (``exact_hash``) and a MinHash signature over word
   shingles (``minhash``), as an Arrow table that travels through the staging files.
2. ``DedupIndex.assign`` runs at commit time in the flow process (serial). It looks each
   article up in a persistent index under ``OUT/_index/dedup/`` and fills
   ``duplicate_of``, ``near_duplicate_of`` and ``story_id``.

Semantics (see ``DedupIndex.assign``):

- ``duplicate_of``: the first-seen article (earlier run, or earlier row of this batch) with
  the same normalized text.
- ``near_duplicate_of``: for articles that are *not* exact duplicates, the earlier article
  with the highest estimated Jaccard similarity >= ``DedupConfig.threshold`` (candidates
  come from MinHash LSH and are verified on the signatures, ties go to the older article).
- ``story_id``: connected components of exact and near-duplicate links. An article with no
  link founds a story whose id is its own ``article_id``; an article that links to earlier
  articles joins the oldest of their stories. Old rows are never rewritten: when an article
  bridges two stories, the younger story is recorded as merged into the older one
  (``DedupIndex.story_merges``) and later articles get the canonical (older) id.
- Texts with fewer than ``MIN_SHINGLES`` shingles (``shingle_size + MIN_SHINGLES - 1``
  normalized words, 20 with the default 5-word shingles) get no MinHash: a handful of
  shared shingles is not evidence of a shared story. They are still flagged as exact
  duplicates (``duplicate_of``) but do not join the original's story, because short
  boilerplate-only bodies are identical across unrelated articles.

MinHash is datasketch's ``affine32`` scheme (MurmurHash3 finalizer, then ``a*h+b mod 2^32``
with datasketch's own permutations), computed for a whole batch at once with numpy; the
values equal ``datasketch.MinHash(scheme="affine32").update_batch`` on the same shingle
hashes, so ``datasketch.LeanMinHash`` can wrap them. LSH banding parameters come from
``datasketch.MinHashLSH``; the band tables themselves are sorted numpy arrays so that an
index of 100k articles loads in well under a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from camel_tools.utils.dediac import dediac_ar

from tasks.config import DedupConfig
from tasks.errors import ConfigError, SchemaError

# Bump when normalization or shingle hashing changes: old signatures become incomparable.
SIGNATURE_VERSION = "1"
MINHASH_SCHEME = "affine32"
MINHASH_SEED = 1
# Fewest shingles a text needs to get a MinHash (see module docstring).
MIN_SHINGLES = 16
# Shingles per numpy step: CHUNK * num_perm * 4 bytes (1 MB) stays in cache.
_CHUNK_SHINGLES = 2_048
# LSH favours recall (weights false positives 0.2, false negatives 0.8) because every
# candidate is verified on its signature afterwards.
_LSH_WEIGHTS = (0.2, 0.8)

INDEX_DIR = os.path.join("_index", "dedup")
_MANIFEST = "manifest.json"
# Compact the index into one segment when it has more segments than this.
_MAX_SEGMENTS = 32

SIGNATURES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("exact_hash", pa.string()),  # null when the normalized text is empty
        pa.field("n_shingles", pa.int32()),
        pa.field("minhash", pa.list_(pa.uint32())),  # null below MIN_SHINGLES
    ],
    metadata={"akhbar.table": "dedup_signatures", "akhbar.signature_version": SIGNATURE_VERSION},
)

ASSIGNMENTS = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("duplicate_of", pa.string()),
        pa.field("near_duplicate_of", pa.string()),
        pa.field("story_id", pa.string()),
    ]
)

_INDEX_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("exact_hash", pa.string()),
        pa.field("minhash", pa.list_(pa.uint32())),
        pa.field("duplicate_of", pa.string()),
        pa.field("near_duplicate_of", pa.string()),
        pa.field("story_id", pa.string()),
        pa.field("similarity", pa.float32()),
    ]
)


# Normalization
#
# Letter normalization as in camel-tools' normalize_*_ar. A chain of str.replace is about
# 15x faster than str.translate with a dict on Arabic text.
_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("أ", "ا"), ("إ", "ا"), ("آ", "ا"), ("ٱ", "ا"),  # alef variants: أحمد -> احمد
    ("ى", "ي"),  # alef maksura: على -> علي
    ("ة", "ه"),  # teh marbuta: مدينة -> مدينه
    ("ی", "ي"), ("ک", "ك"),  # Persian yeh/keheh in Gulf web text: ی -> ي
    ("ـ", ""),  # tatweel: الـعربية -> العربية
    # Arabic-Indic and Persian digits -> ASCII, so ٢٠١٥ and 2015 hash alike.
    *((c, str(i)) for i, c in enumerate("٠١٢٣٤٥٦٧٨٩")),
    *((c, str(i)) for i, c in enumerate("۰۱۲۳۴۵۶۷۸۹")),
)  # fmt: skip
# Words are runs of letters and digits; punctuation (،؛؟«» ...), _ and spaces separate them.
_WORD = re.compile(r"[^\W_]+")
# اقرأ أيضاً / شاهد أيضا starts a site's related-articles list: not part of the story
# (matched after normalization, so اقرأ أيضاً is اقرا ايضا).
_READ_ALSO = re.compile(r"\b(?:اقرا|طالع|شاهد)\W+(?:ايضا|المزيد)\b")


def dedup_words(text: str) -> list[str]:
    """Words of ``text`` after dediac, letter normalization, digit and case folding.

    A trailing related-articles list (from an "اقرأ أيضاً" marker on) is left out.
    """
    text = dediac_ar(text)
    for old, new in _REPLACEMENTS:
        if old in text:
            text = text.replace(old, new)
    # Literal pre-check: the regex alone costs more than the rest of this function.
    if "ايضا" in text or "المزيد" in text:
        marker = _READ_ALSO.search(text)
        if marker is not None and marker.start() > 0:
            text = text[: marker.start()]
    return _WORD.findall(text.lower())


def normalize_for_dedup(text: str) -> str:
    """Normalize text for duplicate detection: dediac, letter normalization, folding.

    Diacritics and tatweel are removed, alef/yaa/teh marbuta normalized, digits made
    ASCII, Latin lowercased, punctuation and whitespace runs become one space, and a
    trailing "اقرأ أيضاً" list is cut off.

    >>> normalize_for_dedup("قالَ الأميرُ: «إنّ المدينةَ ٢٠١٥»")
    'قال الامير ان المدينه 2015'
    """
    return " ".join(dedup_words(text))


# Signatures


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    from datasketch import MinHash  # lazy: ~0.45 s and ~48 MB per process, only when signing

    a, b = MinHash(num_perm=num_perm, seed=MINHASH_SEED, scheme=MINHASH_SCHEME).permutations
    return a.astype(np.uint32), b.astype(np.uint32)


@lru_cache(maxsize=8)
def _position_multipliers(shingle_size: int) -> np.ndarray:
    # Odd 64-bit multipliers make the shingle hash order-sensitive: "a b" != "b a".
    rng = np.random.default_rng(20260911)
    return rng.integers(0, 2**63, size=shingle_size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def _fmix32(h: np.ndarray) -> np.ndarray:
    # MurmurHash3 finalizer, identical to datasketch's _fmix(h, 32).
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


class _WordHasher:
    """Stable 64-bit word hashes, cached per process (vocabularies repeat across batches)."""

    def __init__(self, max_size: int = 2_000_000) -> None:
        self._cache: dict[str, int] = {}
        self._max_size = max_size

    def __call__(self, words: list[str]) -> np.ndarray:
        cache = self._cache
        missing = set(words).difference(cache)
        if len(cache) + len(missing) > self._max_size:
            cache.clear()
            missing = set(words)
        for w in missing:
            cache[w] = int.from_bytes(
                hashlib.blake2b(w.encode("utf-8"), digest_size=8).digest(), "little"
            )
        return np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))


_word_hashes = _WordHasher()


def shingle_hashes(words: Sequence[str], shingle_size: int) -> np.ndarray:
    """32-bit hashes of the word ``shingle_size``-grams of ``words`` (empty if too short)."""
    return _batch_shingle_hashes([list(words)], shingle_size)[0]


def _batch_shingle_hashes(docs: list[list[str]], shingle_size: int) -> list[np.ndarray]:
    """``shingle_hashes`` of many documents with one numpy pass over all their words."""
    lengths = np.array([len(w) for w in docs], dtype=np.int64)
    all_words = list(chain.from_iterable(docs))
    n_all = len(all_words) - shingle_size + 1
    if n_all <= 0:
        return [np.empty(0, dtype=np.uint32) for _ in docs]
    wh = _word_hashes(all_words)
    mult = _position_multipliers(shingle_size)
    h = wh[:n_all] * mult[0]
    for j in range(1, shingle_size):
        h += wh[j : j + n_all] * mult[j]
    h32 = (_fmix64(h) >> np.uint64(32)).astype(np.uint32)
    # Windows starting in the last shingle_size-1 words of a document cross into the next.
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    counts = np.maximum(lengths - shingle_size + 1, 0)
    return [h32[s : s + c] for s, c in zip(starts.tolist(), counts.tolist(), strict=True)]


def _minhash_rows(hashes: list[np.ndarray], num_perm: int) -> np.ndarray:
    """MinHash (datasketch affine32) of each non-empty shingle-hash array, one row each."""
    a, b = _permutations(num_perm)
    out = np.empty((len(hashes), num_perm), dtype=np.uint32)
    buf = np.empty((_CHUNK_SHINGLES, num_perm), dtype=np.uint32)
    i = 0
    while i < len(hashes):
        # Group consecutive articles into chunks of at most _CHUNK_SHINGLES shingles
        # (a longer article is reduced in several chunks).
        if len(hashes[i]) > _CHUNK_SHINGLES:
            out[i] = np.min(_minhash_rows(_split(hashes[i]), num_perm), axis=0)
            i += 1
            continue
        j, total = i, 0
        while j < len(hashes) and total + len(hashes[j]) <= _CHUNK_SHINGLES:
            total += len(hashes[j])
            j += 1
        hv = _fmix32(np.concatenate(hashes[i:j]))
        phv = buf[:total]
        # a*h+b wraps mod 2^32, exactly as datasketch's affine32 scheme; in place to stay
        # in cache.
        np.multiply(hv[:, None], a[None, :], out=phv)
        phv += b[None, :]
        starts = np.cumsum([0] + [len(h) for h in hashes[i : j - 1]])
        out[i:j] = np.minimum.reduceat(phv, starts, axis=0)
        i = j
    return out


def _split(h: np.ndarray) -> list[np.ndarray]:
    return [h[k : k + _CHUNK_SHINGLES] for k in range(0, len(h), _CHUNK_SHINGLES)]


def compute_signatures(
    texts: Sequence[str | None],
    config: DedupConfig,
    article_ids: Sequence[str] | None = None,
) -> pa.Table:
    """Exact hash and MinHash signature of each text, for ``DedupIndex.assign``.

    Runs in the batch workers. Texts are normalized with ``normalize_for_dedup``.

    Args:
        texts: Article bodies (``articles.text``); None counts as empty.
        config: ``num_perm`` and ``shingle_size`` are used.
        article_ids: One id per text; defaults to "0", "1", ...

    Returns:
        A ``SIGNATURES`` table: ``article_id``, ``exact_hash`` (hex SHA-256 of the
        normalized text, null if it is empty), ``n_shingles`` and ``minhash``
        (``num_perm`` uint32 values, null below ``MIN_SHINGLES`` shingles).
    """
    if article_ids is None:
        article_ids = [str(i) for i in range(len(texts))]
    if len(article_ids) != len(texts):
        raise ConfigError(f"{len(article_ids)} article_ids for {len(texts)} texts")
    docs = [dedup_words(text or "") for text in texts]
    exact = [hashlib.sha256(" ".join(d).encode("utf-8")).hexdigest() if d else None for d in docs]
    hashes = _batch_shingle_hashes(docs, config.shingle_size)
    n_shingles = [len(h) for h in hashes]
    has_sig = np.array([n >= MIN_SHINGLES for n in n_shingles], dtype=bool)
    signed = [h for h, ok in zip(hashes, has_sig.tolist(), strict=True) if ok]
    rows = _minhash_rows(signed, config.num_perm) if signed else None
    return pa.Table.from_arrays(
        [
            pa.array(list(article_ids), pa.string()),
            pa.array(exact, pa.string()),
            pa.array(n_shingles, pa.int32()),
            _sig_array(rows, has_sig, config.num_perm),
        ],
        schema=SIGNATURES,
    )


def signatures_for_articles(articles: pa.Table, config: DedupConfig) -> pa.Table:
    """``compute_signatures`` over an articles table (needs ``article_id`` and ``text``)."""
    _require(articles, ("article_id", "text"), "articles")
    return compute_signatures(
        articles.column("text").to_pylist(), config, articles.column("article_id").to_pylist()
    )


def _sig_array(rows: np.ndarray | None, has_sig: np.ndarray, num_perm: int) -> pa.Array:
    """A list<uint32> array: row k of ``rows`` for each True in ``has_sig``, else null."""
    n_sig = int(has_sig.sum())
    values = rows.reshape(-1) if rows is not None else np.empty(0, dtype=np.uint32)
    lengths = np.where(has_sig, num_perm, 0)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    if len(values) != n_sig * num_perm:
        raise ValueError(f"{len(values)} MinHash values for {n_sig} signatures of {num_perm}")
    mask = pa.array(~has_sig)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.uint32()), mask=mask)


def signatures_to_numpy(minhash: pa.ChunkedArray | pa.Array, num_perm: int) -> np.ndarray:
    """(rows, num_perm) uint32 matrix of a ``minhash`` column; null rows are all zeros.

    Raises:
        ConfigError: a signature has another length than ``num_perm`` (index built with
            another ``DedupConfig.num_perm``).
    """
    arr = minhash.combine_chunks() if isinstance(minhash, pa.ChunkedArray) else minhash
    out = np.zeros((len(arr), num_perm), dtype=np.uint32)
    if len(arr) == 0:
        return out
    valid = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    lengths = arr.value_lengths().fill_null(0).to_numpy()
    if np.any(lengths[valid] != num_perm):
        bad = int(lengths[valid][lengths[valid] != num_perm][0])
        raise ConfigError(
            f"MinHash signatures have {bad} values but DedupConfig.num_perm is {num_perm}"
        )
    values = arr.flatten().to_numpy(zero_copy_only=False).astype(np.uint32, copy=False)
    out[valid] = values.reshape(-1, num_perm)
    return out


def _require(table: pa.Table, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise SchemaError(
            f"table {name!r} is missing required column(s) {missing}; has {table.column_names}"
        )


# Index


@lru_cache(maxsize=8)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) that datasketch's MinHashLSH picks for this threshold."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=_LSH_WEIGHTS)
    return lsh.b, lsh.r


@lru_cache(maxsize=8)
def _band_multipliers(r: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 2**63, size=r, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def _band_keys(sigs: np.ndarray, b: int, r: int) -> np.ndarray:
    """(rows, b) uint64 key per band: a hash of the band's r signature values."""
    mult = _band_multipliers(r)
    bands = sigs[:, : b * r].reshape(len(sigs), b, r)
    # One (rows, b) pass per band row instead of a (rows, b, r) uint64 temporary.
    key = np.zeros((len(sigs), b), dtype=np.uint64)
    for j in range(r):
        key += bands[:, :, j].astype(np.uint64) * mult[j]
    return _fmix64(key)


@dataclass
class _Entry:
    duplicate_of: str | None
    near_duplicate_of: str | None
    story_id: str
    similarity: float | None


@dataclass
class DedupIndex:
    """Persistent exact-hash and MinHash LSH index of every article seen so far.

    Build with ``DedupIndex.load(out_dir, config)``; call ``assign`` for each batch at
    commit time, then ``save``. Positions (0, 1, ...) follow the order articles were first
    assigned, so "earlier" and "older" mean a smaller position.
    """

    root: str
    config: DedupConfig
    ids: list[str] = field(default_factory=list)
    exact_hashes: list[str | None] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)
    sigs: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.uint32))
    has_sig: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    merges: dict[str, str] = field(default_factory=dict)
    segments: list[str] = field(default_factory=list)
    _pos: dict[str, int] = field(default_factory=dict)
    _first_exact: dict[str, int] = field(default_factory=dict)
    _n_saved: int = 0
    _n_merges_saved: int = 0
    _bands: tuple[int, int] = (0, 0)
    # LSH tables: sorted band keys + positions for loaded rows, dicts for rows added since.
    _base_keys: list[np.ndarray] = field(default_factory=list)
    _base_pos: list[np.ndarray] = field(default_factory=list)
    _delta: list[dict[int, list[int]]] = field(default_factory=list)

    @classmethod
    def load(cls, out_dir: str, config: DedupConfig) -> DedupIndex:
        """Load the index under ``out_dir/_index/dedup`` (an empty index if there is none).

        Raises:
            ConfigError: the index was built with another ``num_perm``, ``shingle_size`` or
                signature version, whose signatures cannot be compared with new ones.
        """
        root = os.path.join(out_dir, INDEX_DIR)
        index = cls(root=root, config=config)
        index.sigs = np.empty((0, config.num_perm), dtype=np.uint32)
        manifest_path = os.path.join(root, _MANIFEST)
        if os.path.exists(manifest_path):
            with open(manifest_path, encoding="utf-8") as f:
                manifest = json.load(f)
            index._check_manifest(manifest, manifest_path)
            index.segments = list(manifest["segments"])
            index.merges = dict(manifest.get("merges", {}))
            tables = [pq.read_table(os.path.join(root, s)) for s in index.segments]
            if tables:
                index._add_rows(pa.concat_tables(tables).cast(_INDEX_SCHEMA))
            index._n_saved = len(index.ids)
            index._n_merges_saved = len(index.merges)
        index._build_lsh()
        return index

    def _check_manifest(self, manifest: dict, path: str) -> None:
        want = {
            "signature_version": SIGNATURE_VERSION,
            "num_perm": self.config.num_perm,
            "shingle_size": self.config.shingle_size,
            "scheme": MINHASH_SCHEME,
        }
        for key, value in want.items():
            if manifest.get(key) != value:
                raise ConfigError(
                    f"dedup index {path} has {key}={manifest.get(key)!r} but this run uses "
                    f"{value!r}; use the same DedupConfig or start a new output directory"
                )

    def _add_rows(self, table: pa.Table) -> None:
        start = len(self.ids)
        ids = table.column("article_id").to_pylist()
        exact = table.column("exact_hash").to_pylist()
        dup = table.column("duplicate_of").to_pylist()
        near = table.column("near_duplicate_of").to_pylist()
        story = table.column("story_id").to_pylist()
        sim = table.column("similarity").to_pylist()
        sigs = signatures_to_numpy(table.column("minhash"), self.config.num_perm)
        has = ~np.asarray(table.column("minhash").is_null().to_numpy(), dtype=bool)
        self.ids.extend(ids)
        self.exact_hashes.extend(exact)
        self.entries.extend(_Entry(*row) for row in zip(dup, near, story, sim, strict=True))
        self.sigs = np.concatenate([self.sigs, sigs]) if len(self.sigs) else sigs
        self.has_sig = np.concatenate([self.has_sig, has])
        for k, (aid, h) in enumerate(zip(ids, exact, strict=True)):
            self._pos[aid] = start + k
            if h is not None:
                self._first_exact.setdefault(h, start + k)

    def _build_lsh(self) -> None:
        b, r = lsh_params(self.config.threshold, self.config.num_perm)
        self._bands = (b, r)
        pos = np.flatnonzero(self.has_sig)
        keys = _band_keys(self.sigs[pos], b, r)
        self._base_keys, self._base_pos = [], []
        for band in range(b):
            order = np.argsort(keys[:, band], kind="stable")
            self._base_keys.append(keys[order, band])
            self._base_pos.append(pos[order])
        self._delta = [{} for _ in range(b)]

    def __len__(self) -> int:
        return len(self.ids)

    def _candidates(self, keys: np.ndarray) -> set[int]:
        found: set[int] = set()
        for band, key in enumerate(keys.tolist()):
            base_k = self._base_keys[band]
            lo = np.searchsorted(base_k, key, side="left")
            hi = np.searchsorted(base_k, key, side="right")
            if hi > lo:
                found.update(self._base_pos[band][lo:hi].tolist())
            found.update(self._delta[band].get(key, ()))
        return found

    def _insert_lsh(self, pos: int, keys: np.ndarray) -> None:
        for band, key in enumerate(keys.tolist()):
            self._delta[band].setdefault(key, []).append(pos)

    def canonical_story(self, story_id: str) -> str:
        """The story ``story_id`` was merged into (itself if it never was)."""
        seen = []
        while story_id in self.merges:
            seen.append(story_id)
            story_id = self.merges[story_id]
        for s in seen[:-1]:  # path compression
            self.merges[s] = story_id
        return story_id

    def _story_age(self, story_id: str) -> int:
        # A story's id is its founder's article_id, so its age is the founder's position.
        return self._pos.get(story_id, len(self.ids))

    def assign(self, articles: pa.Table, signatures: pa.Table) -> pa.Table:
        """Exact duplicates, near duplicates and story of each article of a batch.

        Rows are processed in order, so an article can link to earlier rows of the same
        batch. Articles already in the index (a re-run of the same input) get the answer
        recorded the first time and are not duplicates of themselves. The batch is added
        to the index in memory; call ``save`` to persist it.

        Args:
            articles: The batch's articles; only ``article_id`` is read (row order).
            signatures: ``compute_signatures`` output for these articles (any row order).

        Returns:
            An ``ASSIGNMENTS`` table (``article_id``, ``duplicate_of``,
            ``near_duplicate_of``, ``story_id``) in the row order of ``articles``.
        """
        _require(articles, ("article_id",), "articles")
        _require(signatures, ("article_id", "exact_hash", "minhash"), "dedup signatures")
        sig_ids = signatures.column("article_id").to_pylist()
        sig_row = {aid: k for k, aid in enumerate(sig_ids)}
        sig_exact = signatures.column("exact_hash").to_pylist()
        sig_has = ~np.asarray(signatures.column("minhash").is_null().to_numpy(), dtype=bool)
        sig_mat = signatures_to_numpy(signatures.column("minhash"), self.config.num_perm)
        b, r = self._bands
        sig_keys = _band_keys(sig_mat, b, r)
        threshold = self.config.threshold

        out_ids = articles.column("article_id").to_pylist()
        result: list[_Entry] = []
        new_rows: list[int] = []
        for aid in out_ids:
            pos = self._pos.get(aid)
            if pos is not None:  # seen before: idempotent
                result.append(self.entries[pos])
                continue
            k = sig_row.get(aid)
            if k is None:
                raise SchemaError(f"no dedup signature for article {aid!r}")
            h = sig_exact[k]
            pos = len(self.ids)
            links: list[int] = []
            duplicate_of = near_of = None
            similarity = None
            first = self._first_exact.get(h) if h is not None else None
            if first is not None:
                duplicate_of = self.ids[first]
                # Boilerplate-only texts ("تعليقات ()") are identical across unrelated
                # articles: flag them, but only texts long enough to sign link stories.
                if sig_has[k]:
                    links.append(first)
            if sig_has[k]:
                cands = self._candidates(sig_keys[k])
                if cands:
                    cand = np.fromiter(cands, dtype=np.int64, count=len(cands))
                    sims = (self.sigs[cand] == sig_mat[k]).mean(axis=1)
                    keep = sims >= threshold
                    cand, sims = cand[keep], sims[keep]
                    if len(cand):
                        # Highest similarity, then the oldest article.
                        best = np.lexsort((cand, -sims))[0]
                        if duplicate_of is None:
                            near_of = self.ids[int(cand[best])]
                            similarity = float(sims[best])
                        links.extend(cand.tolist())
            story_id = self._join_stories(aid, links)
            entry = _Entry(duplicate_of, near_of, story_id, similarity)
            self._append(aid, h, sig_mat[k] if sig_has[k] else None, entry)
            if sig_has[k]:
                self._insert_lsh(pos, sig_keys[k])
            if h is not None:
                self._first_exact.setdefault(h, pos)
            result.append(entry)
            new_rows.append(pos)
        return pa.Table.from_arrays(
            [
                pa.array(out_ids, pa.string()),
                pa.array([e.duplicate_of for e in result], pa.string()),
                pa.array([e.near_duplicate_of for e in result], pa.string()),
                pa.array([e.story_id for e in result], pa.string()),
            ],
            schema=ASSIGNMENTS,
        )

    def _join_stories(self, aid: str, links: list[int]) -> str:
        if not links:
            return aid
        stories = {self.canonical_story(self.entries[p].story_id) for p in links}
        oldest = min(stories, key=lambda s: (self._story_age(s), s))
        for s in stories:
            if s != oldest:
                self.merges[s] = oldest
        return oldest

    def _append(self, aid: str, h: str | None, sig: np.ndarray | None, entry: _Entry) -> None:
        self._pos[aid] = len(self.ids)
        self.ids.append(aid)
        self.exact_hashes.append(h)
        self.entries.append(entry)
        # Grow the signature matrix geometrically so a batch appends in amortized O(1).
        n = len(self.ids)
        if n > len(self.sigs):
            grown = np.zeros((max(2 * len(self.sigs), n, 256), self.config.num_perm), np.uint32)
            grown[: len(self.sigs)] = self.sigs
            self.sigs = grown
            has = np.zeros(len(grown), dtype=bool)
            has[: len(self.has_sig)] = self.has_sig
            self.has_sig = has
        if sig is not None:
            self.sigs[n - 1] = sig
            self.has_sig[n - 1] = True

    def story_merges(self) -> pa.Table:
        """Stories merged into older ones: ``story_id`` -> canonical ``merged_into``."""
        keys = sorted(self.merges)
        return pa.table(
            {
                "story_id": pa.array(keys, pa.string()),
                "merged_into": pa.array([self.canonical_story(k) for k in keys], pa.string()),
            }
        )

    def save(self, tag: str | None = None) -> None:
        """Persist articles assigned since the last save, atomically.

        Writes one new Parquet segment (temp file + ``os.replace``) and then replaces
        ``manifest.json``, which lists the segments and story merges; a crash before the
        manifest is replaced leaves the previous index intact. Recommended order at
        commit time: ``assign`` -> ``save(batch_id)`` -> commit the batch's Parquet. If the
        run dies before the commit, the re-run re-assigns the same articles and gets the
        recorded answers (``assign`` is idempotent), so the dataset stays consistent.

        Args:
            tag: Goes into the segment file name (e.g. the batch id) for debugging.
        """
        n = len(self.ids)
        if n == self._n_saved and len(self.merges) == self._n_merges_saved:
            return
        os.makedirs(self.root, exist_ok=True)
        segments = list(self.segments)
        if n > self._n_saved:
            if len(segments) >= _MAX_SEGMENTS:
                segments, start = [], 0  # compact: rewrite everything into one segment
            else:
                start = self._n_saved
            safe_tag = re.sub(r"[^A-Za-z0-9_.-]+", "-", tag or "batch")[:40]
            name = f"seg-{uuid.uuid4().hex[:12]}-{safe_tag}.parquet"
            self._write_segment(name, start, n)
            segments.append(name)
        manifest = {
            "signature_version": SIGNATURE_VERSION,
            "num_perm": self.config.num_perm,
            "shingle_size": self.config.shingle_size,
            "scheme": MINHASH_SCHEME,
            "seed": MINHASH_SEED,
            "n_articles": n,
            "segments": segments,
            "merges": self.merges,
        }
        tmp = os.path.join(self.root, f".{_MANIFEST}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.root, _MANIFEST))
        old = set(self.segments) - set(segments)
        self.segments = segments
        self._n_saved, self._n_merges_saved = n, len(self.merges)
        for name in old:  # only after the new manifest no longer lists them
            try:
                os.remove(os.path.join(self.root, name))
            except FileNotFoundError:
                pass

    def _write_segment(self, name: str, start: int, end: int) -> None:
        entries = self.entries[start:end]
        has = self.has_sig[start:end]
        rows = self.sigs[start:end][has]
        table = pa.Table.from_arrays(
            [
                pa.array(self.ids[start:end], pa.string()),
                pa.array(self.exact_hashes[start:end], pa.string()),
                _sig_array(rows, has, self.config.num_perm),
                pa.array([e.duplicate_of for e in entries], pa.string()),
                pa.array([e.near_duplicate_of for e in entries], pa.string()),
                pa.array([e.story_id for e in entries], pa.string()),
                pa.array([e.similarity for e in entries], pa.float32()),
            ],
            schema=_INDEX_SCHEMA,
        )
        tmp = os.path.join(self.root, f".{name}.tmp")
        # Signatures are random 32-bit values: compressing them would only cost load time.
        codecs = {name: "zstd" for name in table.column_names} | {"minhash": "none"}
        pq.write_table(table, tmp, compression=codecs, use_dictionary=["story_id"])
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.root, name))


@dataclass(frozen=True)
class DedupSummary:
    """Duplicate counts and the largest story clusters, for the run summary artifact."""

    n_articles: int
    n_exact: int
    n_near: int
    n_stories: int  # clusters of size >= 2
    n_in_stories: int
    largest: list[dict]  # story_id, title, size, sources ({source_name: count})


def summarize_duplicates(
    articles: pa.Table, index: DedupIndex | None = None, top: int = 10
) -> DedupSummary:
    """Count duplicates and rank story clusters of an articles table.

    Story ids are resolved through ``index.canonical_story`` when an index is given, so
    stories merged during the run count as one. Sizes count the rows of ``articles`` only.

    Args:
        articles: Needs ``article_id``, ``duplicate_of``, ``near_duplicate_of`` and
            ``story_id``; ``title`` and ``source_name`` are used when present.
        index: The index the stories were assigned with.
        top: How many of the largest clusters to list.
    """
    _require(articles, ("article_id", "duplicate_of", "near_duplicate_of", "story_id"), "articles")
    n = articles.num_rows
    titles = _column_or_nulls(articles, "title")
    sources = _column_or_nulls(articles, "source_name")
    members: dict[str, list[int]] = {}
    for row, story in enumerate(articles.column("story_id").to_pylist()):
        if story is not None:
            story = index.canonical_story(story) if index is not None else story
            members.setdefault(story, []).append(row)
    clusters = sorted(
        ((s, rows) for s, rows in members.items() if len(rows) >= 2),
        key=lambda item: (-len(item[1]), item[1][0]),
    )
    largest = []
    for story, rows in clusters[:top]:
        counts: dict[str, int] = {}
        for r in rows:
            name = sources[r] or "?"
            counts[name] = counts.get(name, 0) + 1
        largest.append(
            {
                "story_id": story,
                "title": next((titles[r] for r in rows if titles[r]), None),
                "size": len(rows),
                "sources": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            }
        )
    return DedupSummary(
        n_articles=n,
        n_exact=n - articles.column("duplicate_of").null_count,
        n_near=n - articles.column("near_duplicate_of").null_count,
        n_stories=len(clusters),
        n_in_stories=sum(len(rows) for _, rows in clusters),
        largest=largest,
    )


def _column_or_nulls(table: pa.Table, name: str) -> list:
    if name in table.column_names:
        return table.column(name).to_pylist()
    return [None] * table.num_rows


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Share of equal MinHash values: the Jaccard similarity estimate of two signatures."""
    return float(np.mean(np.asarray(sig_a) == np.asarray(sig_b)))
