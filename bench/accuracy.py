"""Word-level UPOS and lemma accuracy of the morphology annotation on a UD treebank.

Usage::

    python bench/accuracy.py ../shared/eval/ud-arabic-pud-dev.conllu [--morphology bama]

UD Arabic splits clitics into token lines (ل + أوباما) and marks glued tokens with
``SpaceAfter=No``. The script rebuilds each sentence's raw text, runs the pipeline's
word tokenizer and morphology on it, and scores every surface word whose span the
tokenizer reproduces. A word split into clitics is scored on its content part: the
token left after stripping proclitics (و ف ب ل ك س) and pronoun enclitics, so
لأوباما is scored as أوباما/PROPN. Lemmas are compared dediacritized, with alef,
yaa and teh marbuta normalized. Nothing from the treebank is stored.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_PROCLITICS = frozenset({"و", "ف", "ب", "ل", "ك", "س"})
# The treebank writes the dagger alef as a backtick (ه`ذا), camel-tools as U+0670 (هٰذا).
_NORM = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ـ": None, "`": None, "ٰ": None}
)


def _norm_lemma(lemma: str | None) -> str:
    from camel_tools.utils.dediac import dediac_ar

    return dediac_ar(lemma or "").translate(_NORM)


def read_conllu(path: Path) -> list[tuple[str, list[tuple[int, int, str, str]]]]:
    """Sentences as (text, words); a word is (start, end, gold_upos, gold_lemma)."""
    sentences = []
    tokens: list[tuple[str, str, str, bool]] = []

    def flush() -> None:
        if not tokens:
            return
        text, words, group = "", [], []
        for form, upos, lemma, space_after in tokens:
            start = len(text)
            text += form
            if upos == "PUNCT":
                # Punctuation is its own word even when glued (شولمان, -> شولمان + ,).
                if group:
                    words.append(_word(group))
                    group = []
                words.append((start, start + len(form), upos, lemma))
            else:
                group.append((form, upos, lemma, start))
                if space_after:
                    words.append(_word(group))
                    group = []
            if space_after:
                text += " "
        if group:
            words.append(_word(group))
        sentences.append((text.rstrip(), words))
        tokens.clear()

    def _word(group: list[tuple[str, str, str, int]]) -> tuple[int, int, str, str]:
        start = group[0][3]
        end = group[-1][3] + len(group[-1][0])
        content = list(group)
        while len(content) > 1 and content[0][0] in _PROCLITICS:
            content.pop(0)
        while len(content) > 1 and content[-1][1] == "PRON":
            content.pop()
        return (start, end, content[0][1], content[0][2])

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            flush()
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if "-" in cols[0] or "." in cols[0]:
            continue
        tokens.append((cols[1], cols[3], cols[2], "SpaceAfter=No" not in cols[9]))
    flush()
    return sentences


def _tokenize(text: str) -> list[tuple[str, int, int]]:
    try:
        from tasks.segment import tokenize_with_offsets

        return tokenize_with_offsets(text)
    except ImportError:
        from camel_tools.tokenizers.word import simple_word_tokenize

        out, pos = [], 0
        for tok in simple_word_tokenize(text):
            i = text.find(tok, pos)
            pos = i + len(tok)
            out.append((tok, i, pos))
        return out


def main(argv: list[str] | None = None) -> int:
    """Print UPOS and lemma accuracy; return 0."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("conllu", type=Path)
    ap.add_argument("--morphology", default="auto")
    ap.add_argument("--errors", type=int, default=0, help="print the N most common errors")
    args = ap.parse_args(argv)

    from tasks.morphology import load_morphology

    sentences = read_conllu(args.conllu)
    t0 = time.perf_counter()
    morph = load_morphology(args.morphology)
    t_load = time.perf_counter() - t0
    tokenized = [_tokenize(text) for text, _ in sentences]
    t0 = time.perf_counter()
    cols = morph.analyze_sentences([[t for t, _, _ in toks] for toks in tokenized])
    t_an = time.perf_counter() - t0

    n = n_tok_ok = upos_ok = lemma_ok = 0
    n_ar = upos_ar = lemma_ar = 0
    errors: Counter[str] = Counter()
    k = 0
    for (text, words), toks in zip(sentences, tokenized, strict=True):
        by_span = {(s, e): k + j for j, (_, s, e) in enumerate(toks)}
        k += len(toks)
        for start, end, g_upos, g_lemma in words:
            n += 1
            is_punct = g_upos == "PUNCT"
            n_ar += not is_punct
            j = by_span.get((start, end))
            if j is None:
                errors[f"tokenization {text[start:end]}"] += 1
                continue
            n_tok_ok += 1
            upos = cols["upos"][j]
            lemma = cols["lemma"][j] or text[start:end]
            u_ok = upos == g_upos
            l_ok = _norm_lemma(lemma) == _norm_lemma(g_lemma)
            upos_ok += u_ok
            lemma_ok += l_ok
            if not is_punct:
                upos_ar += u_ok
                lemma_ar += l_ok
            if not u_ok:
                errors[f"upos {g_upos}->{upos}"] += 1
            if not l_ok and args.errors:
                errors[f"lemma {text[start:end]} {g_lemma}->{lemma}"] += 1

    print(f"file: {args.conllu}  morphology: {morph.source}")
    print(f"sentences: {len(sentences)}  words: {n}  tokenizer spans matched: {n_tok_ok / n:.2%}")
    print(f"UPOS accuracy:  {upos_ok / n:.2%}  (without punctuation {upos_ar / n_ar:.2%})")
    print(f"lemma accuracy: {lemma_ok / n:.2%}  (without punctuation {lemma_ar / n_ar:.2%})")
    print(f"load {t_load:.2f} s, analysis {k / t_an:,.0f} tokens/s (cold caches)")
    if args.errors:
        for what, count in errors.most_common(args.errors):
            print(f"{count:5d}  {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
