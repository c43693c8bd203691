"""Viterbi and forward-backward over all sentences of a chunk at once (padded numpy).

Sentences are sorted by length and cut into buckets of about ``_CELLS`` token slots, so
padding stays small; within a bucket every step is one numpy operation over the
sentences still running (they are a suffix of the bucket), and so is the backtrace.
Ties go to the lowest label index at every step, as in crfsuite's own Viterbi. numba
was not needed: the decode is 1-2.5 us a token (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_CELLS = 65_536  # sentences x steps per bucket
_MAX_SENTENCES = 2048


@dataclass(frozen=True)
class Decoded:
    """Best labels (indices) and per-label marginal probabilities, flattened over tokens."""

    labels: np.ndarray  # (tokens,)
    marginals: np.ndarray  # (tokens, labels)

    def best_marginals(self) -> np.ndarray:
        """Marginal probability of each token's best label."""
        return self.marginals[np.arange(len(self.labels)), self.labels]


def _buckets(lengths: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(lengths, kind="stable")
    order = order[lengths[order] > 0]
    out = []
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and stop - start < _MAX_SENTENCES and \
                (stop - start + 1) * lengths[order[stop]] <= _CELLS:
            stop += 1
        out.append(order[start:stop])
        start = stop
    return out


def decode(emissions: np.ndarray, lengths: Sequence[int] | np.ndarray,
           trans: np.ndarray) -> Decoded:
    """Viterbi labels and forward-backward marginals of each sentence.

    Args:
        emissions: (tokens, labels) state scores, sentences one after another.
        lengths: Tokens per sentence.
        trans: (labels, labels) transition scores, from row to column.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    n, n_lab = emissions.shape
    labels = np.zeros(n, dtype=np.int64)
    marginals = np.zeros((n, n_lab))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths
    exp_trans = np.exp(trans)
    for idx in _buckets(lengths):
        lens = lengths[idx]  # ascending: at step t the live sentences are a suffix
        s_n, t_max = len(idx), int(lens.max())
        steps = np.arange(t_max)
        live = steps[None, :] < lens[:, None]  # (S, T)
        first = np.searchsorted(lens, steps, side="right")  # first sentence longer than t
        flat = starts[idx][:, None] + steps[None, :]
        em = np.zeros((s_n, t_max, n_lab))
        em[live] = emissions[flat[live]]
        # Viterbi on the sentences still running
        score = em[:, 0].copy()
        back = np.empty((s_n, t_max, n_lab), dtype=np.int16)
        for t in range(1, t_max):
            k = first[t]
            sc = score[k:]
            # one previous label at a time: (S, L) operations beat reducing (S, L, L)
            best = sc[:, 0, None] + trans[0]
            arg = np.zeros(best.shape, dtype=np.int16)
            for i in range(1, n_lab):
                cand = sc[:, i, None] + trans[i]
                arg[cand > best] = i  # strictly greater: ties keep the lower label
                np.maximum(best, cand, out=best)
            back[k:, t] = arg
            score[k:] = best + em[k:, t]
        # a finished sentence's best last label is carried back unchanged
        path = np.empty((s_n, t_max), dtype=np.int64)
        path[:, -1] = score.argmax(1)
        for t in range(t_max - 1, 0, -1):
            k = first[t]
            path[:, t - 1] = path[:, t]
            path[k:, t - 1] = back[np.arange(k, s_n), t, path[k:, t]]
        # forward-backward in probabilities rescaled at every step
        e = np.exp(em - em.max(2, keepdims=True))
        alpha = np.empty_like(em)
        alpha[:, 0] = e[:, 0] / e[:, 0].sum(1, keepdims=True)
        for t in range(1, t_max):
            k = first[t]
            a = (alpha[k:, t - 1] @ exp_trans) * e[k:, t]
            alpha[k:, t] = a / a.sum(1, keepdims=True)
        beta = np.ones_like(em)
        for t in range(t_max - 2, -1, -1):
            k = first[t + 1]
            b = (e[k:, t + 1] * beta[k:, t + 1]) @ exp_trans.T
            beta[k:, t] = b / b.sum(1, keepdims=True)
        post = alpha[live] * beta[live]
        post /= post.sum(1, keepdims=True)
        labels[flat[live]] = path[live]
        marginals[flat[live]] = post
    return Decoded(labels, marginals)
