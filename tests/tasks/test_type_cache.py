"""Tests for tasks.morphology.type_cache: the persistent word-type analysis cache."""

from __future__ import annotations

import logging
import os

import pytest

from tasks import morphology
from tasks.morphology.ranker import Morphology
from tasks.morphology.type_cache import TypeCache, cache_key

# Sentences we wrote: known words, a clitic split, an out-of-vocabulary name, digits.
SENTENCES = [
    "قال الوزير إن الحكومة ستعقد اجتماعا في الرياض يوم 12 مارس .".split(),
    "وأكد المتحدث أن المشروع الجديد سيبدأ قريبا في المدينة الصغيرة".split(),
    "زار ماكرونوف لأوباما مدرسة الأطفال والكتب ، وقال إنه سعيد .".split(),
]


@pytest.fixture(scope="module")
def bama_db(tmp_path_factory: pytest.TempPathFactory):
    """A private cache dir with the BAMA DB; the analyzer is built once for the module."""
    cache = tmp_path_factory.mktemp("akhbar-cache")
    old = os.environ.get("AKHBAR_CACHE_DIR")
    os.environ["AKHBAR_CACHE_DIR"] = str(cache)
    morphology.load_morphology.cache_clear()
    loaded = morphology.load_morphology("bama")
    yield loaded
    morphology.load_morphology.cache_clear()
    if old is None:
        os.environ.pop("AKHBAR_CACHE_DIR", None)
    else:
        os.environ["AKHBAR_CACHE_DIR"] = old


class _CountingAnalyzer:
    """The real analyzer, counting the words it is asked to analyze."""

    def __init__(self, analyzer) -> None:
        self._analyzer = analyzer
        self.calls = 0

    def analyze(self, word: str):
        self.calls += 1
        return self._analyzer.analyze(word)


def _fresh(loaded: Morphology, cache: TypeCache | None) -> tuple[Morphology, _CountingAnalyzer]:
    """A new Morphology (empty per-process caches) over the loaded analyzer."""
    counting = _CountingAnalyzer(loaded._analyzer)
    return Morphology(counting, loaded.source, None, 500_000, cache), counting


def test_loaded_morphology_has_a_cache_next_to_the_db(bama_db) -> None:
    assert bama_db.type_cache is not None
    assert bama_db.type_cache.path.parent == morphology.build_bama_db().parent


def test_cold_and_warm_cache_give_identical_columns(bama_db, tmp_path) -> None:
    plain, _ = _fresh(bama_db, None)
    expected = plain.analyze_sentences(SENTENCES)

    cold, cold_calls = _fresh(bama_db, TypeCache(tmp_path, "k"))
    assert cold.analyze_sentences(SENTENCES) == expected
    assert cold_calls.calls > 0
    assert cold.type_cache.misses > 0

    warm, warm_calls = _fresh(bama_db, TypeCache(tmp_path, "k"))
    assert warm.analyze_sentences(SENTENCES) == expected
    assert warm_calls.calls == 0  # every type came from the persistent cache
    assert warm.type_cache.hits == cold.type_cache.misses


def test_persistent_false_bypasses_the_cache(bama_db, tmp_path) -> None:
    cache = TypeCache(tmp_path, "k")
    morph, calls = _fresh(bama_db, cache)
    morph.analyze_sentences(SENTENCES, persistent=False)
    assert calls.calls > 0
    assert cache.hits == cache.misses == 0
    assert not cache.path.exists()


def test_corrupt_cache_file_is_rebuilt_with_a_warning(bama_db, tmp_path, caplog) -> None:
    expected = _fresh(bama_db, None)[0].analyze_sentences(SENTENCES)
    cache = TypeCache(tmp_path, "k")
    cache.path.write_bytes(b"this is not a sqlite database" * 100)
    with caplog.at_level(logging.WARNING, logger="tasks.morphology.type_cache"):
        morph, _ = _fresh(bama_db, cache)
        assert morph.analyze_sentences(SENTENCES) == expected
    assert "rebuilding" in caplog.text
    warm, calls = _fresh(bama_db, TypeCache(tmp_path, "k"))
    assert warm.analyze_sentences(SENTENCES) == expected
    assert calls.calls == 0  # the rebuilt cache works


def test_damaged_entries_are_misses_not_errors(bama_db, tmp_path) -> None:
    expected = _fresh(bama_db, None)[0].analyze_sentences(SENTENCES)
    _fresh(bama_db, TypeCache(tmp_path, "k"))[0].analyze_sentences(SENTENCES)
    cache = TypeCache(tmp_path, "k")
    conn = cache._connect()
    conn.execute("UPDATE types SET entry = X'00ff7b5b' WHERE word = 'الوزير'")
    conn.execute("UPDATE types SET entry = '[1, 2, 3]' WHERE word = 'قال'")
    morph, calls = _fresh(bama_db, cache)
    assert morph.analyze_sentences(SENTENCES) == expected
    assert calls.calls == 2  # only the two damaged types were analyzed again


def test_unwritable_cache_dir_leaves_the_cache_off(bama_db, tmp_path, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    cache = TypeCache(blocker / "sub", "k")
    expected = _fresh(bama_db, None)[0].analyze_sentences(SENTENCES)
    with caplog.at_level(logging.WARNING, logger="tasks.morphology.type_cache"):
        morph, calls = _fresh(bama_db, cache)
        assert morph.analyze_sentences(SENTENCES) == expected
    assert calls.calls > 0
    assert "is off" in caplog.text


def test_key_changes_with_the_db_file(tmp_path) -> None:
    db = tmp_path / "a.db"
    db.write_text("one")
    first = cache_key(db)
    assert cache_key(db) == first
    db.write_text("two, longer")
    assert cache_key(db) != first
    assert cache_key(db, "mle-model") != cache_key(db)


def test_warm_readings_share_their_repeated_strings(bama_db, tmp_path) -> None:
    cold, _ = _fresh(bama_db, TypeCache(tmp_path, "k"))
    expected = cold.analyze_sentences(SENTENCES)
    warm, _ = _fresh(bama_db, TypeCache(tmp_path, "k"))
    assert warm.analyze_sentences(SENTENCES) == expected
    readings = [r for s in SENTENCES for w in s for r in warm.readings(w)]
    for field in (1, 2, 9):  # pos, upos, source: a handful of values, one object each
        values = [r[field] for r in readings if r[field] is not None]
        assert len({id(v) for v in values}) == len(set(values)) < len(values)


def test_an_overflowing_cache_keeps_the_batchs_held_types(bama_db, tmp_path) -> None:
    plain, _ = _fresh(bama_db, None)
    first, both = SENTENCES[:1], SENTENCES[:2]
    new_types = set(SENTENCES[1]) - set(SENTENCES[0])
    counting = _CountingAnalyzer(bama_db._analyzer)
    bounded = Morphology(counting, bama_db.source, None, len(set(SENTENCES[0])),
                         TypeCache(tmp_path, "b"))
    assert bounded.analyze_sentences(first) == plain.analyze_sentences(first)
    calls, hits = counting.calls, bounded.type_cache.hits
    assert bounded.analyze_sentences(both) == plain.analyze_sentences(both)
    # only the new types were looked up (none stored yet) and analysed; the first
    # sentence's types stayed held instead of being read back from the file
    assert bounded.type_cache.hits == hits == 0
    assert counting.calls - calls == len(new_types)
    assert set(bounded._types) == set(SENTENCES[0]) | new_types
