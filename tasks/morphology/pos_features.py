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
over its readings' UPOS (``pu<UPOS>=<bucket>``, ``pru=``), issue 23.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.errors import EnvironmentError_
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


def _type_info(
    word: str, readings: Sequence[tuple], clusters: Any, prior: Any = None
) -> _TypeInfo:
    norm = norm_lemma(word)
    shape = _word_shape(word)
    feats = [f"w={norm}", f"sh={shape}"]
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
    near: dict[int, tuple[str, ...]] = {}
    for off in _NEIGHBOUR_OFFSETS:
        lent = [f"{off}w={norm}", f"{off}ac={ambiguity}"]
        if readings:
            lent.append(f"{off}r0={readings[0][_UPOS]}")
        if abs(off) == 1:
            if readings and readings[0][_DEF]:
                lent.append(f"{off}def")
            if cluster:
                lent.append(f"{off}c={cluster[-1]}")
        near[off] = tuple(lent)
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

    def __init__(self, clusters: Any = None, prior: Any = None) -> None:
        self.clusters = clusters
        self.prior = prior

    def word_row(self, key: tuple, morphology: Any) -> Row:
        info = _type_info(key[0], morphology.readings(key[0]), self.clusters, self.prior)
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
