"""Training the NER model (issue 12): python-crfsuite on ANERcorp-format BIO text.

The model learns from BIO-labelled text and uses the rules' resources as *evidence*,
not decisions (features: :mod:`tasks.entities.ner_features`); optionally the rules'
own spans are features too (off in the shipped model: measured no gain on held-aside
data, and they cost time). It is trained on the same features the runtime scores
(``training_items``), then scored on the held-aside part and written with its card.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.entities.ner_data import Sentence, retokenize, score_spans
from tasks.entities.ner_features import FEATURES_VERSION, NerFeatures, rule_tags, training_items
from tasks.entities.ner_infer import load_model
from tasks.model_dirs import CARD_FILE, CONFIG_FILE, MODEL_FILE

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
    params: dict | None = None,
    card: dict | None = None,
) -> TrainReport:
    """Train a CRF on ``train``, score it on ``holdout``, write model, config and card.

    Args:
        train: Gold sentences (whitespace tokens and BIO tags).
        out_dir: Directory for ``ner.crfsuite``, ``config.json`` and ``MODEL_CARD.md``.
        holdout: Gold sentences held aside; scored after training, never trained on.
        morphology: The morphology whose readings become features (``none`` for none).
        use_rules: Give the rules' spans as features.
        use_clusters: Give word clusters as features when ``tasks.clusters`` has them.
        params: crfsuite training parameters over the defaults.
        card: Extra facts for the model card (``command``, ``seed``, ``data``).
    """
    import pycrfsuite

    from tasks.morphology import load_morphology

    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    morph_tool = load_morphology(morphology)
    features = NerFeatures(use_clusters=use_clusters)
    toks, tags, morph = _prepare(train, morph_tool)
    docs = list(range(len(toks)))
    rules = rule_tags(toks, morph, docs) if use_rules else None
    feats = training_items(features, toks, morph, rules)
    trainer = pycrfsuite.Trainer(verbose=False)
    for x, y in zip(feats, tags, strict=True):
        trainer.append(x, y)
    p = {**_TRAIN_PARAMS, **(params or {})}
    trainer.set_params(p)
    model_path = out / MODEL_FILE
    trainer.train(str(model_path))
    train_seconds = time.perf_counter() - t0
    clusters = features.clusters
    config = {
        "features_version": FEATURES_VERSION,
        "labels": ["PER", "LOC", "ORG", "MISC"],
        "morphology": morph_tool.source if morph_tool is not None else None,
        "rules": use_rules,
        "clusters": clusters.sha256 if clusters is not None else None,
        "crfsuite": p,
    }
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    load_model.cache_clear()
    model = load_model(out)
    scores: dict = {}
    if holdout:
        h_toks, h_tags, h_morph = _prepare(holdout, morph_tool)
        pred = model.tag(h_toks, h_morph, list(range(len(h_toks))))
        scores = score_spans(h_tags, pred)
    report = TrainReport(out, model.sha256, len(train), len(holdout), scores, train_seconds)
    write_card(report, config, card or {})
    return report


def write_card(report: TrainReport, config: dict, card: dict) -> Path:
    """MODEL_CARD.md beside the model: data, license, features, scores, command, seed, sha256."""
    rows = "\n".join(
        f"| {lab} | {s['p']} | {s['r']} | {s['f1']} | {s['n']} |"
        for lab, s in report.scores.items()
    ) or "| (no held-aside part) | | | | |"
    text = f"""# NER model card

A linear-chain CRF (python-crfsuite) that tags PER, LOC, ORG and MISC in BIO over the
pipeline's tokens. Loaded by `akhbar run --ner model` (the default when this model is
present) or `--ner {report.out_dir}`; `entities.method` is `crf:{report.sha256[:12]}`.

## Training data
{card.get("data", "(not given)")}

{card.get("license", "")}

## Features
- the normalized word, its prefixes and suffixes, the clitic-stripped stem and its
  clitics (و/ف, ب/ل/ك, ال), a shape for non-words;
- gazetteer membership (`tasks/resources/gazetteers`), as features, not decisions;
- morphology readings (POS, OOV, a capitalised gloss, the article) from `{config["morphology"]}`;
- word clusters learnt from unlabeled news (`tasks/models/clusters`, sha256
  `{(config["clusters"] or "none")[:12]}`), coarse to fine;
- the rule NER's spans: {"yes" if config["rules"] else "no"};
- a ±2 window of these, and word-pair, cluster-pair and POS-trigram conjunctions.

crfsuite (L-BFGS) parameters: `{json.dumps(config["crfsuite"])}`.

Spans follow ANERcorp's convention: currencies (دولار) and the divine name are MISC. The
entities table keeps them; `akhbar report` leaves spans made only of such non-names
(`tasks/resources/gazetteers/non_entities.txt`) out of its top-entity lists.

## Scores on the held-aside part
{report.n_holdout} sentences held aside (never trained on or tuned on), {report.n_train}
trained on. The held-aside part is whole blocks of 100 consecutive sentences, so that the
names of one article are not on both sides. Exact span and label, on the pipeline's tokens:

| label | P | R | F1 | gold spans |
|---|---|---|---|---|
{rows}

## Reproduce
```
{card.get("command", "(not given)")}
```
Seed: {card.get("seed", "(not given)")}. Training time: {report.seconds:.0f} s.
sha256 of `{MODEL_FILE}`: `{report.sha256}`
"""
    path = report.out_dir / CARD_FILE
    path.write_text(text, encoding="utf-8")
    return path
