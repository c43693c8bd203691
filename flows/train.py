"""`akhbar train ...`: the commands that produce the shipped models.

Each trainer is a plain function in ``tasks/`` beside the code that uses its model;
this module only parses arguments, records the exact command for the model card and
prints the figures.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def _command_line() -> str:
    """The command as the user typed it, for the model card."""
    return "akhbar " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``akhbar train {clusters,embeddings,ner,pos}`` to the CLI."""
    train = sub.add_parser("train", help="train a model that ships with akhbar")
    tsub = train.add_subparsers(dest="train_command", required=True, metavar="MODEL")

    clusters = tsub.add_parser(
        "clusters", help="word clusters from unlabeled news (features of the taggers)"
    )
    clusters.add_argument(
        "--corpus", nargs="+", required=True, help="news dumps: .zip, .json, .jsonl, .txt or dirs"
    )
    clusters.add_argument("--out", required=True, help="model directory to write")
    clusters.add_argument("--seed", type=int, default=13, help="random seed (default: 13)")
    clusters.add_argument("--dim", type=int, default=100, help="embedding size (default: 100)")
    clusters.add_argument("--epochs", type=int, default=5, help="word2vec epochs (default: 5)")
    clusters.add_argument(
        "--min-count", type=int, default=5, help="rarest word kept (default: 5 occurrences)"
    )
    emb = tsub.add_parser(
        "embeddings",
        help="subword-aware word vectors (fastText) from unlabeled news (NER features)",
    )
    emb.add_argument(
        "--corpus", nargs="+", required=True, help="news dumps: .zip, .json, .jsonl, .txt or dirs"
    )
    emb.add_argument("--out", required=True, help="model directory to write")
    emb.add_argument("--seed", type=int, default=13, help="random seed (default: 13)")
    emb.add_argument("--dim", type=int, default=64, help="vector size (default: 64)")
    emb.add_argument("--epochs", type=int, default=5, help="fastText epochs (default: 5)")
    emb.add_argument(
        "--min-count", type=int, default=5, help="rarest word kept (default: 5 occurrences)"
    )
    emb.add_argument(
        "--bucket", type=int, default=100_000, help="n-gram hash buckets (default: 100000)"
    )
    ner = tsub.add_parser(
        "ner",
        help="the named-entity model, from BIO files (ANERcorp format)",
        description="Train the CRF named-entity model from files in the ANERcorp format "
        "(`token TAG` per line, a blank line between sentences), print its scores on a "
        "seeded held-aside part and write the model and MODEL_CARD.md to --out. Use it "
        "with `akhbar run --ner DIR`, or ship it in tasks/models/ner.",
    )
    ner.add_argument("--data", nargs="+", required=True, metavar="FILE", help="BIO file(s)")
    ner.add_argument("--out", required=True, metavar="MODEL_DIR", help="model directory to write")
    ner.add_argument(
        "--seed", type=int, default=12, help="seed of the held-aside part (default: 12)"
    )
    ner.add_argument(
        "--holdout",
        type=float,
        default=0.1,
        help="share of sentences held aside, in blocks of 100 consecutive ones (default: 0.1)",
    )
    ner.add_argument(
        "--write-holdout",
        default=None,
        metavar="FILE",
        help="also write the held-aside sentences here, in the input format (to score them "
        "through `akhbar run`)",
    )
    ner.add_argument(
        "--iterations", type=int, default=150, help="L-BFGS iterations (default: 150)"
    )
    ner.add_argument(
        "--morphology", default="auto", help="morphology whose readings are features"
    )
    ner.add_argument(
        "--vectors", choices=("clusters", "dense", "both", "none"), default="none",
        help="use the word vectors of `akhbar train embeddings` (tasks/models/embeddings): "
        "their cluster ids, the vector as float features, or both (default: none)",
    )
    ner.add_argument(
        "--no-span-repair", action="store_true",
        help="leave the decoded spans as they are (default: join ORG pieces and cut a "
        "person out of an ORG, tasks/entities/span_repair.py)",
    )
    ner.add_argument(
        "--single-stage", action="store_true",
        help="train the first CRF only, without the document-consistency stage "
        "(tasks/entities/ner_doc.py)",
    )
    ner.add_argument(
        "--folds", type=int, default=3,
        help="jackknife folds of the first pass the second stage learns from (default: 3)",
    )
    ner.add_argument(
        "--doc-scope", choices=("article", "chunk"), default="article",
        help="what the second stage reads as one document at run time: the article, or "
        "the whole annotation chunk (default: article)",
    )
    ner.add_argument(
        "--rule-features",
        action="store_true",
        help="also give the rule NER's spans as features (slower; measured no gain)",
    )

    dialect = tsub.add_parser(
        "dialect",
        help="the dialect identifier, from labelled text (MSA, EGY, LEV, GLF, MGR, IRQ)",
        description="Train the linear char + word n-gram dialect identifier from labelled "
        "files or folders (label from a `label<TAB>text` header or the file name; each "
        "top folder is one source). Score it leave-one-source-out, then train on every "
        "source and write the model and MODEL_CARD.md to --out. Use it by copying --out "
        "to tasks/models/dialect.",
    )
    dialect.add_argument(
        "--data", nargs="+", required=True, metavar="DIR_OR_FILE",
        help="labelled .txt/.tsv files or folders of them (e.g. ../shared/dialect)",
    )
    dialect.add_argument("--out", required=True, metavar="MODEL_DIR", help="model directory")
    dialect.add_argument("--seed", type=int, default=24, help="random seed (default: 24)")
    dialect.add_argument(
        "--no-held-aside", action="store_true",
        help="skip the leave-one-source-out scores (faster; the card then has none)",
    )

    pos = tsub.add_parser(
        "pos",
        help="the UPOS/lemma tagger on UD CoNLL-U files",
        description="Train the CRF that picks UPOS and lemma among the BAMA analyzer's "
        "readings; hold aside a seeded part of the sentences, score it, write the model "
        "and its MODEL_CARD.md to --out.",
    )
    pos.add_argument(
        "--data", nargs="+", required=True, metavar="CONLLU",
        help="UD CoNLL-U file(s) with gold UPOS and lemmas",
    )
    pos.add_argument("--out", required=True, metavar="MODEL_DIR", help="model directory to write")
    pos.add_argument(
        "--seed", type=int, default=13, help="seed of the held-aside split (default: 13)"
    )
    pos.add_argument(
        "--holdout", type=float, default=0.2,
        help="fraction of sentences held aside and scored (default: 0.2)",
    )
    pos.add_argument(
        "--write-holdout", default=None, metavar="FILE",
        help="also write the held-aside sentences as CoNLL-U (to run score_pud.py on them)",
    )
    pos.add_argument(
        "--no-clusters", action="store_true", help="leave the word clusters out of the features"
    )
    pos.add_argument(
        "--prior-corpus", nargs="+", default=None, metavar="PATH",
        help="raw news (zip/json/jsonl/txt files or folders) to learn the reading prior from "
        "(issue 23); written to MODEL_DIR/prior.tsv",
    )
    pos.add_argument(
        "--cv", type=int, default=0, metavar="K",
        help="first cross-validate the training sentences in K folds, scored like "
        "score_pud.py; mean and spread go into the model card (default: off)",
    )
    pos.add_argument(
        "--vectors", nargs="+", default=None, metavar="USE",
        help="features from the word vectors of `akhbar train embeddings` "
        "(tasks/models/embeddings), issue 23: dense (the word's vector), near (its "
        "neighbours' at ±1), kmeans (cluster ids), names (nearest UPOS centroid, PROPN "
        "margin); default: none",
    )


def _train_ner(args: argparse.Namespace) -> dict:
    from tasks.entities import model

    sents = [s for path in args.data for s in model.read_bio(path)]
    train, hold = model.split_holdout(sents, args.holdout, args.seed)
    if args.write_holdout:
        model.write_bio(hold, args.write_holdout)
    print(f"training on {len(train)} sentences, {len(hold)} held aside (seed {args.seed})",
          file=sys.stderr)
    anercorp = any("anercorp" in Path(d).name.lower() for d in args.data)
    report = model.train_model(
        train,
        args.out,
        hold,
        morphology=args.morphology,
        use_rules=args.rule_features,
        vectors=None if args.vectors == "none" else args.vectors,
        span_repair=not args.no_span_repair,
        two_stage=not args.single_stage,
        folds=args.folds,
        doc_scope=args.doc_scope,
        seed=args.seed,
        params={"max_iterations": args.iterations},
        card={
            "command": _command_line(),
            "seed": args.seed,
            "data": model.describe_data(args.data),
            "license": model.ANERCORP_LICENSE if anercorp else "",
        },
    )
    for label, sc in report.scores.items():
        print(f"{label:>5}: P={sc['p']:.1f} R={sc['r']:.1f} F1={sc['f1']:.1f} (n={sc['n']})",
              file=sys.stderr)
    return {"model": str(report.out_dir), "sha256": report.sha256, "train_sentences":
            report.n_train, "holdout_sentences": report.n_holdout, "scores": report.scores,
            "seconds": round(report.seconds, 1)}


def _train_pos(args: argparse.Namespace) -> dict:
    from tasks.morphology.tagger import train_tagger

    report = train_tagger(
        args.data,
        args.out,
        seed=args.seed,
        holdout=args.holdout,
        write_holdout=args.write_holdout,
        command=_command_line(),
        use_clusters=not args.no_clusters,
        prior_corpus=args.prior_corpus,
        cv=args.cv,
        vectors=args.vectors,
    )
    return {
        "out": args.out,
        "train_sentences": report.n_train,
        "train_words": report.train_words,
        "holdout_sentences": report.n_holdout,
        "holdout_words": report.holdout_words,
        "holdout_upos": _pct(report.upos),
        "holdout_lemma": _pct(report.lemma),
        "ranker_upos": _pct(report.ranker_upos),
        "ranker_lemma": _pct(report.ranker_lemma),
        "cv": report.cv,
        "seconds": round(report.seconds, 1),
        "sha256": report.files,
    }


def _pct(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def _train_clusters(args: argparse.Namespace) -> dict:
    from tasks.clusters import train_clusters

    return train_clusters(
        args.corpus,
        args.out,
        seed=args.seed,
        dim=args.dim,
        epochs=args.epochs,
        min_count=args.min_count,
        command=_command_line(),
    )


def _train_dialect(args: argparse.Namespace) -> dict:
    from tasks.dialect.train import train_dialect

    report = train_dialect(args.data, args.out, seed=args.seed, command=_command_line(),
                           evaluate=not args.no_held_aside)
    for source, sc in report.held_aside.items():
        labels = " ".join(f"{k}={v['f1']:.1f}" for k, v in sc.items() if k != "macro")
        print(f"held aside {source}: macro-F1 {sc['macro']['f1']:.1f} ({labels})",
              file=sys.stderr)
    return {"model": str(report.out_dir), "sha256": report.sha256, "texts": report.n_train,
            "labels": report.label_counts,
            "held_aside_macro_f1": {s: round(sc["macro"]["f1"], 1)
                                    for s, sc in report.held_aside.items()},
            "seconds": round(report.seconds, 1)}


def _train_embeddings(args: argparse.Namespace) -> dict:
    from tasks.embeddings import train_embeddings

    return train_embeddings(
        args.corpus,
        args.out,
        seed=args.seed,
        dim=args.dim,
        epochs=args.epochs,
        min_count=args.min_count,
        bucket=args.bucket,
        command=_command_line(),
    )


TRAINERS = {
    "clusters": _train_clusters,
    "embeddings": _train_embeddings,
    "pos": _train_pos,
    "ner": _train_ner,
    "dialect": _train_dialect,
}


def cmd_train(args: argparse.Namespace) -> int:
    """Run one trainer and print its figures as JSON."""
    from flows.runtime import prepare_environment
    from tasks.errors import ConfigError

    prepare_environment()
    try:
        stats = TRAINERS[args.train_command](args)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"akhbar train: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(stats, ensure_ascii=False, indent=2))
    return 0
