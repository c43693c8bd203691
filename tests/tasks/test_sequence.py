"""tasks/sequence: the runtime's labels and marginals equal python-crfsuite's (issue 21)."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

from tasks.sequence import (
    Conjunction,
    Layer,
    Row,
    SequenceModel,
    decode,
    encode,
    read_crfsuite,
)
from tasks.sequence.items import sentence_items

# A toy task we wrote: N after a determiner, V at the start, else O, with ambiguous words.
_TRAIN = [
    ("ال كتاب جديد", "D N O"), ("كتب الولد ال درس", "V O D N"), ("ال ولد كتب", "D N V"),
    ("قرأ ال كتاب", "V D N"), ("درس جديد", "O O"), ("كتب ال درس جديد", "V D N O"),
    ("ال درس", "D N"), ("قرأ الولد", "V O"), ("جديد ال كتاب", "O D N"),
]
_HELD = ["ال كتاب كتب", "قرأ ال ولد جديد", "كتاب", "ال ال مجهول", "مجهول كتب ال"]


def _word_row(w: str, aux=None) -> Row:
    # a dense, real-valued feature beside the names: crfsuite weighs it by its value
    return Row(
        {0: ("w=" + w, ("len", len(w) / 4)), -1: ("-1:w=" + w,), 1: ("1:w=" + w,),
         2: ("2:p=" + w[:1],)},
        {"w": "w=" + w},
    )


def _ctx_row(tag: str, aux=None) -> Row:
    return Row({0: ("t=" + tag,), -1: ("-1:t=" + tag,)}, {"t": tag})


def _ctx(w: str) -> str:
    # contexts with "|" inside, as an ambiguity class has (NOUN|ADJ)
    return "det|x" if w == "ال" else "long" if len(w) > 3 else "short|y"


def _layers(calls: list | None = None, limit: int = 1000) -> tuple[Layer, ...]:
    def word(w, aux=None):
        if calls is not None:
            calls.append(w)
        return _word_row(w)

    return (
        Layer("word", word, (-1, 0, 1, 2), {-1: ("BOS",), 1: ("EOS",)}, limit, store_key=str),
        Layer("ctx", _ctx_row, (-1, 0)),
    )


_CONJ = (
    Conjunction("w-1|w0=", ((-1, "word", "w"), (0, "word", "w"))),
    Conjunction("t3=", ((-1, "ctx", "t"), (0, "ctx", "t"), (1, "ctx", "t")),
                outside=("BOS", None, "EOS")),
    Conjunction("t|w+1=", ((0, "ctx", "t"), (1, "word", "w"))),
)


def _keys(sentences: list[list[str]]) -> dict[str, list]:
    words = [w for s in sentences for w in s]
    return {"word": words, "ctx": [_ctx(w) for w in words]}


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory):
    import pycrfsuite

    path = tmp_path_factory.mktemp("toy") / "toy.crfsuite"
    sents = [s.split() for s, _ in _TRAIN]
    items = sentence_items(_layers(), _CONJ, [len(s) for s in sents], _keys(sents))
    trainer = pycrfsuite.Trainer(verbose=False)
    for x, (_, y) in zip(items, _TRAIN, strict=True):
        trainer.append(x, y.split())
    trainer.set_params({"c2": 0.01, "max_iterations": 60, "feature.possible_transitions": True})
    trainer.train(str(path))
    return path


def _crfsuite(path, items):
    import pycrfsuite

    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    out = []
    for x in items:
        labels = tagger.tag(x)
        marg = [[tagger.marginal(y, t) for y in tagger.labels()] for t in range(len(x))]
        out.append((labels, marg, list(tagger.labels())))
    return out


def _tag(model: SequenceModel, sentences, persistent=False):
    keys = {name: encode(v) for name, v in _keys(sentences).items()}
    return model.tag([len(s) for s in sentences], keys, None, persistent)


def test_labels_and_marginals_equal_crfsuite_on_held_aside_sentences(toy_model):
    sentences = [s.split() for s in _HELD]
    items = sentence_items(_layers(), _CONJ, [len(s) for s in sentences], _keys(sentences))
    assert isinstance(items[0][0], dict)  # the dense feature makes {name: value} items
    assert any("t3=BOS|det|x|long" in it for s in items for it in s)
    model = SequenceModel(read_crfsuite(toy_model), _layers(), _CONJ)
    got = _tag(model, sentences)
    k = 0
    for (labels, marg, names), sent in zip(_crfsuite(toy_model, items), sentences, strict=True):
        order = [names.index(x) for x in model.labels]
        assert [model.labels[i] for i in got.labels[k : k + len(sent)]] == labels
        want = np.asarray(marg)[:, order]
        np.testing.assert_allclose(got.marginals[k : k + len(sent)], want, atol=1e-5)
        k += len(sent)


def test_viterbi_and_marginals_equal_brute_force():
    rng = np.random.default_rng(7)
    n_lab = 3
    lengths = [4, 1, 0, 3, 5, 2]
    em = rng.normal(size=(sum(lengths), n_lab))
    trans = rng.normal(size=(n_lab, n_lab))
    got = decode(em, lengths, trans)
    start = 0
    for m in lengths:
        e = em[start : start + m]
        if m:
            paths = list(itertools.product(range(n_lab), repeat=m))
            scores = np.array([e[np.arange(m), p].sum() + sum(trans[a, b] for a, b in
                                                               zip(p, p[1:], strict=False))
                               for p in paths])
            best = paths[int(scores.argmax())]
            assert got.labels[start : start + m].tolist() == list(best)
            prob = np.exp(scores - scores.max())
            prob /= prob.sum()
            marg = np.zeros((m, n_lab))
            for p, q in zip(paths, prob, strict=True):
                marg[np.arange(m), p] += q
            np.testing.assert_allclose(got.marginals[start : start + m], marg, atol=1e-12)
        start += m


def test_persistent_rows_are_reused_and_keyed_by_the_fingerprint(toy_model, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("AKHBAR_CACHE_DIR", str(tmp_path))
    sentences = [s.split() for s in _HELD]
    weights = read_crfsuite(toy_model)
    first_calls: list = []
    cold = _tag(SequenceModel(weights, _layers(first_calls), _CONJ, "v1"), sentences, True)
    assert sorted(first_calls) == sorted({w for s in sentences for w in s})
    assert len(list(tmp_path.glob("rows-*.sqlite"))) == 1
    calls: list = []
    warm_model = SequenceModel(weights, _layers(calls), _CONJ, "v1")
    warm = _tag(warm_model, sentences, True)
    assert calls == []  # every word type's row came from the store
    np.testing.assert_array_equal(warm.marginals, cold.marginals)
    assert (warm_model.emissions([len(s) for s in sentences],
                                 {n: encode(v) for n, v in _keys(sentences).items()})
            == SequenceModel(weights, _layers(), _CONJ).emissions(
                [len(s) for s in sentences],
                {n: encode(v) for n, v in _keys(sentences).items()})).all()
    # changed feature code (another fingerprint): another file, rows computed again
    _tag(SequenceModel(weights, _layers(calls), _CONJ, "v2"), sentences, True)
    assert calls and len(list(tmp_path.glob("rows-*.sqlite"))) == 2


def test_a_corrupt_store_is_rebuilt_with_a_warning(toy_model, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("AKHBAR_CACHE_DIR", str(tmp_path))
    sentences = [s.split() for s in _HELD]
    weights = read_crfsuite(toy_model)
    want = _tag(SequenceModel(weights, _layers(), _CONJ), sentences)
    _tag(SequenceModel(weights, _layers(), _CONJ, "x"), sentences, True)
    (path,) = tmp_path.glob("rows-*.sqlite")
    for extra in tmp_path.glob("rows-*.sqlite-*"):
        extra.unlink()
    path.write_bytes(b"not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="tasks.morphology.type_cache"):
        got = _tag(SequenceModel(weights, _layers(), _CONJ, "x"), sentences, True)
    assert "rebuilding" in caplog.text
    assert got.labels.tolist() == want.labels.tolist()
    np.testing.assert_allclose(got.marginals, want.marginals, atol=1e-12)


def test_a_bounded_table_starts_over_and_gives_the_same_scores(toy_model):
    sentences = [s.split() for s in _HELD]
    weights = read_crfsuite(toy_model)
    big = SequenceModel(weights, _layers(), _CONJ)
    small = SequenceModel(weights, _layers(limit=3), _CONJ)
    lengths = [len(s) for s in sentences]
    for _ in range(2):
        for k in range(len(sentences)):  # one sentence at a time: each call starts over
            part = sentences[k : k + 1]
            keys = {n: encode(v) for n, v in _keys(part).items()}
            np.testing.assert_allclose(small.emissions([len(part[0])], keys),
                                       big.emissions([len(part[0])], keys), atol=1e-12)
    assert small.scorer.tables["word"].n <= 1 + max(len(set(s)) for s in sentences)
    keys = {n: encode(v) for n, v in _keys(sentences).items()}
    assert big.emissions(lengths, keys).shape == (sum(lengths), len(weights.labels))


def test_store_entries_round_trip_and_damaged_ones_are_misses(tmp_path):
    from tasks.sequence import RowStore

    store = RowStore(tmp_path, "k", (2, 3), ("w", "pair"))
    block = np.arange(6.0).reshape(2, 3) / 7
    for parts in ({"w": "w=كتاب", "pair": None}, {"w": "a\x1fb", "pair": ""}):
        blob = store.encode((block, parts))
        got_block, got_parts = store.decode(blob)
        assert got_parts == parts and (got_block == block).all()
        assert store.decode(blob[:-1]) is None and store.decode(b"\x00") is None


def test_a_bounded_table_keeps_the_chunks_held_keys(toy_model):
    """Past the bound only the chunk's new keys are computed; the scores stay the same."""
    weights = read_crfsuite(toy_model)
    first, second = [["ال", "كتاب", "جديد"]], [["ال", "كتاب", "كتب", "قرأ"]]
    calls: list = []
    small = SequenceModel(weights, _layers(calls, limit=4), _CONJ)
    big = SequenceModel(weights, _layers(), _CONJ)
    for part in (first, second, first):
        calls.clear()
        keys = {n: encode(v) for n, v in _keys(part).items()}
        np.testing.assert_array_equal(small.emissions([len(part[0])], keys),
                                      big.emissions([len(part[0])], keys))
        if part is second:  # 3 held + 2 new > 4: ال and كتاب stay, جديد goes
            assert sorted(calls) == ["قرأ", "كتب"]
    assert calls == ["جديد"]
    assert set(small.scorer.tables["word"].index) == {"ال", "كتاب", "جديد"}


def test_a_table_grows_no_further_than_its_bound():
    from tasks.sequence.crf import CrfWeights

    weights = CrfWeights(("A", "B"), np.zeros((2, 2)), {"w=1": 0}, np.ones((2, 2)), "x")
    layer = Layer("word", lambda w, aux=None: Row({0: ("w=" + w,)}), (0,), limit=1500)
    model = SequenceModel(weights, (layer,))
    words = [f"{k}" for k in range(1100)]
    model.emissions([len(words)], {"word": encode(words)})
    assert len(model.scorer.tables["word"].blocks) == 1501  # not 2048: doubling stops


def test_encode_gives_first_seen_order_for_strings_and_other_keys():
    codes, uniq = encode(["ب", None, "أ", "ب", None])
    assert codes.tolist() == [0, 1, 2, 0, 1] and uniq == ["ب", None, "أ"]
    codes, uniq = encode(iter([("x", 1), ("y", 2), ("x", 1)]))
    assert codes.tolist() == [0, 1, 0] and uniq == [("x", 1), ("y", 2)]
    for flags in ([True, False, True], [False, False], [False, True], [True, None], [True, 1]):
        index: dict = {}
        want = [index.setdefault(k, len(index)) for k in flags]
        codes, uniq = encode(flags)
        assert codes.tolist() == want and uniq == list(index)
        assert [type(u) for u in uniq] == [type(u) for u in index]
    assert encode([])[0].dtype == np.int64
