"""Training the dialect identifier (``akhbar train dialect``, issue 24).

Labelled text is read from files or directories in the formats of the sets described
in ``../shared/dialect/README.md``; the label comes from a ``label`` column or from the
file name, mapped to the six labels (MGH, maghrebi, NOR -> MGR; LAV, levantine -> LEV;
AOC's ``dialect_<newspaper>`` -> the newspaper's country). Each top-level folder (or a
file's own folder) is one *source*.

A score on the source a model was trained on says little, so the trainer measures
leave-one-source-out: for each source, a model trained on all the others is scored on
it (macro-F1 over the labels that source has). The shipped model is then trained on
every source, with the same settings and seed. scikit-learn is needed here only.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tasks.dialect.model import (
    CARD_FILE,
    DialectModel,
    Featurizer,
    clean_texts,
    save_model,
    weigh,
)
from tasks.dialect.rules import DIALECTS
from tasks.errors import ConfigError, EnvironmentError_

_ALIASES = {
    "msa": "MSA", "egy": "EGY", "egyptian": "EGY", "lev": "LEV", "lav": "LEV",
    "levantine": "LEV", "glf": "GLF", "gulf": "GLF", "mgr": "MGR", "mgh": "MGR",
    "maghrebi": "MGR", "nor": "MGR", "irq": "IRQ", "iraqi": "IRQ",
}
# AOC: the dialect of a comment follows its newspaper (al-Ghad Jordan, al-Riyadh Saudi).
_NEWSPAPERS = {"alghad": "LEV", "alriyadh": "GLF", "youm7": "EGY"}
_SUFFIXES = {".txt", ".tsv"}

DEFAULTS = {
    "n_features": 1 << 18,
    "char_ngrams": [2, 5],
    "word_ngrams": 2,
    "C": 0.1,
    "max_per_label_source": 12000,
    "min_letters": 8,
    "scale": 4.0,
}
# An article is scored by up to 6 sentences (their first 24 words); it is dialectal when
# dialect-voting sentences hold 35 % of the letters. In a text longer than a tweet (120
# letters) a sentence votes dialect only at probability >= 0.5: chosen on SaudiNewsNet
# 2015-07-21, which is then never the reported check (issue 24).
ARTICLE_RULE = {"dialect_share": 0.35, "max_segments": 6, "max_words": 24, "min_proba": 0.5,
                "min_proba_letters": 120}


@dataclass
class Corpus:
    """Labelled texts, already cleaned, with the source each came from."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    files: list[tuple[Path, str, int]] = field(default_factory=list)  # path, sha256, lines

    def subset(self, keep: Sequence[int]) -> Corpus:
        return Corpus([self.texts[i] for i in keep], [self.labels[i] for i in keep],
                      [self.sources[i] for i in keep], self.files)


def label_of(name: str) -> str | None:
    """One of the six labels for a label column value or file stem, else None.

    ``twitter-egyptian`` -> EGY, ``NOR`` -> MGR, ``dialect_alghad`` -> LEV, ``MSA_youm7`` -> MSA.
    """
    key = name.strip().lower().removeprefix("twitter-")
    if key in _ALIASES:
        return _ALIASES[key]
    kind, _, paper = key.partition("_")
    if kind == "msa":
        return "MSA"
    if kind == "dialect":
        return _NEWSPAPERS.get(paper)
    return None


def _data_files(paths: Sequence[str | Path]) -> list[tuple[Path, str, str | None]]:
    """(file, source, forced label) for each data argument; ``LABEL=FILE`` forces a label."""
    out = []
    for arg in map(str, paths):
        forced, _, path = arg.partition("=") if "=" in arg else (None, "", arg)
        if forced is not None and forced not in DIALECTS:
            raise ConfigError(f"dialect training data {arg!r}: {forced!r} is not one of "
                              f"{', '.join(DIALECTS)}")
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"dialect training data {path!r} does not exist")
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix in _SUFFIXES and (forced or _file_label(f) != "skip"):
                    rel = f.relative_to(p).parts
                    out.append((f, rel[0] if len(rel) > 1 else p.name, forced))
        else:
            out.append((p, p.stem if forced else p.parent.name, forced))
    if not out:
        raise ConfigError(f"no labelled .txt/.tsv files under {', '.join(map(str, paths))}")
    return out


def _file_label(f: Path) -> str | None:
    with f.open(encoding="utf-8-sig") as fh:
        head = fh.readline()
    if head.startswith("label\t"):
        return None  # labels are in the rows
    label = label_of(f.stem)
    return label if label else "skip"


# ANERcorp-style BIO files (`token TAG`, a blank line between sentences): rebuilt as text
_BIO_LINE = re.compile(r"^\S+ (?:O|[BI]-[A-Z]+)$")


def _bio_sentences(lines: list[str]) -> list[str]:
    out, words = [], []
    for ln in lines + [""]:
        if ln.strip():
            words.append(ln.split(" ")[0])
        elif words:
            out.append(" ".join(words))
            words = []
    return out


def read_labelled(paths: Sequence[str | Path], min_letters: int = 8) -> Corpus:
    """Read labelled sets; texts are cleaned (:func:`clean_text`) and short ones dropped.

    An argument ``LABEL=FILE`` gives every text of FILE that label (e.g. news in MSA); a
    BIO file (ANERcorp format) is read as its sentences.
    """
    corpus = Corpus()
    for f, source, forced in _data_files(paths):
        raw = f.read_bytes()
        lines = raw.decode("utf-8-sig", errors="replace").splitlines()
        head = lines[0] if lines else ""
        file_label = forced or label_of(f.stem)
        sample = [ln for ln in lines[:200] if ln.strip()]
        if forced is None and head.startswith("label\t"):
            rows = [ln.split("\t", 1) for ln in lines[1:]]
            pairs = [(label_of(r[0]), r[1]) for r in rows if len(r) == 2]
        elif file_label is None:
            raise ConfigError(f"cannot tell the dialect of {str(f)!r}: name it after a label "
                              f"({', '.join(DIALECTS)}), give a `label<TAB>text` header or "
                              f"pass LABEL={f}")
        elif head.startswith("score("):  # DART: score(/3) \t tweet_id \t text
            pairs = [(file_label, ln.split("\t")[-1]) for ln in lines[1:] if ln.count("\t") >= 2]
        elif sample and sum(bool(_BIO_LINE.match(ln)) for ln in sample) > 0.9 * len(sample):
            pairs = [(file_label, t) for t in _bio_sentences(lines)]
        else:
            pairs = [(file_label, ln) for ln in lines]
        corpus.files.append((f, hashlib.sha256(raw).hexdigest(), len(lines)))
        texts = clean_texts([text for _, text in pairs])
        for (label, _), cleaned in zip(pairs, texts, strict=True):
            if label is None or len(cleaned.replace(" ", "")) < min_letters:
                continue
            corpus.texts.append(cleaned)
            corpus.labels.append(label)
            corpus.sources.append(source)
    return corpus


def balance(corpus: Corpus, cap: int, seed: int) -> list[int]:
    """Indices keeping at most ``cap`` texts per (source, label), drawn with ``seed``."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(corpus.sources, corpus.labels, strict=True)):
        groups.setdefault(key, []).append(i)
    rng = random.Random(seed)
    keep: list[int] = []
    for key in sorted(groups):
        idx = groups[key]
        keep.extend(sorted(rng.sample(idx, cap)) if len(idx) > cap else idx)
    return sorted(keep)


def fit(corpus: Corpus, params: dict, seed: int, counts=None) -> DialectModel:
    """Train on every text of ``corpus``.

    Args:
        counts: the :meth:`Featurizer.counts` of ``corpus.texts`` when already computed.
    """
    try:
        from sklearn.svm import LinearSVC
    except ImportError as exc:
        raise EnvironmentError_("training the dialect model needs scikit-learn: "
                                "pip install 'akhbar[train]'") from exc
    sub = corpus
    feats = _featurizer(params)
    counts = feats.counts(sub.texts) if counts is None else counts
    # smoothed IDF over the training texts, as scikit-learn's TfidfTransformer computes it
    df = np.bincount(counts.indices, minlength=feats.n_features)
    idf = np.log((1 + counts.shape[0]) / (1 + df)) + 1.0
    X = weigh(counts, idf)
    labels = tuple(lab for lab in DIALECTS if lab in set(sub.labels))
    if "MSA" not in labels or len(labels) < 2:
        raise ConfigError(f"dialect training data needs MSA and at least one dialect; "
                          f"found {sorted(set(sub.labels))}")
    y = np.array([labels.index(lab) for lab in sub.labels])
    # a linear SVM measured best held aside by source (issue 24); one-vs-rest scores
    clf = LinearSVC(C=params["C"], class_weight="balanced", random_state=seed)
    clf.fit(X, y)
    coef, intercept = clf.coef_, clf.intercept_
    if len(labels) == 2:  # scikit-learn keeps one row for two classes
        coef, intercept = np.vstack([-coef, coef]), np.array([-intercept[0], intercept[0]])
    W = np.ascontiguousarray(coef.T, dtype=np.float32)
    b = intercept.astype(np.float32)
    config = {"features": {k: params[k] for k in ("n_features", "char_ngrams", "word_ngrams")},
              "article": dict(ARTICLE_RULE), "train": dict(params, seed=seed),
              "scale": params["scale"]}
    return DialectModel(labels, W, b, idf, config)


def f1_scores(gold: Sequence[str], pred: Sequence[str]) -> dict[str, dict]:
    """Per gold label P/R/F1 (percent) and ``macro`` over the labels present in ``gold``."""
    out: dict[str, dict] = {}
    for lab in [d for d in DIALECTS if d in set(gold)]:
        tp = sum(g == lab and p == lab for g, p in zip(gold, pred, strict=True))
        n_pred = sum(p == lab for p in pred)
        n_gold = sum(g == lab for g in gold)
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_gold
        out[lab] = {"p": 100 * p, "r": 100 * r,
                    "f1": 200 * p * r / (p + r) if p + r else 0.0, "n": n_gold}
    out["macro"] = {"f1": float(np.mean([v["f1"] for v in out.values()])), "n": len(gold),
                    "accuracy": 100 * float(np.mean([g == p for g, p in zip(gold, pred,
                                                                           strict=True)]))}
    return out


def _featurizer(params: dict) -> Featurizer:
    return Featurizer(params["n_features"], tuple(params["char_ngrams"]), params["word_ngrams"])


def evaluate_by_source(corpus: Corpus, params: dict, seed: int, counts=None
                       ) -> tuple[dict[str, dict], list[tuple[np.ndarray, np.ndarray]]]:
    """Leave-one-source-out scores: each source scored by a model trained on the others.

    Returns the scores per held-aside source and, per source, the held-aside linear
    scores with the gold label's column (for :func:`fit_scale`).
    """
    counts = _featurizer(params).counts(corpus.texts) if counts is None else counts
    out, decisions = {}, []
    for source in sorted(set(corpus.sources)):
        train = [i for i, s in enumerate(corpus.sources) if s != source]
        test = [i for i, s in enumerate(corpus.sources) if s == source]
        if "MSA" not in {corpus.labels[i] for i in train}:
            continue
        model = fit(corpus.subset(train), params, seed, counts[train])
        held = corpus.subset(test)
        dec = np.asarray(weigh(counts[test], model.idf) @ model.W, dtype=np.float64) + model.b
        pred = [model.labels[j] for j in dec.argmax(axis=1)]
        out[source] = f1_scores(held.labels, pred)
        known = [k for k, lab in enumerate(held.labels) if lab in model.labels]
        gold = np.array([model.labels.index(held.labels[k]) for k in known], dtype=np.int64)
        decisions.append((dec[known], gold))
    return out, decisions


def fit_scale(decisions: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """The softmax scale of SVM scores that best predicts held-aside labels (least log loss)."""
    if not decisions or not sum(len(g) for _, g in decisions):
        return 1.0
    best, best_loss = 1.0, float("inf")
    for scale in np.geomspace(0.25, 64, 49):
        loss = 0.0
        for dec, gold in decisions:
            z = dec * scale
            z -= z.max(axis=1, keepdims=True)
            loss -= float((z[np.arange(len(gold)), gold] - np.log(np.exp(z).sum(axis=1))).sum())
        if loss < best_loss:
            best, best_loss = float(scale), loss
    return round(best, 3)


@dataclass
class TrainReport:
    out_dir: Path
    sha256: str
    n_train: int
    n_read: int
    label_counts: dict[str, int]
    held_aside: dict[str, dict]
    seconds: float


def train_dialect(paths: Sequence[str | Path], out_dir: str | Path, *, seed: int = 24,
                  command: str = "", evaluate: bool = True,
                  params: dict | None = None) -> TrainReport:
    """Read the sets, score leave-one-source-out, train on all and write model + card."""
    t0 = time.time()
    params = dict(DEFAULTS, **(params or {}))
    corpus = read_labelled(paths, params["min_letters"])
    read = len(corpus.texts)
    # at most max_per_label_source texts per (source, label), for training and scoring
    corpus = corpus.subset(balance(corpus, params["max_per_label_source"], seed))
    counts = _featurizer(params).counts(corpus.texts)
    held, decisions = (evaluate_by_source(corpus, params, seed, counts) if evaluate
                       else ({}, []))
    if decisions:  # else the default scale (no held-aside scores to fit it on)
        params["scale"] = fit_scale(decisions)
    model = fit(corpus, params, seed, counts)
    sha = save_model(model, out_dir)
    model.sha256 = sha
    counts = Counter(corpus.labels)
    report = TrainReport(Path(out_dir), sha, len(corpus.texts), read,
                         {k: counts[k] for k in DIALECTS if k in counts}, held, time.time() - t0)
    Path(out_dir, CARD_FILE).write_text(model_card(report, corpus, model, command, seed),
                                        encoding="utf-8")
    return report


_CITATIONS = {
    "dart": "DART (Alsarsour, Mohamed, Suwaileh & Elsayed, 2018, *DART: A Large Dataset of "
            "Dialectal Arabic Tweets*, LREC). © 2018 Qatar University, released for research; "
            "cite the paper.",
    "aoc": "Arabic Online Commentary (Zaidan & Callison-Burch, 2011, ACL; *Arabic Dialect "
           "Identification*, Computational Linguistics 40(1), 2014). Released by the authors "
           "for research; cite.",
    "multidialect": "Multi-dialect, multi-genre corpus of informal written Arabic (Cotterell & "
                    "Callison-Burch, 2014, LREC). Released for research; cite.",
    "anercorp-camellab-train": "ANERcorp news sentences, all MSA (Benajiba, Rosso & Benedí, "
                               "2007, ANERsys; train split fixed by CAMeL Lab, Obeid et al. "
                               "2020, CAMeL Tools, LREC). CC BY-SA 4.0 as stated by that "
                               "distribution; only its text is used, as MSA.",
    "arabic-dialects-dataset": "Arabic Dialects Dataset (El-Haj, Rayson & Aboelezz, 2018, "
                               "*Arabic Dialect Identification in the Context of Bivalency "
                               "and Code-Switching*, LREC; Lancaster University). Research "
                               "use; cite.",
}


def model_card(report: TrainReport, corpus: Corpus, model: DialectModel, command: str,
               seed: int) -> str:
    """MODEL_CARD.md: data, citations and terms, settings, held-aside scores, sha256."""
    by_source: dict[str, Counter] = {}
    for s, lab in zip(corpus.sources, corpus.labels, strict=True):
        by_source.setdefault(s, Counter())[lab] += 1
    p = model.config["train"]
    lines = [
        "# Dialect model card", "",
        "A linear classifier (a linear SVM, scikit-learn at training time; numpy and "
        f"scipy at inference) over hashed character {p['char_ngrams'][0]}-"
        f"{p['char_ngrams'][1]}-grams inside word boundaries "
        "and word uni- and bigrams, labelling text MSA, EGY, LEV, GLF, MGR or IRQ. Loaded "
        "by `akhbar run --dialect model` (the default `auto` when this model is present); "
        f"`articles.dialect_method` is `{model.method}`.", "",
        "## Training data", "",
        f"Texts used per source and label ({report.n_train} of the {report.n_read} read):", "",
        "| source | " + " | ".join(DIALECTS) + " |", "|---" * (len(DIALECTS) + 1) + "|",
    ]
    for s in sorted(by_source):
        lines.append(f"| {s} | " + " | ".join(str(by_source[s][d]) for d in DIALECTS) + " |")
    lines += ["", "Texts after cleaning (URLs, @mentions, hashtags, emoji and non-Arabic "
              f"removed; fewer than {p['min_letters']} letters dropped). At most "
              f"{p['max_per_label_source']} texts per source and label are drawn (seed "
              f"{seed}), and classes are weighted to balance.", "", "Files:"]
    for f, sha, n in corpus.files:
        lines.append(f"- `{f.parent.name}/{f.name}`: {n} lines, sha256 `{sha[:16]}`")
    lines += ["", "Citations and terms (from the data's README):"]
    for s in sorted(by_source):
        lines.append(f"- `{s}`: {_CITATIONS.get(s, 'see the data README')}")
    lines += ["", "The model holds hashed feature weights, no text.", "",
              "## Settings", "",
              f"- {p['n_features']} hashed columns, char n-grams {p['char_ngrams']}, word "
              f"n-grams up to {p['word_ngrams']}, sublinear counts, IDF, L2 norm;",
              f"- a linear SVM (scikit-learn LinearSVC, one-vs-rest) C={p['C']}, class "
              "weights balanced; probabilities are a softmax over its scores times "
              f"{p['scale']}, the scale of least log loss on the held-aside-by-source "
              "scores below;",
              f"- articles: up to {ARTICLE_RULE['max_segments']} sentences spread over the "
              f"text, their first {ARTICLE_RULE['max_words']} words each, are scored; the "
              "article is dialectal only when dialect-labelled sentences hold >= "
              f"{ARTICLE_RULE['dialect_share']} of their letters; in a text of "
              f">= {ARTICLE_RULE['min_proba_letters']} letters (longer than a tweet) a "
              "sentence votes for a dialect only when its probability is >= "
              f"{ARTICLE_RULE['min_proba']}.", "",
              "## Held aside by source", "",
              "Each row: a model trained with these settings on all the *other* sources, "
              "scored on this one (macro-F1 over the labels it has). Never a score on data "
              "trained on.", "",
              "| held-aside source | texts | macro-F1 | accuracy | " + " | ".join(
                  f"{d} F1" for d in DIALECTS) + " |",
              "|---" * (len(DIALECTS) + 4) + "|"]
    for s, sc in report.held_aside.items():
        cells = [f"{sc[d]['f1']:.1f}" if d in sc else "" for d in DIALECTS]
        lines.append(f"| {s} | {sc['macro']['n']} | {sc['macro']['f1']:.1f} | "
                     f"{sc['macro']['accuracy']:.1f} | " + " | ".join(cells) + " |")
    if not report.held_aside:
        lines.append("| (not measured) | | | | " + " | " * (len(DIALECTS) - 1) + " |")
    lines += ["", "## Reproduce", "", "```", command or "akhbar train dialect ...", "```",
              f"Seed: {seed}. Training time (with the held-aside runs): "
              f"{report.seconds:.0f} s.",
              f"sha256 of `weights.npz`: `{report.sha256}`", ""]
    return "\n".join(lines)
