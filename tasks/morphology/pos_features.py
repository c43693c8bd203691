"""The POS tagger's features, declared for the sequence runtime (``tasks.sequence``).

Per word type (``word`` layer; its key is the word and the reading its features depend
on, since the ranker re-ranks each batch): the normalized word and its affixes, the
analyzer's ambiguity class (the set of UPOS over its readings) and each reading's UPOS,
the ranker's best reading (UPOS, camel POS, lemma and its vowelled edges, clitics,
definiteness), the second reading's UPOS, out-of-lexicon, a proper-noun reading,
gazetteer membership and word clusters; what it lends its neighbours at ±1 and ±2;
``{d}BOUND`` past the sentence edge. Per token (``ctx``): the ranker's in-context UPOS.
Conjunctions: ambiguity-class and ranked-UPOS bigrams, a word with its neighbour's class.

To add a word-type feature, append it in :func:`_type_info` (``feats`` for the word
itself, ``lent`` for what neighbours see; a dense one as a ``(name, value)`` pair); a
conjunction, in :data:`CONJUNCTIONS`. Then retrain (``akhbar train pos``). With a reading
prior (:mod:`tasks.morphology.prior`), a word also sees how the unlabeled news spreads it
over its readings' UPOS (``pu<UPOS>=<bucket>``, ``pru=``), issue 23. With word vectors
(:class:`VectorFeatures`, ``akhbar train pos --vectors``), it also sees what the subword
fastText vectors of :mod:`tasks.embeddings` say of it, per word type (issue 23).
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tasks.errors import ConfigError, EnvironmentError_
from tasks.morphology.pos_data import norm_lemma
from tasks.sequence import Conjunction, Feature, Layer, Row, code_fingerprint
from tasks.sequence.items import Item, sentence_items

_DIGIT_RE = re.compile(r"^[0-9٠-٩.,٫٬%]+$")
_LATIN_RE = re.compile(r"[A-Za-z]")
_ARABIC_RE = re.compile("[\u0621-\u064a]")
# A few chunks' vocabulary (~20k types a chunk); more grows workers with the input (issue 14).
TYPES_IN_MEMORY = 25_000

# Reading tuple fields (tasks.morphology): lex, pos, upos, diac, gloss, bw, d3tok, score,
# is_definite, source, n_proclitics.
_LEX, _POS, _UPOS, _DIAC, _GLOSS, _BW, _D3, _SCORE, _DEF, _SRC, _NPRO = range(11)
_NEIGHBOUR_OFFSETS = (-2, -1, 1, 2)


def _word_shape(word: str) -> str:
    if _DIGIT_RE.match(word):
        return "digit"
    if _LATIN_RE.search(word):
        return "latin"
    if not _ARABIC_RE.search(word):
        return "punct"
    return "ar"


@dataclass(frozen=True)
class _TypeInfo:
    """What the tagger knows about one word type."""

    own: tuple[Feature, ...]  # the word's own features
    near: dict[int, tuple[Feature, ...]]  # features it lends its neighbours, by offset
    ambiguity: str
    norm: str


def _share_bucket(share: float) -> int:
    return 3 if share >= 0.9 else 2 if share >= 0.5 else 1 if share >= 0.1 else 0


VECTOR_USES = ("dense", "near", "kmeans", "names", "knn")
KNN = 10  # training word types that vote on a word's UPOS ("knn")
# The vote searches all ~4,400 training types (about 100 µs a word, 3x the POS stage if
# done at run time), so it is worked out at training time for every word the vectors
# know (VectorFeatures.build_table, shipped as vectors.npz); unseen words are left.
# Words whose vector features are held (the tagger's row cache holds a chunk's; the
# news repeats most words from chunk to chunk, and the vote is the costly part).
VECTOR_ROWS_IN_MEMORY = 100_000
DENSE_SCALE = 0.3  # standardized dimensions times this: comparable to a 1.0 indicator
# open classes whose training words give a centroid of the vectors ("names")
CENTROID_UPOS = ("ADJ", "NOUN", "PROPN", "VERB")


@dataclass(eq=False)
class VectorFeatures:
    """How the tagger uses the subword word vectors of :mod:`tasks.embeddings` (issue 23).

    ``uses`` picks among :data:`VECTOR_USES`: ``dense`` (the word's standardized vector
    as float features), ``near`` (the same for ±1), ``kmeans`` (the vectors' k-means ids
    at each shipped granularity, the middle one lent to ±1), ``names`` (which training
    UPOS centroid the word is nearest, and how much nearer PROPN's is than NOUN's: an
    unseen name still lands near the names it shares pieces or contexts with), ``knn``
    (the UPOS most of its nearest training word types, itself left out, have).
    """

    vectors: Any  # tasks.embeddings.WordVectors
    uses: frozenset[str]
    centroids: dict[str, np.ndarray] = field(default_factory=dict)  # UPOS -> unit vector
    lexicon: dict[str, str] = field(default_factory=dict)  # training type -> its UPOS
    rows: dict[str, tuple] = field(default_factory=dict, repr=False)  # word -> its features

    def __post_init__(self) -> None:
        bad = self.uses - set(VECTOR_USES)
        if bad:
            raise ConfigError(f"vector use(s) {sorted(bad)!r} not among {VECTOR_USES!r}")
        v = self.vectors.vectors.astype(np.float32)
        self._mu, self._sd = v.mean(0), v.std(0) + 1e-6
        keys = sorted(self.lexicon)
        self._knn_index = {k: i for i, k in enumerate(keys)}
        self._knn_labels = [self.lexicon[k] for k in keys]
        self._knn_matrix = (
            np.stack([_unit_vector(self.vectors.vector(k)) for k in keys]).astype(np.float32)
            if keys else np.zeros((0, self.vectors.dim), dtype=np.float32)
        )
        self._table: np.ndarray | None = None
        self._table_labels: list[str] = []

    def _table_row(self, word: str) -> np.ndarray | None:
        if self._table is None:
            return None
        from tasks.clusters import cluster_key

        row = self.vectors.words.get(cluster_key(word))
        return None if row is None else self._table[row]

    def verdicts(self, word: str) -> tuple[tuple[str, str] | None, tuple[str, int] | None]:
        """:meth:`knn` and :meth:`nearest` of ``word``, from the table when it has it."""
        row = self._table_row(word)
        if row is None:
            return self.knn(word), self.nearest(word)
        labels = self._table_labels
        return ((labels[row[0]], labels[row[1]]) if row[0] >= 0 else None,
                (labels[row[2]], int(row[3])) if row[2] >= 0 else None)

    def build_table(self) -> None:
        """Work out the ``knn`` and ``names`` verdicts of every word in the vectors' table
        at once (they depend on its vector only); at run time only unseen words are left."""
        self._table = None
        n = len(self.vectors.words)
        labels = sorted(set(self._knn_labels) | set(self.centroids))
        table = np.full((n, 4), -1, dtype=np.int16)
        words = [""] * n
        for w, i in self.vectors.words.items():
            words[i] = w
        for i, w in enumerate(words):
            knn, nearest = self.knn(w), self.nearest(w)
            if knn is not None:
                table[i, 0], table[i, 1] = labels.index(knn[0]), labels.index(knn[1])
            if nearest is not None:
                table[i, 2], table[i, 3] = labels.index(nearest[0]), nearest[1]
        self.set_table(table, labels)

    def set_table(self, table: np.ndarray | None, labels: Sequence[str]) -> None:
        self._table, self._table_labels = table, list(labels)

    def knn(self, word: str) -> tuple[str, str] | None:
        """The UPOS of the nearest training type and the similarity-weighted vote of the
        :data:`KNN` nearest (the word's own type left out), searched: :meth:`verdicts`
        reads the training-time table first."""
        if not len(self._knn_labels):
            return None
        from tasks.clusters import cluster_key

        sims = self._knn_matrix @ _unit_vector(self.vectors.vector(word))
        own = self._knn_index.get(cluster_key(word))
        if own is not None:
            sims[own] = -2.0
        k = min(KNN, len(sims) - (own is not None))
        if k <= 0:
            return None
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        sims = sims[top]
        votes: dict[str, float] = defaultdict(float)
        for i, sim in zip(top.tolist(), sims.tolist(), strict=True):
            votes[self._knn_labels[i]] += max(sim, 0.0)
        first = self._knn_labels[int(top[0])]
        return first, max(votes, key=lambda u: (votes[u], u))

    def dense(self, word: str) -> list[float]:
        z = (self.vectors.vector(word) - self._mu) / self._sd * DENSE_SCALE
        return [round(float(x), 4) for x in z]

    def nearest(self, word: str) -> tuple[str, int] | None:
        """The nearest centroid's UPOS and the PROPN-minus-NOUN cosine, bucketed
        (computed: :meth:`verdicts` reads the training-time table first)."""
        if not self.centroids:
            return None
        v = _unit_vector(self.vectors.vector(word))
        sims = {u: float(c @ v) for u, c in self.centroids.items()}
        margin = sims.get("PROPN", 0.0) - sims.get("NOUN", 0.0)
        return max(sims, key=lambda u: (sims[u], u)), max(-3, min(3, round(margin * 10)))

    def meta(self) -> dict:
        return {"uses": sorted(self.uses), "sha256": self.vectors.sha256,
                "centroids": {u: [round(float(x), 6) for x in c]
                              for u, c in sorted(self.centroids.items())},
                "lexicon": dict(sorted(self.lexicon.items()))}

    def fingerprint(self) -> str:
        return json.dumps(self.meta(), sort_keys=True)


VECTOR_TABLE_FILE = "vectors.npz"


def write_vector_table(vec: VectorFeatures, path: Path) -> str:
    """Write ``vec``'s table (:meth:`VectorFeatures.build_table`); returns its sha256."""
    import hashlib

    from tasks.embeddings import _write_npz

    _write_npz(path, {"table": vec._table, "labels": np.array(vec._table_labels)})
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_vector_table(vec: VectorFeatures, path: Path, sha256: str) -> None:
    """Give ``vec`` the table at ``path``, which must be the one of ``sha256``.

    Raises:
        EnvironmentError_: the file is missing or not the one the model was trained with.
    """
    import hashlib

    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        raise EnvironmentError_(
            f"{path} is missing or not the one the POS model was trained with; "
            "retrain it with `akhbar train pos`"
        )
    with np.load(path, allow_pickle=False) as z:
        vec.set_table(z["table"], z["labels"].tolist())


def _unit_vector(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def learn_centroids(vectors: Any, words: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Per UPOS of :data:`CENTROID_UPOS`, the unit mean of its (word, UPOS) tokens' unit
    vectors (Arabic words only)."""
    sums: dict[str, np.ndarray] = {}
    for word, upos in words:
        if upos in CENTROID_UPOS and _word_shape(word) == "ar":
            v = _unit_vector(vectors.vector(word))
            sums[upos] = sums[upos] + v if upos in sums else v.copy()
    return {u: _unit_vector(s).astype(np.float32) for u, s in sorted(sums.items())}


def learn_lexicon(words: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Each Arabic training word type (normalized as the vectors are) -> its commonest
    UPOS (ties: alphabetical)."""
    from tasks.clusters import cluster_key

    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for word, upos in words:
        if upos != "PUNCT" and _word_shape(word) == "ar":
            counts[cluster_key(word)][upos] += 1
    return {k: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for k, c in counts.items()}


def vector_features(
    uses: Sequence[str] | str | None, words: Sequence[tuple[str, str]] = (),
    meta: dict | None = None,
) -> VectorFeatures | None:
    """The vector features for ``uses`` (comma-separated or a list; None/empty: none),
    with the centroids learnt from ``words`` or read from a model's ``meta``.

    Raises:
        EnvironmentError_: the shipped vectors (tasks/models/embeddings) are missing.
    """
    if isinstance(uses, str):
        uses = [u for u in uses.split(",") if u and u != "none"]
    if not uses:
        return None
    from tasks.embeddings import MODEL_DIR, load_vectors

    wv = load_vectors()
    if wv is None:
        raise EnvironmentError_(f"the POS tagger's vector features need {MODEL_DIR}/embeddings.npz")
    if meta is not None and meta.get("sha256") != wv.sha256:
        raise EnvironmentError_(
            f"{MODEL_DIR}/embeddings.npz is not the one the POS model was trained with; "
            "retrain it with `akhbar train pos`"
        )
    use_set = frozenset(uses)
    if meta is not None:
        centroids = {u: np.asarray(c, dtype=np.float32) for u, c in meta["centroids"].items()}
        lexicon = meta.get("lexicon", {})
    else:
        centroids = learn_centroids(wv, words) if "names" in use_set else {}
        lexicon = learn_lexicon(words) if "knn" in use_set else {}
    return VectorFeatures(wv, use_set, centroids, lexicon)


def _vector_feats(word: str, vec: VectorFeatures) -> tuple[tuple, dict[int, tuple]]:
    hit = vec.rows.get(word)
    if hit is None:
        if len(vec.rows) > VECTOR_ROWS_IN_MEMORY:
            vec.rows.clear()
        hit = vec.rows[word] = _compute_vector_feats(word, vec)
    return hit


def _compute_vector_feats(word: str, vec: VectorFeatures) -> tuple[tuple, dict[int, tuple]]:
    own: list[Feature] = []
    near: dict[int, list[Feature]] = {-1: [], 1: []}
    if "dense" in vec.uses or "near" in vec.uses:
        z = vec.dense(word)
        if "dense" in vec.uses:
            own.extend((f"e{k}", x) for k, x in enumerate(z))
        if "near" in vec.uses:
            for off in (-1, 1):
                near[off].extend((f"{off}e{k}", x) for k, x in enumerate(z))
    if "kmeans" in vec.uses:
        ids = vec.vectors.clusters(word)
        own.extend(f"k{i}={c}" for i, c in enumerate(ids))
        for off in (-1, 1):
            near[off].append(f"{off}k={ids[len(ids) // 2]}")
    knn, nearest = vec.verdicts(word) if vec.uses & {"knn", "names"} else (None, None)
    if "names" in vec.uses:
        hit = nearest
        if hit is not None:
            own += [f"nc={hit[0]}", f"pm={hit[1]}"]
            for off in (-1, 1):
                near[off].append(f"{off}nc={hit[0]}")
    if "knn" in vec.uses:
        hit = knn
        if hit is not None:
            own += [f"nn1={hit[0]}", f"nn={hit[1]}"]
            for off in (-1, 1):
                near[off].append(f"{off}nn={hit[1]}")
    return tuple(own), {off: tuple(f) for off, f in near.items()}


def _type_info(
    word: str, readings: Sequence[tuple], clusters: Any, prior: Any = None,
    vec: VectorFeatures | None = None,
) -> _TypeInfo:
    norm = norm_lemma(word)
    shape = _word_shape(word)
    feats: list[Feature] = [f"w={norm}", f"sh={shape}"]
    if shape == "ar":
        for k in (1, 2, 3):
            if len(norm) > k:
                feats.append(f"p{k}={norm[:k]}")
                feats.append(f"s{k}={norm[-k:]}")
    feats.append(f"len={min(len(norm), 10)}")
    tags = sorted({r[_UPOS] or "X" for r in readings})
    ambiguity = "|".join(tags) if tags else "none"
    feats.append(f"ac={ambiguity}")
    feats.extend(f"ru={t}" for t in tags)
    cluster = None
    if readings:
        top = readings[0]
        feats.append(f"r0={top[_UPOS]}")
        feats.append(f"r0p={top[_POS]}")
        feats.append(f"lx={norm_lemma(top[_LEX])}")
        feats.append(f"npro={top[_NPRO] or 0}")
        if top[_DEF]:
            feats.append("def")
        if all(r[_SRC] == "backoff" for r in readings):
            feats.append("oov")
        if any(r[_POS] == "noun_prop" for r in readings):
            feats.append("hasprop")
        bw = top[_BW] or ""
        if "POSS_PRON" in bw or "_DO" in bw:
            feats.append("enc")
        if len(readings) > 1:
            feats.append(f"r1={readings[1][_UPOS]}")
        lex = top[_LEX] or ""
        if lex and top[_SRC] != "backoff":
            # The lemma's vowelled edges carry its pattern: مُ- participles, -يّ nisba
            # adjectives, فَعِيل; BAMA lists many such adjectives as nouns.
            feats.append(f"lxb={lex[:2]}")
            feats.append(f"lxe={lex[-3:]}")
    if prior is not None and len(readings) > 1:
        # How the unlabeled news spreads the word over its readings' UPOS (issue 23).
        by_upos: dict[str, float] = defaultdict(float)
        for r, share in zip(readings, prior.shares(readings), strict=True):
            by_upos[r[_UPOS] or "X"] += share
        feats.extend(f"pu{u}={_share_bucket(sh)}" for u, sh in sorted(by_upos.items()))
        feats.append(f"pru={max(by_upos.items(), key=lambda kv: (kv[1], kv[0]))[0]}")
    if shape == "ar":
        for kind in _gazetteer_kinds().get(_strip_proclitics(norm), ()):
            feats.append(f"gz={kind}")
    if clusters is not None and shape == "ar":
        cluster = clusters.lookup(word)
        if cluster:
            feats.extend(f"c{i}={c}" for i, c in enumerate(cluster))
    vec_near: dict[int, tuple] = {}
    if vec is not None and shape == "ar":
        vec_own, vec_near = _vector_feats(word, vec)
        feats.extend(vec_own)
    near: dict[int, tuple[Feature, ...]] = {}
    for off in _NEIGHBOUR_OFFSETS:
        lent = [f"{off}w={norm}", f"{off}ac={ambiguity}"]
        if readings:
            lent.append(f"{off}r0={readings[0][_UPOS]}")
        if abs(off) == 1:
            if readings and readings[0][_DEF]:
                lent.append(f"{off}def")
            if cluster:
                lent.append(f"{off}c={cluster[-1]}")
        near[off] = (*lent, *vec_near.get(off, ()))
    return _TypeInfo(tuple(feats), near, ambiguity, norm)


_GAZETTEER_DIR = Path(__file__).resolve().parents[1] / "resources" / "gazetteers"
# The project's own name lists (tasks/resources/gazetteers): membership of a word in a
# listed place, organisation or person name is evidence for PROPN (الولايات in الولايات
# المتحدة); a title or cue word announces a name after it.
_GAZETTEER_FILES = {
    "loc": "loc", "org": "org", "per_known": "per", "per_first": "per", "misc": "misc",
    "demonyms": "demonym", "per_titles": "title", "org_heads": "orghead", "loc_cues": "cue",
    "misc_cues": "cue",
}


def _strip_proclitics(norm: str) -> str:
    return norm[2:] if norm.startswith("ال") and len(norm) > 3 else norm


@functools.cache
def _gazetteer_kinds() -> dict[str, tuple[str, ...]]:
    """Normalized word (ال+ dropped) -> the kinds of listed names it is part of."""
    kinds: dict[str, set[str]] = defaultdict(set)
    for stem, kind in _GAZETTEER_FILES.items():
        path = _GAZETTEER_DIR / f"{stem}.txt"
        if not path.is_file():
            # The model was trained with these features: tagging without them is worse.
            raise EnvironmentError_(f"gazetteer {path} is missing (a POS tagger feature)")
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("\t")[0].strip()
            if not line or line.startswith("#"):
                continue
            parts = line.rstrip("*").split()
            for i, part in enumerate(parts):
                tag = kind if len(parts) == 1 else f"{kind}{'1' if i == 0 else 'n'}"
                kinds[_strip_proclitics(norm_lemma(part))].add(tag)
    return {w: tuple(sorted(k)) for w, k in kinds.items()}


def _reading_key(readings: Sequence[tuple]) -> tuple:
    """What a word's type features depend on: its best reading (not its score) and the
    second reading's UPOS; the rest (the ambiguity class) is fixed per word."""
    if not readings:
        return ()
    top = readings[0]
    return (top[:_SCORE], top[_SCORE + 1 :], readings[1][_UPOS] if len(readings) > 1 else None)



CONJUNCTIONS = (
    Conjunction("ac-1|0=", ((-1, "word", "ac"), (0, "word", "ac"))),
    Conjunction("rk-1|0=", ((-1, "ctx", "rk"), (0, "ctx", "rk"))),
    Conjunction("w-1|ac=", ((-1, "word", "norm"), (0, "word", "ac"))),
    Conjunction("ac0|1=", ((0, "word", "ac"), (1, "word", "ac"))),
    Conjunction("ac|w+1=", ((0, "word", "ac"), (1, "word", "norm"))),
)
_BOUNDARY = {off: (f"{off}BOUND",) for off in _NEIGHBOUR_OFFSETS}


def _store_key(key: Hashable) -> str:
    word, reading = key  # repr of str/bool/int/None tuples: exact and stable across runs
    return word + "\t" + repr(reading)


def _context_row(ranked_upos: str | None, aux: Any = None) -> Row:
    return Row({0: (f"rk={ranked_upos}",)}, {"rk": f"{ranked_upos}"})


class PosFeatures:
    """The tagger's layers over a morphology's readings (the ``aux`` of each chunk)."""

    def __init__(
        self, clusters: Any = None, prior: Any = None, vectors: VectorFeatures | None = None
    ) -> None:
        self.clusters = clusters
        self.prior = prior
        self.vectors = vectors

    def word_row(self, key: tuple, morphology: Any) -> Row:
        info = _type_info(key[0], morphology.readings(key[0]), self.clusters, self.prior,
                          self.vectors)
        return Row({0: info.own, **info.near}, {"ac": info.ambiguity, "norm": info.norm})

    def layers(self) -> tuple[Layer, ...]:
        return (
            Layer("word", self.word_row, (-2, -1, 0, 1, 2), _BOUNDARY, TYPES_IN_MEMORY,
                  store_key=_store_key),
            Layer("ctx", _context_row, (0,), limit=10_000),
        )

    def fingerprint(self) -> str:
        """What word rows depend on besides the model and the readings: code, resources."""
        gaz = [_GAZETTEER_DIR / f"{stem}.txt" for stem in sorted(_GAZETTEER_FILES)]
        sha = self.clusters.sha256 if self.clusters is not None else "none"
        if self.prior is not None:
            sha += "|prior:" + self.prior.sha256
        if self.vectors is not None:
            sha += "|vectors:" + self.vectors.fingerprint()
        return code_fingerprint(Path(__file__), *gaz, extra=sha)


def token_keys(
    sentences: Sequence[Sequence[str]], morphology: Any, ranked_upos: Sequence[str | None]
) -> dict[str, list]:
    """Per layer, each token's key, sentences one after another: the word with the
    reading its features depend on, and the ranker's in-context UPOS."""
    keys: dict[str, tuple] = {}
    words = []
    for sent in sentences:
        for w in sent:
            k = keys.get(w)
            if k is None:
                k = keys[w] = (w, _reading_key(morphology.readings(w)))
            words.append(k)
    return {"word": words, "ctx": list(ranked_upos)}


def training_items(
    features: PosFeatures, sentences: Sequence[Sequence[str]], morphology: Any,
    morph: dict[str, list],
) -> list[list[Item]]:
    """crfsuite items per token per sentence: what the runtime scores, spelled out."""
    keys = token_keys(sentences, morphology, morph["upos"])
    return sentence_items(features.layers(), CONJUNCTIONS, [len(s) for s in sentences], keys,
                          morphology)
