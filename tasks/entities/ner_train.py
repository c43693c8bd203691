"""Training the NER model (issue 12): python-crfsuite on ANERcorp-format BIO text.

The model learns from BIO-labelled text and uses the rules' resources as *evidence*,
not decisions (features: :mod:`tasks.entities.ner_features`); optionally the rules'
own spans are features too (off in the shipped model: measured no gain on held-aside
data, and they cost time). It is trained on the same features the runtime scores
(``training_items``), then scored on the held-aside part and written with its card.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tasks.entities.ner_data import Sentence, retokenize, score_spans
from tasks.entities.ner_doc import DOC_BLOCK, doc_layer, document_codes, training_documents
from tasks.entities.ner_features import (
    CONJUNCTIONS,
    FEATURES_VERSION,
    NerFeatures,
    _vectors,
    rule_tags,
    training_items,
)
from tasks.entities.ner_infer import SECOND_FILE, NerModel, load_model
from tasks.errors import ConfigError
from tasks.model_dirs import CARD_FILE, CONFIG_FILE, MODEL_FILE
from tasks.sequence import Decoded, SequenceModel, file_sha256, load_weights
from tasks.sequence.items import sentence_items

_TRAIN_PARAMS = {"c1": 0.1, "c2": 0.01, "max_iterations": 150,
                 "feature.possible_transitions": True}


@dataclass
class TrainReport:
    """What ``train_model`` did: where the model is and how it scored on the held-aside part."""

    out_dir: Path
    sha256: str
    n_train: int
    n_holdout: int
    scores: dict[str, dict[str, float]]
    seconds: float
    first_scores: dict[str, dict[str, float]] = field(default_factory=dict)


def _prepare(sents: Sequence[Sentence], morphology: Any):
    toks, tags = zip(*(retokenize(s) for s in sents), strict=True) if sents else ((), ())
    toks = [list(t) for t in toks]
    morph = None
    if morphology is not None:
        morph = morphology.analyze_sentences(toks)
        if morphology.source == "bama":
            # the same readings the pipeline gives the model (tasks/annotate.py): BAMA's,
            # re-picked by the learned POS tagger when it ships (issue 13)
            from tasks.morphology.pos_infer import load_tagger

            tagger = load_tagger()
            if tagger is not None:
                morph = tagger.retag(toks, morphology, morph)
    return toks, list(tags), morph



def train_model(
    train: Sequence[Sentence],
    out_dir: str | Path,
    holdout: Sequence[Sentence] = (),
    *,
    morphology: str = "auto",
    use_rules: bool = False,
    use_clusters: bool = True,
    vectors: str | None = None,
    span_repair: bool = True,
    two_stage: bool = False,
    folds: int = 3,
    seed: int = 12,
    doc_block: int = DOC_BLOCK,
    doc_scope: str = "article",
    params: dict | None = None,
    card: dict | None = None,
) -> TrainReport:
    """Train the CRF(s) on ``train``, score on ``holdout``, write models, config and card.

    Args:
        train: Gold sentences (whitespace tokens and BIO tags).
        out_dir: Directory for ``ner.crfsuite``, ``config.json`` and ``MODEL_CARD.md``.
        holdout: Gold sentences held aside; scored after training, never trained on.
        morphology: The morphology whose readings become features (``none`` for none).
        use_rules: Give the rules' spans as features.
        use_clusters: Give word clusters as features when ``tasks.clusters`` has them.
        vectors: Use the shipped word vectors (``tasks.embeddings``): ``clusters``,
            ``dense`` or ``both`` (see ``NerFeatures``); None for none.
        span_repair: Repair the decoded spans (``tasks.entities.span_repair``).
        two_stage: Also train the document-consistency stage (``tasks.entities.ner_doc``)
            on a jackknifed first pass: ``folds`` first-stage models, each trained
            without one fold of documents, tag that fold (folds drawn with ``seed``).
            Training documents are blocks of ``doc_block`` consecutive sentences; at run
            time a document is the article (``doc_scope="article"``) or the whole chunk
            (``"chunk"``).
        params: crfsuite training parameters over the defaults.
        card: Extra facts for the model card (``command``, ``seed``, ``data``).
    """
    from tasks.morphology import load_morphology

    t0 = time.perf_counter()
    morph_tool = load_morphology(morphology)
    if vectors is not None and _vectors() is None:
        raise ConfigError(
            f"vectors={vectors!r} needs the word vectors: run `akhbar train embeddings`")
    toks, tags, morph = _prepare(train, morph_tool)
    h_toks, h_tags, h_morph = _prepare(holdout, morph_tool) if holdout else ([], [], None)
    return train_prepared(
        (toks, tags, morph), out_dir, (h_toks, h_tags, h_morph),
        morph_source=morph_tool.source if morph_tool is not None else None,
        use_rules=use_rules, use_clusters=use_clusters, vectors=vectors,
        span_repair=span_repair, two_stage=two_stage, folds=folds, seed=seed,
        doc_block=doc_block, doc_scope=doc_scope, params=params, card=card, t0=t0)


def train_prepared(
    train: tuple, out_dir: str | Path, holdout: tuple = ([], [], None), *,
    morph_source: str | None, use_rules: bool = False, use_clusters: bool = True,
    vectors: str | None = None, span_repair: bool = True, two_stage: bool = False,
    folds: int = 3, seed: int = 12, doc_block: int = DOC_BLOCK, doc_scope: str = "article",
    params: dict | None = None, card: dict | None = None, t0: float | None = None,
) -> TrainReport:
    """:func:`train_model` on sentences already tokenized and analysed.

    ``train`` and ``holdout`` are ``(tokens, tags, morph)`` as ``_prepare`` gives them;
    the held-aside sentences are scored with the documents of :func:`training_documents`.
    """
    t0 = time.perf_counter() if t0 is None else t0
    if doc_scope not in ("article", "chunk"):
        raise ConfigError(f"document scope {doc_scope!r}: use article or chunk")
    if two_stage and folds < 2:
        raise ConfigError(f"jackknife folds {folds!r} must be at least 2")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    toks, tags, morph = train
    features = NerFeatures(use_clusters=use_clusters, vectors=vectors)
    docs = training_documents(len(toks), doc_block)
    if two_stage and len(set(docs)) < folds:
        raise ConfigError(f"{len(toks)} training sentences make {len(set(docs))} documents "
                          f"of {doc_block}, fewer than the {folds} jackknife folds")
    rules = rule_tags(toks, morph, docs) if use_rules else None
    feats = training_items(features, toks, morph, rules)
    p = {**_TRAIN_PARAMS, **(params or {})}
    _fit(feats, tags, p, out / MODEL_FILE)
    second = None
    if two_stage:
        order = _stage_labels(out / MODEL_FILE)
        first = jackknife_first_pass(features, toks, tags, morph, feats, docs, folds, seed, p,
                                     use_rules, order)
        codes = document_codes(toks, docs, first, order)
        doc_items = sentence_items((doc_layer(),), (), [len(t) for t in toks],
                                   {"doc": codes.tolist()})
        _fit([_join(a, b) for a, b in zip(feats, doc_items, strict=True)], tags, p,
             out / SECOND_FILE)
        second = {"file": SECOND_FILE, "folds": folds, "seed": seed,
                  "doc_block": doc_block, "scope": doc_scope,
                  "training_documents": f"blocks of {doc_block} consecutive sentences"}
    elif (out / SECOND_FILE).exists():
        (out / SECOND_FILE).unlink()
    train_seconds = time.perf_counter() - t0
    clusters = features.clusters
    config = {
        "features_version": FEATURES_VERSION,
        "labels": ["PER", "LOC", "ORG", "MISC"],
        "morphology": morph_source,
        "rules": use_rules,
        "clusters": clusters.sha256 if clusters is not None else None,
        "vectors": None if features.vector_use is None else {
            "use": features.vector_use, "sha256": features.vectors.sha256},
        "span_repair": span_repair,
        "second_stage": second,
        "crfsuite": p,
    }
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    load_model.cache_clear()
    model = load_model(out)
    scores: dict = {}
    first_scores: dict = {}
    h_toks, h_tags, h_morph = holdout
    if h_toks:
        h_docs = training_documents(len(h_toks), doc_block)
        scores = score_spans(h_tags, model.tag(h_toks, h_morph, h_docs))
        if second is not None:  # the first stage alone, for the card
            alone = NerModel(model.path, {**config, "second_stage": None}, "",
                             model.sequence, model.features)
            first_scores = score_spans(h_tags, alone.tag(h_toks, h_morph, h_docs))
    report = TrainReport(out, model.sha256, len(toks), len(h_toks), scores, train_seconds,
                         first_scores)
    write_card(report, config, card or {})
    return report


def _fit(items: list, tags: list, params: dict, path: Path) -> None:
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for x, y in zip(items, tags, strict=True):
        trainer.append(x, y)
    trainer.set_params(params)
    trainer.train(str(path))


def _stage_labels(path: Path) -> tuple[str, ...]:
    return load_weights(path).labels


def _join(a: list, b: list) -> list:
    """Items of the same tokens from two sets of layers, as one crfsuite item each."""
    out = []
    for x, y in zip(a, b, strict=True):
        if isinstance(x, dict) or isinstance(y, dict):
            d = dict(x) if isinstance(x, dict) else dict.fromkeys(x, 1.0)
            d.update(y if isinstance(y, dict) else dict.fromkeys(y, 1.0))
            out.append(d)
        else:
            out.append(x + y)
    return out


def jackknife_first_pass(
    features: NerFeatures, toks: list, tags: list, morph: dict | None, feats: list,
    docs: Sequence[int], folds: int, seed: int, params: dict, use_rules: bool = False,
    order: Sequence[str] | None = None,
) -> Decoded:
    """Out-of-fold first-stage labels and marginals of every training sentence.

    Whole documents are dealt into ``folds`` folds (seeded); a first-stage model trained
    on the other folds tags each fold through the runtime, so the second stage learns
    from a first pass as good as, and no better than, the one it gets on unseen text.
    Marginals are given in the label order ``order`` (the full first stage's): crfsuite
    numbers labels in the order it meets them, which differs between folds.
    """
    import tempfile

    uniq = sorted(set(docs))
    random.Random(seed).shuffle(uniq)
    fold_of = {d: i % folds for i, d in enumerate(uniq)}
    sent_fold = np.array([fold_of[d] for d in docs], dtype=np.int64)
    lens = np.fromiter((len(t) for t in toks), dtype=np.int64, count=len(toks))
    tok_fold = np.repeat(sent_fold, lens)
    labels = marginals = None
    with tempfile.TemporaryDirectory(prefix="akhbar-ner-jk-") as tmp:
        for f in range(folds):
            train_idx = np.flatnonzero(sent_fold != f)
            test_idx = np.flatnonzero(sent_fold == f).tolist()
            path = Path(tmp) / f"fold{f}.crfsuite"
            _fit([feats[i] for i in train_idx], [tags[i] for i in train_idx], params, path)
            weights = load_weights(path)
            stage = NerModel(path.parent, {"rules": use_rules}, weights.sha256,
                             SequenceModel(weights, features.layers(), CONJUNCTIONS,
                                           features.fingerprint()), features)
            f_toks = [toks[i] for i in test_idx]
            f_morph = None if morph is None else {
                c: [v for v, keep in zip(col, tok_fold == f, strict=True) if keep]
                for c, col in morph.items() if isinstance(col, list)}
            dec = stage.decode(f_toks, f_morph, [docs[i] for i in test_idx])
            if labels is None:
                order = list(order or weights.labels)
                labels = np.zeros(int(lens.sum()), dtype=np.int64)
                marginals = np.zeros((int(lens.sum()), len(order)))
            # this fold's label k is column ``to[k]`` of ``order`` (a label unseen: absent)
            to = np.array([order.index(lab) for lab in weights.labels], dtype=np.int64)
            mask = tok_fold == f
            labels[mask] = to[dec.labels]
            fold_marg = np.zeros((len(dec.labels), len(order)))
            fold_marg[:, to] = dec.marginals
            marginals[mask] = fold_marg
    return Decoded(labels, marginals)


def _vector_line(config: dict) -> str:
    vec = config.get("vectors")
    if not vec:
        return "not used"
    what = {"clusters": "their k-means cluster ids", "dense": "the vector as float features",
            "both": "the vector as float features and its k-means cluster ids"}[vec["use"]]
    return f"{what} (sha256 `{vec['sha256'][:12]}`)"


def write_card(report: TrainReport, config: dict, card: dict) -> Path:
    """MODEL_CARD.md beside the model: data, license, features, scores, command, seed, sha256."""
    first = report.first_scores
    rows = "\n".join(
        f"| {lab} | {s['p']} | {s['r']} | {s['f1']} | {s['n']} |"
        + (f" {first[lab]['f1']} |" if first else "")
        for lab, s in report.scores.items()
    ) or "| (no held-aside part) | | | | |"
    head = "| label | P | R | F1 | gold spans |" + (" F1, first stage alone |" if first else "")
    rule = "|---|---|---|---|---|" + ("---|" if first else "")
    stage2 = config.get("second_stage")
    if stage2:
        scope = "chunk of articles" if stage2.get("scope") == "chunk" else "article"
        stages = f"""Two stages (document consistency, `tasks/entities/ner_doc.py`): the first CRF
tags the chunk; for each word, its first-pass label probabilities over its *other*
mentions in the same {scope} (max and mean, binned), whether one lay in a confident
multiword span or ended one (a surname), become features of a second CRF
(`{stage2["file"]}`), which tags again. The second stage was trained on a jackknifed first
pass: {stage2["folds"]} folds of training documents (seed {stage2["seed"]}), each tagged
by a first-stage model trained without it. ANERcorp has no article boundaries, so
training documents are {stage2["training_documents"]}."""
    else:
        stages = "One stage (no document-consistency pass)."
    shas = f"sha256 of `{MODEL_FILE}`: `{file_sha256(report.out_dir / MODEL_FILE)}`"
    if stage2:
        shas += (f"\nsha256 of `{stage2['file']}`: "
                 f"`{file_sha256(report.out_dir / stage2['file'])}`\n"
                 f"model sha256 (`entities.method`, of the two): `{report.sha256}`")
    text = f"""# NER model card

A linear-chain CRF (python-crfsuite) that tags PER, LOC, ORG and MISC in BIO over the
pipeline's tokens. Loaded by `akhbar run --ner model` (the default when this model is
present) or `--ner {report.out_dir}`; `entities.method` is `crf:{report.sha256[:12]}`.

## Training data
{card.get("data", "(not given)")}

{card.get("license", "")}

{stages}

## Features
- the normalized word, its prefixes and suffixes, the clitic-stripped stem and its
  clitics (و/ف, ب/ل/ك, ال), a shape for non-words;
- gazetteer membership (`tasks/resources/gazetteers`), as features, not decisions;
- morphology readings (POS, OOV, a capitalised gloss, the article) from `{config["morphology"]}`;
- word clusters learnt from unlabeled news (`tasks/models/clusters`, sha256
  `{(config["clusters"] or "none")[:12]}`), coarse to fine;
- subword-aware word vectors (`tasks/models/embeddings`, fastText): {_vector_line(config)};
- the rule NER's spans: {"yes" if config["rules"] else "no"};
- span repairs after decoding (ORG pieces joined, a person cut out of an ORG):
  {"yes" if config.get("span_repair", True) else "no"};
- a ±2 window of these, and word-pair, cluster-pair and POS-trigram conjunctions.

crfsuite (L-BFGS) parameters: `{json.dumps(config["crfsuite"])}`.

Spans follow ANERcorp's convention: currencies (دولار) and the divine name are MISC. The
entities table keeps them; `akhbar report` leaves spans made only of such non-names
(`tasks/resources/gazetteers/non_entities.txt`) out of its top-entity lists.

## Scores on the held-aside part
{report.n_holdout} sentences held aside (never trained on or tuned on), {report.n_train}
trained on. The held-aside part is whole blocks of 100 consecutive sentences, so that the
names of one article are not on both sides. Exact span and label, on the pipeline's tokens,
the held-aside sentences taken as documents of {(stage2 or {}).get("doc_block", DOC_BLOCK)}
consecutive sentences:

{head}
{rule}
{rows}

## Reproduce
```
{card.get("command", "(not given)")}
```
Seed: {card.get("seed", "(not given)")}. Training time: {report.seconds:.0f} s.
{shas}
"""
    path = report.out_dir / CARD_FILE
    path.write_text(text, encoding="utf-8")
    return path
