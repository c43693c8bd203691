"""Publication dates as news sites print them, parsed with compiled regexes.

Handles ISO and RFC 2822 timestamps, day/month/year numbers, English and French month
names (with ordinals), Arabic month names of both traditions (Maghreb/Egypt ``ماي``,
``غشت``; Levant/Iraq ``أيار``, ``تشرين الأول``), Arabic-Indic and Eastern digits,
Hijri dates (kept as text, never converted) and relative stamps (``منذ ساعتين``), which
need a reference time. No dateparser: this runs once per article over millions of rows.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple


class ParsedDate(NamedTuple):
    """A parsed publication date.

    Attributes:
        date: the Gregorian date, or None when absent, Hijri-only, or relative
            without a reference time.
        hijri: the Hijri date as printed (e.g. ``20 ذو القعدة 1445 هـ``), or None.
    """

    date: date | None
    hijri: str | None


_NONE = ParsedDate(None, None)

# Arabic-Indic (٠-٩) and Eastern/Persian (۰-۹) digits read as ASCII: ٢٨ → 28.
_DIGITS = {0x0660 + i: str(i) for i in range(10)} | {0x06F0 + i: str(i) for i in range(10)}
# One-to-one letter folding so offsets in the folded text are offsets in the raw text:
# أ/إ/آ/ٱ → ا, ى → ي, ة → ه, Arabic comma → comma.
_FOLD = str.maketrans(
    _DIGITS
    | {ord(c): "ا" for c in "أإآٱ"}
    | {ord("ى"): "ي", ord("ة"): "ه", ord("،"): ",", ord("٫"): ".", ord("٬"): ","}
)
# Tatweel and harakat carry no date information (هـ, مايـو).
_DROP = re.compile("[\u0640\u064b-\u065f\u0670]")

_MONTHS: dict[str, int] = {}


def _add(month: int, *names: str) -> None:
    for name in names:
        _MONTHS[name.translate(_FOLD).lower()] = month


_add(1, "january", "jan", "janvier", "janv", "يناير", "جانفي", "كانون الثاني", "كانون ثاني")
_add(2, "february", "feb", "février", "fevrier", "févr", "fevr", "فبراير", "فيفري", "شباط")
_add(3, "march", "mar", "mars", "مارس", "آذار")
_add(4, "april", "apr", "avril", "avr", "أبريل", "إبريل", "ابريل", "أفريل", "نيسان")
_add(5, "may", "mai", "ماي", "مايو", "أيار")
_add(6, "june", "jun", "juin", "يونيو", "يونيه", "جوان", "حزيران")
_add(7, "july", "jul", "juillet", "juil", "يوليوز", "يوليو", "يوليه", "جويلية", "تموز")
_add(8, "august", "aug", "août", "aout", "غشت", "أغسطس", "اغسطس", "أوت", "آب")
_add(9, "september", "sep", "sept", "septembre", "شتنبر", "سبتمبر", "أيلول")
_add(10, "october", "oct", "octobre", "أكتوبر", "اكتوبر", "تشرين الأول", "تشرين أول")
_add(11, "november", "nov", "novembre", "نونبر", "نوفمبر", "تشرين الثاني", "تشرين ثاني")
_add(
    12,
    "december",
    "dec",
    "décembre",
    "decembre",
    "déc",
    "دجنبر",
    "ديسمبر",
    "كانون الأول",
    "كانون أول",
)

_HIJRI_MONTHS = [
    m.translate(_FOLD)
    for m in (
        "محرم",
        "صفر",
        "ربيع الأول",
        "ربيع الاول",
        "ربيع الثاني",
        "ربيع الآخر",
        "ربيع الأخر",
        "جمادى الأولى",
        "جمادى الأول",
        "جمادى الثانية",
        "جمادى الآخرة",
        "جمادى الأخرة",
        "جمادى الثاني",
        "رجب",
        "شعبان",
        "رمضان",
        "شوال",
        "ذو القعدة",
        "ذي القعدة",
        "ذو الحجة",
        "ذي الحجة",
    )
]


def _alternation(names: list[str]) -> str:
    # Longest first so مايو wins over ماي and تشرين الثاني over a bare تشرين.
    return "|".join(
        re.escape(n).replace(r"\ ", r"\s+") for n in sorted(names, key=len, reverse=True)
    )


_LETTER = r"a-zà-ÿ\u0621-\u064a"
_MON = rf"(?<![{_LETTER}])(?:{_alternation(list(_MONTHS))})\.?(?![{_LETTER}])"
_HMON = rf"(?<![{_LETTER}])(?:{_alternation(_HIJRI_MONTHS)})(?![{_LETTER}])"
_DAY = r"(?<!\d)(\d{1,2})(?:st|nd|rd|th|er|ère|eme|ème)?(?![\d:])"
_YEAR = r"(?<!\d)(\d{4})(?!\d)"
_SEP = r"[\s,.\-/]*"
_OF = r"(?:(?:of|de|du|من)\s+)?"

# 28th, May 2024 · 28 mai 2024 · الثلاثاء 28 أيار (مايو) 2024 · Tue, 28 May 2024 10:00 GMT
_DMY_NAME = re.compile(
    rf"{_DAY}{_SEP}{_OF}({_MON})(?:\s*[/(\-]\s*(?:{_MON})\s*\)?)?{_SEP}{_YEAR}", re.I
)
# May 28th, 2024
_MDY_NAME = re.compile(rf"({_MON}){_SEP}{_DAY}{_SEP}{_YEAR}", re.I)
# 2024-05-28, 2024/05/28, 2024-05-28T10:00:00Z
_YMD = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
# 28/05/2024, 28-05-2024, 28.05.2024 (day first, as Arabic sites print it)
_DMY = re.compile(r"(?<!\d)(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?!\d)")
_ISO_HEAD = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})(?:[T\s]|$)")
_EPOCH = re.compile(r"\s*(\d{10}|\d{13})(?:\.\d+)?\s*$")

# 20 ذو القعدة 1445 هـ · ذو القعدة 1445 · 1445/11/20 هـ · 1445 هـ (هـ folds to ه)
_HIJRI_NAMED = re.compile(
    rf"(?:(?<!\d)\d{{1,2}}\s+)?{_HMON}\s*,?\s*(?:\d{{3,4}}(?!\d)(?:\s*ه(?![{_LETTER}])\.?)?)?",
    re.I,
)
_HIJRI_MARKED = re.compile(rf"(?<!\d)\d{{1,4}}(?:[-/.]\d{{1,4}}){{0,2}}\s*ه(?![{_LETTER}])\.?")

_NUM_WORDS = {
    "واحد": 1,
    "واحده": 1,
    "اثنين": 2,
    "اثنتين": 2,
    "ثلاث": 3,
    "ثلاثه": 3,
    "اربع": 4,
    "اربعه": 4,
    "خمس": 5,
    "خمسه": 5,
    "ست": 6,
    "سته": 6,
    "سبع": 7,
    "سبعه": 7,
    "ثمان": 8,
    "ثماني": 8,
    "ثمانيه": 8,
    "تسع": 9,
    "تسعه": 9,
    "عشر": 10,
    "عشره": 10,
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "un": 1,
    "une": 1,
    "deux": 2,
}
# unit word → (unit, count implied by the word itself: duals mean 2)
_UNITS: dict[str, tuple[str, int]] = {}
for _words, _unit in (
    (("ثانيه", "ثواني", "ثوان"), "seconds"),
    (("دقيقه", "دقائق"), "minutes"),
    (("ساعه", "ساعات"), "hours"),
    (("يوم", "ايام"), "days"),
    (("اسبوع", "اسابيع"), "weeks"),
    (("شهر", "اشهر", "شهور"), "months"),
    (("سنه", "سنوات", "سنين", "عام", "اعوام"), "years"),
    (("second", "seconds", "seconde", "secondes", "sec", "secs"), "seconds"),
    (("minute", "minutes", "min", "mins"), "minutes"),
    (("hour", "hours", "heure", "heures", "hr", "hrs", "h"), "hours"),
    (("day", "days", "jour", "jours"), "days"),
    (("week", "weeks", "semaine", "semaines"), "weeks"),
    (("month", "months", "mois"), "months"),
    (("year", "years", "an", "ans", "année", "années"), "years"),
):
    for _w in _words:
        _UNITS[_w] = (_unit, 1)
for _w, _unit in (
    ("ثانيتين", "seconds"),
    ("ثانيتان", "seconds"),
    ("دقيقتين", "minutes"),
    ("دقيقتان", "minutes"),
    ("ساعتين", "hours"),
    ("ساعتان", "hours"),
    ("يومين", "days"),
    ("يومان", "days"),
    ("اسبوعين", "weeks"),
    ("اسبوعان", "weeks"),
    ("شهرين", "months"),
    ("شهران", "months"),
    ("سنتين", "years"),
    ("سنتان", "years"),
    ("عامين", "years"),
    ("عامان", "years"),
):
    _UNITS[_w] = (_unit, 2)

_UNIT_ALT = _alternation(list(_UNITS))
_NUM_ALT = _alternation(list(_NUM_WORDS))
# منذ ساعتين · قبل 3 أيام · منذ ثلاث ساعات · 3 hours ago · il y a 2 jours
_REL_AR = re.compile(rf"(?:منذ|قبل)\s+(?:(\d+|{_NUM_ALT})\s+)?({_UNIT_ALT})(?![{_LETTER}])", re.I)
_REL_EN = re.compile(rf"(?<![{_LETTER}])(\d+|{_NUM_ALT})\s+({_UNIT_ALT})\s+ago\b", re.I)
_REL_FR = re.compile(rf"il\s+y\s+a\s+(\d+|{_NUM_ALT})\s+({_UNIT_ALT})(?![{_LETTER}])", re.I)
# أمس = yesterday, أول أمس / أول من أمس = the day before.
_REL_DAYS = re.compile(
    rf"(?<![{_LETTER}])(اول\s+(?:من\s+)?امس|امس|البارحه|اليوم|yesterday|today|hier|"
    rf"aujourd'hui|avant-hier)(?![{_LETTER}])",
    re.I,
)
_REL_DAY_OFFSETS = {
    "امس": 1,
    "البارحه": 1,
    "اليوم": 0,
    "yesterday": 1,
    "today": 0,
    "hier": 1,
    "aujourd'hui": 0,
    "avant-hier": 2,
}


def _fold(raw: str) -> tuple[str, list[int]]:
    """Folded, lowercased text and, per folded char, its index in ``raw``."""
    if _DROP.search(raw) is None:
        text, index = raw.translate(_FOLD), list(range(len(raw)))
    else:
        kept = [(i, c) for i, c in enumerate(raw) if not _DROP.match(c)]
        text = "".join(c for _, c in kept).translate(_FOLD)
        index = [i for i, _ in kept]
    lowered = text.lower()
    if len(lowered) == len(text):  # lower() is 1:1 except for rare letters like İ
        text = lowered
    return text, index


def _valid(y: int, m: int, d: int) -> date | None:
    if not 1900 <= y <= 2100:
        return None
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _month(name: str) -> int | None:
    return _MONTHS.get(re.sub(r"\s+", " ", name.rstrip(".")))


def _gregorian(text: str) -> date | None:
    m = _ISO_HEAD.match(text)
    if m:
        found = _valid(int(m[1]), int(m[2]), int(m[3]))
        if found:
            return found
    best: tuple[int, date] | None = None
    for rx, order in ((_DMY_NAME, "dmy"), (_MDY_NAME, "mdy"), (_YMD, "ymd"), (_DMY, "dmy#")):
        for m in rx.finditer(text):
            if order == "dmy":
                mon = _month(m[2])
                found = _valid(int(m[3]), mon, int(m[1])) if mon else None
            elif order == "mdy":
                mon = _month(m[1])
                found = _valid(int(m[3]), mon, int(m[2])) if mon else None
            elif order == "ymd":
                found = _valid(int(m[1]), int(m[2]), int(m[3]))
            else:
                a, b, y = int(m[1]), int(m[2]), int(m[3])
                # Day first unless that is impossible (05/28/2024 is US month-first).
                found = _valid(y, b, a) or _valid(y, a, b)
            if found and (best is None or m.start() < best[0]):
                best = (m.start(), found)
                break
    if best:
        return best[1]
    m = _EPOCH.match(text)
    if m:
        value = int(m[1])
        ts = value / 1000 if len(m[1]) == 13 else value
        return datetime.fromtimestamp(ts, UTC).date()
    return None


def _count(word: str | None) -> int:
    if word is None:
        return 1
    return int(word) if word.isdigit() else _NUM_WORDS.get(word.lower(), 1)


def _relative(text: str, reference: datetime) -> date | None:
    for rx in (_REL_AR, _REL_EN, _REL_FR):
        m = rx.search(text)
        if m:
            unit, implied = _UNITS[re.sub(r"\s+", " ", m[2].lower())]
            n = _count(m[1]) if m[1] else implied
            if unit == "months":
                delta = timedelta(days=30 * n)
            elif unit == "years":
                delta = timedelta(days=365 * n)
            else:
                delta = timedelta(**{unit: n})
            return (reference - delta).date()
    m = _REL_DAYS.search(text)
    if m:
        word = re.sub(r"\s+", " ", m[1].lower())
        days = 2 if word.startswith("اول") else _REL_DAY_OFFSETS.get(word, 0)
        return (reference - timedelta(days=days)).date()
    return None


def _as_reference(reference: datetime | str | None) -> datetime | None:
    if reference is None or isinstance(reference, datetime):
        return reference
    ref = reference.strip().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(ref)
    except ValueError:
        d = parse_date(ref).date
        return datetime(d.year, d.month, d.day) if d else None


def parse_date(raw: str | None, reference: datetime | str | None = None) -> ParsedDate:
    """Parse a printed publication date.

    Args:
        raw: the date as printed, possibly with a label (``تاريخ النشر: 28th, May 2024 GMT``)
            and a weekday name, both ignored.
        reference: when the record was scraped (a datetime or ISO string); only used to
            resolve relative stamps such as ``منذ ساعتين`` or ``أمس``.

    Returns:
        ``ParsedDate(date, hijri)``. A Hijri date is returned as printed in ``hijri``
        and never converted; ``date`` is then set only if a Gregorian date is printed too.
    """
    if not raw or not raw.strip():
        return _NONE
    m = _ISO_HEAD.match(raw)
    if m:  # fast path: most scraper dumps store ISO timestamps
        found = _valid(int(m[1]), int(m[2]), int(m[3]))
        if found:
            return ParsedDate(found, None)
    text, index = _fold(raw)
    hijri = None
    for rx in (_HIJRI_NAMED, _HIJRI_MARKED):
        hm = rx.search(text)
        if hm and any(ch.isdigit() for ch in hm[0]):
            start, end = index[hm.start()], index[hm.end() - 1] + 1
            # Keep a trailing tatweel so هـ stays whole.
            while end < len(raw) and raw[end] == "\u0640":
                end += 1
            hijri = raw[start:end].strip(" ,،-")
            text = text[: hm.start()] + " " * (hm.end() - hm.start()) + text[hm.end() :]
            break
    found = _gregorian(text)
    if found is None and hijri is None:
        ref = _as_reference(reference)
        if ref is not None:
            found = _relative(text, ref)
    return ParsedDate(found, hijri)
