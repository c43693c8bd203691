"""Document consistency for the NER (issue 22): what a first pass found elsewhere in the article.

A name recognised confidently in one sentence of an article informs its other mentions:
a second-stage CRF sees, for each token, a summary of the first-stage CRF over the
*other* mentions of the same word (its clitic-stripped stem, و/ب/ال removed) in the same
document:

* ``dmax=L@b``: the highest first-pass probability of label L (B-L + I-L) over them,
  in bins (b = 1: ≥ 0.2, 2: ≥ 0.5, 3: ≥ 0.9); ``davg=L@b``: the mean, same bins;
* ``dO``: there are other mentions and none reaches 0.2 for any label;
* ``dn=k``: how many other mentions (1, 2, 3+);
* ``dmw=L``: another mention lay inside a multiword first-pass span of label L of
  confidence ≥ 0.5; ``dlast=L``: it was that span's last word (a surname, so a later
  surname-only mention gets PER).

The token also sees the ``dmax`` features of its neighbours at ±1. Each token's summary
is packed into one integer, so the second stage's extra layer has a few hundred distinct
keys per chunk and costs a gather; everything here is numpy over the chunk's tokens.

At run time the document is the article; in training (ANERcorp has no article
boundaries) it is a block of :data:`DOC_BLOCK` consecutive sentences.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Sequence

import numpy as np

from tasks.entities.gazetteers import _is_word, normalize_name
from tasks.entities.ner_data import bio_spans
from tasks.entities.ner_features import _prefixed, _strip_clitics
from tasks.sequence import Decoded, Layer, Row, encode

LABELS = ("PER", "LOC", "ORG", "MISC")
DOC_BLOCK = 20  # training documents: blocks of consecutive ANERcorp sentences
_CUTS = np.array([0.2, 0.5, 0.9])
_MW_CONF = 0.5
# bit layout of a token's code: 4 labels x (max 2 bits, mean 2 bits), then the rest
_N_SHIFT = 16  # 2 bits: other mentions 0, 1, 2, 3+
_MW_SHIFT = 18  # 4 bits: dmw per label
_LAST_SHIFT = 22  # 4 bits: dlast per label


@functools.lru_cache(maxsize=200_000)
def doc_key(tok: str) -> str:
    """The word a mention is matched by: its clitic-stripped stem ('' for none)."""
    if not _is_word(tok):
        return ""
    _, stem = _strip_clitics(normalize_name(tok))
    return stem if len(stem) >= 3 else ""


def document_codes(
    sentences: Sequence[Sequence[str]],
    documents: Sequence[Hashable] | None,
    first: Decoded,
    labels: Sequence[str],
) -> np.ndarray:
    """Each token's packed summary of the first pass over its other mentions (0: none).

    Args:
        sentences: The chunk's tokens per sentence.
        documents: A document key per sentence (the article id); None: each sentence
            is its own document.
        first: The first stage's labels and marginals over the chunk's tokens.
        labels: The first stage's label names (``B-PER``, ``I-PER``, ..., ``O``).
    """
    lens = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
    n = int(lens.sum())
    if not n:
        return np.zeros(0, dtype=np.int64)
    key_code, key_uniq = encode(doc_key(t) for s in sentences for t in s)
    doc_sent = (np.arange(len(sentences)) if documents is None
                else encode(documents)[0])
    doc_tok = np.repeat(doc_sent, lens)
    has_key = np.array([bool(k) for k in key_uniq])[key_code]
    _, group = np.unique(doc_tok * len(key_uniq) + key_code, return_inverse=True)
    group = group.ravel()
    g_n = np.bincount(group)
    others = g_n[group] - 1
    live = has_key & (others > 0)
    # per-label probability of each token (B-L + I-L), its group's max excluding itself
    prob = np.zeros((n, len(LABELS)))
    for j, lab in enumerate(LABELS):
        for pre in ("B-", "I-"):
            if pre + lab in labels:
                prob[:, j] += first.marginals[:, labels.index(pre + lab)]
    n_g = len(g_n)
    top = np.full((n_g, len(LABELS)), -1.0)
    np.maximum.at(top, group, prob)
    is_top = prob == top[group]
    n_top = np.zeros((n_g, len(LABELS)), dtype=np.int64)
    np.add.at(n_top, group, is_top)
    second = np.full((n_g, len(LABELS)), -1.0)
    np.maximum.at(second, group, np.where(is_top, -1.0, prob))
    alone_top = is_top & (n_top[group] == 1)
    o_max = np.where(alone_top, second[group], top[group])
    total = np.zeros((n_g, len(LABELS)))
    np.add.at(total, group, prob)
    o_mean = (total[group] - prob) / np.maximum(others, 1)[:, None]
    code = np.zeros(n, dtype=np.int64)
    b_max = np.searchsorted(_CUTS, o_max, side="right")
    b_mean = np.searchsorted(_CUTS, o_mean, side="right")
    for j in range(len(LABELS)):
        code |= (b_max[:, j] << (4 * j)) | (b_mean[:, j] << (4 * j + 2))
    code |= np.minimum(others, 3) << _N_SHIFT
    # multiword first-pass spans: who lay in one, who ended one
    mw, last = _multiword_flags(lens, first, labels)
    for flags, shift in ((mw, _MW_SHIFT), (last, _LAST_SHIFT)):
        g_count = np.zeros((n_g, len(LABELS)), dtype=np.int64)
        np.add.at(g_count, group, flags)
        other = (g_count[group] - flags) > 0
        for j in range(len(LABELS)):
            code |= other[:, j].astype(np.int64) << (shift + j)
    return np.where(live, code, 0)


def _multiword_flags(lens: np.ndarray, first: Decoded, labels: Sequence[str]):
    """(tokens, 4) booleans: inside a confident multiword span of the label; its last word."""
    n = int(lens.sum())
    mw = np.zeros((n, len(LABELS)), dtype=np.int64)
    last = np.zeros((n, len(LABELS)), dtype=np.int64)
    outside = labels.index("O") if "O" in labels else -1
    ends = np.cumsum(lens)
    named = np.concatenate([[0], np.cumsum(first.labels != outside)])
    best = first.best_marginals()
    for s in np.flatnonzero(named[ends] > named[ends - lens]).tolist():
        a0, a1 = int(ends[s] - lens[s]), int(ends[s])
        tags = [labels[k] for k in first.labels[a0:a1].tolist()]
        for a, z, lab in bio_spans(tags):
            if z - a >= 2 and lab in LABELS and best[a0 + a:a0 + z].min() >= _MW_CONF:
                j = LABELS.index(lab)
                mw[a0 + a:a0 + z, j] = 1
                last[a0 + z - 1, j] = 1
    return mw, last


@functools.lru_cache(maxsize=20_000)
def doc_features(code: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(own features, features lent to the neighbours) of a packed code."""
    if not code:
        return (), ()
    own: list[str] = []
    near: list[str] = []
    for j, lab in enumerate(LABELS):
        b_max = (code >> (4 * j)) & 3
        b_mean = (code >> (4 * j + 2)) & 3
        if b_max:
            own.append(f"dmax={lab}@{b_max}")
            near.append(f"dmax={lab}@{b_max}")
        if b_mean:
            own.append(f"davg={lab}@{b_mean}")
        if (code >> (_MW_SHIFT + j)) & 1:
            own.append("dmw=" + lab)
        if (code >> (_LAST_SHIFT + j)) & 1:
            own.append("dlast=" + lab)
    if not near:
        own.append("dO")
    own.append(f"dn={(code >> _N_SHIFT) & 3}")
    return tuple(own), tuple(near)


def doc_row(code: Hashable, aux: object = None) -> Row:
    own, near = doc_features(int(code))
    return Row({0: own, -1: _prefixed(-1, near), 1: _prefixed(1, near)})


def doc_layer() -> Layer:
    """The second stage's extra layer: keys are :func:`document_codes`."""
    return Layer("doc", doc_row, (-1, 0, 1), limit=20_000)


def encode_codes(codes: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """``encode(codes)`` for the runtime, with numpy (codes are ints)."""
    uniq, inv = np.unique(codes, return_inverse=True)
    return inv.ravel(), uniq.tolist()


def training_documents(n_sentences: int, block: int = DOC_BLOCK) -> list[int]:
    """The document of each training sentence: blocks of ``block`` consecutive ones."""
    return [i // block for i in range(n_sentences)]
