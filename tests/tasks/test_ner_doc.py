"""Document consistency for the NER (issue 22): the first pass summarised per article,
and the two-stage model trained on a jackknifed first pass."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tasks.entities import model as ner_model
from tasks.entities.ner_doc import doc_features, doc_key, document_codes
from tasks.sequence import Decoded

_LABELS = ("B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC", "O")


def _first_pass(rows: list[tuple[str, float]]) -> Decoded:
    """A first pass where each token has its label at probability p, the rest on O."""
    labels = np.array([_LABELS.index(lab) for lab, _ in rows])
    marg = np.zeros((len(rows), len(_LABELS)))
    for i, (lab, p) in enumerate(rows):
        marg[i, _LABELS.index(lab)] += p
        marg[i, _LABELS.index("O")] += 1 - p
    return Decoded(labels, marg)


def _features(sentences, documents, rows):
    codes = document_codes(sentences, documents, _first_pass(rows), _LABELS)
    return [doc_features(int(c))[0] for c in codes]


def test_a_full_name_informs_the_surname_alone_in_the_same_article_only():
    sentences = [["قال", "كريم", "ناصر", "أمس"], ["وأضاف", "ناصر"], ["ناصر", "هنا"]]
    rows = [("O", 0.99), ("B-PER", 0.95), ("I-PER", 0.95), ("O", 0.99),
            ("O", 0.99), ("O", 0.7),  # the surname alone: the first pass missed it
            ("O", 0.9), ("O", 0.9)]
    feats = _features(sentences, ["a", "a", "b"], rows)
    surname_alone = feats[5]
    assert "dlast=PER" in surname_alone and "dmw=PER" in surname_alone
    assert "dmax=PER@3" in surname_alone  # the other mention's P(PER) 0.95 >= 0.9
    assert "dn=1" in surname_alone
    # the full name sees the mention the first pass missed: P(PER) 0 there
    assert "dmax=PER@3" not in feats[2] and "dO" in feats[2]
    # another article's ناصر sees nothing; nor do words mentioned once
    assert feats[6] == () and feats[0] == () and feats[7] == ()


def test_a_token_is_not_its_own_evidence():
    sentences = [["طنجة", "و", "بطنجة", "وطنجة"]]
    rows = [("B-LOC", 0.95), ("O", 0.99), ("B-LOC", 0.3), ("B-LOC", 0.4)]
    feats = _features(sentences, None, rows)
    assert doc_key("بطنجة") == doc_key("وطنجة") == doc_key("طنجة") != ""
    # the confident one sees only the two weak ones: max 0.4 -> bin 1, mean 0.35 -> bin 1
    assert "dmax=LOC@1" in feats[0] and "davg=LOC@1" in feats[0] and "dn=2" in feats[0]
    # a weak one sees the confident one: max 0.95 -> bin 3, mean (0.95 + 0.4) / 2 -> bin 2
    assert "dmax=LOC@3" in feats[3] and "davg=LOC@2" in feats[3]
    assert "dmax=LOC@3" in feats[2] and "davg=LOC@2" in feats[2]
    assert feats[1] == ()  # و is no word to match


def test_each_sentence_is_its_own_document_without_documents():
    sentences = [["كريم", "ناصر"], ["ناصر"]]
    rows = [("B-PER", 0.95), ("I-PER", 0.95), ("O", 0.9)]
    assert _features(sentences, None, rows) == [(), (), ()]
    assert _features(sentences, [7, 7], rows)[2] != ()


def _bio(n_repeats: int) -> str:
    """The test sentences, rotated on each repeat: crfsuite numbers labels in the order
    it meets them, so each jackknife fold's model has its own label order."""
    from tests.tasks.test_entities_model import _TRAIN

    sents = _TRAIN.strip("\n").split("\n\n")
    out = []
    for k in range(n_repeats):
        r = k % len(sents)
        out += sents[r:] + sents[:r]
    return "\n\n".join(out) + "\n"


def test_two_stage_model_trains_loads_and_decodes_like_crfsuite(tmp_path):
    import pycrfsuite

    from tasks.entities.ner_doc import doc_layer
    from tasks.entities.ner_infer import SECOND_FILE
    from tasks.entities.ner_train import _join
    from tasks.sequence.items import sentence_items

    data = tmp_path / "tiny.txt"
    data.write_text(_bio(12), encoding="utf-8")
    sents = ner_model.read_bio(data)
    out = tmp_path / "model"
    report = ner_model.train_model(sents[:40], out, sents[40:], morphology="none",
                                   use_clusters=False, two_stage=True, folds=3, doc_block=4,
                                   params={"max_iterations": 30})
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["second_stage"]["folds"] == 3 and (out / SECOND_FILE).is_file()
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert report.sha256 in card and "jackknifed" in card
    assert report.first_scores["all"]["n"] == report.scores["all"]["n"] == 20
    model = ner_model.load_model(out)
    assert model.second is not None and model.method == "crf:" + report.sha256[:12]
    assert report.sha256 != ner_model.file_sha256(out / "ner.crfsuite")

    # the runtime's second decode equals crfsuite's tagger on the same joined items
    toks = [["قال", "سمير", "خليل", "في", "وهران", "."], ["وقال", "خليل", "إن", "نورا"]]
    docs = [0, 0]
    keys, lengths = model.first_keys(toks, None, docs)
    first = model.sequence.tag(lengths, keys)
    codes = document_codes(toks, docs, first, model.sequence.labels)
    assert codes[7] != 0  # خليل alone sees the full name of sentence 0
    items = [_join(a, b) for a, b in zip(
        ner_model.training_items(model.features, toks, None, None),
        sentence_items((doc_layer(),), (), [len(t) for t in toks], {"doc": codes.tolist()}),
        strict=True)]
    tagger = pycrfsuite.Tagger()
    tagger.open(str(out / SECOND_FILE))
    decoded = model.decode(toks, None, docs)
    flat = [lab for x in items for lab in tagger.tag(x)]
    assert [model.labels()[k] for k in decoded.labels] == flat
    k = 0
    for x in items:
        labels = tagger.tag(x)
        for t in range(len(x)):
            assert decoded.marginals[k, model.labels().index(labels[t])] == pytest.approx(
                tagger.marginal(labels[t], t), abs=1e-4)
            k += 1
    # scope "chunk": the whole chunk is one document, whatever the articles
    apart = model.decode(toks, None, [0, 1])
    assert not np.allclose(apart.marginals, decoded.marginals)
    model.config["second_stage"]["scope"] = "chunk"
    assert np.allclose(model.decode(toks, None, [0, 1]).marginals, decoded.marginals)
    ner_model.load_model.cache_clear()


def test_too_few_documents_for_the_folds_fail_naming_them(tmp_path):
    from tasks.errors import ConfigError

    data = tmp_path / "tiny.txt"
    data.write_text(_bio(2), encoding="utf-8")
    sents = ner_model.read_bio(data)
    with pytest.raises(ConfigError, match="jackknife folds"):
        ner_model.train_model(sents, tmp_path / "m", morphology="none", use_clusters=False,
                              two_stage=True, folds=5, doc_block=20)


@pytest.mark.shared
def test_two_stage_trains_on_a_slice_of_anercorp(shared_dir, tmp_path):
    sents = ner_model.read_bio(shared_dir / "eval" / "anercorp-camellab-train.txt")
    report = ner_model.train_model(sents[:300], tmp_path / "m", sents[300:400],
                                   morphology="none", two_stage=True, folds=3,
                                   params={"max_iterations": 30})
    assert report.n_holdout == 100 and report.first_scores
    assert report.scores["LOC"]["f1"] > 50
