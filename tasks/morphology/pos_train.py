"""Training the POS tagger (issue 13) on a UD treebank, with its model card.

The CRF is trained on the same features the runtime scores (``training_items``), the
lemma memory and the reading perceptron beside it; a seeded random part of the
sentences is held aside and scored with gold word boundaries.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.errors import ConfigError, EnvironmentError_
from tasks.morphology.pos_data import (
    GoldSentence,
    arabic_lemma,
    norm_lemma,
    read_conllu,
    split_holdout,
    write_conllu,
)
from tasks.morphology.pos_features import (
    KNN,
    VECTOR_TABLE_FILE,
    PosFeatures,
    training_items,
    vector_features,
    write_vector_table,
)
from tasks.morphology.pos_infer import (
    FORMAT_VERSION,
    META_FILE,
    MODEL_FILE,
    PosTagger,
    load_clusters,
)
from tasks.morphology.pos_lemma import _reading_examples, _train_reading_scorer


@dataclass
class TrainReport:
    """What one training run did and scored."""

    n_train: int
    n_holdout: int
    train_words: int
    holdout_words: int
    upos: float | None
    lemma: float | None
    ranker_upos: float | None
    ranker_lemma: float | None
    seconds: float
    files: dict[str, str]
    cv: str | None = None


def _learn_lemmas(sentences: Sequence[GoldSentence]) -> dict[str, str]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for s in sentences:
        for w in s.words:
            if w.upos != "PUNCT" and w.lemma and w.lemma != "_":
                counts[f"{norm_lemma(w.form)}\t{w.upos}"][arabic_lemma(w.lemma)] += 1
    # Ties go to the alphabetically first lemma, so the memory is reproducible.
    return {k: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for k, c in counts.items()}


def _score(
    sentences: Sequence[GoldSentence], morph: dict[str, list]
) -> tuple[float, float]:
    """UPOS and lemma accuracy on non-punctuation gold words (gold word boundaries)."""
    n = upos_ok = lemma_ok = 0
    k = 0
    for s in sentences:
        for w in s.words:
            if w.upos != "PUNCT":
                n += 1
                upos_ok += morph["upos"][k] == w.upos
                pred = norm_lemma(morph["lemma"][k])
                lemma_ok += bool(pred) and pred == norm_lemma(w.lemma)
            k += 1
    return (100 * upos_ok / n, 100 * lemma_ok / n) if n else (0.0, 0.0)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fit_tagger(
    train: Sequence[GoldSentence],
    morph_an: Any,
    clusters: Any,
    out_dir: Path,
    *,
    seed: int = 13,
    max_iterations: int = 100,
    c1: float = 0.1,
    c2: float = 0.01,
    prior: Any = None,
    vectors: Sequence[str] | str | None = None,
    unlabeled: Sequence[Sequence[str]] | None = None,
    min_confidence: float = 0.95,
) -> PosTagger:
    """Train the CRF, the lemma memory and the reading scorer on ``train``; write
    ``crf.model`` and ``lemmas.json`` to ``out_dir`` and return the loaded tagger.

    ``vectors``: which uses of the word vectors to add as features
    (:data:`tasks.morphology.pos_features.VECTOR_USES`; the UPOS centroids of ``names``
    are learnt from ``train``). With ``unlabeled`` sentences, the CRF is trained twice:
    the second time also on those the first is sure of (:mod:`tasks.morphology.self_train`).
    """
    words = [[w.form for w in s.words] for s in train]
    vec = vector_features(vectors, [(w.form, w.upos) for s in train for w in s.words])
    out_dir.mkdir(parents=True, exist_ok=True)
    table_sha = None
    if vec is not None and vec.uses & {"knn", "names"}:
        vec.build_table()
        table_sha = write_vector_table(vec, out_dir / VECTOR_TABLE_FILE)
    elif (out_dir / VECTOR_TABLE_FILE).exists():
        (out_dir / VECTOR_TABLE_FILE).unlink()  # a stale table of an earlier training
    morph = morph_an.analyze_sentences(words)
    features = PosFeatures(clusters, prior, vec)
    labels = [[w.upos for w in s.words] for s in train]
    params = {"c1": c1, "c2": c2, "max_iterations": max_iterations}
    _train_crf(out_dir / MODEL_FILE, features, words, labels, morph_an, morph, params)
    if unlabeled:
        from tasks.morphology.self_train import confident_sentences

        first = PosTagger(out_dir / MODEL_FILE, {}, clusters, None, prior, vec)
        pseudo = confident_sentences(first, unlabeled, morph_an, min_confidence)
        more = [w for w, _ in pseudo]
        _train_crf(out_dir / MODEL_FILE, features, words + more, labels + [t for _, t in pseudo],
                   morph_an, morph_an.analyze_sentences(words + more), params)
    lemmas = _learn_lemmas(train)
    weights = _train_reading_scorer(_reading_examples(train, morph_an, morph, prior), seed)
    meta = {
        "format": FORMAT_VERSION, "clusters": clusters is not None, "lemmas": lemmas,
        "readings": weights, "prior": prior.sha256 if prior is not None else None,
        "vectors": {**vec.meta(), "table": table_sha} if vec is not None else None,
    }
    (out_dir / META_FILE).write_text(
        json.dumps(meta, ensure_ascii=False, sort_keys=True, indent=0), encoding="utf-8"
    )
    return PosTagger(out_dir / MODEL_FILE, lemmas, clusters, weights, prior, vec)


def _train_crf(
    path: Path, features: PosFeatures, words: list[list[str]], labels: list[list[str]],
    morph_an: Any, morph: dict[str, list], params: dict,
) -> None:
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for feats, tags in zip(training_items(features, words, morph_an, morph), labels, strict=True):
        trainer.append(feats, tags)
    trainer.set_params({**params, "feature.possible_transitions": True})
    trainer.train(str(path))


def train_tagger(
    data: Sequence[Path | str],
    out_dir: Path | str,
    *,
    seed: int = 13,
    holdout: float = 0.2,
    write_holdout: Path | str | None = None,
    morphology: str = "bama",
    max_iterations: int = 100,
    c1: float = 0.1,
    c2: float = 0.01,
    command: str = "",
    use_clusters: bool = True,
    prior_corpus: Sequence[Path | str] | None = None,
    cv: int = 0,
    vectors: Sequence[str] | None = None,
) -> TrainReport:
    """Train the tagger on CoNLL-U ``data`` and write it with a model card to ``out_dir``.

    A seeded random ``holdout`` fraction of the sentences is held aside, scored (with gold
    word boundaries) and, with ``write_holdout``, written as CoNLL-U for the real scorer.
    With ``prior_corpus`` (raw news), a reading prior is learnt from it first
    (:mod:`tasks.morphology.prior`) and written beside the model as ``prior.tsv``.
    With ``cv`` >= 2, the training sentences are first cross-validated in ``cv`` folds
    (:mod:`tasks.morphology.crossval`, scored as ``score_pud.py`` scores) and the mean and
    spread go into the model card. ``vectors`` adds features of the shipped word vectors
    (:data:`tasks.morphology.pos_features.VECTOR_USES`, issue 23).

    Raises:
        EnvironmentError_: the data or the morphology is missing.
        ConfigError: ``holdout`` is not in [0, 1), ``cv`` is 1 or negative, a corpus
            path is missing, or a vector use is unknown.
    """
    from tasks.morphology import load_morphology
    from tasks.morphology.prior import PRIOR_FILE, corpus_tokens, learn_prior, read_prior
    from tasks.morphology.prior import write_prior as save_prior

    if not 0 <= holdout < 1:
        raise ConfigError(f"--holdout {holdout!r} is not a fraction in [0, 1)")
    if cv < 0 or cv == 1:
        raise ConfigError(f"--cv {cv!r} is not 0 (off) or a number of folds >= 2")
    for path in prior_corpus or ():
        if not Path(path).exists():
            raise ConfigError(f"--prior-corpus path {str(path)!r} does not exist")
    vector_features(vectors)  # a bad use or missing vectors fail before any work
    started = time.perf_counter()
    sentences = read_conllu(data)
    train, held = split_holdout(sentences, holdout, seed)
    if write_holdout is not None:
        write_conllu(held, write_holdout)
    morph_an = load_morphology(morphology)
    if morph_an is None:
        raise EnvironmentError_("training the POS tagger needs a morphology, not 'none'")
    clusters = load_clusters() if use_clusters else None

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prior = None
    if prior_corpus:
        save_prior(learn_prior(corpus_tokens(prior_corpus), morph_an), out / PRIOR_FILE)
        prior = read_prior(out / PRIOR_FILE)
    elif (out / PRIOR_FILE).exists():
        (out / PRIOR_FILE).unlink()  # a stale prior of an earlier training
    cv_summary = None
    if cv:
        from tasks.morphology.crossval import cross_validate

        cv_summary = cross_validate(
            train, morph_an, clusters, fit_tagger, k=cv, seed=seed, max_iterations=max_iterations,
            c1=c1, c2=c2, prior=prior, vectors=vectors,
        ).summary()
    tagger = fit_tagger(train, morph_an, clusters, out, seed=seed,
                        max_iterations=max_iterations, c1=c1, c2=c2, prior=prior,
                        vectors=vectors)

    scores: tuple[float | None, ...] = (None, None, None, None)
    if held:
        held_words = [[w.form for w in s.words] for s in held]
        base = morph_an.analyze_sentences(held_words)
        tagged = tagger.retag(held_words, morph_an, base)
        scores = (*_score(held, tagged), *_score(held, base))
    seconds = time.perf_counter() - started
    names = (MODEL_FILE, META_FILE) + ((PRIOR_FILE,) if prior is not None else ()) + (
        (VECTOR_TABLE_FILE,) if (out / VECTOR_TABLE_FILE).exists() else ())
    files = {name: _file_sha256(out / name) for name in names}
    report = TrainReport(
        n_train=len(train), n_holdout=len(held),
        train_words=sum(len(s.words) for s in train),
        holdout_words=sum(len(s.words) for s in held),
        upos=scores[0], lemma=scores[1], ranker_upos=scores[2], ranker_lemma=scores[3],
        seconds=seconds, files=files, cv=cv_summary,
    )
    (out / "MODEL_CARD.md").write_text(
        _model_card(report, data, seed, holdout, command, max_iterations, c1, c2,
                    clusters is not None, prior_corpus, cv, tagger.features.vectors),
        encoding="utf-8",
    )
    return report


def _model_card(
    r: TrainReport, data: Sequence[Path | str], seed: int, holdout: float, command: str,
    max_iterations: int, c1: float, c2: float, clusters: bool,
    prior_corpus: Sequence[Path | str] | None, cv: int, vec: Any = None,
) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.1f}"

    names = ", ".join(Path(d).name for d in data)
    clusters_line = ", word clusters (tasks/models/clusters)" if clusters else ""
    prior_line = ""
    if prior_corpus:
        corpus = ", ".join(Path(c).name for c in prior_corpus)
        prior_line = (
            ", how the reading prior spreads the word over its readings' UPOS"
            f" (`prior.tsv`: expected (lemma, pos) counts learnt by EM from the unlabeled"
            f" news in {corpus}, SaudiNewsNet, Alhagri 2015; no text ships)"
        )
    vectors_line = ""
    if vec is not None:
        what = {
            "dense": "its standardized vector as float features",
            "near": "its ±1 neighbours' vectors",
            "kmeans": "the vectors' k-means cluster ids",
            "names": "the nearest of the training words' ADJ/NOUN/PROPN/VERB centroids and "
                     "the PROPN-minus-NOUN cosine",
            "knn": f"the similarity-weighted UPOS vote of the {KNN} nearest training word "
                   "types, its own left out (the type -> UPOS lexicon is in `lemmas.json`)",
        }
        vectors_line = (
            ", from the subword word vectors of tasks/models/embeddings (fastText on "
            f"SaudiNewsNet, `embeddings.npz` sha256 {vec.vectors.sha256[:12]}…): "
            + "; ".join(what[u] for u in sorted(vec.uses))
        )
    sha = "\n".join(f"- `{name}`: `{digest}`" for name, digest in r.files.items())
    prior_file = ", `prior.tsv` (reading prior)" if prior_corpus else ""
    held_note = (
        f"{r.n_holdout} sentences ({r.holdout_words} words), a seeded random {holdout:.0%} of "
        "whole sentences, held aside and never used for training or tuning."
        if r.n_holdout else "No sentence held aside: the cross-validation below is the figure."
    )
    cv_block = (
        f"\n## {cv}-fold cross-validation on the training sentences\n"
        "Each fold trained on the others and tagged through the pipeline's own cleaning and "
        "tokenisation, scored as `score_pud.py` scores (mean ± standard deviation over "
        f"folds): {r.cv}. The treebank's lemmas keep a raw Buckwalter dagger alif (ه`ذا); "
        "this tagger writes Arabic (هٰذا), which the scorer counts as wrong: the figure in "
        "parentheses reads the treebank's ` as U+0670.\n"
        if r.cv else ""
    )
    return f"""# POS/lemma tagger (issues 13, 23)

A linear-chain CRF (python-crfsuite, L-BFGS, c1={c1}, c2={c2}, {max_iterations} iterations)
labels each pipeline token with the UPOS of its content part, on top of the BAMA 1.0
analyzer's readings. The lemma, pos, diac and gloss then come from one reading of that
UPOS: the one whose lemma a (word, UPOS) -> lemma memory of the training sentences names,
else the one an averaged perceptron (10 epochs) ranks first given the tag. Files:
`crf.model` (crfsuite), `lemmas.json` (memory, perceptron weights){prior_file}.
Code: `tasks/morphology/pos_*.py`.

## Training data
{names}: UD Arabic-PUD (Zeman et al., CoNLL 2017 Shared Task parallel treebanks,
Universal Dependencies), licence CC BY-SA 3.0. {r.n_train} sentences ({r.train_words} surface
words) trained on. {held_note} Features were chosen by 10-fold cross-validation
(`bench/pos_cv.py`).

## Features
Per word type, once per batch: the normalized word, its 1-3 letter prefixes and suffixes,
shape (Arabic, digit, Latin, punctuation), the analyzer's ambiguity class (the set of UPOS
over its readings) and each reading's UPOS, the ranker's best and second reading (UPOS,
camel POS, lemma and its vowelled edges, clitic count, definiteness, enclitic pronoun),
out-of-lexicon, a proper-noun reading in the lexicon, membership in the project's
gazetteers (tasks/resources/gazetteers){clusters_line}{prior_line}{vectors_line};
per token: the ranker's in-context UPOS, the words, ambiguity classes and best readings of
two neighbours each side, and ambiguity-class bigrams.
{cv_block}
## Scores on the held-aside sentences (gold word boundaries, non-punctuation words)
| | UPOS | lemma |
|---|---|---|
| this tagger | {pct(r.upos)} | {pct(r.lemma)} |
| hand-tuned ranker alone | {pct(r.ranker_upos)} | {pct(r.ranker_lemma)} |

On raw text through `akhbar run`, write the held-aside part with `--write-holdout FILE`
and run `python ../shared/eval/score_pud.py --conllu FILE` (docs/annotation.md has the
figures).

## Reproduce
```
{command or 'akhbar train pos --data ud-arabic-pud-dev.conllu --out tasks/models/pos'}
```
Seed {seed}, held-aside fraction {holdout} (the split); crfsuite's L-BFGS, the EM of the
prior and the seeded perceptron are deterministic. Training took {r.seconds:.0f} s on this
machine (2 cores, shared).

## sha256
{sha}
"""
