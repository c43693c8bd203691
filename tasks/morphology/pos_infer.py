"""The learned POS tagger at inference: UPOS by the CRF, then the reading that agrees.

A linear-chain CRF (python-crfsuite) trained on a UD treebank labels each *pipeline
token* (a whitespace word with its clitics) with the UPOS of its content part, over the
BAMA analyzer's readings; it is scored by the sequence runtime (``tasks.sequence``) over
the features of :mod:`tasks.morphology.pos_features`, equal to crfsuite's own tagger.
The lemma and the other reading columns follow (:mod:`tasks.morphology.pos_lemma`).

The model directory holds ``crf.model`` (crfsuite), ``lemmas.json`` (the memory and the
feature settings), ``prior.tsv`` (the reading prior, issue 23) and ``MODEL_CARD.md``;
:func:`load_tagger` opens it once per process.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tasks.errors import EnvironmentError_
from tasks.morphology.pos_data import arabic_lemma
from tasks.morphology.pos_features import (
    _LEX,
    _POS,
    CONJUNCTIONS,
    TYPES_IN_MEMORY,
    PosFeatures,
    _reading_key,
)
from tasks.morphology.pos_lemma import choose_reading
from tasks.sequence import Decoded, SequenceModel, encode, load_weights

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "pos"
MODEL_FILE = "crf.model"
META_FILE = "lemmas.json"
FORMAT_VERSION = 1
_NON_WORD_POS = frozenset({"punc", "digit", "latin", "foreign"})
# A number's clitics and unit sign are not part of its lemma (ب15000 -> 15000, 3% -> 3).
_NON_WORD_TRIM_RE = re.compile(r"^[\u0621-\u064a]+|[%٪]+$")


class PosTagger:
    """A trained CRF plus the treebank's (word, UPOS) -> lemma memory."""

    def __init__(
        self,
        model_path: Path,
        lemmas: dict[str, str],
        clusters: Any = None,
        reading_weights: dict[str, float] | None = None,
        prior: Any = None,
        vectors: Any = None,
    ) -> None:
        weights = load_weights(model_path)
        self.features = PosFeatures(clusters, prior, vectors)
        self._prior = prior
        self.sequence = SequenceModel(weights, self.features.layers(), CONJUNCTIONS,
                                      self.features.fingerprint())
        self._lemmas = lemmas
        self._weights = reading_weights
        # Across batches (bounded): lemma choices keyed by everything they depend on,
        # so a hit is exactly what recomputing would give.
        self._choice_cache: dict[tuple, tuple] = {}
        self._order_ids: dict[tuple, int] = {}

    def decode(
        self, sentences: Sequence[Sequence[str]], morphology: Any, morph: dict[str, list],
        persistent: bool = False, encoded_words: tuple | None = None,
    ) -> Decoded:
        """Label indices (``self.sequence.labels``) and marginals of every token.

        With ``persistent``, word-type rows are read from and added to the persistent
        cache beside the analyses (the result is the same). ``encoded_words``: the
        tokens' ``encode``, when the caller has it.
        """
        codes, words = encoded_words or encode([w for s in sentences for w in s])
        # the ranker re-ranks each batch: a type's key is its word and its best reading
        types = [(w, _reading_key(morphology.readings(w))) for w in words]
        lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64,
                              count=len(sentences))
        # the rows are built from the readings: the analysis cache's key scopes them
        scope = _scope(morphology) if persistent else None
        keys = {"word": (codes, types), "ctx": encode(morph["upos"])}
        return self.sequence.tag(lengths, keys, morphology, scope)

    def predict(
        self, sentences: Sequence[Sequence[str]], morphology: Any, morph: dict[str, list],
        persistent: bool = False,
    ) -> list[str]:
        """UPOS of each token, flattened in token order."""
        labels = self.sequence.labels
        decoded = self.decode(sentences, morphology, morph, persistent)
        return [labels[k] for k in decoded.labels.tolist()]

    def retag(
        self, sentences: Sequence[Sequence[str]], morphology: Any, morph: dict[str, list],
        persistent: bool = False,
    ) -> dict[str, list]:
        """Replace the ranker's upos/lemma (and the reading columns) with the tagger's.

        ``morph`` is :meth:`tasks.morphology.Morphology.analyze_sentences`'s output for
        the same sentences; a new dict with the same columns is returned.
        """
        words_flat = [w for sent in sentences for w in sent]
        wcode, words = encode(words_flat)
        decoded = self.decode(sentences, morphology, morph, persistent, (wcode, words))
        labels = self.sequence.labels
        tag = decoded.labels
        pcode, poses = encode(morph["pos"])
        lcode, lemmas = encode(morph["lemma"])
        out = {name: values for name, values in morph.items()}
        cols = {name: np.array(morph[name], dtype=object)
                for name in ("lemma", "pos", "upos", "diac", "gloss", "bw", "d3tok")}
        label_names = np.array(labels, dtype=object)
        # Punctuation keeps the analyzer's PUNCT/SYM; a number or a Latin word gets the
        # tagger's UPOS and itself as lemma (و5000 -> 5000, 3% -> 3).
        kind = np.array([0 if p is not None and p not in _NON_WORD_POS else
                         2 if p in {"digit", "latin", "foreign"} else 1 for p in poses])
        kind = kind[pcode] if len(pcode) else kind[:0]
        punct = labels.index("PUNCT") if "PUNCT" in labels else -1
        for row in np.flatnonzero((kind == 2) & (tag != punct)).tolist():
            cols["upos"][row] = labels[tag[row]]
            word = words_flat[row]
            cols["lemma"][row] = _NON_WORD_TRIM_RE.sub("", word) or word
        sel = np.flatnonzero(kind == 0)
        if len(sel):
            # one choice per distinct (word, tag, ranked lemma, ranked pos) of the chunk
            code = ((wcode[sel] * len(labels) + tag[sel]) * len(lemmas) + lcode[sel]) \
                * len(poses) + pcode[sel]
            _, first, inv = np.unique(code, return_index=True, return_inverse=True)
            hits = self._choices(sel[first], words_flat, tag, morph, morphology)
            for j, name in enumerate(("lemma", "pos", "diac", "gloss", "bw", "d3tok")):
                values = np.empty(len(hits), dtype=object)
                values[:] = [h[j] for h in hits]
                cols[name][sel] = values[inv.ravel()]
            cols["upos"][sel] = label_names[tag[sel]]
        for name, values in cols.items():
            out[name] = values.tolist()
        return out

    def _choices(self, rows: np.ndarray, words: list[str], tag: np.ndarray,
                 morph: dict[str, list], morphology: Any) -> list[tuple]:
        """The lemma choice (:func:`choose_reading`) at each of ``rows``."""
        labels = self.sequence.labels
        cache, order_ids = self._choice_cache, self._order_ids
        if len(cache) > TYPES_IN_MEMORY:
            cache.clear()
            order_ids.clear()
        # The choice depends on the order of the word's readings, which the ranker may
        # change from batch to batch: it is part of the key (as an interned id, so a key
        # hashes as fast as its strings).
        orders: dict[str, int] = {}
        keys = []
        missing: dict[tuple, str] = {}  # key -> its word
        lemma_col, pos_col = morph["lemma"], morph["pos"]
        for row in rows.tolist():
            word = words[row]
            order = orders.get(word)
            if order is None:
                seq = tuple((r[_LEX], r[_POS]) for r in morphology.readings(word))
                order = orders[word] = order_ids.setdefault(seq, len(order_ids))
            key = (word, labels[tag[row]], lemma_col[row], pos_col[row], order)
            if key not in cache:
                missing[key] = word
            keys.append(key)
        if missing:
            self._choose_all(missing, morphology)
        return [cache[k] for k in keys]

    def _choose_all(self, missing: dict[tuple, str], morphology: Any) -> None:
        """Fill the choice cache for ``missing`` keys with :func:`choose_reading`.

        Not kept across runs: reading a choice back from SQLite took 1.7x the time of
        choosing it again (23k choices of a chunk, issue 21).
        """
        cache = self._choice_cache
        for key, word in missing.items():
            cache[key] = choose_reading(word, key[1], morphology.readings(word), key[2],
                                        key[3], self._lemmas, self._weights, self._prior)


def _scope(morphology: Any) -> str:
    """What rows built from ``morphology``'s readings depend on: its DB and
    analysis code (the analysis cache's key), else its name."""
    cache = getattr(morphology, "type_cache", None)
    return cache.path.stem if cache is not None else str(morphology.source)


@functools.lru_cache(maxsize=4)
def load_tagger(model_dir: str | None = None) -> PosTagger | None:
    """Open the tagger in ``model_dir`` (default: the shipped one) once per process.

    Returns None when the default model is not installed.

    Raises:
        EnvironmentError_: an explicitly given model directory is missing or unreadable.
    """
    path = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
    if not (path / MODEL_FILE).is_file() or not (path / META_FILE).is_file():
        if model_dir is None:
            return None
        raise EnvironmentError_(f"POS model directory {str(path)!r} lacks {MODEL_FILE}/{META_FILE}")
    meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT_VERSION:
        raise EnvironmentError_(
            f"POS model {str(path)!r} has format {meta.get('format')!r}, "
            f"this code reads {FORMAT_VERSION}; retrain it with `akhbar train pos`"
        )
    clusters = load_clusters() if meta.get("clusters") else None
    prior = None
    if meta.get("prior"):
        from tasks.morphology.prior import PRIOR_FILE, read_prior

        if not (path / PRIOR_FILE).is_file():
            raise EnvironmentError_(f"POS model {str(path)!r} lacks its {PRIOR_FILE}")
        prior = read_prior(path / PRIOR_FILE)
        if prior.sha256 != meta["prior"]:
            raise EnvironmentError_(
                f"{path / PRIOR_FILE} is not the prior the model was trained with; "
                "retrain it with `akhbar train pos`"
            )
    vectors = None
    if meta.get("vectors"):
        from tasks.morphology.pos_features import (
            VECTOR_TABLE_FILE,
            read_vector_table,
            vector_features,
        )

        vectors = vector_features(meta["vectors"]["uses"], meta=meta["vectors"])
        if meta["vectors"].get("table"):
            read_vector_table(vectors, path / VECTOR_TABLE_FILE, meta["vectors"]["table"])
    # Models trained before issue 23 remember PUD's raw Buckwalter dagger alif (ه`ذا).
    lemmas = {k: arabic_lemma(v) for k, v in meta["lemmas"].items()}
    return PosTagger(path / MODEL_FILE, lemmas, clusters, meta.get("readings"), prior, vectors)


def load_clusters() -> Any:
    """The shipped word clusters, or None when ``tasks.clusters`` has none."""
    try:
        from tasks.clusters import load_clusters as load
    except ImportError:
        return None
    return load()
