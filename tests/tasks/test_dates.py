"""Tests for tasks.dates.parse_date."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tasks.dates import ParsedDate, parse_date

MAY28 = date(2024, 5, 28)


@pytest.mark.parametrize(
    "raw",
    [
        "2024-05-28",
        "2024-05-28T23:10:00+03:00",
        "2024/05/28",
        "Tue, 28 May 2024 10:00:00 GMT",
        "28th, May 2024 GMT",
        "تاريخ النشر: 28th, May 2024 GMT",
        "May 28th, 2024",
        "28 mai 2024",
        "mardi 28 mai 2024",
        "28/05/2024",
        "28-05-2024 14:30",
        "05/28/2024",
        "الثلاثاء 28 ماي 2024",
        "28 مايو 2024",
        "٢٨ مايو ٢٠٢٤",
        "۲۸ مايو ۲۰۲۴",
        "28 أيار 2024",
        "28 أيار (مايو) 2024",
        "28 أيار/مايو 2024",
        "28 مايـو 2024",
        "نشر في 28 من مايو 2024",
    ],
)
def test_gregorian_forms(raw):
    assert parse_date(raw) == ParsedDate(MAY28, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3 يناير 2024", date(2024, 1, 3)),
        ("3 فبراير 2024", date(2024, 2, 3)),
        ("3 مارس 2024", date(2024, 3, 3)),
        ("3 أبريل 2024", date(2024, 4, 3)),
        ("3 إبريل 2024", date(2024, 4, 3)),
        ("3 يونيو 2024", date(2024, 6, 3)),
        ("3 يونيه 2024", date(2024, 6, 3)),
        ("3 يوليوز 2024", date(2024, 7, 3)),
        ("3 يوليو 2024", date(2024, 7, 3)),
        ("3 غشت 2024", date(2024, 8, 3)),
        ("3 أغسطس 2024", date(2024, 8, 3)),
        ("3 شتنبر 2024", date(2024, 9, 3)),
        ("3 سبتمبر 2024", date(2024, 9, 3)),
        ("3 أكتوبر 2024", date(2024, 10, 3)),
        ("3 نونبر 2024", date(2024, 11, 3)),
        ("3 نوفمبر 2024", date(2024, 11, 3)),
        ("3 دجنبر 2024", date(2024, 12, 3)),
        ("3 ديسمبر 2024", date(2024, 12, 3)),
        ("3 كانون الثاني 2024", date(2024, 1, 3)),
        ("3 شباط 2024", date(2024, 2, 3)),
        ("3 آذار 2024", date(2024, 3, 3)),
        ("3 نيسان 2024", date(2024, 4, 3)),
        ("3 حزيران 2024", date(2024, 6, 3)),
        ("3 تموز 2024", date(2024, 7, 3)),
        ("3 آب 2024", date(2024, 8, 3)),
        ("3 أيلول 2024", date(2024, 9, 3)),
        ("3 تشرين الأول 2024", date(2024, 10, 3)),
        ("3 تشرين الثاني 2024", date(2024, 11, 3)),
        ("3 كانون الأول 2024", date(2024, 12, 3)),
        ("1er août 2023", date(2023, 8, 1)),
        ("15 décembre 2021", date(2021, 12, 15)),
        ("1716890000", date(2024, 5, 28)),
    ],
)
def test_month_names_of_both_traditions(raw, expected):
    assert parse_date(raw).date == expected


def test_hijri_kept_as_text_and_never_converted():
    assert parse_date("20 ذو القعدة 1445 هـ") == ParsedDate(None, "20 ذو القعدة 1445 هـ")
    assert parse_date("1445/11/20 هـ") == ParsedDate(None, "1445/11/20 هـ")
    both = parse_date("الثلاثاء 20 ذو القعدة 1445 هـ الموافق 28 مايو 2024 م")
    assert both == ParsedDate(MAY28, "20 ذو القعدة 1445 هـ")
    assert parse_date("٥ رمضان ١٤٤٥").hijri == "٥ رمضان ١٤٤٥"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("منذ ساعتين", date(2024, 5, 28)),
        ("منذ 14 ساعة", date(2024, 5, 27)),
        ("قبل 3 أيام", date(2024, 5, 25)),
        ("منذ يومين", date(2024, 5, 26)),
        ("منذ ثلاثة أسابيع", date(2024, 5, 7)),
        ("أمس", date(2024, 5, 27)),
        ("أول أمس", date(2024, 5, 26)),
        ("2 days ago", date(2024, 5, 26)),
        ("il y a 3 jours", date(2024, 5, 25)),
    ],
)
def test_relative_needs_reference(raw, expected):
    assert parse_date(raw) == ParsedDate(None, None)
    assert parse_date(raw, datetime(2024, 5, 28, 10, 0)).date == expected
    assert parse_date(raw, "2024-05-28 10:00:00").date == expected


def test_absolute_date_wins_over_reference():
    assert parse_date("28 مايو 2024", datetime(2030, 1, 1)).date == MAY28


@pytest.mark.parametrize(
    "raw", [None, "", "   ", "لا يوجد تاريخ", "مايو 2024", "31/02/2024", "99 مايو 2024"]
)
def test_unparseable_is_none(raw):
    assert parse_date(raw).date is None
