"""The lemma (and reading) that goes with the tagger's UPOS (issues 13, 23).

Candidates are the word's readings of the predicted UPOS (all of them only when it has
none, issue 23). Among them: the one whose lemma a (word, UPOS) -> lemma memory learnt
from the treebank names (it carries the treebank's conventions where BAMA's lemmas
differ), else the one an averaged perceptron ranks first given the tag (with the
reading prior's share as a feature), else the ranker's choice, else the first. The
other morphology columns (pos, diac, gloss, bw, d3tok) come from the same reading.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from tasks.morphology.pos_data import GoldSentence, arabic_lemma, norm_lemma
from tasks.morphology.pos_features import _BW, _D3, _DIAC, _GLOSS, _LEX, _NPRO, _POS, _SRC, _UPOS

_NOMINAL_UPOS = frozenset({"NOUN", "ADJ", "PROPN", "NUM"})
# بن / ابن / بنت between name parts: "son of / daughter of", never بُنّ "coffee beans".
_SON_WORDS = {"بن": "ابْن", "ابن": "ابْن", "بنت": "بِنْت"}
_SON_GLOSS = {"ابْن": "son", "بِنْت": "daughter;girl"}


def choose_reading(
    word: str, tag: str, readings: Sequence[tuple], ranked_lex: str | None,
    ranked_pos: str, memory: dict[str, str], weights: dict[str, float] | None,
    prior: Any = None,
) -> tuple:
    """(lemma, pos, diac, gloss, bw, d3tok) of ``word`` tagged ``tag``.

    All six come from one reading, one of ``tag``'s UPOS whenever the word has such a
    reading, so pos and upos agree (issue 23). The one exception: the treebank memory's
    lemma when no reading has it (its conventions differ from BAMA's) is written with the
    pos of the chosen reading and no diac or gloss to claim.

    Args:
        readings: The word's readings, best first, as ranked for this batch.
        ranked_lex, ranked_pos: The ranker's in-context choice.
        memory: The treebank's ``"norm<TAB>UPOS"`` -> lemma memory.
        weights: The reading perceptron's weights, or None.
        prior: The reading prior (:mod:`tasks.morphology.prior`), or None.
    """
    # Candidates: the readings of the tagged UPOS if there are any (عبد tagged NOUN never
    # takes a reading of another UPOS), else all of them.
    pool = [r for r in readings if r[_UPOS] == tag] or list(readings)
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
        # BAMA's بِن "son" reading: the dictionary lemma ابْن with that reading's columns.
        gloss = _SON_GLOSS[son].split(";")[0]
        r = next((r for r in pool if (r[_GLOSS] or "").split(";")[0] == gloss), None)
        if r is not None:
            return (son, *_columns(r)[1:])
        if not any(r[_UPOS] == tag for r in readings):
            return (son, "noun", son, _SON_GLOSS[son], None, norm)
        # tagged PROPN (بن لادن) or VERB: a reading of that UPOS, chosen as any word's
    chosen: tuple | None
    if weights and len({r[_LEX] for r in pool}) > 1:
        rank = {id(r): j for j, r in enumerate(readings)}
        shares = prior.shares(readings) if prior is not None else [None] * len(readings)
        chosen = max(pool, key=lambda r: (
            _score_reading(weights, _reading_features(
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
        else:
            # Dropping these lemmas costs 2.5 points of lemma accuracy in 10-fold CV.
            return (remembered, chosen[_POS] if chosen is not None else None, None, None,
                    None, chosen[_D3] if chosen is not None else None)
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


def _share_bucket(share: float) -> int:
    return 3 if share >= 0.9 else 2 if share >= 0.5 else 1 if share >= 0.1 else 0


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
    """Per token, its candidates as :func:`choose_reading` sees them given the gold UPOS
    (the readings of that UPOS if any, else all) and which hold the gold lemma."""
    examples = []
    k = 0
    for s in sentences:
        for w in s.words:
            readings = morphology.readings(w.form)
            shares = prior.shares(readings) if prior is not None else [None] * len(readings)
            pool = [(j, r) for j, r in enumerate(readings) if r[_UPOS] == w.upos]
            pool = pool or list(enumerate(readings))
            gold = norm_lemma(arabic_lemma(w.lemma))
            hits = {i for i, (_, r) in enumerate(pool) if norm_lemma(r[_LEX]) == gold}
            if w.upos != "PUNCT" and hits and len({r[_LEX] for _, r in pool}) > 1:
                ctx = (morph["lemma"][k], morph["pos"][k])
                cands = [
                    _reading_features(r, j, w.upos, (r[_LEX], r[_POS]) == ctx, shares[j])
                    for j, r in pool
                ]
                examples.append((cands, hits))
            k += 1
    return examples
