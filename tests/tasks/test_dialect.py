"""Dialect by rules (``--dialect rules``): one short text per variety, written for these tests."""

from __future__ import annotations

import pytest

from tasks.dialect import (
    DIALECTS,
    camel_did_available,
    identify_dialects,
    model_available,
    resolve_dialect_method,
    score_dialects,
)
from tasks.errors import ConfigError, EnvironmentError_

TEXTS = {
    "EGY": "أنا مش عايز أروح دلوقتي، هو ده الكلام اللي قلته إزاي يعني؟",
    "LEV": "شو بدك تعمل هلق؟ أنا منيح بس بدي روح عالبيت، هيك أحسن.",
    "GLF": "شلونك؟ أبي أروح السوق الحين، الزحمة وايد اليوم.",
    "MGR": "واش بغيتي تمشي معايا دابا؟ الماكلة ديال ماما مزيانة بزاف.",
    "IRQ": "شكو ماكو؟ هسه اكو ناس هواية بالسوق، كلش زحمة.",
}

MSA_NEWS = (
    "أعلنت وزارة الخارجية المغربية اليوم أن الوزير سيزور القاهرة الأسبوع المقبل لبحث "
    "العلاقات الثنائية، وأكد المتحدث باسم الوزارة أن المحادثات ستتناول التعاون الاقتصادي "
    "والتجاري بين البلدين، إضافة إلى القضايا الإقليمية ذات الاهتمام المشترك."
)


@pytest.mark.parametrize("label", sorted(TEXTS))
def test_each_variety_is_recognised(label: str) -> None:
    assert identify_dialects([TEXTS[label]]) == [(label, "rules", None)]


def test_news_prose_stays_msa() -> None:
    assert identify_dialects([MSA_NEWS, ""]) == [("MSA", "rules", None), ("MSA", "rules", None)]


def test_one_quoted_marker_in_long_prose_stays_msa() -> None:
    # a single colloquial word inside a long formal article is not enough evidence
    text = MSA_NEWS + " وقال أحد المواطنين: مش معقول. " + MSA_NEWS
    scores, n = score_dialects(text)
    assert scores["EGY"] > 0 and n > 60
    assert identify_dialects([text], "rules")[0][0] == "MSA"


def test_labels_are_known() -> None:
    labels = {lab for lab, _, _ in identify_dialects(list(TEXTS.values()) + [MSA_NEWS])}
    assert labels <= set(DIALECTS)


def test_unknown_method_names_the_value() -> None:
    with pytest.raises(ConfigError, match="bogus"):
        identify_dialects(["نص"], method="bogus")
    with pytest.raises(ConfigError, match="bogus"):
        resolve_dialect_method("bogus")


def test_auto_resolves_to_an_installed_method() -> None:
    fallback = "camel-did" if camel_did_available() else "rules"
    assert resolve_dialect_method("auto") == ("model" if model_available() else fallback)
    assert resolve_dialect_method("rules") == "rules"


@pytest.mark.skipif(camel_did_available(), reason="camel-tools DialectID model is installed")
def test_camel_did_missing_model_is_a_clear_error() -> None:
    with pytest.raises(EnvironmentError_, match="DialectID"):
        identify_dialects(["شو بدك"], method="camel-did")
