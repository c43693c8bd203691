"""Tests for tasks.segment: sentence splitting, tokens with offsets, and the batch tables."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tasks.errors import SchemaError
from tasks.schemas import ARTICLE_COLUMNS, SENTENCES
from tasks.segment import (
    TOKEN_BASE_COLUMNS,
    segment_batch,
    segment_text,
    split_sentences,
    tokenize_with_offsets,
)


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("انتهى الاجتماع. بدأ العمل", ["انتهى الاجتماع.", "بدأ العمل"]),
        ("هل انتهى؟ نعم", ["هل انتهى؟", "نعم"]),
        ("Is it over? Yes", ["Is it over?", "Yes"]),
        ("يا له من يوم! حقا", ["يا له من يوم!", "حقا"]),
        ("وماذا بعد… لا شيء", ["وماذا بعد…", "لا شيء"]),
        # a run of marks ends one sentence, not several
        ("ماذا؟! لا أصدق... حقا؟؟ نعم", ["ماذا؟!", "لا أصدق...", "حقا؟؟", "نعم"]),
    ],
)
def test_split_on_terminal_punctuation(text: str, expected: list[str]) -> None:
    assert _sentences(text) == expected


def test_no_split_inside_numbers() -> None:
    # 2023- 2026 is a year range and 3.5 a decimal: neither ends a sentence
    text = "تمتد الخطة 2023- 2026 وتكلف 3.5 مليار درهم. وبدأ التنفيذ"
    assert _sentences(text) == ["تمتد الخطة 2023- 2026 وتكلف 3.5 مليار درهم.", "وبدأ التنفيذ"]
    assert _sentences("ارتفع المؤشر 1.25 نقطة و0.5 بالمائة") == [
        "ارتفع المؤشر 1.25 نقطة و0.5 بالمائة"
    ]


def test_number_at_sentence_end_still_splits() -> None:
    assert _sentences("بلغ العدد 40. ثم تراجع") == ["بلغ العدد 40.", "ثم تراجع"]


def test_no_split_without_following_space() -> None:
    # example.org or a.b inside a word is not a sentence end
    assert _sentences("زوروا example.org اليوم") == ["زوروا example.org اليوم"]


def test_split_trims_whitespace_and_skips_empty() -> None:
    text = "  أولا.   ثانيا؟  "
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["أولا.", "ثانيا؟"]
    assert split_sentences("   ") == []
    assert split_sentences("") == []


def test_tokenize_offsets_and_punctuation_split() -> None:
    text = 'قال الوزير، "نعم" (2024)'
    toks = tokenize_with_offsets(text, base=7)
    assert [t for t, _, _ in toks] == ["قال", "الوزير", "،", '"', "نعم", '"', "(", "2024", ")"]
    for tok, s, e in toks:
        assert text[s - 7 : e - 7] == tok


def test_tokenize_repeated_words_get_distinct_offsets() -> None:
    text = "نعم نعم نعم"
    assert [(s, e) for _, s, e in tokenize_with_offsets(text)] == [(0, 3), (4, 7), (8, 11)]


def test_segment_text_line_breaks_paragraphs_and_offsets() -> None:
    text = "السطر الأول بلا نقطة\nالسطر الثاني. وجملة أخرى؟\n\nالفقرة الأخيرة 3.5 نقطة"
    sents = segment_text(text)
    assert [text[s:e] for _, s, e, _ in sents] == [
        "السطر الأول بلا نقطة",
        "السطر الثاني.",
        "وجملة أخرى؟",
        "الفقرة الأخيرة 3.5 نقطة",
    ]
    # paragraphs are lines of articles.text; the empty line still counts as one
    assert [p for p, _, _, _ in sents] == [0, 1, 1, 3]
    for _, s, e, toks in sents:
        assert toks, "a sentence has tokens"
        for tok, ts, te in toks:
            assert text[ts:te] == tok
            assert s <= ts < te <= e


def _articles(texts: dict[str, str | None]) -> pa.Table:
    return pa.table(
        {"article_id": list(texts), "text": pa.array(list(texts.values()), pa.string())}
    )


ART_TEXTS = {
    "a1": "أعلنت الوزارة، يوم الخميس، عن برنامج جديد. وقال الوزير إنه سيبدأ قريبا!\n"
    "الفقرة الثانية.",
    "a2": "Mixed نص مع English words? نعم…",
    "a3": "",
    "a4": None,
}


def test_segment_batch_table_shapes_and_types() -> None:
    res = segment_batch(_articles(ART_TEXTS))
    # names and types of the contract (nullability and descriptions are set by write, and
    # so are the article's published_date and source_name: tasks.write.with_article_columns)
    own = [(f.name, f.type) for f in SENTENCES if f.name not in ARTICLE_COLUMNS]
    assert [(f.name, f.type) for f in res.sentences.schema] == own
    assert tuple(res.tokens.column_names) == TOKEN_BASE_COLUMNS
    assert [f.type for f in res.tokens.schema] == [
        pa.string(),
        pa.int32(),
        pa.int32(),
        pa.string(),
        pa.int32(),
        pa.int32(),
    ]
    s = res.sentences.to_pylist()
    assert [(r["article_id"], r["sentence_index"], r["paragraph_index"]) for r in s] == [
        ("a1", 0, 0),
        ("a1", 1, 0),
        ("a1", 2, 1),
        ("a2", 0, 0),
        ("a2", 1, 0),
    ]
    assert sum(r["n_tokens"] for r in s) == res.tokens.num_rows


def test_segment_batch_offsets_and_indexes_are_consistent() -> None:
    res = segment_batch(_articles(ART_TEXTS))
    for r in res.sentences.to_pylist():
        assert ART_TEXTS[r["article_id"]][r["char_start"] : r["char_end"]] == r["text"]
    per_sentence: dict[tuple[str, int], list[int]] = {}
    for r in res.tokens.to_pylist():
        assert ART_TEXTS[r["article_id"]][r["char_start"] : r["char_end"]] == r["text"]
        per_sentence.setdefault((r["article_id"], r["sentence_index"]), []).append(r["token_index"])
    # token_index restarts at 0 in every sentence and has no gaps
    assert all(idx == list(range(len(idx))) for idx in per_sentence.values())
    n_tokens = {
        (r["article_id"], r["sentence_index"]): r["n_tokens"] for r in res.sentences.to_pylist()
    }
    assert {k: len(v) for k, v in per_sentence.items()} == n_tokens


def test_segment_batch_empty_table() -> None:
    res = segment_batch(_articles({}))
    assert res.sentences.num_rows == 0 and res.tokens.num_rows == 0
    assert tuple(res.tokens.column_names) == TOKEN_BASE_COLUMNS


@pytest.mark.parametrize("missing", ["article_id", "text"])
def test_segment_batch_missing_column_names_it(missing: str) -> None:
    table = _articles({"a1": "نص قصير."}).drop_columns([missing])
    with pytest.raises(SchemaError, match=repr(missing)):
        segment_batch(table)
