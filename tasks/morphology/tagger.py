"""Learned UPOS and lemma disambiguation on top of the BAMA analyzer (issue 13).

BAMA gives every word its candidate readings but no frequencies, and the hand-tuned
ranker (:mod:`tasks.morphology.ranker`) stops at about 83 % UPOS on UD Arabic-PUD. Here a
linear-chain CRF (python-crfsuite) trained on a UD treebank labels each *pipeline token*
(a whitespace word with its clitics) with the UPOS of its content part, the way the
treebank is scored: ``وللسلطة`` is NOUN, ``نشرتها`` VERB.

Features of a word type are computed once per batch: the normalized word and its
affixes, the analyzer's ambiguity class (the set of UPOS over its readings) and each
reading's UPOS, the ranker's best reading (shape priors, corpus evidence and light
context), the clitics and definiteness of that reading, and whether the lexicon has a
proper-noun reading; each token also sees the words and classes of two neighbours on
either side.

The lemma then comes from the reading that agrees with the predicted tag: a
(word, UPOS) -> lemma memory learnt from the treebank first (it carries the treebank's
conventions where BAMA's lemmas differ), else the ranker's choice if its UPOS agrees,
else the best reading of that UPOS, else the ranker's choice. The other morphology
columns (pos, diac, gloss, bw, d3tok) come from the same reading.

The model directory holds ``crf.model`` (crfsuite), ``lemmas.json`` (the memory and the
feature settings) and ``MODEL_CARD.md``. :func:`train_tagger` writes it;
:func:`load_tagger` opens it once per process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.errors import ConfigError, EnvironmentError_

__all__ = [
    "DEFAULT_MODEL_DIR",
    "GoldSentence",
    "GoldWord",
    "PosTagger",
    "TrainReport",
    "content_part",
    "load_tagger",
    "norm_lemma",
    "read_conllu",
    "train_tagger",
    "write_conllu",
]

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "pos"
MODEL_FILE = "crf.model"
META_FILE = "lemmas.json"
FORMAT_VERSION = 1

# UD tags of the leading clitics that are not the content part (و+، ب+، ال+ ...).
_FUNCTION_PREFIX = frozenset({"CCONJ", "ADP", "PART", "SCONJ", "DET"})
_NOMINAL_UPOS = frozenset({"NOUN", "ADJ", "PROPN", "NUM"})
_DIAC_RE = re.compile("[\u064b-\u0652\u0670\u0640]")
_NORM_TABLE = str.maketrans({"إ": "ا", "أ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})
_DIGIT_RE = re.compile(r"^[0-9٠-٩.,٫٬%]+$")
_LATIN_RE = re.compile(r"[A-Za-z]")
_ARABIC_RE = re.compile("[\u0621-\u064a]")
# بن / ابن / بنت between name parts: "son of / daughter of", never بُنّ "coffee beans".
_NON_WORD_POS = frozenset({"punc", "digit", "latin", "foreign"})
# A number's clitics and unit sign are not part of its lemma (ب15000 -> 15000, 3% -> 3).
_NON_WORD_TRIM_RE = re.compile(r"^[\u0621-\u064a]+|[%٪]+$")
_SON_WORDS = {"بن": "ابْن", "ابن": "ابْن", "بنت": "بِنْت"}
_SON_GLOSS = {"ابْن": "son", "بِنْت": "daughter;girl"}


def norm_lemma(text: str | None) -> str:
    """Dediacritize and fold alef/yaa/teh-marbuta variants (how lemmas are compared)."""
    if not text:
        return ""
    return _DIAC_RE.sub("", text).translate(_NORM_TABLE).strip()


# ---------------------------------------------------------------------------
# CoNLL-U
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldWord:
    """A surface word rebuilt from clitic-split tokens, with its content part's tags."""

    form: str
    upos: str
    lemma: str


@dataclass
class GoldSentence:
    """One CoNLL-U sentence: its id, text, surface words and the original block."""

    sent_id: str
    text: str
    words: list[GoldWord]
    block: str = field(repr=False)


def content_part(rows: Sequence[Sequence[str]]) -> tuple[str, str]:
    """(lemma, upos) of a clitic-split word: drop enclitic pronouns, then proclitics.

    ``و + ل + السلطة`` -> the lemma and UPOS of ``السلطة``; ``نشرت + ها`` -> ``نشرت``.
    """
    parts = list(rows)
    while len(parts) > 1 and parts[-1][3] == "PRON":
        parts.pop()
    while len(parts) > 1 and parts[0][3] in _FUNCTION_PREFIX:
        parts.pop(0)
    return parts[0][2], parts[0][3]


def _surface_words(rows: list[list[str]]) -> list[GoldWord]:
    # A token glues onto the next when its MISC has SpaceAfter=No and neither is
    # punctuation: ل + أوباما -> لأوباما, but شولمان + "," stay two words.
    words = []
    i = 0
    while i < len(rows):
        parts = [rows[i]]
        while (
            "SpaceAfter=No" in parts[-1][9]
            and parts[-1][3] != "PUNCT"
            and i + 1 < len(rows)
            and rows[i + 1][3] != "PUNCT"
        ):
            i += 1
            parts.append(rows[i])
        i += 1
        lemma, upos = content_part(parts)
        words.append(GoldWord("".join(p[1] for p in parts), upos, lemma))
    return words


def read_conllu(paths: Path | str | Iterable[Path | str]) -> list[GoldSentence]:
    """Read CoNLL-U files into sentences of surface words (multiword-token lines skipped).

    Raises:
        FileNotFoundError: a file is missing.
        ConfigError: a file holds no sentence.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    sentences: list[GoldSentence] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"CoNLL-U file {str(path)!r} does not exist")
        text = path.read_text(encoding="utf-8")
        before = len(sentences)
        for block in re.split(r"\n\s*\n", text.strip()):
            sent_id, sent_text, rows = "", "", []
            for line in block.split("\n"):
                if line.startswith("# sent_id"):
                    sent_id = line.split("=", 1)[1].strip()
                elif line.startswith("# text ="):
                    sent_text = line.split("=", 1)[1].strip()
                elif line and not line.startswith("#"):
                    cols = line.split("\t")
                    if len(cols) == 10 and cols[0].isdigit():
                        rows.append(cols)
            if rows:
                sent_id = sent_id or f"{path.name}:{len(sentences) + 1}"
                if not sent_text:
                    sent_text = " ".join(r[1] for r in rows)
                sentences.append(GoldSentence(sent_id, sent_text, _surface_words(rows), block))
        if len(sentences) == before:
            raise ConfigError(f"CoNLL-U file {str(path)!r} holds no sentence")
    return sentences


def write_conllu(sentences: Iterable[GoldSentence], path: Path | str) -> None:
    """Write sentences back as CoNLL-U, each block exactly as it was read."""
    Path(path).write_text("".join(s.block.strip() + "\n\n" for s in sentences), encoding="utf-8")


def split_holdout(
    sentences: list[GoldSentence], fraction: float, seed: int
) -> tuple[list[GoldSentence], list[GoldSentence]]:
    """(train, held-aside): a seeded random ``fraction`` of whole sentences held aside."""
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    n_hold = round(len(sentences) * fraction)
    held = set(order[:n_hold])
    train = [s for i, s in enumerate(sentences) if i not in held]
    return train, [s for i, s in enumerate(sentences) if i in held]


# ---------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------

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
    """What the tagger knows about one word type, computed once per batch."""

    own: tuple[str, ...]  # the word's own features
    near: dict[int, tuple[str, ...]]  # features it lends its neighbours, by offset
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
        shares = prior.shares(readings)
        by_upos: dict[str, float] = defaultdict(float)
        for r, sh in zip(readings, shares, strict=True):
            by_upos[r[_UPOS] or "X"] += sh
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


def _sentence_features(
    sent: Sequence[str], infos: dict[str, _TypeInfo], ranked_upos: Sequence[str | None],
    names: Sequence[str] | None = None,
) -> list[list[str]]:
    n = len(sent)
    seq = [infos[w] for w in sent]
    out = []
    for i, info in enumerate(seq):
        feats = list(info.own)
        feats.append(f"rk={ranked_upos[i]}")
        if names is not None:
            # The NER's label of the token and its neighbours: PUD tags every word of a
            # name PROPN (وكالة حماية البيئة), which no single word's features show.
            feats.append(f"nm={names[i]}")
            feats.append(f"nm|ac={names[i]}|{info.ambiguity}")
            for off in (-1, 1):
                j = i + off
                feats.append(f"{off}nm={names[j] if 0 <= j < n else 'BOUND'}")
        for off in _NEIGHBOUR_OFFSETS:
            j = i + off
            if 0 <= j < n:
                feats.extend(seq[j].near[off])
            else:
                feats.append(f"{off}BOUND")
        if i > 0:
            feats.append(f"ac-1|0={seq[i - 1].ambiguity}|{info.ambiguity}")
            feats.append(f"rk-1|0={ranked_upos[i - 1]}|{ranked_upos[i]}")
            feats.append(f"w-1|ac={seq[i - 1].norm}|{info.ambiguity}")
        if i + 1 < n:
            feats.append(f"ac0|1={info.ambiguity}|{seq[i + 1].ambiguity}")
            feats.append(f"ac|w+1={info.ambiguity}|{seq[i + 1].norm}")
        out.append(feats)
    return out


def _reading_key(readings: Sequence[tuple]) -> tuple:
    """What a word's type features depend on: its best reading (not its score) and the
    second reading's UPOS; the rest (the ambiguity class) is fixed per word."""
    if not readings:
        return ()
    top = readings[0]
    return (top[:_SCORE], top[_SCORE + 1 :], readings[1][_UPOS] if len(readings) > 1 else None)


# A few chunks' vocabulary (~20k types a chunk); more grows workers with the input (issue 14).
_CACHE_LIMIT = 25_000


def _batch_features(
    sentences: Sequence[Sequence[str]],
    morphology: Any,
    morph: dict[str, list],
    clusters: Any,
    cache: dict[tuple, _TypeInfo] | None = None,
    names: Sequence[str] | None = None,
    prior: Any = None,
) -> list[list[list[str]]]:
    # The ranker re-ranks each batch, so type features are cached by word *and* the
    # reading they depend on: a cache hit is exactly what recomputing would give.
    if cache is None:
        cache = {}
    elif len(cache) > _CACHE_LIMIT:
        cache.clear()
    infos: dict[str, _TypeInfo] = {}
    for sent in sentences:
        for w in sent:
            if w not in infos:
                readings = morphology.readings(w)
                key = (w, _reading_key(readings))
                info = cache.get(key)
                if info is None:
                    info = cache[key] = _type_info(w, readings, clusters, prior)
                infos[w] = info
    upos = morph["upos"]
    seqs, k = [], 0
    for sent in sentences:
        seqs.append(_sentence_features(
            sent, infos, upos[k : k + len(sent)],
            None if names is None else names[k : k + len(sent)],
        ))
        k += len(sent)
    return seqs


# ---------------------------------------------------------------------------
# Lemma choice
# ---------------------------------------------------------------------------


def _pick_reading(
    readings: Sequence[tuple], ranked: tuple | None, tag: str
) -> tuple | None:
    """The reading that agrees with ``tag``: the ranker's own if it does, else the best of
    that UPOS, else the best nominal one for a nominal tag, else the ranker's."""
    if ranked is not None and ranked[_UPOS] == tag:
        return ranked
    for r in readings:
        if r[_UPOS] == tag:
            return r
    if tag in _NOMINAL_UPOS:
        if ranked is not None and ranked[_UPOS] in _NOMINAL_UPOS:
            return ranked
        for r in readings:
            if r[_UPOS] in _NOMINAL_UPOS:
                return r
    return ranked


def _bw_tags(bw: str | None) -> str:
    """``وَ/CONJ+سَ/FUT+يُ/IV3MS+سْهِم/IV`` -> ``CONJ+FUT+IV3MS+IV``."""
    return "+".join(seg.rpartition("/")[2] for seg in (bw or "").split("+"))


def _reading_features(
    r: tuple, rank: int, tag: str, in_context: bool, share: float | None = None
) -> list[str]:
    """Features of one candidate reading of a token tagged ``tag``, for the lemma scorer.

    ``share``: the reading's share of the word's prior mass (:mod:`.prior`), if any.
    """
    upos, pos, lex = r[_UPOS], r[_POS], r[_LEX] or ""
    tags = _bw_tags(r[_BW])
    extra = [] if share is None else [f"prb={_share_bucket(share)}",
                                      f"t|prb={tag}|{_share_bucket(share)}"]
    return extra + [
        f"agree={upos == tag}",
        f"t|u={tag}|{upos}",
        f"t|p={tag}|{pos}",
        f"rank={min(rank, 4)}",
        f"ctx={in_context}",
        f"src={r[_SRC]}",
        f"npro={r[_NPRO]}",
        f"t|bw={tag}|{tags}",
        f"lex={norm_lemma(lex)}",
        f"t|lxb={tag}|{lex[:2]}",
        f"t|lxe={tag}|{lex[-3:]}",
    ]


def _score_reading(weights: dict[str, float], feats: list[str]) -> float:
    get = weights.get
    return sum(get(f, 0.0) for f in feats)


def _train_reading_scorer(
    examples: list[tuple[list[list[str]], set[int]]], seed: int, epochs: int = 10
) -> dict[str, float]:
    """Averaged perceptron ranking a token's readings so one with the gold lemma comes first.

    ``examples``: per token, each candidate's features and the indices of the candidates
    whose lemma is the gold one.
    """
    weights: dict[str, float] = defaultdict(float)
    totals: dict[str, float] = defaultdict(float)
    stamps: dict[str, int] = defaultdict(int)
    step = 0
    order = list(range(len(examples)))
    rng = random.Random(seed)

    def update(feats: list[str], delta: float) -> None:
        for f in feats:
            totals[f] += (step - stamps[f]) * weights[f]
            stamps[f] = step
            weights[f] += delta

    for _ in range(epochs):
        rng.shuffle(order)
        for idx in order:
            step += 1
            cands, gold = examples[idx]
            scores = [_score_reading(weights, f) for f in cands]
            best = max(range(len(cands)), key=lambda j: (scores[j], -j))
            if best in gold:
                continue
            target = max(gold, key=lambda j: (scores[j], -j))
            update(cands[target], 1.0)
            update(cands[best], -1.0)
    averaged = {}
    for f, w in weights.items():
        total = totals[f] + (step - stamps[f]) * w
        if total:
            averaged[f] = round(total / step, 6)
    return averaged


def _reading_examples(
    sentences: Sequence[GoldSentence], morphology: Any, morph: dict[str, list],
    prior: Any = None,
) -> list[tuple[list[list[str]], set[int]]]:
    """Per token, its candidates as :meth:`PosTagger._choose` sees them given the gold
    UPOS (the readings of that UPOS if any, else all) and which hold the gold lemma."""
    examples = []
    k = 0
    for s in sentences:
        for w in s.words:
            readings = morphology.readings(w.form)
            shares = prior.shares(readings) if prior is not None else [None] * len(readings)
            cands_all = [(j, r) for j, r in enumerate(readings) if r[_UPOS] == w.upos]
            cands_all = cands_all or list(enumerate(readings))
            gold = norm_lemma(arabic_lemma(w.lemma))
            hits = {i for i, (_, r) in enumerate(cands_all) if norm_lemma(r[_LEX]) == gold}
            lemmas = {r[_LEX] for _, r in cands_all}
            if w.upos != "PUNCT" and hits and len(lemmas) > 1:
                ctx = (morph["lemma"][k], morph["pos"][k])
                cands = [
                    _reading_features(r, j, w.upos, (r[_LEX], r[_POS]) == ctx, shares[j])
                    for j, r in cands_all
                ]
                examples.append((cands, hits))
            k += 1
    return examples


# ---------------------------------------------------------------------------
# The tagger
# ---------------------------------------------------------------------------


class PosTagger:
    """A trained CRF plus the treebank's (word, UPOS) -> lemma memory."""

    def __init__(
        self,
        model_path: Path,
        lemmas: dict[str, str],
        clusters: Any = None,
        reading_weights: dict[str, float] | None = None,
        uses_names: bool = False,
        prior: Any = None,
    ) -> None:
        import pycrfsuite

        self._tagger = pycrfsuite.Tagger()
        try:
            self._tagger.open(str(model_path))
        except (OSError, ValueError) as exc:
            raise EnvironmentError_(f"cannot read POS model {model_path}: {exc}") from exc
        self._lemmas = lemmas
        self._clusters = clusters
        self._weights = reading_weights
        self.uses_names = uses_names
        self._prior = prior
        # Across batches (bounded): type features, and lemma choices keyed by everything
        # they depend on, so a hit is exactly what recomputing would give.
        self._type_cache: dict[tuple, _TypeInfo] = {}
        self._choice_cache: dict[tuple, tuple] = {}

    def predict(
        self, sentences: Sequence[Sequence[str]], morphology: Any, morph: dict[str, list],
        names: Sequence[str] | None = None,
    ) -> list[str]:
        """UPOS of each token, flattened in token order.

        ``names``: the NER's BIO label of each token (flattened), for a tagger trained
        with them (``uses_names``).
        """
        if self.uses_names and names is None:
            raise ConfigError("this POS model was trained with NER labels: pass names=")
        tags: list[str] = []
        tag = self._tagger.tag
        features = _batch_features(sentences, morphology, morph, self._clusters, self._type_cache,
                                   names if self.uses_names else None, self._prior)
        for feats in features:
            tags.extend(tag(feats) if feats else [])
        return tags

    def retag(
        self, sentences: Sequence[Sequence[str]], morphology: Any, morph: dict[str, list],
        names: Sequence[str] | None = None,
    ) -> dict[str, list]:
        """Replace the ranker's upos/lemma (and the reading columns) with the tagger's.

        ``morph`` is :meth:`tasks.morphology.Morphology.analyze_sentences`'s output for
        the same sentences; a new dict with the same columns is returned.
        """
        tags = self.predict(sentences, morphology, morph, names)
        out = {name: list(values) for name, values in morph.items()}
        lemma_col, pos_col, upos_col = out["lemma"], out["pos"], out["upos"]
        diac_col, gloss_col, bw_col, d3_col = out["diac"], out["gloss"], out["bw"], out["d3tok"]
        memory = self._lemmas
        k = 0
        cache = self._choice_cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        # The lemma choice depends on the order of the word's readings, which the ranker
        # may change from batch to batch: it is part of the key.
        orders: dict[str, tuple] = {}
        for sent in sentences:
            n = len(sent)
            for i, word in enumerate(sent):
                row = k + i
                ranked_pos = pos_col[row]
                tag = tags[row]
                if ranked_pos is None or ranked_pos in _NON_WORD_POS:
                    # Punctuation keeps the analyzer's PUNCT/SYM; a number or a Latin word
                    # gets the tagger's UPOS and itself as lemma (و5000 -> 5000, 3% -> 3).
                    if ranked_pos in {"digit", "latin", "foreign"} and tag != "PUNCT":
                        upos_col[row] = tag
                        lemma_col[row] = _NON_WORD_TRIM_RE.sub("", word) or word
                    continue
                order = orders.get(word)
                if order is None:
                    order = orders[word] = tuple(
                        (r[_LEX], r[_POS]) for r in morphology.readings(word)
                    )
                key = (word, tag, lemma_col[row], ranked_pos, order)
                hit = cache.get(key)
                if hit is None:
                    hit = cache[key] = self._choose(word, tag, morphology, lemma_col[row],
                                                    ranked_pos, memory)
                lemma_col[row], pos_col[row], diac_col[row], gloss_col[row] = hit[:4]
                bw_col[row], d3_col[row] = hit[4:6]
                upos_col[row] = tag
            k += n
        return out

    def _choose(
        self, word: str, tag: str, morphology: Any, ranked_lex: str | None,
        ranked_pos: str, memory: dict[str, str],
    ) -> tuple:
        """The reading of ``word`` tagged ``tag``: (lemma, pos, diac, gloss, bw, d3tok).

        All six come from one reading, and it is one of ``tag``'s UPOS whenever the word
        has such a reading (so pos and upos agree).
        """
        readings = morphology.readings(word)
        # Candidates: the readings of the tagged UPOS if there are any (عبد tagged NOUN
        # never takes its ADP reading), else all of them.
        pool = [r for r in readings if r[_UPOS] == tag] or readings
        ranked = next(
            (r for r in readings if r[_LEX] == ranked_lex and r[_POS] == ranked_pos),
            readings[0] if readings else None,
        )
        norm = norm_lemma(word)
        son = _SON_WORDS.get(norm)
        if son is not None:
            r = next((r for r in pool if norm_lemma(r[_LEX]) == norm_lemma(son)), None)
            if r is not None:
                return _columns(r)
            return (son, "noun", son, _SON_GLOSS[son], None, norm)
        chosen: tuple | None
        if self._weights and len({r[_LEX] for r in pool}) > 1:
            rank = {id(r): j for j, r in enumerate(readings)}
            shares = (self._prior.shares(readings) if self._prior is not None
                      else [None] * len(readings))
            chosen = max(pool, key=lambda r: (
                _score_reading(self._weights, _reading_features(
                    r, rank[id(r)], tag, r is ranked, shares[rank[id(r)]])),
                -rank[id(r)],
            ))
        else:
            chosen = _pick_reading(pool, ranked if ranked in pool else None, tag)
        remembered = memory.get(f"{norm}\t{tag}")
        if remembered is not None:
            target = norm_lemma(remembered)
            same = next((r for r in pool if norm_lemma(r[_LEX]) == target), None)
            if same is not None:
                chosen = same
            elif _MEMORY_ONLY_LEMMAS:
                # The treebank's lemma has no reading (its conventions differ from
                # BAMA's): the lemma is the treebank's, with no diac or gloss to claim.
                pos = chosen[_POS] if chosen is not None else None
                return (remembered, pos, None, None, None,
                        chosen[_D3] if chosen is not None else None)
        if chosen is None:
            return (None, None, None, None, None, None)
        if remembered is None and chosen[_UPOS] == "ADV":
            # UD's lemma of an adverb in -an is its base: رسمياً -> رَسْمِيّ, not رَسْمِيّاً.
            lex = _ADV_TANWEEN_RE.sub("", chosen[_LEX] or "")
            if len(norm_lemma(lex)) >= 2 and lex != chosen[_LEX]:
                return (lex, *_columns(chosen)[1:])
        return _columns(chosen)


def _columns(r: tuple) -> tuple:
    return (r[_LEX], r[_POS], r[_DIAC], r[_GLOSS], r[_BW], r[_D3])


# The accusative ending of an adverb lemma: -اً / -ًا / -ً.
_ADV_TANWEEN_RE = re.compile("(?:\u0627\u064b|\u064b\u0627|\u064b)$")


_MEMORY_ONLY_LEMMAS = True


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
    clusters = _load_clusters() if meta.get("clusters") else None
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
    # Models trained before issue 23 remember PUD's raw Buckwalter dagger alif (ه`ذا).
    lemmas = {k: arabic_lemma(v) for k, v in meta["lemmas"].items()}
    return PosTagger(path / MODEL_FILE, lemmas, clusters, meta.get("readings"),
                     bool(meta.get("names")), prior)


def _load_clusters() -> Any:
    try:
        from tasks.clusters import load_clusters
    except ImportError:
        return None
    return load_clusters()


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


@dataclass
class TrainReport:
    """What one training run did and scored."""

    n_train: int
    n_holdout: int
    train_words: int
    holdout_words: int
    upos: float | None
    lemma: float | None
    ranker_upos: float | None
    ranker_lemma: float | None
    seconds: float
    files: dict[str, str]
    cv: str | None = None


def arabic_lemma(lemma: str) -> str:
    """A treebank lemma as Arabic script: the Buckwalter dagger alif left in UD
    Arabic-PUD's lemmas (ه`ذا, ذ`لِكَ, ل`كِنَّ) becomes U+0670 (هٰذا), stray quotes go."""
    out = lemma.replace("`", "\u0670")
    if _ARABIC_RE.search(out):
        out = _STRAY_RE.sub("", out) or out
    return out


_STRAY_RE = re.compile("[\"'`]")


def _learn_lemmas(sentences: Sequence[GoldSentence]) -> dict[str, str]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for s in sentences:
        for w in s.words:
            if w.upos != "PUNCT" and w.lemma and w.lemma != "_":
                counts[f"{norm_lemma(w.form)}\t{w.upos}"][arabic_lemma(w.lemma)] += 1
    # Ties go to the alphabetically first lemma, so the memory is reproducible.
    return {k: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for k, c in counts.items()}


def _score(
    sentences: Sequence[GoldSentence], morph: dict[str, list]
) -> tuple[float, float]:
    """UPOS and lemma accuracy on non-punctuation gold words (gold word boundaries)."""
    n = upos_ok = lemma_ok = 0
    k = 0
    for s in sentences:
        for w in s.words:
            if w.upos != "PUNCT":
                n += 1
                upos_ok += morph["upos"][k] == w.upos
                pred = norm_lemma(morph["lemma"][k])
                lemma_ok += bool(pred) and pred == norm_lemma(w.lemma)
            k += 1
    return (100 * upos_ok / n, 100 * lemma_ok / n) if n else (0.0, 0.0)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fit_tagger(
    train: Sequence[GoldSentence],
    morph_an: Any,
    clusters: Any,
    out_dir: Path,
    *,
    seed: int = 13,
    max_iterations: int = 100,
    c1: float = 0.1,
    c2: float = 0.01,
    namer: Any = None,
    prior: Any = None,
) -> PosTagger:
    """Train the CRF, the lemma memory and the reading scorer on ``train``; write
    ``crf.model`` and ``lemmas.json`` to ``out_dir`` and return the loaded tagger.

    ``namer(sentences, morph)``, when given, returns each token's NER label (flattened):
    the tagger then learns from them and needs them to tag.
    """
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    words = [[w.form for w in s.words] for s in train]
    morph = morph_an.analyze_sentences(words)
    names = namer(words, morph) if namer is not None else None
    batch = _batch_features(words, morph_an, morph, clusters, None, names, prior)
    for sent, feats in zip(train, batch, strict=True):
        trainer.append(feats, [w.upos for w in sent.words])
    trainer.set_params({
        "c1": c1, "c2": c2, "max_iterations": max_iterations,
        "feature.possible_transitions": True,
    })
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer.train(str(out_dir / MODEL_FILE))
    lemmas = _learn_lemmas(train)
    weights = _train_reading_scorer(_reading_examples(train, morph_an, morph, prior), seed)
    meta = {
        "format": FORMAT_VERSION, "clusters": clusters is not None, "lemmas": lemmas,
        "readings": weights, "names": names is not None,
        "prior": prior.sha256 if prior is not None else None,
    }
    (out_dir / META_FILE).write_text(
        json.dumps(meta, ensure_ascii=False, sort_keys=True, indent=0), encoding="utf-8"
    )
    return PosTagger(out_dir / MODEL_FILE, lemmas, clusters, weights, names is not None, prior)


def train_tagger(
    data: Sequence[Path | str],
    out_dir: Path | str,
    *,
    seed: int = 13,
    holdout: float = 0.2,
    write_holdout: Path | str | None = None,
    morphology: str = "bama",
    max_iterations: int = 100,
    c1: float = 0.1,
    c2: float = 0.01,
    command: str = "",
    use_clusters: bool = True,
    prior_corpus: Sequence[Path | str] | None = None,
    cv: int = 0,
) -> TrainReport:
    """Train the tagger on CoNLL-U ``data`` and write it with a model card to ``out_dir``.

    A seeded random ``holdout`` fraction of the sentences is held aside, scored (with gold
    word boundaries) and, with ``write_holdout``, written as CoNLL-U for the real scorer.
    With ``prior_corpus`` (raw news), a reading prior is learnt from it first
    (:mod:`tasks.morphology.prior`) and written beside the model as ``prior.tsv``.
    With ``cv`` >= 2, the training sentences are first cross-validated in ``cv`` folds
    (:mod:`tasks.morphology.crossval`, scored as ``score_pud.py`` scores) and the mean and
    spread go into the model card.

    Raises:
        EnvironmentError_: the data or the morphology is missing.
        ConfigError: ``holdout`` is not in [0, 1).
    """
    from tasks.morphology import load_morphology

    if not 0 <= holdout < 1:
        raise ConfigError(f"--holdout {holdout!r} is not a fraction in [0, 1)")
    if cv < 0 or cv == 1:
        raise ConfigError(f"--cv {cv!r} is not 0 (off) or a number of folds >= 2")
    started = time.perf_counter()
    sentences = read_conllu(data)
    train, held = split_holdout(sentences, holdout, seed)
    if write_holdout is not None:
        write_conllu(held, write_holdout)
    morph_an = load_morphology(morphology)
    if morph_an is None:
        raise EnvironmentError_("training the POS tagger needs a morphology, not 'none'")
    clusters = _load_clusters() if use_clusters else None

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prior = None
    if prior_corpus:
        from tasks.morphology.prior import (
            PRIOR_FILE,
            corpus_tokens,
            learn_prior,
            read_prior,
            write_prior,
        )

        write_prior(learn_prior(corpus_tokens(prior_corpus), morph_an), out / PRIOR_FILE)
        prior = read_prior(out / PRIOR_FILE)
    elif (out / "prior.tsv").exists():
        (out / "prior.tsv").unlink()  # a stale prior of an earlier training
    cv_summary = None
    if cv:
        from tasks.morphology.crossval import cross_validate

        cv_summary = cross_validate(
            train, morph_an, clusters, k=cv, seed=seed, max_iterations=max_iterations,
            c1=c1, c2=c2, prior=prior,
        ).summary()
    tagger = fit_tagger(train, morph_an, clusters, out, seed=seed,
                        max_iterations=max_iterations, c1=c1, c2=c2, prior=prior)

    scores: tuple[float | None, ...] = (None, None, None, None)
    if held:
        held_words = [[w.form for w in s.words] for s in held]
        base = morph_an.analyze_sentences(held_words)
        tagged = tagger.retag(held_words, morph_an, base)
        scores = (*_score(held, tagged), *_score(held, base))
    seconds = time.perf_counter() - started
    names = (MODEL_FILE, META_FILE) + (("prior.tsv",) if prior is not None else ())
    files = {name: _file_sha256(out / name) for name in names}
    report = TrainReport(
        n_train=len(train), n_holdout=len(held),
        train_words=sum(len(s.words) for s in train),
        holdout_words=sum(len(s.words) for s in held),
        upos=scores[0], lemma=scores[1], ranker_upos=scores[2], ranker_lemma=scores[3],
        seconds=seconds, files=files, cv=cv_summary,
    )
    (out / "MODEL_CARD.md").write_text(
        _model_card(report, data, seed, holdout, command, max_iterations, c1, c2,
                    clusters is not None),
        encoding="utf-8",
    )
    return report


def _model_card(
    r: TrainReport, data: Sequence[Path | str], seed: int, holdout: float, command: str,
    max_iterations: int, c1: float, c2: float, clusters: bool,
) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.1f}"

    names = ", ".join(Path(d).name for d in data)
    clusters_line = ", word clusters (tasks/models/clusters)" if clusters else ""
    sha = "\n".join(f"- `{name}`: `{digest}`" for name, digest in r.files.items())
    return f"""# POS/lemma tagger (issue 13)

A linear-chain CRF (python-crfsuite, L-BFGS, c1={c1}, c2={c2}, {max_iterations} iterations)
labels each pipeline token with the UPOS of its content part, on top of the BAMA 1.0
analyzer's readings. The lemma comes from a (word, UPOS) -> lemma memory of the training
sentences, else from the reading an averaged perceptron (10 epochs) ranks first given the
tag. Files: `crf.model` (crfsuite), `lemmas.json` (memory, perceptron weights).
Code: `tasks/morphology/tagger.py`.

## Training data
{names}: UD Arabic-PUD (Zeman et al., CoNLL 2017 Shared Task parallel treebanks,
Universal Dependencies), licence CC BY-SA 3.0. {r.n_train} sentences ({r.train_words} surface
words) trained on; {r.n_holdout} sentences ({r.holdout_words} words), a seeded random
{holdout:.0%} of whole sentences, held aside and never used for training or tuning
(features and settings were chosen by 5-fold cross-validation on the training part).

## Features
Per word type, once per batch: the normalized word, its 1-3 letter prefixes and suffixes,
shape (Arabic, digit, Latin, punctuation), the analyzer's ambiguity class (the set of UPOS
over its readings) and each reading's UPOS, the ranker's best and second reading (UPOS,
camel POS, lemma and its vowelled edges, clitic count, definiteness, enclitic pronoun),
out-of-lexicon, a proper-noun reading in the lexicon, membership in the project's
gazetteers (tasks/resources/gazetteers){clusters_line};
per token: the ranker's in-context UPOS, the words, ambiguity classes and best readings of
two neighbours each side, and ambiguity-class bigrams.

## Scores on the held-aside sentences (gold word boundaries, non-punctuation words)
| | UPOS | lemma |
|---|---|---|
| this tagger | {pct(r.upos)} | {pct(r.lemma)} |
| hand-tuned ranker alone | {pct(r.ranker_upos)} | {pct(r.ranker_lemma)} |

On raw text through `akhbar run`, write the held-aside part with `--write-holdout FILE`
and run `python ../shared/eval/score_pud.py --conllu FILE` (the README has the figure).

## Reproduce
```
{command or 'akhbar train pos --data ud-arabic-pud-dev.conllu --out tasks/models/pos'}
```
Seed {seed}, held-aside fraction {holdout} (the split); crfsuite's L-BFGS and the seeded
perceptron are deterministic. Training took {r.seconds:.0f} s on this machine (2 cores).

## sha256
{sha}
"""
