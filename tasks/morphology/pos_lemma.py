"""The lemma (and reading) that goes with the tagger's UPOS (issue 13).

The lemma comes from the reading that agrees with the predicted tag: a (word, UPOS) ->
lemma memory learnt from the treebank first (it carries the treebank's conventions
where BAMA's lemmas differ), else the reading an averaged perceptron ranks first given
the tag, else the ranker's choice if its UPOS agrees, else the best reading of that
UPOS, else the ranker's choice. The other morphology columns (pos, diac, gloss, bw,
d3tok) come from the same reading.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from tasks.morphology.pos_data import GoldSentence, norm_lemma
from tasks.morphology.pos_features import _BW, _D3, _DIAC, _GLOSS, _LEX, _NPRO, _POS, _SRC, _UPOS

_NOMINAL_UPOS = frozenset({"NOUN", "ADJ", "PROPN", "NUM"})
# بن / ابن / بنت between name parts: "son of / daughter of", never بُنّ "coffee beans".
_SON_WORDS = {"بن": "ابْن", "ابن": "ابْن", "بنت": "بِنْت"}
_SON_GLOSS = {"ابْن": "son", "بِنْت": "daughter;girl"}


def choose_reading(
    word: str, tag: str, readings: Sequence[tuple], ranked_lex: str | None,
    ranked_pos: str, memory: dict[str, str], weights: dict[str, float] | None,
) -> tuple:
    """(lemma, pos, diac, gloss, bw, d3tok) of ``word`` tagged ``tag``.

    Args:
        readings: The word's readings, best first, as ranked for this batch.
        ranked_lex, ranked_pos: The ranker's in-context choice.
        memory: The treebank's ``"norm<TAB>UPOS"`` -> lemma memory.
        weights: The reading perceptron's weights, or None.
    """
    ranked = next(
        (r for r in readings if r[_LEX] == ranked_lex and r[_POS] == ranked_pos),
        readings[0] if readings else None,
    )
    norm = norm_lemma(word)
    son = _SON_WORDS.get(norm)
    if son is not None:
        r = next((r for r in readings if norm_lemma(r[_LEX]) == norm_lemma(son)), None)
        if r is not None:
            return (r[_LEX], r[_POS], r[_DIAC], r[_GLOSS], r[_BW], r[_D3])
        return (son, "noun", son, _SON_GLOSS[son], None, norm)
    if weights and len({r[_LEX] for r in readings}) > 1:
        scored = [
            _score_reading(weights, _reading_features(r, j, tag, r is ranked))
            for j, r in enumerate(readings)
        ]
        chosen = readings[max(range(len(readings)), key=lambda j: (scored[j], -j))]
    else:
        chosen = _pick_reading(readings, ranked, tag)
    remembered = memory.get(f"{norm}\t{tag}")
    if remembered is not None:
        same = next((r for r in readings if norm_lemma(r[_LEX]) == norm_lemma(remembered)),
                    None)
        if same is not None:
            chosen = same
        elif chosen is not None:
            return (remembered, chosen[_POS], chosen[_DIAC], None, chosen[_BW], chosen[_D3])
        else:
            return (remembered, None, None, None, None, None)
    if chosen is None:
        return (None, None, None, None, None, None)
    return (chosen[_LEX], chosen[_POS], chosen[_DIAC], chosen[_GLOSS], chosen[_BW],
            chosen[_D3])


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


def _reading_features(r: tuple, rank: int, tag: str, in_context: bool) -> list[str]:
    """Features of one candidate reading of a token tagged ``tag``, for the lemma scorer."""
    upos, pos, lex = r[_UPOS], r[_POS], r[_LEX] or ""
    tags = _bw_tags(r[_BW])
    return [
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
    sentences: Sequence[GoldSentence], morphology: Any, morph: dict[str, list]
) -> list[tuple[list[list[str]], set[int]]]:
    examples = []
    k = 0
    for s in sentences:
        for w in s.words:
            readings = morphology.readings(w.form)
            gold = norm_lemma(w.lemma)
            hits = {j for j, r in enumerate(readings) if norm_lemma(r[_LEX]) == gold}
            lemmas = {norm_lemma(r[_LEX]) for r in readings}
            if w.upos != "PUNCT" and hits and len(lemmas) > 1:
                ctx = (morph["lemma"][k], morph["pos"][k])
                cands = [
                    _reading_features(r, j, w.upos, (r[_LEX], r[_POS]) == ctx)
                    for j, r in enumerate(readings)
                ]
                examples.append((cands, hits))
            k += 1
    return examples
