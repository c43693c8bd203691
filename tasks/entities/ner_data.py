"""NER training data: ANERcorp-format BIO files, the held-aside split, span scoring.

ANERcorp format: ``token label`` per line, a blank line between sentences; ANERcorp
spells the person label PERS, the entities table PER. Tokens are the pipeline's
(``simple_word_tokenize``): :func:`retokenize` re-tokenizes the gold whitespace tokens
the same way, so (د gives ( and د and both keep the gold label.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from tasks.errors import ConfigError
from tasks.sequence import file_sha256

# ANERcorp spells the person label PERS; the entities table says PER.
_LABEL_MAP = {"PERS": "PER", "PER": "PER", "LOC": "LOC", "ORG": "ORG", "MISC": "MISC"}
ANERCORP_LICENSE = (
    "ANERcorp: Benajiba, Rosso & Benedí (2007), ANERsys; train split as fixed by CAMeL Lab "
    "(Obeid et al. 2020, CAMeL Tools, LREC), distributed at "
    "github.com/CAMeL-Lab/ANERcorp-CamelLabSplits. License: CC BY-SA 4.0 as stated by that "
    "distribution (not re-checked offline). The model holds feature weights learnt from it, "
    "no text."
)

Sentence = list[tuple[str, str]]


def read_bio(path: str | Path) -> list[Sentence]:
    """Sentences of an ANERcorp-format file as ``(token, tag)`` lists.

    Raises:
        ConfigError: the file is missing or a line has no tag.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"NER training file {str(p)!r} does not exist")
    sents: list[Sentence] = []
    cur: Sentence = []
    for n, line in enumerate(p.read_text(encoding="utf-8").split("\n"), 1):
        line = line.strip()
        if not line:
            if cur:
                sents.append(cur)
                cur = []
            continue
        tok, _, tag = line.rpartition(" ")
        if not tok or not (tag == "O" or tag[:2] in ("B-", "I-")):
            raise ConfigError(f"{p}:{n}: expected 'token TAG' (BIO), got {line!r}")
        if tag != "O":
            label = _LABEL_MAP.get(tag[2:])
            if label is None:
                raise ConfigError(f"{p}:{n}: unknown entity label {tag[2:]!r}")
            tag = tag[:2] + label
        cur.append((tok, tag))
    if cur:
        sents.append(cur)
    return sents


def describe_data(paths: Sequence[str | Path]) -> str:
    """One line per training file: its name, sentences, tokens and sha256 (for the card)."""
    lines = []
    for path in paths:
        p = Path(path)
        sents = read_bio(p)
        n_tok = sum(len(s) for s in sents)
        lines.append(f"- `{p.name}`: {len(sents)} sentences, {n_tok} tokens, "
                     f"sha256 `{file_sha256(p)}`")
    return "\n".join(lines)


def write_bio(sents: Iterable[Sentence], path: str | Path) -> None:
    """Write sentences in the ANERcorp format (``PER`` spelled ``PERS`` as the corpus does)."""
    lines = []
    for s in sents:
        for tok, tag in s:
            lines.append(f"{tok} {tag.replace('-PER', '-PERS') if tag != 'O' else tag}")
        lines.append("")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def split_holdout(
    sents: Sequence[Sentence], fraction: float, seed: int, block: int = 100
) -> tuple[list[Sentence], list[Sentence]]:
    """Seeded split into (train, held-aside) sentences, in blocks of consecutive sentences.

    ANERcorp has no article boundaries, and one article repeats its names: sentences
    drawn one by one would put the same names on both sides and flatter the score. Whole
    blocks of ``block`` sentences (several articles) are held aside instead; both parts
    keep file order.
    """
    if not 0 <= fraction < 1:
        raise ConfigError(f"holdout fraction {fraction!r} must be in [0, 1)")
    n_blocks = -(-len(sents) // block)
    n_hold = int(round(n_blocks * fraction))
    held = set(random.Random(seed).sample(range(n_blocks), n_hold))
    train = [s for i, s in enumerate(sents) if i // block not in held]
    hold = [s for i, s in enumerate(sents) if i // block in held]
    return train, hold


def retokenize(sent: Sentence) -> tuple[list[str], list[str]]:
    """Pipeline tokens of a gold sentence and their BIO tags.

    Each whitespace token is split the way ``tasks.segment`` splits it; the pieces of a
    B- token are B- then I-, so the entity's span is unchanged.
    """
    from tasks.segment import tokenize_with_offsets

    toks: list[str] = []
    tags: list[str] = []
    for tok, tag in sent:
        pieces = [t for t, _, _ in tokenize_with_offsets(tok)] or [tok]
        for k, piece in enumerate(pieces):
            toks.append(piece)
            tags.append(tag if k == 0 or tag == "O" else "I-" + tag[2:])
    return toks, tags


def bio_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """``(start, end, label)`` spans of a BIO sequence, conlleval style (a stray I- starts one)."""
    spans = []
    start = label = None
    for i, tag in enumerate([*tags, "O"]):
        if start is not None and not (tag.startswith("I-") and tag[2:] == label):
            spans.append((start, i, label))
            start = label = None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):
            start, label = i, tag[2:]
    return spans


def score_spans(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[tuple]]) -> dict:
    """Exact-span precision, recall and F1 per label and overall (conlleval style)."""
    counts: Counter = Counter()
    for g_tags, p_spans in zip(gold, pred, strict=True):
        g = set(bio_spans(g_tags))
        p = {(a, b, lab) for a, b, lab, *_ in p_spans}
        for x in g & p:
            counts[(x[2], "tp")] += 1
        for x in p - g:
            counts[(x[2], "fp")] += 1
        for x in g - p:
            counts[(x[2], "fn")] += 1
    out = {}
    for lab in ("PER", "LOC", "ORG", "MISC", "all"):
        keys = ("PER", "LOC", "ORG", "MISC") if lab == "all" else (lab,)
        tp = sum(counts[(k, "tp")] for k in keys)
        fp = sum(counts[(k, "fp")] for k in keys)
        fn = sum(counts[(k, "fn")] for k in keys)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[lab] = {"p": round(100 * prec, 1), "r": round(100 * rec, 1),
                    "f1": round(100 * f1, 1), "n": tp + fn}
    return out
