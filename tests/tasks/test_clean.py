"""Tests for tasks.clean: Unicode cleanup, the scraped .txt layout, rejects and stable ids."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import pyarrow as pa
import pytest

from tasks.clean import (
    arabic_ratio,
    article_id_for,
    clean_batch,
    clean_line,
    clean_text,
    content_hash,
    parse_news_txt,
)
from tasks.config import CleanConfig, FetchConfig
from tasks.errors import Reason, SchemaError
from tasks.schemas import ARTICLES, RECORDS, conform
from tests.badinputs import arabic_sentence

CFG = CleanConfig()

MAIN_TITLE = "وزارة الفلاحة تعلن موسما زراعيا جيدا في جهة سوس"
MAIN_P1 = (
    "أعلنت وزارة الفلاحة، يوم الإثنين، أن الموسم الزراعي الحالي سيكون جيدا "
    "بفضل التساقطات المطرية الأخيرة."
)
MAIN_P2 = "وقال مسؤول في الوزارة إن إنتاج الحبوب قد يبلغ 5.5 مليون طن، فهل يكفي ذلك؟"
REL1_TITLE = "افتتاح سوق أسبوعي جديد في مدينة تارودانت"
REL1_BODY = (
    "افتتحت السلطات المحلية سوقا أسبوعيا جديدا في مدينة تارودانت لتخفيف الضغط على الأسواق.\n"
    "وينتظر أن يستقبل السوق مئات التجار من القرى المجاورة كل يوم خميس."
)
REL2_TITLE = "ارتفاع عدد السياح الأجانب في مراكش خلال الربيع"
REL2_BODY = "سجلت مدينة مراكش ارتفاعا ملحوظا في عدد السياح الأجانب خلال فصل الربيع."

# Our own file in the scraped layout: header lines, body, furniture, source, two related.
NEWS_TXT = "\n".join(
    [
        MAIN_TITLE,
        "تاريخ النشر: 28th, May 2024 GMT",
        "أخبار الجنوب ا أكادير",
        MAIN_P1,
        "",
        MAIN_P2,
        "شارك",
        "تابعونا على فيسبوك",
        "https://example.org/news/123",
        "المصدر: أخبار الجنوب",
        "إقرأ أيضاً:",
        REL1_TITLE,
        REL1_BODY,
        REL2_TITLE,
        REL2_BODY,
    ]
)


def _records(rows: list[dict]) -> pa.Table:
    """A ``records`` staging table; missing keys become nulls."""
    cols = {name: [r.get(name) for r in rows] for name in RECORDS.names}
    return conform(
        pa.table({n: pa.array(v, type=RECORDS.field(n).type) for n, v in cols.items()}), RECORDS
    )


def _txt_record(body: str, file_id: str = "f-txt", record_index: int = 0) -> dict:
    return {"file_id": file_id, "record_index": record_index, "layout": "news_txt", "body": body}


def _field_record(body: str, file_id: str = "f-json", record_index: int = 0, **kw) -> dict:
    return {
        "file_id": file_id,
        "record_index": record_index,
        "layout": "fields",
        "body": body,
        **kw,
    }


# --- line and text cleanup ---------------------------------------------------------


def test_clean_line_drops_tatweel_zero_width_and_bidi_controls() -> None:
    # جديـــد -> جديد: tatweel stretches letters for layout, it is not part of the word
    dirty = "\u202bموســم\u200b جديـــد\u200f\u2067 في\u00a0\u00a0المغرب\ufeff\u2069\u202c"
    out = clean_line(dirty)
    assert out == "موسم جديد في المغرب"
    assert not set(out) & set("\u0640\u200b\u200c\u200d\u200e\u200f\u202b\u202c\u2067\u2069\ufeff")


def test_a_lone_tatweel_is_a_dash() -> None:
    # لندن ـ أعلن: between spaces the tatweel is a dash; deleting it would move every
    # offset after it and glue the dateline to the text
    assert clean_line("لندن ـ أعلن الوزير ـ") == "لندن - أعلن الوزير -"
    assert clean_line("ـ جديـــد") == "- جديد"


def test_clean_line_keeps_arabic_punctuation() -> None:
    # arclean alone would map ، to , and ؟ to ?; news text keeps the Arabic forms
    out = clean_line("قال الوزير، هل انتهى العمل؟ نعم؛ «انتهى»")
    assert out == "قال الوزير، هل انتهى العمل؟ نعم؛ «انتهى»"


def test_clean_text_one_newline_per_paragraph_and_no_boilerplate() -> None:
    raw = (
        "الفقرة الأولى هنا.\r\n\r\n\r\nشارك\n  الفقرة   الثانية هنا.  \n\u200b\nwww.example.com/x\n"
    )
    assert clean_text(raw) == "الفقرة الأولى هنا.\nالفقرة الثانية هنا."


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        # a share bar before the text (okaz)
        (" شارك من خلال تويتر فيسبوك جوجل بلس اكتب رأيك أكد الوزير أمس", "أكد الوزير أمس"),
        # a link back to the site, the title repeated after the text (alweeam)
        ("وصلت الطائرة. رابط الخبر بصحيفة الوئام: طيران ناس تكرم طاقم", "وصلت الطائرة."),
        # a columnist's SMS footer, the e-mail glued before it (almadina)
        ("نص المقال.\n\nkatib@yahoo.comللتواصل مع الكاتب ارسل رسالة SMS تبدأ بالرمز (3) "
         "ثم مسافة ثم نص الرسالة إلى 88591 - Stc 635031 - Mobily", "نص المقال."),
        # the same footer over several lines, with the columnist's contacts
        ("نص المقال.\nتويتر: @katib\nkatib@hotmail.com\nتبدأ بالرمز (48) ثم مسافة ثم نص "
         "الرسالة إلى\n88591 - Stc\n635031 - Mobily\n737221 - Zain", "نص المقال."),
        ("نص المقال.\nللتواصل أرسل sms إلى 88548 الاتصالات", "نص المقال."),
        # an agency's end mark and time stamp (was), a teaser's link (aawsat)
        ("نص الخبر.\n // انتهى //\n 20:26 ت م \n", "نص الخبر."),
        ("نص الخبر.\n // يتبع //", "نص الخبر."),
        ("نص الخبر.\n\n ...المزيد", "نص الخبر."),
        # the same words inside a sentence are text
        ("يشارك من خلاله الجميع في البرنامج", "يشارك من خلاله الجميع في البرنامج"),
        ("قال: شارك من خلال تويتر", "قال: شارك من خلال تويتر"),
        ("نشر رابط الخبر على حسابه", "نشر رابط الخبر على حسابه"),
    ],
)
def test_clean_text_drops_site_furniture_inside_a_line(raw: str, kept: str) -> None:
    assert clean_text(raw) == kept


def test_parse_news_txt_drops_the_same_furniture_as_clean_text() -> None:
    # The .txt path read its lines apart from clean_text and kept the SMS footer and the
    # link back (the round trip over a real day caught it).
    body = (
        "أكد الوزير أمس أن العمل مستمر في المشروع.\n"
        "وصلت الطائرة. رابط الخبر بصحيفة الوئام: طيران ناس تكرم طاقم\n"
        "katib@yahoo.com\nللتواصل مع الكاتب ارسل رسالة SMS\n88591 - Stc"
    )
    main = parse_news_txt(f"عنوان الخبر\nتاريخ النشر: 2015-07-26\n{body}\n")[0]
    assert main.body == clean_text(body)
    assert main.body.endswith("وصلت الطائرة.")


def test_arabic_ratio_counts_letters_only() -> None:
    assert arabic_ratio("سلام 2024 !!") == 1.0
    assert arabic_ratio("hello سلام") == pytest.approx(4 / 9)
    assert arabic_ratio("123 ...") == 0.0


# --- the .txt layout ---------------------------------------------------------------


def test_parse_news_txt_header_fields() -> None:
    main = parse_news_txt(NEWS_TXT)[0]
    assert main.title == MAIN_TITLE
    assert main.date_raw == "28th, May 2024 GMT"
    assert main.source_name == "أخبار الجنوب"
    assert main.dateline == "أكادير"
    # the header lines are not part of the body
    assert main.body.split("\n") == [MAIN_P1, MAIN_P2]


def test_parse_news_txt_removes_source_line_and_boilerplate() -> None:
    main = parse_news_txt(NEWS_TXT)[0]
    for gone in ("المصدر", "شارك", "تابعونا", "https://", "example.org", "إقرأ"):
        assert gone not in main.body


def test_parse_news_txt_source_line_used_when_no_site_line() -> None:
    text = (
        "عنوان خبر قصير عن الطقس\nتاريخ النشر: 3rd, June 2024 GMT\n"
        + MAIN_P1
        + "\nالمصدر: وكالة الأنباء"
    )
    [art] = parse_news_txt(text)
    assert art.source_name == "وكالة الأنباء"
    assert art.dateline is None
    assert art.body == MAIN_P1


def test_parse_news_txt_splits_two_related_articles() -> None:
    arts = parse_news_txt(NEWS_TXT)
    assert [a.title for a in arts] == [MAIN_TITLE, REL1_TITLE, REL2_TITLE]
    assert arts[1].body == REL1_BODY
    assert arts[2].body == REL2_BODY
    # related articles carry no header of their own, but are on the file's site (issue 26)
    assert arts[1].date_raw is None and arts[2].date_raw is None
    assert arts[0].source_name and arts[1].source_name == arts[2].source_name == arts[0].source_name


@pytest.mark.parametrize(
    "marker",
    ["اقرأ أيضا", "إقرأ أيضاً :", "أقرأ ايضا:"],
)
def test_read_also_marker_variants(marker: str) -> None:
    text = NEWS_TXT.replace("إقرأ أيضاً:", marker)
    assert [a.title for a in parse_news_txt(text)] == [MAIN_TITLE, REL1_TITLE, REL2_TITLE]


def test_read_also_marker_with_title_on_the_same_line() -> None:
    # إقرأ أيضاً: <title> on one line: the title opens the first related article
    text = NEWS_TXT.replace(f"إقرأ أيضاً:\n{REL1_TITLE}", f"إقرأ أيضاً: {REL1_TITLE}")
    arts = parse_news_txt(text)
    assert [a.title for a in arts] == [MAIN_TITLE, REL1_TITLE, REL2_TITLE]
    assert "إقرأ" not in arts[0].body and REL1_TITLE not in arts[0].body
    assert arts[1].body == REL1_BODY


def test_read_also_words_inside_a_sentence_are_not_a_marker() -> None:
    line = "اقرأ أيضا التقرير الكامل الذي نشرته الوزارة على موقعها."
    text = NEWS_TXT.replace(MAIN_P2, f"{MAIN_P2}\n{line}")
    arts = parse_news_txt(text)
    assert arts[0].body.split("\n") == [MAIN_P1, MAIN_P2, line]
    assert len(arts) == 3


# --- header lines each optional (issue 17) -------------------------------------------

SITE_LINE = "أخبار الجنوب ا أكادير"
DATE_LINE = "تاريخ النشر: 28th, May 2024 GMT"


@pytest.mark.parametrize("blank", ["", "\n", "\n\n  \n"])
def test_header_without_title_still_reads_the_date(blank: str) -> None:
    # An empty title leaves a blank first line: the date line then comes first.
    [art] = parse_news_txt(f"{blank}{DATE_LINE}\n{SITE_LINE}\n{MAIN_P1}\n")
    assert art.title is None
    assert art.date_raw == "28th, May 2024 GMT"
    assert (art.source_name, art.dateline) == ("أخبار الجنوب", "أكادير")
    assert art.body == MAIN_P1


def test_header_leading_blank_lines_before_the_title() -> None:
    [art] = parse_news_txt(f"\n\n{MAIN_TITLE}\n{DATE_LINE}\n{SITE_LINE}\n{MAIN_P1}")
    assert (art.title, art.date_raw, art.dateline) == (MAIN_TITLE, "28th, May 2024 GMT", "أكادير")


def test_header_site_line_above_the_date_line() -> None:
    [art] = parse_news_txt(f"{MAIN_TITLE}\n{SITE_LINE}\n{DATE_LINE}\n{MAIN_P1}\n{MAIN_P2}")
    assert art.title == MAIN_TITLE and art.date_raw == "28th, May 2024 GMT"
    assert (art.source_name, art.dateline) == ("أخبار الجنوب", "أكادير")
    assert art.body.split("\n") == [MAIN_P1, MAIN_P2]


def test_header_without_site_line_keeps_the_first_paragraph() -> None:
    [art] = parse_news_txt(f"{MAIN_TITLE}\n{DATE_LINE}\n{MAIN_P1}\n{MAIN_P2}")
    assert art.source_name is None and art.dateline is None
    assert art.body.split("\n") == [MAIN_P1, MAIN_P2]


def test_header_without_title_and_site_line() -> None:
    [art] = parse_news_txt(f"\nنشر في: ٢٨ مايو ٢٠٢٤\n{MAIN_P1}\nالمصدر: أخبار الجنوب")
    assert art.title is None and art.date_raw == "28 مايو 2024"
    assert art.source_name == "أخبار الجنوب" and art.body == MAIN_P1


def test_headline_opening_with_a_date_word_is_a_title() -> None:
    # التاريخ ("history") and بتاريخ open headlines too: without a digit they are no date line.
    title = "التاريخ يعيد نفسه في المدينة القديمة"
    [art] = parse_news_txt(f"{title}\n{SITE_LINE}\n{MAIN_P1}")
    assert art.title == title and art.date_raw is None
    assert art.source_name == "أخبار الجنوب"
    [dated] = parse_news_txt(f"{title}\nبتاريخ 28/05/2024\n{MAIN_P1}")
    assert dated.title == title and dated.date_raw == "28/05/2024"


def test_byline_of_three_words_is_not_a_dateline() -> None:
    # الرياض alone under the date is a dateline; محمد علي جدة is a byline, body text.
    [art] = parse_news_txt(f"{MAIN_TITLE}\n{DATE_LINE}\nمحمد علي جدة\n{MAIN_P1}")
    assert art.dateline is None and art.body.split("\n") == ["محمد علي جدة", MAIN_P1]
    [art] = parse_news_txt(f"{MAIN_TITLE}\n{DATE_LINE}\nمكة المكرمة\n{MAIN_P1}")
    assert art.dateline == "مكة المكرمة" and art.body == MAIN_P1


def test_related_split_needs_a_sentence_of_body() -> None:
    # After a related title, a short line (byline, subtitle) is no next article, nor is a
    # number, nor a photo caption closing the last one: no text is lost to a split.
    block = [REL1_TITLE, "من مراسلنا", "أرقام المقبولين", "3601100204", REL1_BODY]
    caption = ["صورة من الافتتاح", "الوزير يقص الشريط"]
    text = NEWS_TXT.replace(f"{REL1_TITLE}\n{REL1_BODY}", "\n".join(block)) + "\n"
    arts = parse_news_txt(text + "\n".join(caption))
    assert [a.title for a in arts] == [MAIN_TITLE, REL1_TITLE, REL2_TITLE]
    assert arts[1].body.split("\n") == block[1:4] + REL1_BODY.split("\n")
    assert arts[2].body.split("\n") == [REL2_BODY, *caption]


def test_generated_articles_round_trip_through_every_header_variant(tmp_path) -> None:
    from tests.seed_layout import HEADERS, SeedArticle, check_roundtrip, run_stages, write_corpus

    titles = [
        "{فورمولا 1} تودع بطل الموسم",
        "[فيديو] لحظة افتتاح الجسر الجديد",
        '"عاجل" الحكومة تعلن خطة للطرق',
        "",
        "التاريخ يعيد نفسه في المدينة القديمة",
        "ﻻ تغيير في أسعار الوقود",
    ]
    # Arabic-Indic digits, a lam-alef ligature, Persian yeh, presentation forms, spaces.
    quirks = ["بلغ العدد ١٢٣ مشاركا.", "ﻻ يوجد تغيير.", "کتاب جدید.", "ﺍﻟﻌﺮﺑﻴﺔ   لغة."]
    rng = random.Random(17)
    articles = [
        SeedArticle(
            title=titles[i % len(titles)] or "",
            body="\n".join(
                [" ".join(arabic_sentence(rng) for _ in range(2)), quirks[i % len(quirks)]]
                + [arabic_sentence(rng) for _ in range(i % 3)]
            ),
            published=date(2024, 1 + i % 12, 1 + i % 28),
            site=["أخبار الجنوب", "الصباح", "وكالة الأنباء"][i % 3],
            dateline=["أكادير", "مكة المكرمة", "تونس"][i % 3],
        )
        for i in range(3 * len(HEADERS))
    ]
    written = write_corpus(articles, tmp_path, read_also_every=5)
    assert {w.header for w in written} == set(HEADERS)
    report = check_roundtrip(written, *run_stages(tmp_path))
    assert report.mismatches == [] and report.null_dates == []
    assert report.status == Counter({"ok": len(articles)})
    assert report.articles == len(articles) + sum(len(w.related) for w in written) == 42
    dated = [w for w in written if w.header.date_style]
    assert len(dated) == len(articles) - 3  # one variant has no date line


def test_parse_news_txt_empty_and_boilerplate_only() -> None:
    assert parse_news_txt("") == []
    assert parse_news_txt("\n\u200b\nشارك\nتابعونا على تويتر\n") == []


def test_clean_batch_txt_parts_parent_and_date() -> None:
    res = clean_batch(_records([_txt_record(NEWS_TXT)]), CFG)
    rows = res.articles.to_pylist()
    assert [r["part"] for r in rows] == [1, 2, 3]
    main_id = rows[0]["article_id"]
    assert rows[0]["parent_article_id"] is None
    assert [r["parent_article_id"] for r in rows[1:]] == [main_id, main_id]
    assert rows[0]["published_date"] == date(2024, 5, 28)
    assert rows[0]["published_raw"] == "28th, May 2024 GMT"
    assert (rows[0]["source_name"], rows[0]["dateline"]) == ("أخبار الجنوب", "أكادير")
    assert rows[0]["text"] == f"{MAIN_P1}\n{MAIN_P2}"
    assert rows[0]["n_paragraphs"] == 2 and rows[1]["n_paragraphs"] == 2
    assert len({r["article_id"] for r in rows}) == 3
    assert all(r["file_id"] == "f-txt" for r in rows)
    assert res.rejected == {}


def test_clean_batch_output_schema_matches_articles_contract() -> None:
    res = clean_batch(_records([_txt_record(NEWS_TXT)]), CFG)
    for name in res.articles.column_names:
        assert res.articles.schema.field(name).type == ARTICLES.field(name).type
    assert set(res.articles.column_names) == set(ARTICLES.names) - {"run_id"}


# --- rejects -----------------------------------------------------------------------


def test_each_reject_reason_counted_per_file() -> None:
    english = "The ministry announced a new program for water desalination in the south today."
    recs = _records(
        [
            _field_record(MAIN_P1, "f-a", 0, title="عنوان"),
            _field_record("قصير جدا", "f-a", 1),  # under min_chars
            _field_record("شارك\nhttps://example.org/x\n", "f-a", 2),  # only boilerplate
            _field_record(english, "f-a", 3),
            _field_record(english, "f-b", 0),
            _field_record(english + " " + english, "f-b", 1),
        ]
    )
    res = clean_batch(recs, CFG)
    assert res.articles.column("record_index").to_pylist() == [0]
    assert res.rejected == {
        "f-a": Counter({Reason.EMPTY_AFTER_CLEAN.value: 2, Reason.NOT_ARABIC.value: 1}),
        "f-b": Counter({Reason.NOT_ARABIC.value: 2}),
    }
    assert Reason.EMPTY_AFTER_CLEAN.value == "empty_after_clean"
    assert Reason.NOT_ARABIC.value == "not_arabic"


def test_reject_thresholds_follow_config() -> None:
    mixed = "وزارة الفلاحة announced a new agricultural program for the coming season"
    recs = _records([_field_record(mixed)])
    assert clean_batch(recs, CFG).articles.num_rows == 0
    assert clean_batch(recs, CleanConfig(min_arabic_ratio=0.1)).articles.num_rows == 1
    short = _records([_field_record("خبر قصير")])
    assert clean_batch(short, CleanConfig(min_chars=5)).articles.num_rows == 1


def test_a_short_genuine_sentence_is_kept_and_a_lone_dateline_is_not() -> None:
    recs = _records([_field_record("من سيحضر غدا؟", "f-a", 0), _field_record("الرباط", "f-a", 1)])
    res = clean_batch(recs, CleanConfig())
    assert res.articles.column("record_index").to_pylist() == [0]
    assert res.rejected == {"f-a": Counter({Reason.EMPTY_AFTER_CLEAN.value: 1})}


def test_rejected_related_part_keeps_numbering_and_parent() -> None:
    # the first related article is not Arabic (a body shorter than a sentence would be
    # read as a subtitle of the next article, see test_related_split_needs_a_sentence)
    english = (
        "The ministry opened a new weekly market in the city to ease the pressure on the old ones."
    )
    text = NEWS_TXT.replace(REL1_BODY, english)
    res = clean_batch(_records([_txt_record(text)]), CFG)
    rows = res.articles.to_pylist()
    assert [r["part"] for r in rows] == [1, 3]
    assert rows[1]["parent_article_id"] == rows[0]["article_id"]
    assert res.rejected == {"f-txt": Counter({"not_arabic": 1})}


# --- stable ids --------------------------------------------------------------------


def test_article_ids_are_stable_across_runs() -> None:
    recs = _records([_txt_record(NEWS_TXT), _field_record(MAIN_P2, title="عنوان")])
    first = clean_batch(recs, CFG).articles.column("article_id").to_pylist()
    second = clean_batch(recs, CFG).articles.column("article_id").to_pylist()
    assert first == second
    assert len(set(first)) == 4


def test_changed_text_changes_only_that_article_id() -> None:
    before = clean_batch(_records([_txt_record(NEWS_TXT)]), CFG).articles.to_pylist()
    edited = NEWS_TXT.replace("يوم الإثنين", "يوم الثلاثاء")
    after = clean_batch(_records([_txt_record(edited)]), CFG).articles.to_pylist()
    assert after[0]["article_id"] != before[0]["article_id"]
    assert after[0]["content_sha256"] != before[0]["content_sha256"]
    # the related articles did not change, so neither did their ids; their parent did
    assert [a["article_id"] for a in after[1:]] == [b["article_id"] for b in before[1:]]
    assert after[1]["parent_article_id"] == after[0]["article_id"]


def test_same_text_in_another_file_gets_another_id() -> None:
    a = clean_batch(_records([_field_record(MAIN_P1, "f-1")]), CFG).articles
    b = clean_batch(_records([_field_record(MAIN_P1, "f-2")]), CFG).articles
    assert a.column("article_id")[0] != b.column("article_id")[0]
    assert a.column("content_sha256")[0] == b.column("content_sha256")[0]


def test_content_hash_ignores_diacritics_letter_variants_and_spacing() -> None:
    # أحمد/احمد, مدرسة/مدرسه and كَتَبَ/كتب are the same text for duplicate detection
    assert content_hash("كَتَبَ أحمد في المدرسة") == content_hash("كتب  احمد في\nالمدرسه")
    assert content_hash("كتب أحمد") != content_hash("كتب محمد")
    assert len(content_hash("نص")) == 64


def test_article_id_for_depends_on_every_part_of_the_key() -> None:
    base = article_id_for("f", 0, 1, "abc")
    assert base == article_id_for("f", 0, 1, "abc")
    assert len(base) == 20
    others = {
        article_id_for("g", 0, 1, "abc"),
        article_id_for("f", 1, 1, "abc"),
        article_id_for("f", 0, 2, "abc"),
        article_id_for("f", 0, 1, "abd"),
    }
    assert base not in others and len(others) == 4


# --- 'fields' records (JSON / JSONL dumps) ---------------------------------------------


def test_clean_batch_fields_layout() -> None:
    body = (
        "الفقرة الأولى من الخبر عن افتتاح المعرض.\n\n\nشارك\nالفقرة الثانية من الخبر،  مع تفاصيل."
    )
    rec = _field_record(
        body,
        "f-json",
        4,
        title="افتتاح  معرض الكتـــاب",
        date_raw="2024-05-28",
        source=" وكالة\u200f الأنباء ",
        url="https://example.org/a/1",
        author="سعيد   العلمي",
    )
    row = clean_batch(_records([rec, _field_record(body, "f-json", 5, url="")]), CFG)
    first, second = row.articles.to_pylist()
    assert first["title"] == "افتتاح معرض الكتاب"
    assert (
        first["text"]
        == "الفقرة الأولى من الخبر عن افتتاح المعرض.\nالفقرة الثانية من الخبر، مع تفاصيل."
    )
    assert first["n_paragraphs"] == 2
    assert first["published_date"] == date(2024, 5, 28)
    assert first["source_name"] == "وكالة الأنباء"
    assert first["url"] == "https://example.org/a/1"
    assert first["author"] == "سعيد العلمي"
    assert (first["part"], first["parent_article_id"], first["record_index"]) == (1, None, 4)
    # empty strings become nulls, not ''
    assert second["url"] is None and second["title"] is None and second["author"] is None


def test_fields_layout_relative_date_uses_reference_time() -> None:
    # منذ يومين = "two days ago": only the scrape time makes it a date
    rec = _field_record(MAIN_P1, date_raw="منذ يومين", reference_time="2024-05-30T10:00:00Z")
    no_ref = _field_record(MAIN_P1, record_index=1, date_raw="منذ يومين")
    rows = clean_batch(_records([rec, no_ref]), CFG).articles.to_pylist()
    assert rows[0]["published_date"] == date(2024, 5, 28)
    assert rows[0]["published_raw"] == "منذ يومين"
    assert rows[1]["published_date"] is None


def test_clean_batch_missing_column_raises_schema_error_naming_it() -> None:
    recs = _records([_field_record(MAIN_P1)]).drop_columns(["layout"])
    with pytest.raises(SchemaError, match="layout"):
        clean_batch(recs, CFG)


def test_clean_batch_empty_input() -> None:
    res = clean_batch(_records([]), CFG)
    assert res.articles.num_rows == 0 and res.rejected == {}


# --- the real-world layout example (../shared) ---------------------------------------------


@pytest.mark.shared
def test_shared_sample_parses_via_fetch_and_clean(shared_dir) -> None:
    from tasks.fetch import discover_sources, fetch_batch

    path = shared_dir / "samples" / "000_9f074caf6de4dc24.txt"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    fetched = fetch_batch(discover_sources([str(path)], FetchConfig()), FetchConfig())
    assert fetched.files.column("status").to_pylist() == ["ok"]
    res = clean_batch(fetched.records, CFG)
    rows = res.articles.to_pylist()
    assert len(rows) == 2
    main, related = rows
    assert main["title"].startswith("وزارة التشغيل")
    assert main["published_date"] == date(2024, 5, 28)
    assert main["source_name"] == "زنقة 20"
    assert main["dateline"] == "الرباط"
    assert "المصدر" not in main["text"] and "إقرأ" not in main["text"]
    assert "2023- 2026" in main["text"]
    assert related["part"] == 2 and related["parent_article_id"] == main["article_id"]
    assert related["title"].startswith("البعثة الأممية")
