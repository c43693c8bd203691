"""Subword-aware word vectors (issue 22): reproducible training, numpy-only OOV vectors."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tasks import embeddings as E
from tasks.errors import ConfigError

pytest.importorskip("gensim")

# A tiny corpus we wrote: a few names, places and verbs in repeated frames.
_LINES = [
    "قال الوزير محمد العلمي إن الحكومة ستبني مدرسة في الرباط",
    "زار الوزير أحمد الناصري مدينة طنجة أمس",
    "أعلنت وزارة الصحة في الرباط عن برنامج جديد",
    "قالت الوزيرة فاطمة الزهراء إن المدرسة فتحت في طنجة",
    "وصل الرئيس محمد الناصري إلى مدينة فاس صباح اليوم",
    "أكدت وزارة التعليم أن البرنامج يشمل مدينة فاس",
]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "news.txt"
    path.write_text("\n".join(_LINES * 20) + "\n", encoding="utf-8")
    return path


def _train(corpus, out):
    return E.train_embeddings([str(corpus)], out, dim=16, epochs=2, min_count=2, bucket=2000,
                              sizes=(2, 4))


def test_same_seed_same_bytes(tmp_path, corpus):
    a = _train(corpus, tmp_path / "a")
    b = _train(corpus, tmp_path / "b")
    assert a["sha256"] == b["sha256"]
    data = (tmp_path / "a" / E.VECTORS_FILE).read_bytes()
    assert hashlib.sha256(data).hexdigest() == a["sha256"]
    card = (tmp_path / "a" / E.CARD_FILE).read_text(encoding="utf-8")
    assert a["sha256"] in card and "Seed" in card


def test_oov_vector_from_subwords_matches_gensim(tmp_path, corpus):
    from gensim.models import FastText

    from tasks.clusters import corpus_sentences

    _train(corpus, tmp_path / "m")
    wv = E.read_vectors(tmp_path / "m" / E.VECTORS_FILE)
    unseen = "والناصريين"  # not in the corpus: built from the n-grams of الناصري
    assert not wv.known(unseen)
    v = wv.vector(unseen)
    assert v.shape == (16,) and float(np.linalg.norm(v)) > 0
    assert np.array_equal(v, E.read_vectors(tmp_path / "m" / E.VECTORS_FILE).vector(unseen))
    # the same vector gensim computes, up to float16 storage
    sents = list(corpus_sentences([str(corpus)]))
    ref = FastText(vector_size=16, window=5, min_count=2, sg=0, min_n=3, max_n=5, bucket=2000,
                   seed=13, workers=1)
    ref.build_vocab(corpus_iterable=sents)
    ref.train(corpus_iterable=sents, total_examples=len(sents), epochs=2)
    assert np.allclose(v, ref.wv[unseen], atol=2e-3)
    # a known word keeps its own vector; clusters cover the unseen word too
    assert wv.known("الوزير")
    assert np.allclose(wv.vector("الوزير"), ref.wv["الوزير"], atol=2e-3)
    assert len(wv.clusters(unseen)) == 2


def test_fasttext_hash_is_gensims():
    from gensim.models.fasttext import ft_hash_bytes

    for gram in ("<مح", "حمد>", "abc", "<ال"):
        assert E.ft_hash(gram.encode("utf-8")) == ft_hash_bytes(gram.encode("utf-8"))


def test_missing_corpus_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nowhere"):
        E.train_embeddings([str(tmp_path / "nowhere")], tmp_path / "out")
