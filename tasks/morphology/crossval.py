"""K-fold cross-validation of the POS/lemma tagger, scored the way UD Arabic-PUD is (issue 23).

A 100-sentence hold-out is too small to choose features on (its figure and the unseen
half's differed by three points), so features are chosen on the mean and spread of
k folds. Each fold trains on the other folds' gold words and tags its own sentences the
way ``akhbar run`` does: the sentence text is cleaned, split into sentences and tokens
by the pipeline's own functions, analyzed as one batch and retagged. Tokens are then
aligned to the gold surface words on their normalized text, and each gold word is
scored on its content part (:func:`tasks.morphology.tagger.content_part`); a gold word
no token matches counts as wrong. That is ``../shared/eval/score_pud.py``'s rule, so a
fold's figure here is the figure that script gives on the same sentences.
"""

from __future__ import annotations

import difflib
import random
import statistics
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.errors import ConfigError
from tasks.morphology.pos_data import GoldSentence, norm_lemma
from tasks.morphology.pos_infer import PosTagger

__all__ = ["CrossValReport", "FoldScore", "cross_validate", "fold_indices", "tag_like_pipeline"]


@dataclass
class FoldScore:
    """One fold's counts over non-punctuation gold words."""

    words: int
    upos_ok: int
    lemma_ok: int
    # lemma hits when the treebank's leftover Buckwalter dagger alif (ه`ذا) is read as
    # the Arabic one (هٰذا): the lemmas we write never hold Buckwalter characters
    lemma_ok_arabic: int = 0
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (surface, gold lemma, predicted lemma, gold UPOS, predicted UPOS) of each lemma miss
    lemma_errors: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    # (surface, gold UPOS, predicted UPOS, previous surface, next surface) of each UPOS miss
    upos_errors: list[tuple[str, str, str, str, str]] = field(default_factory=list)

    @property
    def upos(self) -> float:
        return 100 * self.upos_ok / self.words if self.words else 0.0

    @property
    def lemma(self) -> float:
        return 100 * self.lemma_ok / self.words if self.words else 0.0

    @property
    def lemma_arabic(self) -> float:
        return 100 * self.lemma_ok_arabic / self.words if self.words else 0.0


@dataclass
class CrossValReport:
    """Per-fold scores and their mean and (sample) standard deviation."""

    folds: list[FoldScore]

    def _stats(self, values: list[float]) -> tuple[float, float]:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return statistics.fmean(values), sd

    @property
    def upos(self) -> tuple[float, float]:
        return self._stats([f.upos for f in self.folds])

    @property
    def lemma(self) -> tuple[float, float]:
        return self._stats([f.lemma for f in self.folds])

    @property
    def lemma_arabic(self) -> tuple[float, float]:
        return self._stats([f.lemma_arabic for f in self.folds])

    def confusions(self) -> Counter[tuple[str, str]]:
        total: Counter[tuple[str, str]] = Counter()
        for f in self.folds:
            total.update(f.confusions)
        return total

    def summary(self) -> str:
        (um, us), (lm, ls), (am, as_) = self.upos, self.lemma, self.lemma_arabic
        return (
            f"UPOS {um:.2f} ± {us:.2f}, lemma {lm:.2f} ± {ls:.2f} "
            f"(gold ` as ٰ: {am:.2f} ± {as_:.2f}) ({len(self.folds)} folds)"
        )


def fold_indices(n: int, k: int, seed: int) -> list[list[int]]:
    """``k`` disjoint folds of ``range(n)`` from one seeded shuffle (sizes differ by <= 1)."""
    if not 2 <= k <= n:
        raise ConfigError(f"--cv {k!r} needs 2 <= folds <= {n} sentences")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [sorted(order[i::k]) for i in range(k)]


def tag_like_pipeline(
    sentences: Sequence[GoldSentence], tagger: PosTagger | None, morphology: Any
) -> list[list[tuple[str, str | None, str | None]]]:
    """Tag each sentence's raw text as ``akhbar run`` would: (token, lemma, upos) lists.

    Each gold sentence is one article (clean, then segment); all of them form one batch.
    """
    from tasks.clean import clean_text
    from tasks.segment import segment_text

    per_article: list[int] = []
    batch: list[list[str]] = []
    for s in sentences:
        parts = [[tok for tok, _, _ in toks] for _, _, _, toks in segment_text(clean_text(s.text))]
        per_article.append(len(parts))
        batch.extend(parts)
    morph = morphology.analyze_sentences(batch)
    if tagger is not None:
        morph = tagger.retag(batch, morphology, morph)
    out: list[list[tuple[str, str | None, str | None]]] = []
    k = row = 0
    for n_parts in per_article:
        tokens = []
        for sent in batch[k : k + n_parts]:
            for tok in sent:
                tokens.append((tok, morph["lemma"][row], morph["upos"][row]))
                row += 1
        k += n_parts
        out.append(tokens)
    return out


def score_tokens(
    sentences: Sequence[GoldSentence], predicted: Sequence[Sequence[tuple]]
) -> FoldScore:
    """Align each sentence's tokens to its gold words and count right UPOS and lemmas."""
    score = FoldScore(0, 0, 0)
    for sent, pred in zip(sentences, predicted, strict=True):
        gold = [w for w in sent.words if w.upos != "PUNCT"]
        score.words += len(gold)
        sm = difflib.SequenceMatcher(
            a=[norm_lemma(w.form) for w in gold], b=[norm_lemma(p[0]) for p in pred],
            autojunk=False,
        )
        for block in sm.get_matching_blocks():
            for i in range(block.size):
                gw, (text, lemma, upos) = gold[block.a + i], pred[block.b + i]
                if upos == gw.upos:
                    score.upos_ok += 1
                else:
                    score.confusions[(gw.upos, upos)] += 1
                    j = block.b + i
                    score.upos_errors.append((
                        text, gw.upos, upos or "", pred[j - 1][0] if j else "",
                        pred[j + 1][0] if j + 1 < len(pred) else "",
                    ))
                pred_lemma = norm_lemma(lemma)
                score.lemma_ok_arabic += bool(pred_lemma) and pred_lemma == norm_lemma(
                    gw.lemma.replace("`", "\u0670"))
                if pred_lemma and pred_lemma == norm_lemma(gw.lemma):
                    score.lemma_ok += 1
                else:
                    score.lemma_errors.append((text, gw.lemma, lemma or "", gw.upos, upos or ""))
    return score


def cross_validate(
    sentences: Sequence[GoldSentence],
    morphology: Any,
    clusters: Any,
    fit: Callable[..., PosTagger],
    *,
    k: int = 10,
    seed: int = 13,
    on_fold: Callable[[int, FoldScore], None] | None = None,
    max_folds: int | None = None,
    **fit_options: Any,
) -> CrossValReport:
    """Train on k-1 folds with ``fit`` (:func:`tasks.morphology.pos_train.fit_tagger`),
    tag the held fold through the pipeline's path, k times (the first ``max_folds`` only,
    for a quick look)."""
    folds = fold_indices(len(sentences), k, seed)[:max_folds]
    scores = []
    with tempfile.TemporaryDirectory(prefix="akhbar-pos-cv-") as tmp:
        for i, held_idx in enumerate(folds):
            held_set = set(held_idx)
            train = [s for j, s in enumerate(sentences) if j not in held_set]
            held = [sentences[j] for j in held_idx]
            tagger = fit(train, morphology, clusters, Path(tmp) / f"fold{i}", seed=seed,
                         **fit_options)
            score = score_tokens(held, tag_like_pipeline(held, tagger, morphology))
            scores.append(score)
            if on_fold is not None:
                on_fold(i, score)
    return CrossValReport(scores)
