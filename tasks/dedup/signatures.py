"""Per-article dedup signatures: normalized-text hash and MinHash over word shingles.

``compute_signatures`` runs in the batch workers (parallel). Per article it gives the
SHA-256 of the normalized text (``exact_hash``) and a MinHash signature over word
shingles (``minhash``), as an Arrow table that travels through the staging files.

MinHash is datasketch's ``affine32`` scheme (MurmurHash3 finalizer, then ``a*h+b mod 2^32``
with datasketch's own permutations), computed for a whole batch at once with numpy; the
values equal ``datasketch.MinHash(scheme="affine32").update_batch`` on the same shingle
hashes, so ``datasketch.LeanMinHash`` can wrap them. LSH banding parameters come from
``datasketch.MinHashLSH``; the band tables themselves are sorted numpy arrays so that an
index of 100k articles loads in well under a second.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain

import numpy as np
import pyarrow as pa

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

SIGNATURES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("exact_hash", pa.string()),  # null when the normalized text is empty
        pa.field("n_shingles", pa.int32()),
        pa.field("minhash", pa.list_(pa.uint32())),  # null below MIN_SHINGLES
        # Sorted hashes of the text's numbers and ordinals: a story check (dedup.stories).
        pa.field("numbers", pa.list_(pa.uint32())),
    ],
    metadata={"akhbar.table": "dedup_signatures", "akhbar.signature_version": SIGNATURE_VERSION},
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
# Ordinals 1st-10th (masculine and feminine) after normalization: الخامسة -> الخامسه.
_ORDINALS = frozenset(
    "الاول الاولي الثالث الثالثه الرابع الرابعه الخامس الخامسه السادس السادسه السابع "
    "السابعه الثامن الثامنه التاسع التاسعه العاشر العاشره".split()
)


@lru_cache(maxsize=1)
def _dediac():
    # camel_tools.utils.charsets builds its Unicode tables when imported (about 1 s): a
    # process that only commits (a run where nothing changed) never pays it (issue 21).
    from camel_tools.utils.dediac import dediac_ar

    return dediac_ar


def dedup_words(text: str) -> list[str]:
    """Words of ``text`` after dediac, letter normalization, digit and case folding.

    A trailing related-articles list (from an "اقرأ أيضاً" marker on) is left out.
    """
    text = _dediac()(text)
    for old, new in _REPLACEMENTS:
        if old in text:
            text = text.replace(old, new)
    # Literal pre-check: the regex alone costs more than the rest of this function.
    if "ايضا" in text or "المزيد" in text:
        marker = _READ_ALSO.search(text)
        if marker is not None and marker.start() > 0:
            text = text[: marker.start()]
    return _WORD.findall(text.lower())


def number_hashes(words: Sequence[str]) -> list[int]:
    """Sorted distinct 32-bit hashes of the numbers and ordinals among normalized ``words``.

    Reposts keep a dispatch's figures; a templated series changes them: the fourth and
    the fifth relief flight (الرابعة, الخامسة), "10 tons" and "12 tons".
    """
    found = {w for w in words if w.isdigit() or w in _ORDINALS}
    return sorted(
        int.from_bytes(hashlib.blake2b(w.encode(), digest_size=4).digest(), "little") for w in found
    )


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
    """datasketch's affine32 permutations (``MinHash._init_permutations``), from numpy alone.

    Importing datasketch pulls in scipy: ~80 MB in every worker that signs (issue 14).
    ``tests/tasks/test_dedup.py`` checks these equal datasketch's own.
    """
    gen = np.random.RandomState(MINHASH_SEED)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


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

    # A few chunks' vocabulary: a bigger cache grows a worker with its input (issue 14).
    def __init__(self, max_size: int = 100_000) -> None:
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
    numbers = [number_hashes(d) for d in docs]
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
            pa.array(numbers, pa.list_(pa.uint32())),
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
    """(bands, rows per band) that datasketch's MinHashLSH picks for this threshold.

    The (b, r) minimizing ``w_fp * P(false positive) + w_fn * P(false negative)``, the
    probabilities being integrals over the Jaccard similarity, as in datasketch's
    ``_optimal_param``. datasketch integrates with scipy, whose import costs the flow
    process ~80 MB (issue 14); the integrands are polynomials of degree b*r <= num_perm,
    so Gauss-Legendre quadrature with num_perm // 2 + 1 nodes is exact.
    ``tests/tasks/test_dedup.py`` checks the result equals datasketch's.
    """
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def integral(lo: float, hi: float, r: int, b: int, collide: bool) -> float:
        s = (hi - lo) / 2 * nodes + (hi + lo) / 2
        miss = (1 - s**r) ** b  # no band of r rows agrees
        return float((hi - lo) / 2 * np.dot(weights, 1 - miss if collide else miss))

    w_fp, w_fn = _LSH_WEIGHTS
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = integral(0.0, threshold, r, b, collide=True)
            fn = integral(threshold, 1.0, r, b, collide=False)
            error = fp * w_fp + fn * w_fn
            if error < best:
                best, opt = error, (b, r)
    return opt


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


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Share of equal MinHash values: the Jaccard similarity estimate of two signatures."""
    return float(np.mean(np.asarray(sig_a) == np.asarray(sig_b)))
