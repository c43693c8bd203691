"""Self-training of the POS tagger on unlabeled news (issue 23).

The tagger trained on the treebank tags a seeded sample of news sentences; the sentences
it is sure of (every token's best label has at least ``min_confidence`` marginal
probability) are added to the CRF's training data with those labels. The lemma memory,
the reading scorer and the vector lexicon stay learnt from gold words only.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MIN_TOKENS, MAX_TOKENS = 5, 40  # headlines and run-on lists are poor evidence


def unlabeled_sentences(paths: Iterable[str | Path], n: int, seed: int) -> list[list[str]]:
    """A seeded sample of ``n`` sentences of raw news, tokenized as ``akhbar run`` does."""
    from tasks.clusters import check_corpus, corpus_lines
    from tasks.segment import segment_text

    paths = list(paths)
    check_corpus(paths)
    lines = [line for line in corpus_lines(paths) if line.strip()]
    random.Random(seed).shuffle(lines)
    out: list[list[str]] = []
    for line in lines:
        for _, _, _, toks in segment_text(line):
            words = [t for t, _, _ in toks]
            if MIN_TOKENS <= len(words) <= MAX_TOKENS:
                out.append(words)
        if len(out) >= n:
            break
    return out[:n]


def confident_sentences(
    tagger: Any, sentences: Sequence[Sequence[str]], morphology: Any, min_confidence: float
) -> list[tuple[list[str], list[str]]]:
    """(words, UPOS) of the sentences whose every token the tagger labels with at least
    ``min_confidence`` marginal probability."""
    morph = morphology.analyze_sentences(sentences)
    decoded = tagger.decode(sentences, morphology, morph)
    best = decoded.best_marginals()
    labels = tagger.sequence.labels
    out = []
    start = 0
    for sent in sentences:
        end = start + len(sent)
        if len(sent) and float(np.min(best[start:end])) >= min_confidence:
            out.append((list(sent), [labels[k] for k in decoded.labels[start:end].tolist()]))
        start = end
    return out
