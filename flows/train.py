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
    """Add ``akhbar train {clusters,...}`` to the CLI."""
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
        "seconds": round(report.seconds, 1),
        "sha256": report.files,
    }


def _pct(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def _train_clusters(args: argparse.Namespace) -> dict:
    from tasks.clusters import train_clusters

    for c in args.corpus:
        if not Path(c).exists():
            raise FileNotFoundError(f"corpus path {c!r} does not exist")
    return train_clusters(
        args.corpus,
        args.out,
        seed=args.seed,
        dim=args.dim,
        epochs=args.epochs,
        min_count=args.min_count,
        command=_command_line(),
    )


TRAINERS = {
    "clusters": _train_clusters,
    "pos": _train_pos,
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
