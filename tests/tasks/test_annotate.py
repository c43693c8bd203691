"""Tests for tasks.annotate: per-type string columns, morphology, entities, the table contract."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tasks.annotate import MORPH_COLUMNS, annotate_batch, normalize_types
from tasks.config import AnnotateConfig
from tasks.errors import SchemaError
from tasks.schemas import ENTITIES, TOKENS
from tasks.segment import segment_batch

NONE = AnnotateConfig(morphology="none", ner="none", dialect="none")

TEXTS = {
    "a1": "أعلنت وزارة الصحة، يوم الخميس، عن حملة جديدة.\nوقال الوزير إن الحملة تبدأ في 2025!",
    "a2": "وصل الوفد بالرباط ثم زار مدينة القاهرة. وقال محمد بن سلمان إن المشروع مهم.",
}


def _batch(texts: dict[str, str]) -> tuple[pa.Table, pa.Table]:
    articles = pa.table({"article_id": list(texts), "text": list(texts.values())})
    return articles, segment_batch(articles).tokens


# --- normalize_types -----------------------------------------------------------------


def test_norm_alef_yaa_teh_marbuta() -> None:
    # أحمد/إلى/آمال/مدرسة -> احمد/الي/امال/مدرسه: the forms people search by
    out = normalize_types(["أحمد", "إلى", "آمال", "مدرسة", "ٱلكتاب"])
    assert out["norm"] == ["احمد", "الي", "امال", "مدرسه", "الكتاب"]
    # dediac keeps the letters as written
    assert out["dediac"] == ["أحمد", "إلى", "آمال", "مدرسة", "ٱلكتاب"]


def test_dediac_and_norm_drop_diacritics() -> None:
    out = normalize_types(["كَتَبَ", "مُدَرِّسَةٌ"])
    assert out["dediac"] == ["كتب", "مدرسة"]
    assert out["norm"] == ["كتب", "مدرسه"]


def test_translit_is_buckwalter() -> None:
    out = normalize_types(["كتب", "مدرسة", "أحمد", "إلى", "كَتَبَ"])
    # ة -> p, أ -> >, إ -> <, ى -> Y; diacritics are kept as a/u/i
    assert out["translit"] == ["ktb", "mdrsp", ">Hmd", "<lY", "kataba"]


def test_is_arabic_and_non_arabic_passthrough() -> None:
    # one Arabic letter makes a token Arabic (e-مال); digits and punctuation do not (٢٠٢٤، ،)
    words = ["سلام", "abc", "2024", "٢٠٢٤", "،", "e-مال"]
    out = normalize_types(words)
    assert out["is_arabic"] == [True, False, False, False, False, True]
    # non-Arabic tokens keep their surface form in every string column
    for i in (1, 2, 3, 4):
        assert out["norm"][i] == out["dediac"][i] == out["translit"][i] == words[i]


# --- annotate_batch without annotators ------------------------------------------------


def test_annotate_none_gives_null_morphology_and_norm_columns() -> None:
    articles, tokens = _batch(TEXTS)
    res = annotate_batch(articles, tokens, NONE)
    assert res.tokens.schema.equals(TOKENS)
    assert res.tokens.num_rows == tokens.num_rows
    for name in (*MORPH_COLUMNS, "morph_source"):
        assert res.tokens.column(name).null_count == tokens.num_rows, name
    rows = res.tokens.to_pylist()
    by_text = {r["text"]: r for r in rows}
    assert by_text["وزارة"]["norm"] == "وزاره"
    assert by_text["وزارة"]["translit"] == "wzArp"
    assert by_text["أعلنت"]["norm"] == "اعلنت"
    assert by_text["2025"]["is_arabic"] is False
    assert by_text["،"]["is_arabic"] is False
    # the base columns pass through unchanged
    for name in ("article_id", "sentence_index", "token_index", "text", "char_start", "char_end"):
        assert res.tokens.column(name).to_pylist() == tokens.column(name).to_pylist()
    assert (res.morph_source, res.ner_method, res.dialect_method) == (None, None, None)
    assert res.entities.num_rows == 0 and res.entities.schema.equals(ENTITIES)


def test_annotate_sets_article_token_counts() -> None:
    articles, tokens = _batch({**TEXTS, "empty": ""})
    res = annotate_batch(articles, tokens, NONE)
    counts = dict(
        zip(
            res.articles.column("article_id").to_pylist(),
            res.articles.column("n_tokens").to_pylist(),
            strict=True,
        )
    )
    per_article = {a: tokens.column("article_id").to_pylist().count(a) for a in TEXTS}
    assert counts == {**per_article, "empty": 0}
    assert counts["a1"] > 10


def test_annotate_empty_batch() -> None:
    articles, tokens = _batch({})
    res = annotate_batch(articles, tokens, AnnotateConfig(morphology="bama", ner="rules"))
    assert res.tokens.num_rows == 0 and res.tokens.schema.equals(TOKENS)
    assert res.entities.num_rows == 0


@pytest.mark.parametrize("missing", ["token_index", "char_start"])
def test_annotate_missing_column_names_it(missing: str) -> None:
    articles, tokens = _batch(TEXTS)
    with pytest.raises(SchemaError, match=repr(missing)):
        annotate_batch(articles, tokens.drop_columns([missing]), NONE)


# --- morphology and entities (BAMA DB built on first use, then cached) ----------------------


@pytest.fixture(scope="module")
def annotated() -> tuple[pa.Table, object]:
    articles, tokens = _batch(TEXTS)
    return articles, annotate_batch(
        articles, tokens, AnnotateConfig(morphology="bama", ner="rules", dialect="none")
    )


def test_bama_lemmas_for_known_words(annotated) -> None:
    _, res = annotated
    assert res.morph_source == "bama"
    rows = {r["text"]: r for r in res.tokens.to_pylist()}
    # وزارة -> lemma وِزارَة, a noun; in وزارة الصحة it heads an organisation's name, which
    # UD Arabic-PUD tags PROPN word by word (issue 23): BAMA has no proper-noun reading of
    # it, so pos stays the noun's
    assert rows["وزارة"]["lemma"] == "وِزارَة"
    assert rows["وزارة"]["pos"] == "noun" and rows["وزارة"]["upos"] in {"NOUN", "PROPN"}
    assert rows["وزارة"]["is_oov"] is False and rows["وزارة"]["analysis_count"] >= 1
    assert rows["أعلنت"]["upos"] == "VERB"
    assert rows["الوزير"]["lemma"] == "وَزِير"
    assert rows["."]["upos"] == "PUNCT"
    assert set(res.tokens.column("morph_source").to_pylist()) == {"bama"}
    arabic = [r for r in res.tokens.to_pylist() if r["is_arabic"]]
    assert all(r["lemma"] for r in arabic)


def test_entity_offsets_point_into_article_text(annotated) -> None:
    articles, res = annotated
    texts = dict(zip(articles["article_id"].to_pylist(), articles["text"].to_pylist(), strict=True))
    tokens = res.tokens.to_pylist()
    span = {(t["article_id"], t["sentence_index"], t["token_index"]): t for t in tokens}
    ents = res.entities.to_pylist()
    assert ents, "the rule recognizer finds the places and the person"
    assert res.entities.schema.equals(ENTITIES)
    for e in ents:
        assert texts[e["article_id"]][e["char_start"] : e["char_end"]] == e["text"]
        first = span[(e["article_id"], e["sentence_index"], e["token_start"])]
        last = span[(e["article_id"], e["sentence_index"], e["token_end"] - 1)]
        # inside its tokens: only an attached clitic (بـ in بالرباط) may be left out
        assert first["char_start"] <= e["char_start"] < e["char_end"] <= last["char_end"]
        assert e["text"] == e["text"].strip()
        assert e["label"] in {"PER", "LOC", "ORG", "MISC"} and e["method"] == "rules"
    found = {(e["text"], e["label"]) for e in ents}
    assert ("الرباط", "LOC") in found  # from بالرباط, clitic skipped
    assert ("محمد بن سلمان", "PER") in found


@pytest.mark.parametrize(("ner", "morphology"), [("rules", "none"), ("model", "bama")])
def test_entity_text_never_cuts_inside_a_proclitic_and_name_restores_it(ner, morphology) -> None:
    # Issue 26: للبنك الدولي gave the entity لبنك الدولي (ل of ل+ال skipped, the alef
    # absent). The text is the exact slice at its offsets; the proclitic is kept whole
    # and the name column reads البنك الدولي.
    text = (
        "قدم وزير المالية طلبا للبنك الدولي في واشنطن. وأعلن رئيس الوزراء للعراق أن "
        "الحكومة ستدعم للأمم المتحدة. ووصل الوفد بالرباط."
    )
    articles, tokens = _batch({"a1": text})
    config = AnnotateConfig(morphology=morphology, ner=ner, dialect="none")
    ents = annotate_batch(articles, tokens, config).entities.to_pylist()
    names = {e["text"]: e["name"] for e in ents}
    for e in ents:
        assert text[e["char_start"] : e["char_end"]] == e["text"]
        assert not e["text"].startswith(("لبنك", "لعراق", "لأمم")), e["text"]
    assert names.get("للبنك الدولي") == "البنك الدولي", names
    assert names.get("للأمم المتحدة") == "الأمم المتحدة", names
    assert names.get("الرباط") == "الرباط", names  # ب stripped whole, as before
