"""Rule-based NER on short sentences written for these tests."""

from __future__ import annotations

import pytest
from camel_tools.tokenizers.word import simple_word_tokenize

from tasks.entities import (
    EntitySpan,
    camelbert_available,
    gazetteer_sizes,
    recognize_entities,
    resolve_ner_method,
)
from tasks.errors import ConfigError, EnvironmentError_


def _spans(text: str, morph: dict | None = None) -> tuple[list[str], list[EntitySpan]]:
    toks = simple_word_tokenize(text)
    return toks, recognize_entities([toks], morph)


def _found(text: str) -> set[tuple[str, str]]:
    """(surface text after skipped clitics, label) for each entity in ``text``."""
    toks, spans = _spans(text)
    out = set()
    for sp in spans:
        words = toks[sp.token_start : sp.token_end]
        words[0] = words[0][sp.skip_chars :]
        out.add((" ".join(words), sp.label))
    return out


def test_person_after_title() -> None:
    assert ("محمد البرادعي", "PER") in _found("استقبل الرئيس محمد البرادعي الوفد أمس .")


def test_person_after_title_and_nationality() -> None:
    assert ("جاك شيراك", "PER") in _found("وقال الرئيس الفرنسي جاك شيراك إن المحادثات مفيدة .")


def test_place_with_clitic_skips_the_preposition() -> None:
    toks, spans = _spans("وصل الوفد بالرباط قادما من القاهرة .")
    sp = next(s for s in spans if toks[s.token_start] == "بالرباط")
    assert (sp.label, sp.skip_chars) == ("LOC", 1)
    assert toks[sp.token_start][sp.skip_chars :] == "الرباط"


def test_lam_clitic_on_a_country() -> None:
    toks, spans = _spans("قدمت الحكومة مساعدات لليبيا وتونس .")
    found = {(toks[s.token_start][s.skip_chars :], s.label, s.skip_chars) for s in spans}
    assert ("ليبيا", "LOC", 1) in found
    assert ("تونس", "LOC", 1) in found  # و + تونس


def test_char_offsets_survive_diacritics() -> None:
    toks, spans = _spans("سافر إلى بِالرِّبَاطِ أمس .")
    sp = next(s for s in spans if s.label == "LOC")
    assert toks[sp.token_start][sp.skip_chars :].startswith("ال")


def test_org_from_head_and_genitive() -> None:
    assert ("وزارة الخارجية المغربية", "ORG") in _found(
        "أعلنت وزارة الخارجية المغربية أن الاجتماع تأجل ."
    )


def test_org_from_gazetteer_with_conjunction() -> None:
    # اليونيسيف with و attached: the span starts after و and keeps the article
    assert ("اليونيسيف", "ORG") in _found("دعت منظمة الصحة العالمية واليونيسيف إلى التلقيح .")
    assert ("منظمة الصحة العالمية", "ORG") in _found("دعت منظمة الصحة العالمية إلى التلقيح .")
    # وليونيسيف is و + ل + يونيسيف (no article): both clitics are skipped
    assert ("يونيسيف", "ORG") in _found("قدمت الحكومة دعما وليونيسيف .")


def test_one_word_org_with_lam_article() -> None:
    toks, spans = _spans("قدم تقريرا للأمم المتحدة .")
    sp = next(s for s in spans if s.label == "ORG")
    assert sp.token_end - sp.token_start == 2 and sp.skip_chars == 1


def test_company_keeps_only_the_brand() -> None:
    assert ("نوكيا", "ORG") in _found("أعلنت شركة « نوكيا » عن هاتف جديد .")


def test_place_cue_labels_an_unknown_town() -> None:
    morph = {"pos": ["noun", "noun_prop", "verb", "punc"], "is_oov": [False, True, False, False]}
    toks, spans = _spans("مدينة زرهون تحتفل .", morph)
    assert [(toks[s.token_start], s.label) for s in spans] == [("زرهون", "LOC")]


def test_morphology_extends_a_name() -> None:
    text = "قال رئيس الاتحاد برند جوتشولك إن السوق تراجعت"
    morph = {
        "pos": ["verb", "noun", "noun", "noun_prop", "noun_prop", "conj_sub", "noun", "verb"],
        "is_oov": [False, False, False, True, True, False, False, False],
        "bw": [None] * 8,
        "gloss": [None] * 8,
    }
    toks, spans = _spans(text, morph)
    assert [(" ".join(toks[s.token_start : s.token_end]), s.label) for s in spans] == [
        ("برند جوتشولك", "PER")
    ]


def test_plain_sentence_has_no_entity() -> None:
    assert _found("ارتفعت الأسعار في الأسواق هذا الأسبوع بسبب الطلب الكبير .") == set()


def test_ala_is_not_the_name_ali() -> None:
    # على 'on' folds onto علي 'Ali' after normalization; it must not become a person
    assert _found("وافق المجلس على المشروع وعلى الميزانية .") == set()


def test_spans_index_their_sentence() -> None:
    sents = [simple_word_tokenize("جاء الطقس معتدلا ."), simple_word_tokenize("زار بغداد .")]
    spans = recognize_entities(sents)
    assert [(s.sentence, s.token_start, s.label) for s in spans] == [(1, 1, "LOC")]


def test_gazetteers_are_generous() -> None:
    sizes = gazetteer_sizes()
    assert sizes["LOC"] > 700 and sizes["ORG"] > 400 and sizes["first_names"] > 400


def test_unknown_method_names_the_value() -> None:
    with pytest.raises(ConfigError, match="bogus"):
        recognize_entities([["نص"]], method="bogus")
    with pytest.raises(ConfigError, match="bogus"):
        resolve_ner_method("bogus")


def test_auto_resolves_to_an_installed_method() -> None:
    from tasks.model_dirs import shipped_model_available

    fallback = "camelbert" if camelbert_available() else "rules"
    assert resolve_ner_method("auto") == ("model" if shipped_model_available() else fallback)


@pytest.mark.skipif(camelbert_available(), reason="camel-tools NER model is installed")
def test_camelbert_missing_model_is_a_clear_error() -> None:
    with pytest.raises(EnvironmentError_, match="NamedEntityRecognition"):
        recognize_entities([["زار", "بغداد"]], method="camelbert")


@pytest.mark.shared
def test_anercorp_floor_without_morphology(shared_dir) -> None:
    # regression guard for the offline rules; the full figures come from bench/ner_eval.py
    import sys

    from tests.conftest import REPO_ROOT

    sys.path.insert(0, str(REPO_ROOT / "bench"))
    import ner_eval

    data = ner_eval.read_bio(shared_dir / "eval" / "anercorp-camellab-train.txt", 300)
    tp = n_pred = n_gold = 0
    for ws, tags in data:
        toks, src = ner_eval.tokenize(ws)
        pred = {
            (src[s.token_start], src[s.token_end - 1] + 1, s.label)
            for s in recognize_entities([toks])
        }
        gold = ner_eval.gold_spans(tags)
        tp += len(pred & gold)
        n_pred += len(pred)
        n_gold += len(gold)
    f1 = 2 * tp / (n_pred + n_gold)
    assert f1 > 0.65, f"F1 {f1:.3f} on the first 300 ANERcorp sentences"


def test_camelbert_labels_become_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    # a stand-in for NERecognizer: the BIO -> span conversion and clitic skip are ours
    import tasks.entities.camelbert as ent

    class _Fake:
        def predict(self, sentences: list[list[str]]) -> list[list[str]]:
            return [["O", "B-PERS", "I-PERS", "O", "B-LOC", "I-ORG"] for _ in sentences]

    monkeypatch.setattr(ent, "_camelbert", lambda: _Fake())
    toks = ["قال", "بشار", "الأسد", "في", "بالرباط", "اليوم"]
    spans = recognize_entities([toks], method="camelbert")
    assert [(s.token_start, s.token_end, s.label, s.skip_chars, s.method) for s in spans] == [
        (1, 3, "PER", 0, "camelbert"),
        (4, 5, "LOC", 1, "camelbert"),
        (5, 6, "ORG", 0, "camelbert"),
    ]


def test_recalled_names_stay_inside_their_document() -> None:
    # "محفوظ" alone is a person only where the full name was seen in the same article
    full = simple_word_tokenize("وقال الكاتب نجيب محفوظ إن الرواية تعيش طويلا .")
    alone = simple_word_tokenize("وأضاف محفوظ أن القراء يتغيرون .")
    same = recognize_entities([full, alone], documents=["a", "a"])
    other = recognize_entities([full, alone], documents=["a", "b"])
    assert any(sp.sentence == 1 and sp.label == "PER" for sp in same)
    assert not any(sp.sentence == 1 for sp in other)
