"""10-fold cross-validation of the POS/lemma tagger on UD Arabic-PUD dev (issue 23).

Usage (from the project root):
    .venv/bin/python bench/pos_cv.py [--data ../shared/eval/ud-arabic-pud-dev.conllu]
        [--folds 10] [--seed 13] [--no-clusters] [--prior prior.tsv] [--errors FILE]
        [--upos-errors FILE] [--write-fold I FILE] [--only N]
        [--vectors dense,near,kmeans,names,knn] [--self-train N] [--min-confidence P]

Prints each fold's UPOS and lemma, their mean ± standard deviation, the top UPOS
confusions and the commonest lemma errors (gold -> predicted). ``--write-fold I FILE``
also writes fold I's held sentences as CoNLL-U and its model to FILE.model, to check that
``score_pud.py --conllu FILE`` (run with that model) gives the figure printed here.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from tasks.morphology import load_morphology
    from tasks.morphology import tagger as pt
    from tasks.morphology.crossval import cross_validate, fold_indices
    from tasks.morphology.pos_infer import load_clusters

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/eval/ud-arabic-pud-dev.conllu")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--no-clusters", action="store_true")
    ap.add_argument("--errors", default=None, help="write every lemma error to this TSV")
    ap.add_argument("--upos-errors", default=None, help="write every UPOS error to this TSV")
    ap.add_argument("--write-fold", nargs=2, metavar=("I", "FILE"), default=None)
    ap.add_argument("--only", type=int, default=None, help="run only this many folds")
    ap.add_argument("--prior", default=None, help="a prior.tsv (tasks.morphology.prior)")
    ap.add_argument("--vectors", default=None,
                    help="word-vector features, comma-separated: dense,near,kmeans,names")
    ap.add_argument("--self-train", type=int, default=0, metavar="N",
                    help="self-train on N sentences of --self-train-corpus (issue 23)")
    ap.add_argument("--self-train-corpus", nargs="+", default=["../shared/corpora/saudinewsnet"])
    ap.add_argument("--min-confidence", type=float, default=0.95)
    args = ap.parse_args()

    sentences = pt.read_conllu(args.data)
    morphology = load_morphology("bama")
    clusters = None if args.no_clusters else load_clusters()
    started = time.perf_counter()

    def report(i: int, s) -> None:
        print(f"fold {i}: words={s.words} upos={s.upos:.2f} lemma={s.lemma:.2f} "
              f"lemma(` as ٰ)={s.lemma_arabic:.2f}", flush=True)

    options: dict = {"vectors": args.vectors}
    if args.prior:
        from tasks.morphology.prior import read_prior

        options["prior"] = read_prior(Path(args.prior))
    if args.self_train:
        from tasks.morphology.self_train import unlabeled_sentences

        options["unlabeled"] = unlabeled_sentences(args.self_train_corpus, args.self_train,
                                                   args.seed)
        options["min_confidence"] = args.min_confidence
    if args.write_fold:
        i, path = int(args.write_fold[0]), Path(args.write_fold[1])
        held = set(fold_indices(len(sentences), args.folds, args.seed)[i])
        pt.write_conllu([s for j, s in enumerate(sentences) if j in held], path)
        train = [s for j, s in enumerate(sentences) if j not in held]
        pt.fit_tagger(train, morphology, clusters, Path(str(path) + ".model"), seed=args.seed,
                      **options)
        print(f"fold {i}: {len(held)} sentences -> {path}, model -> {path}.model")

    result = cross_validate(sentences, morphology, clusters, pt.fit_tagger, k=args.folds,
                            seed=args.seed, on_fold=report, max_folds=args.only, **options)
    print(result.summary(), f"in {time.perf_counter() - started:.0f} s")
    print("top UPOS confusions (gold, predicted):", result.confusions().most_common(12))
    errors = [e for f in result.folds for e in f.lemma_errors]
    common = Counter((pt.norm_lemma(g), pt.norm_lemma(p), gu) for _, g, p, gu, _ in errors)
    print("commonest lemma errors (gold, predicted, gold UPOS):", common.most_common(25))
    if args.upos_errors:
        with open(args.upos_errors, "w", encoding="utf-8") as f:
            for e in (e for fold in result.folds for e in fold.upos_errors):
                f.write("\t".join(e) + "\n")
    if args.errors:
        with open(args.errors, "w", encoding="utf-8") as f:
            for e in errors:
                f.write("\t".join(e) + "\n")


if __name__ == "__main__":
    main()
