"""The learned NER model: BIO reading, the held-aside split, train/save/load/tag (issue 12)."""

from __future__ import annotations

import json

import pytest

from tasks.config import AnnotateConfig
from tasks.entities import model as ner_model
from tasks.entities import recognize_entities, resolve_ner_method
from tasks.entities.gazetteers import names_nothing
from tasks.errors import ConfigError

# Sentences we wrote, in the ANERcorp format (PERS for persons, as the corpus spells it).
_TRAIN = """\
زار O
سمير B-PERS
خليل I-PERS
مدينة O
طنجة B-LOC
أمس O
. O

قال O
سمير B-PERS
خليل I-PERS
إن O
شركة O
نورا B-ORG
تعمل O
في O
طنجة B-LOC
. O

وصل O
كريم B-PERS
ناصر I-PERS
إلى O
وهران B-LOC
(مساء O
أمس) O

أعلنت O
شركة O
نورا B-ORG
عن O
مهرجان B-MISC
الربيع I-MISC
في O
وهران B-LOC
. O
"""


@pytest.fixture
def bio_file(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text((_TRAIN + "\n") * 3, encoding="utf-8")
    return path


def test_read_bio_maps_pers_and_rejects_bad_lines(tmp_path, bio_file):
    sents = ner_model.read_bio(bio_file)
    assert len(sents) == 12
    assert sents[0][:3] == [("زار", "O"), ("سمير", "B-PER"), ("خليل", "I-PER")]
    assert {tag for s in sents for _, tag in s} >= {"B-PER", "I-PER", "B-LOC", "B-ORG", "B-MISC"}
    bad = tmp_path / "bad.txt"
    bad.write_text("كلمة X-LOC\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.txt:1"):
        ner_model.read_bio(bad)
    with pytest.raises(ConfigError, match="missing.txt"):
        ner_model.read_bio(tmp_path / "missing.txt")


def test_write_bio_round_trips(tmp_path, bio_file):
    sents = ner_model.read_bio(bio_file)
    ner_model.write_bio(sents, tmp_path / "again.txt")
    assert "B-PERS" in (tmp_path / "again.txt").read_text(encoding="utf-8")
    assert ner_model.read_bio(tmp_path / "again.txt") == sents


def test_split_holdout_is_seeded_and_in_blocks():
    sents = [[(str(i), "O")] for i in range(100)]
    train, hold = ner_model.split_holdout(sents, 0.2, seed=3, block=10)
    assert len(hold) == 20 and len(train) == 80
    assert ner_model.split_holdout(sents, 0.2, seed=3, block=10) == (train, hold)
    starts = {int(s[0][0]) // 10 for s in hold}
    assert len(starts) == 2  # two whole blocks, not twenty scattered sentences
    with pytest.raises(ConfigError, match="1.5"):
        ner_model.split_holdout(sents, 1.5, seed=3)


def test_retokenize_splits_punctuation_and_keeps_spans():
    toks, tags = ner_model.retokenize([("(مساء", "O"), ("طنجة،", "B-LOC"), ("الكبرى", "I-LOC")])
    assert toks == ["(", "مساء", "طنجة", "،", "الكبرى"]
    assert tags == ["O", "O", "B-LOC", "I-LOC", "I-LOC"]
    assert ner_model.bio_spans(tags) == [(2, 5, "LOC")]
    assert ner_model.bio_spans(["I-PER", "O", "B-LOC", "B-LOC"]) == [
        (0, 1, "PER"), (2, 3, "LOC"), (3, 4, "LOC")]


def test_strip_clitics():
    assert ner_model._strip_clitics("وبالرباط") == ("و+ب+ال", "رباط")
    assert ner_model._strip_clitics("للامم") == ("ل+ال", "امم")
    assert ner_model._strip_clitics("ولد") == ("", "ولد")


def test_train_save_load_tag(tmp_path, bio_file):
    sents = ner_model.read_bio(bio_file)
    out = tmp_path / "model"
    report = ner_model.train_model(
        sents[:8], out, sents[8:], morphology="none", use_clusters=False,
        params={"max_iterations": 50}, card={"command": "akhbar train ner --data tiny.txt",
                                             "seed": 1},
    )
    assert (out / "ner.crfsuite").is_file()
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["morphology"] is None and config["features_version"] == 1
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert report.sha256 in card and "akhbar train ner --data tiny.txt" in card
    assert report.scores["all"]["n"] == 10  # the held-aside sentences' gold spans
    assert report.scores["LOC"]["f1"] > 50

    model = ner_model.load_model(out)
    assert model.method == "crf:" + report.sha256[:12]
    spans = recognize_entities([["قال", "كريم", "ناصر", "في", "طنجة", "."]], None, str(out))
    got = {(s.token_start, s.token_end, s.label) for s in spans}
    assert (4, 5, "LOC") in got
    assert all(s.method == model.method and 0 < s.score <= 1 for s in spans)


def test_model_span_skips_the_proclitic(tmp_path, bio_file):
    sents = ner_model.read_bio(bio_file)
    out = tmp_path / "model"
    ner_model.train_model(sents, out, morphology="none", use_clusters=False,
                          params={"max_iterations": 50})
    spans = ner_model.recognize_with_model([["وصل", "إلى", "بطنجة", "."]], None, str(out))
    assert [(s.token_start, s.label, s.skip_chars) for s in spans] == [(2, "LOC", 1)]


def test_a_bad_model_directory_fails_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="nowhere"):
        resolve_ner_method(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="nowhere"):
        AnnotateConfig(ner=str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="bogus"):
        AnnotateConfig(ner="bogus")


def test_fast_decoding_matches_crfsuite(tmp_path, bio_file):
    import pycrfsuite

    sents = ner_model.read_bio(bio_file)
    out = tmp_path / "model"
    ner_model.train_model(sents, out, morphology="none", use_clusters=False,
                          params={"max_iterations": 30})
    model = ner_model.load_model(out)
    tagger = pycrfsuite.Tagger()
    tagger.open(str(out / "ner.crfsuite"))
    toks = [["قال", "سمير", "ناصر", "إن", "شركة", "نورا", "في", "وهران", "."],
            ["مهرجان", "الربيع"], ["طنجة"]]
    feats = ner_model.training_items(model.features, toks, None, None)
    decoded = model.decode(toks)
    k = 0
    for got, x in zip(model.tag(toks), feats, strict=True):
        labels = tagger.tag(x)
        want = [(a, b, lab, min(tagger.marginal(labels[k], k) for k in range(a, b)))
                for a, b, lab in ner_model.bio_spans(labels)]
        assert [g[:3] for g in got] == [w[:3] for w in want]
        assert [g[3] for g in got] == pytest.approx([w[3] for w in want], abs=1e-4)
        marg = [[tagger.marginal(y, t) for y in model.sequence.labels] for t in range(len(x))]
        assert decoded.marginals[k : k + len(x)].tolist() == [
            pytest.approx(row, abs=1e-5) for row in marg]
        k += len(x)


def test_currencies_and_formulae_are_not_names():
    assert names_nothing("دولار")
    assert names_nothing("رحمه الله")
    assert names_nothing("بالدولار")
    assert not names_nothing("عبد الله")
    assert not names_nothing("حزب الله")
    assert not names_nothing("ولي العهد محمد")
    assert not names_nothing("")


@pytest.mark.shared
def test_trains_on_a_slice_of_anercorp(shared_dir, tmp_path):
    sents = ner_model.read_bio(shared_dir / "eval" / "anercorp-camellab-train.txt")
    report = ner_model.train_model(sents[:400], tmp_path / "m", sents[400:500],
                                   morphology="none", params={"max_iterations": 40})
    assert report.n_holdout == 100
    assert report.scores["LOC"]["f1"] > 50  # places are the easy label even on a slice


def test_vector_features_decode_like_crfsuite(tmp_path, bio_file, monkeypatch):
    """Dense and cluster features from subword vectors (issue 22): the per-type emission
    sums equal crfsuite's own tagger on float-valued attributes."""
    pytest.importorskip("gensim")
    import pycrfsuite

    from tasks import embeddings

    news = tmp_path / "news.txt"
    news.write_text("\n".join(["زار سمير خليل مدينة طنجة أمس", "قال كريم ناصر إن شركة نورا تعمل",
                               "وصل سمير إلى وهران مساء أمس"] * 30), encoding="utf-8")
    embeddings.train_embeddings([str(news)], tmp_path / "emb", dim=8, epochs=1, min_count=2,
                                bucket=500, sizes=(2, 3))
    wv = embeddings.read_vectors(tmp_path / "emb" / embeddings.VECTORS_FILE)
    from tasks.entities import ner_features, ner_infer, ner_train

    for module in (ner_features, ner_infer, ner_train):
        monkeypatch.setattr(module, "_vectors", lambda: wv)
    sents = ner_model.read_bio(bio_file)
    out = tmp_path / "model"
    ner_model.train_model(sents, out, morphology="none", use_clusters=False, vectors="both",
                          params={"max_iterations": 30})
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["vectors"] == {"use": "both", "sha256": wv.sha256}
    model = ner_model.load_model(out)
    tagger = pycrfsuite.Tagger()
    tagger.open(str(out / "ner.crfsuite"))
    assert any(a.startswith("e") and a[1:].isdigit() for a in tagger.info().attributes)
    toks = [["قال", "سميرة", "ناصري", "إن", "شركة", "نورا", "في", "وهران", "."], ["طنجة"]]
    feats = ner_model.training_items(model.features, toks, None, None)
    assert isinstance(feats[0][1], dict) and "e0" in feats[0][1]
    for got, x in zip(model.tag(toks), feats, strict=True):
        labels = tagger.tag(x)
        want = [(a, b, lab, min(tagger.marginal(labels[k], k) for k in range(a, b)))
                for a, b, lab in ner_model.bio_spans(labels)]
        assert [g[:3] for g in got] == [w[:3] for w in want]
        assert [g[3] for g in got] == pytest.approx([w[3] for w in want], abs=1e-4)
    ner_model.load_model.cache_clear()


def test_a_proclitic_before_an_organisation_head_is_skipped():
    from tasks.entities.ner_infer import _proclitic_skip

    # لمركز الملك سلمان, بجامعة الملك خالد: the name starts at the head word
    assert _proclitic_skip("لمركز") == 1
    assert _proclitic_skip("بجامعة") == 1
    assert _proclitic_skip("ومطار") == 1
    # a head whose first letter only looks like a proclitic keeps it (لجنة, كلية), and
    # ل fused with the article is kept whole (للبنك, never لبنك)
    assert _proclitic_skip("لجنة") == 0
    assert _proclitic_skip("كلية") == 0
    assert _proclitic_skip("للبنك") == 0
