"""NER tagging cost in µs per token, several model directories side by side (issue 22).

The sentences of a BIO file are tokenized and analysed once (the morphology is not
timed); each model then tags them twice in this one process: a first pass with empty
per-type caches (every word type new, as in a fresh worker) and a second, warm pass.
Documents are blocks of 20 consecutive sentences (``ner_doc.training_documents``), so a
two-stage model's per-article summary works as on real articles.
Models are timed in turn, round-robin over ``--rounds``, so load drifts hit all alike.

    python bench/ner_speed.py --data /tmp/ner-holdout.txt /tmp/ner-old-model tasks/models/ner
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="model directories (akhbar train ner --out)")
    ap.add_argument("--data", required=True, help="BIO file whose sentences are tagged")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    from tasks.entities import model as M
    from tasks.entities.ner_train import _prepare
    from tasks.morphology import load_morphology

    toks, _, morph = _prepare(M.read_bio(args.data), load_morphology("auto"))
    from tasks.entities.ner_doc import training_documents

    docs = training_documents(len(toks))
    n_tok = sum(len(t) for t in toks)
    cold: dict[str, list[float]] = {m: [] for m in args.models}
    warm: dict[str, list[float]] = {m: [] for m in args.models}
    for _ in range(args.rounds):
        for m in args.models:
            M.load_model.cache_clear()
            model = M.load_model(m)  # a fresh model: empty per-type rows (not persistent)
            t0 = time.perf_counter()
            model.tag(toks, morph, docs)
            t1 = time.perf_counter()
            model.tag(toks, morph, docs)
            t2 = time.perf_counter()
            cold[m].append((t1 - t0) / n_tok * 1e6)
            warm[m].append((t2 - t1) / n_tok * 1e6)
    print(f"{len(toks)} sentences, {n_tok} tokens, {args.rounds} rounds, "
          f"load {os.getloadavg()[0]:.1f}")
    print("| model | cold µs/token (median) | warm µs/token (median) |")
    print("|---|---|---|")
    for m in args.models:
        print(f"| {m} | {statistics.median(cold[m]):.1f} | {statistics.median(warm[m]):.1f} |")


if __name__ == "__main__":
    main()
