"""A reading prior learnt by EM from unlabeled news, for the POS/lemma tagger (issue 23).

BAMA has no frequencies, so nothing says that الكتاب is كِتاب "book" far more often than
كُتّاب "Quran school", or العام عامّ "general" as often as عام "year". Here every word
type of a raw news corpus spreads its count over its readings' (lemma, pos) pairs, and
EM re-spreads it in proportion to each pair's total, so a lemma that many words share
(كِتاب in كتابه، كتب، الكتاب) gathers the mass. The tagger uses each reading's share
among the word's readings as a feature of its lemma scorer and of its CRF.

Only the (lemma, pos, count) table ships (``prior.tsv`` in the POS model directory),
never text. :func:`learn_prior` builds it; :func:`read_prior` loads it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tasks.errors import ConfigError

__all__ = ["PRIOR_FILE", "ReadingPrior", "learn_prior", "read_prior", "write_prior"]

PRIOR_FILE = "prior.tsv"
_HEADER = "#lex\tpos\tcount"
_SRC = 9  # the reading tuple's source field (tasks.morphology.ranker)


class ReadingPrior:
    """Expected corpus counts of (lemma, pos) pairs, and each reading's share of a word."""

    def __init__(self, counts: dict[tuple[str, str], float], sha256: str = "") -> None:
        self.counts = counts
        self.sha256 = sha256

    def shares(self, readings: Sequence[tuple]) -> list[float]:
        """Each reading's share of the prior mass of ``readings`` (uniform when none has any)."""
        get = self.counts.get
        mass = [get((r[0], r[1]), 0.0) for r in readings]
        total = sum(mass)
        if total <= 0:
            return [1.0 / len(readings)] * len(readings) if readings else []
        return [m / total for m in mass]


def learn_prior(
    tokens: Iterable[str], morphology: Any, *, min_count: int = 2, iterations: int = 5
) -> ReadingPrior:
    """EM over the word types of ``tokens`` (seen ``min_count`` times or more).

    Only lexicon readings take part (a backoff guess says nothing of frequency).
    """
    types: Counter[str] = Counter(tokens)
    words: list[tuple[int, tuple[tuple[str, str], ...]]] = []
    for word, n in types.items():
        if n < min_count:
            continue
        readings = morphology.readings(word)
        pairs = tuple(dict.fromkeys((r[0], r[1]) for r in readings if r[_SRC] != "backoff"))
        if pairs:
            words.append((n, pairs))
    counts: Counter[tuple[str, str]] = Counter()
    for n, pairs in words:
        for p in pairs:
            counts[p] += n / len(pairs)
    for _ in range(iterations):
        new: Counter[tuple[str, str]] = Counter()
        for n, pairs in words:
            z = sum(counts[p] for p in pairs)
            for p in pairs:
                new[p] += n * counts[p] / z
        counts = new
    return ReadingPrior({p: round(c, 1) for p, c in counts.items() if c >= 0.05})


def write_prior(prior: ReadingPrior, path: Path) -> str:
    """Write the table sorted (so the same corpus gives the same bytes); return its sha256."""
    lines = [_HEADER] + [f"{lex}\t{pos}\t{c:.1f}" for (lex, pos), c in sorted(prior.counts.items())]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def read_prior(path: Path) -> ReadingPrior:
    """Read a ``prior.tsv``.

    Raises:
        ConfigError: the file is not a prior table.
    """
    data = Path(path).read_bytes()
    lines = data.decode("utf-8").splitlines()
    if not lines or lines[0] != _HEADER:
        raise ConfigError(f"{path} is not a reading prior (no {_HEADER!r} header)")
    counts = {}
    for line in lines[1:]:
        lex, pos, c = line.split("\t")
        counts[(lex, pos)] = float(c)
    return ReadingPrior(counts, hashlib.sha256(data).hexdigest())


def corpus_tokens(paths: Iterable[str | Path]) -> Iterable[str]:
    """The pipeline's tokens of raw news dumps (zip/json/jsonl/txt, as the clusters read)."""
    from tasks.clusters import check_corpus, corpus_lines
    from tasks.segment import tokenize_with_offsets

    paths = list(paths)
    check_corpus(paths)
    for line in corpus_lines(paths):
        for tok, _, _ in tokenize_with_offsets(line):
            yield tok
