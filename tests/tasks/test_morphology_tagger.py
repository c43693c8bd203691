"""tasks/morphology/tagger.py: CoNLL-U reading, training, saving, loading and tagging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.errors import ConfigError, EnvironmentError_
from tasks.morphology import tagger as pt

# Written for these tests: clitic-split tokens glued by SpaceAfter=No, as UD Arabic does.
_ROWS = {
    "t1": [
        ("ذهب", "ذَهَب", "VERB", ""),
        ("الولد", "وَلَد", "NOUN", ""),
        ("إلى", "إِلَى", "ADP", ""),
        ("المدرسة", "مَدرَسَة", "NOUN", "SpaceAfter=No"),
        (".", ".", "PUNCT", ""),
    ],
    "t2": [
        ("و", "وَ", "CCONJ", "SpaceAfter=No"),
        ("كتب", "كَتَب", "VERB", ""),
        ("محمد", "مُحَمَّد", "PROPN", ""),
        ("بن", "اِبن", "NOUN", ""),
        ("سلمان", "سَلمَان", "PROPN", ""),
        ("رسالت", "رِسَالَة", "NOUN", "SpaceAfter=No"),
        ("ه", "هُوَ", "PRON", "SpaceAfter=No"),
        (".", ".", "PUNCT", ""),
    ],
    "t3": [
        ("قال", "قَال", "VERB", ""),
        ("الرئيس", "رَئِيس", "NOUN", ""),
        ("إن", "إِنَّ", "PART", ""),
        ("الاقتصاد", "اِقتِصَاد", "NOUN", ""),
        ("كبير", "كَبِير", "ADJ", "SpaceAfter=No"),
        (".", ".", "PUNCT", ""),
    ],
    "t4": [
        ("ب", "بِ", "ADP", "SpaceAfter=No"),
        ("ال", "ال", "DET", "SpaceAfter=No"),
        ("مدرسة", "مَدرَسَة", "NOUN", ""),
        ("الكبيرة", "كَبِير", "ADJ", ""),
        ("درس", "دَرَس", "VERB", ""),
        ("الولد", "وَلَد", "NOUN", "SpaceAfter=No"),
        (".", ".", "PUNCT", ""),
    ],
}


def _conllu(ids: list[str]) -> str:
    blocks = []
    for sid in ids:
        rows = _ROWS[sid]
        text = ""
        for form, _, _, misc in rows:
            text += form + ("" if "SpaceAfter=No" in misc else " ")
        lines = [f"# sent_id = {sid}", f"# text = {text.strip()}"]
        for i, (form, lemma, upos, misc) in enumerate(rows, 1):
            lines.append(f"{i}\t{form}\t{lemma}\t{upos}\t_\t_\t0\tdep\t_\t{misc or '_'}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


@pytest.fixture
def conllu(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.conllu"
    path.write_text(_conllu(["t1", "t2", "t3", "t4"] * 3), encoding="utf-8")
    return path


def test_read_conllu_glues_clitics_and_scores_the_content_part(conllu: Path) -> None:
    sentences = pt.read_conllu(conllu)
    assert len(sentences) == 12
    words = sentences[1].words
    assert [w.form for w in words] == ["وكتب", "محمد", "بن", "سلمان", "رسالته", "."]
    assert (words[0].upos, words[0].lemma) == ("VERB", "كَتَب")  # و+ dropped
    assert (words[4].upos, words[4].lemma) == ("NOUN", "رِسَالَة")  # +ه dropped
    assert words[5].upos == "PUNCT"  # punctuation is never glued on
    assert (sentences[3].words[0].form, sentences[3].words[0].upos) == ("بالمدرسة", "NOUN")


def test_read_conllu_names_a_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.conllu"):
        pt.read_conllu(tmp_path / "nope.conllu")
    empty = tmp_path / "empty.conllu"
    empty.write_text("# just a comment\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="holds no sentence"):
        pt.read_conllu(empty)


def test_holdout_split_is_seeded_and_written_back_verbatim(conllu: Path, tmp_path: Path) -> None:
    sentences = pt.read_conllu(conllu)
    train, held = pt.split_holdout(sentences, 0.25, seed=5)
    again = pt.split_holdout(sentences, 0.25, seed=5)
    assert [s.block for s in held] == [s.block for s in again[1]]
    assert len(held) == 3 and len(train) == 9
    out = tmp_path / "held.conllu"
    pt.write_conllu(held, out)
    assert [s.words for s in pt.read_conllu(out)] == [s.words for s in held]


def test_norm_lemma_folds_what_the_scorer_folds() -> None:
    assert pt.norm_lemma("إِلَى") == "الي"
    assert pt.norm_lemma("مَدرَسَة") == "مدرسه"
    assert pt.norm_lemma(None) == ""


@pytest.fixture
def trained(conllu: Path, tmp_path: Path) -> tuple[Path, pt.TrainReport]:
    out = tmp_path / "model"
    held = tmp_path / "held.conllu"
    report = pt.train_tagger(
        [conllu], out, seed=1, holdout=0.25, write_holdout=held, use_clusters=False,
        command="akhbar train pos --data tiny.conllu --out model",
    )
    return out, report


def test_train_writes_model_card_and_scores_the_held_aside_part(trained) -> None:
    out, report = trained
    assert {p.name for p in out.iterdir()} == {"crf.model", "lemmas.json", "MODEL_CARD.md"}
    assert report.n_train == 9 and report.n_holdout == 3
    # Every held-aside sentence repeats a training sentence, so the tagger must get them.
    assert report.upos == 100.0
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "CC BY-SA 3.0" in card and "akhbar train pos --data tiny.conllu" in card
    assert report.files["crf.model"] in card  # the sha256
    assert (out.parent / "held.conllu").read_text(encoding="utf-8").count("# sent_id") == 3


def test_trained_tagger_loads_and_tags_content_parts(trained) -> None:
    from tasks.morphology import load_morphology

    out, _ = trained
    tagger = pt.load_tagger(str(out))
    morphology = load_morphology("bama")
    sentences = [
        ["وكتب", "محمد", "بن", "سلمان", "رسالته", "."],
        ["قال", "الرئيس", "إن", "الاقتصاد"],
    ]
    base = morphology.analyze_sentences(sentences)
    tagged = tagger.retag(sentences, morphology, base)
    assert tagged["upos"][:6] == ["VERB", "PROPN", "NOUN", "PROPN", "NOUN", "PUNCT"]
    assert pt.norm_lemma(tagged["lemma"][4]) == "رساله"  # the memory's treebank lemma
    # بن between two names is ابن "son", never بُنّ "coffee beans".
    assert pt.norm_lemma(tagged["lemma"][2]) == "ابن"
    assert pt.norm_lemma(tagged["lemma"][7]) == "رئيس"
    # gloss is the stem's: no "the+" and no clitic glosses.
    assert all("+" not in (g or "") for g in tagged["gloss"])
    assert len(tagged["lemma"]) == len(base["lemma"]) == 10


def test_load_tagger_names_a_missing_model(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentError_, match="lacks crf.model"):
        pt.load_tagger(str(tmp_path))


def test_train_rejects_a_bad_holdout(conllu: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="1.5"):
        pt.train_tagger([conllu], tmp_path / "m", holdout=1.5)


def test_cli_train_pos(conllu: Path, tmp_path: Path, capsys) -> None:
    from flows.cli import main

    code = main(["train", "pos", "--data", str(conllu), "--out", str(tmp_path / "m"),
                 "--holdout", "0.25", "--no-clusters"])
    assert code == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["train_sentences"] == 9 and stats["holdout_upos"] == 100.0
    assert (tmp_path / "m" / "crf.model").is_file()
    bad = ["train", "pos", "--data", str(conllu), "--out", str(tmp_path / "x"), "--holdout", "1"]
    assert main(bad) == 2
    assert "--holdout 1.0" in capsys.readouterr().err
    bad = ["train", "pos", "--data", str(conllu), "--out", str(tmp_path / "y"),
           "--vectors", "knn", "glove"]
    assert main(bad) == 2
    assert "glove" in capsys.readouterr().err and not (tmp_path / "y").exists()


@pytest.mark.shared
def test_tagger_beats_the_ranker_on_held_aside_pud(shared_dir: Path, tmp_path: Path) -> None:
    """Trained on a slice of the real treebank, scored on sentences it never saw."""
    source = pt.read_conllu(shared_dir / "eval" / "ud-arabic-pud-dev.conllu")
    part = tmp_path / "slice.conllu"
    pt.write_conllu(source[:200], part)
    report = pt.train_tagger([part], tmp_path / "m", seed=3, holdout=0.25, use_clusters=False)
    assert report.upos > report.ranker_upos + 2
    assert report.lemma > report.ranker_lemma


def test_runtime_labels_and_marginals_equal_crfsuite(trained) -> None:
    """The sequence runtime scores the tagger exactly as python-crfsuite's own tagger."""
    import numpy as np
    import pycrfsuite

    from tasks.morphology import load_morphology
    from tasks.morphology.pos_features import training_items

    out, _ = trained
    tagger = pt.load_tagger(str(out))
    morphology = load_morphology("bama")
    sentences = [["وكتب", "محمد", "بن", "سلمان", "رسالته", "."], ["الاقتصاد"],
                 ["قال", "الرئيس", "إن", "الاقتصاد", "كبير", "جدا", "،", "وكتب"]]
    morph = morphology.analyze_sentences(sentences)
    crf = pycrfsuite.Tagger()
    crf.open(str(out / "crf.model"))
    items = training_items(tagger.features, sentences, morphology, morph)
    decoded = tagger.decode(sentences, morphology, morph)
    got = tagger.predict(sentences, morphology, morph)
    k = 0
    for x in items:
        assert got[k : k + len(x)] == crf.tag(x)
        marg = [[crf.marginal(y, t) for y in tagger.sequence.labels] for t in range(len(x))]
        np.testing.assert_allclose(decoded.marginals[k : k + len(x)], np.array(marg), atol=1e-5)
        k += len(x)


@pytest.fixture
def trained_vectors(conllu: Path, tmp_path: Path) -> Path:
    """A tagger trained with every use of the shipped word vectors (issue 23)."""
    from tasks.embeddings import load_vectors

    if load_vectors() is None:
        pytest.skip("tasks/models/embeddings/embeddings.npz is not installed")
    out = tmp_path / "model_vectors"
    pt.train_tagger([conllu], out, seed=1, holdout=0.25, use_clusters=False,
                    vectors=["dense", "near", "kmeans", "names", "knn"])
    return out


def test_vector_features_are_learnt_saved_and_scored_like_crfsuite(trained_vectors) -> None:
    import numpy as np
    import pycrfsuite

    from tasks.morphology import load_morphology
    from tasks.morphology.pos_features import training_items

    meta = json.loads((trained_vectors / "lemmas.json").read_text(encoding="utf-8"))
    vec_meta = meta["vectors"]
    assert vec_meta["uses"] == ["dense", "kmeans", "knn", "names", "near"]
    # the centroids come from the training words' UPOS: the tiny treebank has these four
    assert sorted(vec_meta["centroids"]) == ["ADJ", "NOUN", "PROPN", "VERB"]
    # the k-nearest-types lexicon: each Arabic training type's commonest UPOS
    assert vec_meta["lexicon"]["سلمان"] == "PROPN" and vec_meta["lexicon"]["كبير"] == "ADJ"
    assert "." not in vec_meta["lexicon"]
    assert "word vectors" in (trained_vectors / "MODEL_CARD.md").read_text(encoding="utf-8")

    tagger = pt.load_tagger(str(trained_vectors))
    vec = tagger.features.vectors
    # the verdicts worked out at training time for the vectors' words are what the
    # search gives at run time
    assert (trained_vectors / "vectors.npz").is_file() and vec._table is not None
    table = [vec.verdicts(w) for w in ("محمد", "الرئيس", "كتب")]
    vec.set_table(None, [])
    assert table == [(vec.knn(w), vec.nearest(w)) for w in ("محمد", "الرئيس", "كتب")]
    tagger = pt.load_tagger.__wrapped__(str(trained_vectors))
    vec = tagger.features.vectors
    np.testing.assert_allclose(vec.centroids["PROPN"], vec_meta["centroids"]["PROPN"], atol=1e-6)
    morphology = load_morphology("bama")
    sentences = [["وكتب", "محمد", "بن", "سلمان", "رسالته", "."],
                 ["قال", "الرئيس", "إن", "الاقتصاد", "كبير", "جدا", "،", "وكتبوفيتش"]]
    morph = morphology.analyze_sentences(sentences)
    items = training_items(tagger.features, sentences, morphology, morph)
    first = items[0][1]  # محمد: its own vector, its neighbours' at ±1, cluster and centroid
    assert {f"e{k}" for k in range(vec.vectors.dim)} <= set(first)
    assert any(k.startswith("-1e") for k in first) and any(k.startswith("1e") for k in first)
    assert any(k.startswith("k0=") for k in first) and any(k.startswith("nc=") for k in first)
    # محمد's nearest training types vote (itself left out: its own label is not seen)
    assert any(k.startswith("nn=") for k in first)
    assert any(k.startswith("-1nn=") for k in items[0][2])
    assert "e0" not in items[0][-1]  # punctuation gets no vector
    # an unseen word still gets a (subword) vector
    assert "e0" in items[1][-1] and items[1][-1]["e0"] != 0
    crf = pycrfsuite.Tagger()
    crf.open(str(trained_vectors / "crf.model"))
    got = tagger.predict(sentences, morphology, morph)
    decoded = tagger.decode(sentences, morphology, morph)
    k = 0
    for x in items:
        assert got[k : k + len(x)] == crf.tag(x)
        marg = [[crf.marginal(y, t) for y in tagger.sequence.labels] for t in range(len(x))]
        np.testing.assert_allclose(decoded.marginals[k : k + len(x)], np.array(marg), atol=1e-5)
        k += len(x)


def test_vector_features_reject_an_unknown_use(conllu: Path, tmp_path: Path) -> None:
    from tasks.embeddings import load_vectors

    if load_vectors() is None:
        pytest.skip("tasks/models/embeddings/embeddings.npz is not installed")
    with pytest.raises(ConfigError, match="glove"):
        pt.train_tagger([conllu], tmp_path / "m", holdout=0.25, use_clusters=False,
                        vectors=["dense", "glove"])


def test_knn_vote_leaves_the_word_itself_out() -> None:
    from tasks.embeddings import load_vectors
    from tasks.morphology.pos_features import VectorFeatures

    wv = load_vectors()
    if wv is None:
        pytest.skip("tasks/models/embeddings/embeddings.npz is not installed")
    vec = VectorFeatures(wv, frozenset({"knn"}), lexicon={"محمد": "PROPN", "كتاب": "NOUN"})
    assert vec.knn("محمد") == ("NOUN", "NOUN")  # only the other type votes
    assert vec.knn("كتاب") == ("PROPN", "PROPN")


def test_self_training_keeps_only_sentences_the_tagger_is_sure_of(trained, tmp_path) -> None:
    from tasks.morphology import load_morphology
    from tasks.morphology.self_train import confident_sentences, unlabeled_sentences

    news = tmp_path / "news.txt"
    news.write_text("ذهب الولد إلى المدرسة الكبيرة اليوم.\nقال الرئيس إن الاقتصاد كبير جدا.\n"
                    "قصير.\n", encoding="utf-8")
    sents = unlabeled_sentences([news], 10, seed=1)
    assert sorted(len(s) for s in sents) == [7, 7]  # the 1-word line is too short
    out, _ = trained
    tagger = pt.load_tagger(str(out))
    morphology = load_morphology("bama")
    sure = confident_sentences(tagger, sents, morphology, 0.0)
    assert [w for w, _ in sure] == sents and all(len(w) == len(t) for w, t in sure)
    assert confident_sentences(tagger, sents, morphology, 1.01) == []


def test_fit_with_unlabeled_sentences_trains_on_the_confident_ones(conllu, tmp_path) -> None:
    from tasks.morphology import load_morphology

    train = pt.read_conllu(conllu)
    morphology = load_morphology("bama")
    unlabeled = [["ذهب", "الولد", "إلى", "المدرسة", "الكبيرة", "اليوم", "."]] * 3
    plain = pt.fit_tagger(train, morphology, None, tmp_path / "a", seed=1, c1=0.0)
    more = pt.fit_tagger(train, morphology, None, tmp_path / "b", seed=1, unlabeled=unlabeled,
                         min_confidence=0.0, c1=0.0)  # no L1: no weight is pruned

    def weighted(model: Path) -> set:
        import pycrfsuite

        crf = pycrfsuite.Tagger()
        crf.open(str(model / "crf.model"))
        return set(crf.info().state_features)

    # اليوم is in no training sentence: only the second model learnt from it
    assert ("w=اليوم", "NOUN") in weighted(tmp_path / "b")
    assert not any("اليوم" in a for a, _ in weighted(tmp_path / "a"))
    assert more.sequence.labels == plain.sequence.labels
