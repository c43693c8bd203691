"""The fast camel-tools Analyzer in tasks.morphology gives exactly the stock analyses."""

from __future__ import annotations

import pytest

from tasks import morphology
from tasks.morphology import analyzer

# Clitics, hamza/teh-marbuta spelling variants, tanween, a sun-letter article, shadda,
# digits, punctuation, Latin, a mixed token and out-of-vocabulary names (backoff).
WORDS = (
    "وبالأطفال الوزير المدرسة مدرسه والشمس اللغة أيضاً شدّد قال إلى الى سيكتبونها "
    "لأوباما الفيسبوك دودو 2030 ٢٠٢٦ ، . ؟ « » Apple COVID-19 ب3 وزارتها مستشفيات "
    "ـالرياضـ كتّاب استقالة"
).split()


@pytest.fixture(scope="module")
def analyzers(tmp_path_factory: pytest.TempPathFactory):
    from tasks.camel_env import ensure_camel_data

    ensure_camel_data()
    from camel_tools.morphology.analyzer import Analyzer
    from camel_tools.morphology.database import MorphologyDB

    path = morphology.build_bama_db(tmp_path_factory.mktemp("bama"))
    db = MorphologyDB(str(path), "a")
    fast = analyzer._fast_analyzer_class()(db, backoff="NOAN_PROP")
    return Analyzer(db, backoff="NOAN_PROP"), fast


def test_fast_analyzer_matches_camel_tools(analyzers) -> None:
    stock, fast = analyzers
    for word in WORDS:
        assert fast.analyze(word) == stock.analyze(word), word
    assert any(a.get("source") == "spvar" for a in fast.analyze("مدرسه"))
    assert any(a.get("source") == "backoff" for a in fast.analyze("دودو"))


def test_merge_features_matches_camel_tools(analyzers) -> None:
    from camel_tools.morphology.utils import merge_features

    stock, _ = analyzers
    db = stock._db
    # merge_features does not check compatibility, so any prefix x stem x suffix will do.
    prefixes = [p for key in ("", "و", "وال", "بال", "س") for _, p in db.prefix_hash.get(key, [])]
    suffixes = [x for key in ("", "ها", "ة", "ات", "ون") for _, x in db.suffix_hash.get(key, [])]
    stems = [s for key in ("كتب", "شدد", "مدرس", "وزار", "NOAN") for _, s in db.stem_hash[key]]
    checked = 0
    for prefix in prefixes[:40]:
        for stem in stems:
            for suffix in suffixes[:40]:
                want = merge_features(db, prefix, stem, suffix)
                assert analyzer._merge_features(db, prefix, stem, suffix) == want
                checked += 1
    assert checked > 1000


def test_charset_search_answers_like_the_regex() -> None:
    import re

    chars = "،.!؟%"
    pattern = re.compile("[" + re.escape(chars) + "]")
    search = analyzer._CharsetSearch(chars)
    for word in ("كتب", "كتب،", "50%", "", "a.b", "؟"):
        assert (search.search(word) is None) == (pattern.search(word) is None), word
