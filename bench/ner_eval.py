"""Entity-level NER evaluation on a BIO file (ANERcorp CAMeL-Lab layout).

Input: one ``token TAG`` per line (B-PERS/I-LOC/B-ORG/B-MISC/O; PERS counts as PER),
sentences separated by blank lines. Each sentence's tokens are joined with spaces,
tokenized with ``simple_word_tokenize`` the way the pipeline does it, annotated with
``recognize_entities`` (with BAMA morphology when ``tasks.morphology`` can load it), and
each predicted span is mapped back to the whitespace tokens it overlaps, since the gold
tags cover whole whitespace tokens, clitics included. Scoring is conlleval style: an
entity counts when its span and label match exactly.

    python bench/ner_eval.py ../shared/eval/anercorp-camellab-train.txt [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.entities import LABELS, recognize_entities  # noqa: E402


def read_bio(path: Path, limit: int | None) -> list[tuple[list[str], list[str]]]:
    """Sentences as (tokens, tags) with PERS renamed PER."""
    sents: list[tuple[list[str], list[str]]] = []
    toks: list[str] = []
    tags: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts:
            if toks:
                sents.append((toks, tags))
                toks, tags = [], []
                if limit and len(sents) >= limit:
                    break
            continue
        tok, tag = (parts[0], parts[-1]) if len(parts) > 1 else (parts[0], "O")
        toks.append(tok)
        tags.append(tag.replace("PERS", "PER"))
    if toks and not (limit and len(sents) >= limit):
        sents.append((toks, tags))
    return sents


def gold_spans(tags: list[str]) -> set[tuple[int, int, str]]:
    """conlleval chunks: an I- after O or another type opens a chunk."""
    spans = set()
    start, cur = None, None
    for k, tag in enumerate([*tags, "O"]):
        typ = tag[2:] if tag != "O" else None
        if start is not None and (tag == "O" or tag.startswith("B-") or typ != cur):
            spans.add((start, k, cur))
            start, cur = None, None
        if tag != "O" and start is None:
            start, cur = k, typ
    return spans


def tokenize(ws_tokens: list[str]) -> tuple[list[str], list[int]]:
    """Pipeline tokens of the sentence and, per token, the whitespace token it came from."""
    from camel_tools.tokenizers.word import simple_word_tokenize

    toks: list[str] = []
    src: list[int] = []
    for w, tok in enumerate(ws_tokens):
        for sub in simple_word_tokenize(tok):
            toks.append(sub)
            src.append(w)
    return toks, src


def load_morph():
    """BAMA morphology when the module and lexicon are there, else None."""
    try:
        from tasks.morphology import load_morphology

        return load_morphology("bama")
    except Exception as exc:  # noqa: BLE001 - the bench runs without morphology too
        print(f"(no morphology: {exc})", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--limit", type=int, default=None, help="first N sentences only")
    ap.add_argument("--method", default="rules", help="rules or camelbert")
    ap.add_argument("--no-morph", action="store_true", help="gazetteers and triggers only")
    ap.add_argument("--errors", type=Path, default=None, help="write FP/FN lines here")
    args = ap.parse_args(argv)

    data = read_bio(args.path, args.limit)
    sentences, maps = [], []
    for ws, _ in data:
        toks, src = tokenize(ws)
        sentences.append(toks)
        maps.append(src)
    n_tokens = sum(len(s) for s in sentences)

    morph = None
    t_morph = 0.0
    if not args.no_morph and args.method == "rules":
        m = load_morph()
        if m is not None:
            t0 = time.perf_counter()
            morph = m.analyze_sentences(sentences)
            t_morph = time.perf_counter() - t0

    t0 = time.perf_counter()
    spans = recognize_entities(sentences, morph, method=args.method)
    t_ner = time.perf_counter() - t0

    pred: list[set[tuple[int, int, str]]] = [set() for _ in data]
    for sp in spans:
        src = maps[sp.sentence]
        pred[sp.sentence].add((src[sp.token_start], src[sp.token_end - 1] + 1, sp.label))

    tp, fp, fn = Counter(), Counter(), Counter()
    err_lines = []
    for si, (ws, tags) in enumerate(data):
        gold = gold_spans(tags)
        for s in pred[si]:
            if s in gold:
                tp[s[2]] += 1
            else:
                fp[s[2]] += 1
                err_lines.append(f"FP\t{s[2]}\t{' '.join(ws[s[0]:s[1]])}\t{' '.join(ws)}")
        for s in gold - pred[si]:
            fn[s[2]] += 1
            err_lines.append(f"FN\t{s[2]}\t{' '.join(ws[s[0]:s[1]])}\t{' '.join(ws)}")
    if args.errors:
        args.errors.write_text("\n".join(err_lines) + "\n", encoding="utf-8")

    def prf(t: int, p: int, n: int) -> tuple[float, float, float]:
        prec = 100 * t / (t + p) if t + p else 0.0
        rec = 100 * t / (t + n) if t + n else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        return prec, rec, f1

    print(f"sentences {len(data)}  tokens {n_tokens}  method {args.method}  "
          f"morphology {'bama' if morph is not None else 'none'}")
    print(f"{'label':6} {'prec':>6} {'rec':>6} {'f1':>6} {'gold':>6} {'pred':>6}")
    for lab in LABELS:
        p, r, f = prf(tp[lab], fp[lab], fn[lab])
        print(f"{lab:6} {p:6.2f} {r:6.2f} {f:6.2f} {tp[lab] + fn[lab]:6d} {tp[lab] + fp[lab]:6d}")
    T, P, N = sum(tp.values()), sum(fp.values()), sum(fn.values())
    p, r, f = prf(T, P, N)
    print(f"{'ALL':6} {p:6.2f} {r:6.2f} {f:6.2f} {T + N:6d} {T + P:6d}")
    print(f"recognize_entities: {n_tokens / max(t_ner, 1e-9):,.0f} tokens/s "
          f"({t_ner:.2f} s); morphology {t_morph:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
