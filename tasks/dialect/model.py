"""Learned dialect identifier (issue 24): hashed char + word n-grams, a linear model.

A text is cleaned as the pipeline sees it (``tasks.clean.normalize_ar``: dediac, alef,
yaa, teh marbuta) after dropping what only tweets have (URLs, @mentions, hashtags, RT,
emoji, Latin), so tweets and news look alike. Features are, per word, its character
n-grams inside word boundaries (2-5: ``<كده>`` gives ``<ك``, ``كده>``, ...) and the
words and word pairs themselves, hashed (crc32) into a fixed number of columns, with
sublinear counts, IDF weights and an L2 norm. Probabilities are a softmax over
``scale * (X @ W + b)``, ``scale`` fitted on the held-aside-by-source scores.

The model directory holds ``config.json`` (labels, hashing size, article rule) and
``weights.npz`` (``W`` float16, ``b``, ``idf``): numpy is all inference needs; the
trainer (``tasks.dialect.train``) uses scikit-learn.

Articles are long and tweets short: an article is cut into sentences (at most
``max_segments`` spread over it, their first ``max_words`` words), each is scored, and
the article is dialectal only when dialectal sentences carry at least
``dialect_share`` of their letters (a quoted Darija sentence in formal prose stays MSA).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.errors import ConfigError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"
CARD_FILE = "MODEL_CARD.md"
SHIPPED_DIR = Path(__file__).parents[1] / "models" / "dialect"
FEATURES_VERSION = 2

# Tweet furniture: links, @user, #tag, "RT", then anything that is not an Arabic letter.
_URL = re.compile(r"(?:https?://|www\.)\S+")
_MENTION = re.compile(r"[@#]\w+")
_RT = re.compile(r"\bRT\b")
_NON_LETTER = re.compile(
    r"[^\n\u0621-\u064A\u0660-\u0669\u067E\u0686\u06A4\u06AF\u06A9\u06CC]+")
_DIGITS = re.compile(r"[\u0660-\u0669]+")
# ههههه, جدااااا: letters repeated for emphasis are cut to two, as AOC's authors did
_REPEAT = re.compile(r"(\S)\1{2,}")
# Sentence ends for cutting an article: . ! ? ؟ ؛ and line breaks.
_SENTENCE_END = re.compile(r"(?<=[.!?؟؛…])\s+|\n+")


def clean_text(text: str) -> str:
    """The text a dialect feature sees: no tweet furniture, normalized Arabic letters only.

    ``RT @x: شو بدك؟ 😂 https://t.co/a`` -> ``شو بدك``.
    """
    return clean_texts([text])[0]


def clean_texts(texts: Sequence[str]) -> list[str]:
    """:func:`clean_text` of each text, in one pass of each regex over them all."""
    from tasks.clean import normalize_ar

    text = "\n".join(t.replace("\n", " ") for t in texts)
    text = _RT.sub(" ", _MENTION.sub(" ", _URL.sub(" ", text)))
    # dediac before dropping non-letters, so that بدّك stays one word
    text = _NON_LETTER.sub(" ", normalize_ar(text).replace("\u0640", ""))
    text = _REPEAT.sub(r"\1\1", _DIGITS.sub(" ", text))
    return [" ".join(line.split()) for line in text.split("\n")]


class Featurizer:
    """Hashed sparse features of cleaned texts; the n-grams of each word type are cached."""

    def __init__(self, n_features: int, char_ngrams: tuple[int, int] = (2, 5),
                 word_ngrams: int = 2) -> None:
        self.n_features = n_features
        self.char_ngrams = char_ngrams
        self.word_ngrams = word_ngrams
        if word_ngrams not in (1, 2):
            raise ConfigError(f"word_ngrams must be 1 or 2, not {word_ngrams!r}")
        # word -> (its char n-gram and word columns, its 32-bit hash for word pairs)
        self._word_cache: dict[str, tuple[np.ndarray, int]] = {}

    def _hash(self, s: str) -> int:
        return zlib.crc32(s.encode("utf-8")) % self.n_features

    def _word(self, w: str) -> tuple[np.ndarray, int]:
        hit = self._word_cache.get(w)
        if hit is None:
            lo, hi = self.char_ngrams
            padded = f"<{w}>"
            cols = [self._hash(padded[i:i + n]) for n in range(lo, hi + 1)
                    for i in range(len(padded) - n + 1)]
            h = zlib.crc32(("w " + w).encode("utf-8"))
            cols.append(h % self.n_features)
            hit = (np.array(cols, dtype=np.int32), h)
            if len(self._word_cache) < 1_000_000:
                self._word_cache[w] = hit
        return hit

    def _columns(self, cleaned: str) -> np.ndarray:
        entries = [self._word(w) for w in cleaned.split()]
        parts = [cols for cols, _ in entries]
        if self.word_ngrams == 2 and len(entries) >= 2:
            # a word pair's column mixes its words' hashes (no string built per pair)
            h = np.fromiter((h for _, h in entries), dtype=np.uint64, count=len(entries))
            pairs = (h[:-1] * np.uint64(0x9E3779B1) + h[1:]) % np.uint64(self.n_features)
            parts.append(pairs.astype(np.int32))
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)

    def counts(self, cleaned: Sequence[str]):
        """CSR matrix of sublinear counts (1 + log count), one row per cleaned text."""
        from scipy.sparse import csr_matrix

        cols = [self._columns(t) for t in cleaned]
        indptr = np.zeros(len(cols) + 1, dtype=np.int64)
        np.cumsum([len(c) for c in cols], out=indptr[1:])
        indices = np.concatenate(cols) if cols else np.empty(0, dtype=np.int32)
        X = csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr),
                       shape=(len(cols), self.n_features))
        X.sum_duplicates()
        X.data = 1.0 + np.log(X.data)
        return X

    def transform(self, cleaned: Sequence[str], idf: np.ndarray | None = None):
        """CSR matrix of sublinear, IDF-weighted, L2-normed rows."""
        return weigh(self.counts(cleaned), idf)


def weigh(counts, idf: np.ndarray | None):
    """``counts`` times ``idf`` per column, each row scaled to unit length (a new matrix)."""
    from scipy.sparse import diags

    X = counts @ diags(idf.astype(np.float32)) if idf is not None else counts.copy()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return diags(1.0 / norms.astype(np.float32)) @ X


@dataclass
class DialectModel:
    """A trained identifier: weights, labels and the article rule."""

    labels: tuple[str, ...]
    W: np.ndarray  # (n_features, n_labels)
    b: np.ndarray  # (n_labels,)
    idf: np.ndarray  # (n_features,)
    config: dict
    sha256: str = ""

    @functools.cached_property
    def featurizer(self) -> Featurizer:
        c = self.config["features"]
        return Featurizer(c["n_features"], tuple(c["char_ngrams"]), c["word_ngrams"])

    @property
    def method(self) -> str:
        """``linear:<sha prefix>``, the value of ``articles.dialect_method``."""
        return f"linear:{self.sha256[:12]}"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability per label (columns follow :attr:`labels`) for each short text."""
        return self.proba_cleaned(clean_texts(texts))

    def proba_cleaned(self, cleaned: Sequence[str]) -> np.ndarray:
        out = self.decision(cleaned) * self.config.get("scale", 1.0)
        out -= out.max(axis=1, keepdims=True)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out

    def decision(self, cleaned: Sequence[str]) -> np.ndarray:
        """Linear scores ``X @ W + b`` of cleaned texts.

        The same numbers as ``Featurizer.transform(cleaned, idf) @ W + b``, computed
        with one sort and bincounts instead of sparse matrices (several times faster).
        """
        from scipy.sparse import csr_matrix

        n, nf = len(cleaned), self.featurizer.n_features
        out = np.tile(self.b.astype(np.float64), (n, 1))
        # rows in blocks whose keys row * nf + column fit in int32 (sorts faster than int64)
        block = max(1, (2**31 - 1) // nf)
        for lo in range(0, n, block):
            cols = [self.featurizer._columns(t) for t in cleaned[lo:lo + block]]
            lengths = np.fromiter(map(len, cols), dtype=np.int64, count=len(cols))
            if not lengths.sum():
                continue
            keys = np.repeat(np.arange(len(cols), dtype=np.int32) * np.int32(nf), lengths)
            keys += np.concatenate(cols)
            uniq, counts = np.unique(keys, return_counts=True)
            rows, c = uniq // nf, uniq % nf
            vals = (1.0 + np.log(counts)) * self.idf[c]
            vals /= np.sqrt(np.bincount(rows, weights=vals * vals, minlength=len(cols)))[rows]
            indptr = np.searchsorted(rows, np.arange(len(cols) + 1))
            X = csr_matrix((vals.astype(np.float32), c, indptr), shape=(len(cols), nf))
            out[lo:lo + len(cols)] += X @ self.W
        return out

    def identify(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """``(label, probability)`` per text, by the article rule (see :func:`decide_article`)."""
        rule = self.config["article"]
        segs_per_text = [split_segments(t, rule["max_segments"], rule["max_words"])
                         for t in texts]
        cleaned = clean_texts([s for segs in segs_per_text for s in segs])
        proba = self.proba_cleaned(cleaned)
        out, k = [], 0
        for segs in segs_per_text:
            n = len(segs)
            weights = [len(c.replace(" ", "")) for c in cleaned[k:k + n]]
            # the probability floor is for articles; a tweet keeps the model's top label
            floor = (rule.get("min_proba", 0.0)
                     if sum(weights) >= rule.get("min_proba_letters", 0) else 0.0)
            out.append(decide_article(proba[k:k + n], weights, self.labels,
                                      rule["dialect_share"], floor))
            k += n
        return out


def split_segments(text: str, max_segments: int, max_words: int = 0) -> list[str]:
    """Sentences of ``text``; a long text keeps ``max_segments`` of them spread evenly
    over it, each cut to its first ``max_words`` words (0: all), so the cost per article
    is bounded."""
    segs = [s for s in _SENTENCE_END.split(text) if s and s.strip()]
    if not segs:
        return [""]
    if len(segs) > max_segments:
        step = len(segs) / max_segments
        segs = [segs[int(i * step)] for i in range(max_segments)]
    if max_words:
        segs = [" ".join(s.split()[:max_words]) for s in segs]
    return segs


def decide_article(proba: np.ndarray, weights: Sequence[int], labels: Sequence[str],
                   dialect_share: float, min_proba: float = 0.0) -> tuple[str, float]:
    """One label for a text from its sentences' probabilities.

    Each sentence votes for its top label with its letter count; a sentence whose top
    label is a dialect with probability below ``min_proba`` votes MSA (news prose about
    Riyadh is not Gulf dialect because the model leans that way). The text is MSA unless
    dialect votes hold at least ``dialect_share`` of the letters; then it takes the
    dialect with the most letters. The score is the letter-weighted mean probability of
    the chosen label over the sentences that voted for it (for a one-sentence text, the
    model's probability).
    """
    msa = labels.index("MSA")
    w = np.asarray(weights, dtype=np.float64)
    if w.sum() == 0:
        return "MSA", float(proba[:, msa].mean()) if len(proba) else 1.0
    top = proba.argmax(axis=1)
    top[proba[np.arange(len(top)), top] < min_proba] = msa
    mass = np.bincount(top, weights=w, minlength=len(labels))
    dialectal = mass.sum() - mass[msa]
    if dialectal >= dialect_share * w.sum() and dialectal > 0:
        mass[msa] = -1.0
    else:
        mass[:] = -1.0
        mass[msa] = 0.0
    choice = int(mass.argmax())
    voters = top == choice
    if not voters.any() or w[voters].sum() == 0:
        return labels[choice], float(np.average(proba[:, choice], weights=w))
    return labels[choice], float(np.average(proba[voters, choice], weights=w[voters]))


def save_model(model: DialectModel, out_dir: str | Path) -> str:
    """Write ``config.json`` and ``weights.npz``; return the weights' sha256."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"W": model.W.astype(np.float16), "b": model.b.astype(np.float32),
              "idf": model.idf.astype(np.float16)}
    # an .npz written with a fixed date, so equal weights give an equal sha256
    with zipfile.ZipFile(out / WEIGHTS_FILE, "w", zipfile.ZIP_DEFLATED) as z:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            z.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)),
                       buf.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    config = dict(model.config, labels=list(model.labels), features_version=FEATURES_VERSION)
    (out / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n",
                                   encoding="utf-8")
    return _sha256(out / WEIGHTS_FILE)


def model_available(model_dir: str | Path = SHIPPED_DIR) -> bool:
    """True when ``model_dir`` holds a dialect model."""
    d = Path(model_dir)
    return (d / CONFIG_FILE).is_file() and (d / WEIGHTS_FILE).is_file()


def load_model(model_dir: str | Path = SHIPPED_DIR) -> DialectModel:
    """Read a model written by :func:`save_model` (cached per directory)."""
    return _load(str(Path(model_dir).resolve()))


@functools.lru_cache(maxsize=4)
def _load(model_dir: str) -> DialectModel:
    d = Path(model_dir)
    if not model_available(d):
        raise ConfigError(f"dialect model directory {model_dir!r} has no {CONFIG_FILE} "
                          f"and {WEIGHTS_FILE}; train one with `akhbar train dialect`")
    config = json.loads((d / CONFIG_FILE).read_text(encoding="utf-8"))
    if config.get("features_version") != FEATURES_VERSION:
        raise ConfigError(f"dialect model {model_dir!r} has features version "
                          f"{config.get('features_version')!r}, this code reads "
                          f"{FEATURES_VERSION}: retrain it with `akhbar train dialect`")
    with np.load(d / WEIGHTS_FILE, allow_pickle=False) as z:
        W, b, idf = z["W"].astype(np.float32), z["b"], z["idf"].astype(np.float64)
    return DialectModel(tuple(config["labels"]), W, b, idf, config, _sha256(d / WEIGHTS_FILE))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
