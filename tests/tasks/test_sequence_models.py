"""The shipped NER and POS models on the sequence runtime give python-crfsuite's own
labels and marginals on sentences they were never trained on (issue 21)."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.entities import model as ner_model
from tasks.morphology import tagger as pos_tagger


def _assert_equal_to_crfsuite(model_file, items, labels, decoded) -> None:
    import pycrfsuite

    crf = pycrfsuite.Tagger()
    crf.open(str(model_file))
    got = [labels[k] for k in decoded.labels.tolist()]
    k = 0
    for x in items:
        assert got[k : k + len(x)] == crf.tag(x)
        marg = [[crf.marginal(y, t) for y in labels] for t in range(len(x))]
        np.testing.assert_allclose(decoded.marginals[k : k + len(x)], np.array(marg), atol=1e-5)
        k += len(x)
    assert k == len(got)


@pytest.mark.shared
def test_shipped_ner_equals_crfsuite_on_held_aside_anercorp(shared_dir):
    from tasks.morphology import load_morphology

    if not ner_model.shipped_model_available():
        pytest.skip("no shipped NER model in tasks/models/ner")
    sents = ner_model.read_bio(shared_dir / "eval" / "anercorp-camellab-train.txt")
    # the split of the shipped model's card (--seed 12, default --holdout 0.1)
    _, held = ner_model.split_holdout(sents, 0.1, 12)
    toks = [ner_model.retokenize(s)[0] for s in held[:150]]
    morphology = load_morphology("bama")
    morph = morphology.analyze_sentences(toks)
    morph = pos_tagger.load_tagger().retag(toks, morphology, morph)
    model = ner_model.load_model()
    items = ner_model.training_items(model.features, toks, morph, None)
    keys, lengths = model.first_keys(toks, morph)
    first = model.sequence.tag(lengths, keys)
    _assert_equal_to_crfsuite(model.path / ner_model.MODEL_FILE, items,
                              model.sequence.labels, first)
    if model.second is not None:  # the document-consistency stage (issue 22)
        from tasks.entities.ner_doc import doc_layer, document_codes
        from tasks.entities.ner_infer import SECOND_FILE
        from tasks.entities.ner_train import _join
        from tasks.sequence.items import sentence_items

        docs = [i // 20 for i in range(len(toks))]
        if model.config["second_stage"].get("scope") == "chunk":
            docs = [0] * len(toks)
        codes = document_codes(toks, docs, first, model.sequence.labels)
        doc_items = sentence_items((doc_layer(),), (), [len(t) for t in toks],
                                   {"doc": codes.tolist()})
        joined = [_join(a, b) for a, b in zip(items, doc_items, strict=True)]
        _assert_equal_to_crfsuite(model.path / SECOND_FILE, joined, model.labels(),
                                  model.decode(toks, morph, docs))


@pytest.mark.shared
def test_shipped_pos_tagger_equals_crfsuite_on_held_aside_pud(shared_dir):
    from tasks.morphology import load_morphology
    from tasks.morphology.pos_features import training_items

    tagger = pos_tagger.load_tagger()
    if tagger is None:
        pytest.skip("no shipped POS model in tasks/models/pos")
    sentences = pos_tagger.read_conllu(shared_dir / "eval" / "ud-arabic-pud-dev.conllu")
    _, held = pos_tagger.split_holdout(sentences, 0.2, 13)  # the card's split
    words = [[w.form for w in s.words] for s in held]
    morphology = load_morphology("bama")
    morph = morphology.analyze_sentences(words)
    items = training_items(tagger.features, words, morphology, morph)
    decoded = tagger.decode(words, morphology, morph)
    _assert_equal_to_crfsuite(pos_tagger.DEFAULT_MODEL_DIR / pos_tagger.MODEL_FILE, items,
                              tagger.sequence.labels, decoded)
