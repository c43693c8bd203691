"""Clean stage: Unicode cleanup, the scraped ``.txt`` layout, and article acceptance.

Input is the ``records`` staging table from fetch; output is the ``articles``
table up to ``content_sha256``. Articles that are unusable (too short after
cleaning, not Arabic) are left out and reported per reason, never silently.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import pyarrow as pa

from tasks.config import CleanConfig
from tasks.dates import parse_date
from tasks.errors import Reason
from tasks.schemas import ARTICLES, RECORDS, conform

_ZERO_WIDTH_BIDI = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
        "\u2066\u2067\u2068\u2069\u2060\ufeff\u061c\u00ad",
    ),
    None,
)
_TATWEEL = "\u0640"
# A tatweel standing alone between spaces is a dash (لندن ـ أعلن), not a stretched letter:
# it becomes "-", one character for one, so the text keeps its offsets and its tokens.
_LONE_TATWEEL = re.compile(r"(?:(?<=\s)|^)\u0640+(?=\s|$)")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{2,}")
_ARABIC_LETTER = re.compile(r"[\u0621-\u064a\u0671-\u06d3\u06fa-\u06ff]")
_ANY_LETTER = re.compile(r"[^\W\d_]")

# تاريخ النشر: 28th, May 2024 GMT  -> a date line in the .txt layout
_DATE_LINE = re.compile(
    r"^\s*(?P<label>تاريخ النشر|نشر في|نشر بتاريخ|بتاريخ|التاريخ)\s*[:：]?\s*(?P<value>.+)$"
)
_DIGIT = re.compile(r"[0-9\u0660-\u0669\u06f0-\u06f9]")
# A date line is short; the weaker labels also open headlines and sentences
# (التاريخ يعيد نفسه), so after them the value must hold a digit.
_DATE_LINE_MAX_WORDS = 16
_HEADER_LINES = 3  # the date line is looked for among the first three non-blank lines
# المصدر: زنقة 20  -> source line, removed from the body
_SOURCE_LINE = re.compile(r"^\s*(?:المصدر|مصدر الخبر)\s*[:：]\s*(.*)$")
# إقرأ أيضاً: / اقرأ ايضا -> the rest of the file holds related articles; a title may
# follow the colon on the same line (إقرأ أيضاً: عنوان المقال)
_READ_ALSO = re.compile(r"^\s*[اإأ]قرأ\s+[اأ]يضا\s*(?:[:：]\s*(?P<title>.*))?$")
# زنقة 20 ا الرباط / العربية نت - دبي -> site and dateline separated by a lone letter or dash
_SITE_LINE = re.compile(
    r"^(?P<site>.{2,40}?)\s+(?:ا|\||-|–|—|/|:)\s+(?P<dateline>[^\d\s][^.!؟?]{1,30})$"
)
# الرياض / مكة المكرمة alone: a dateline; three words are a byline (محمد علي - جدة)
_BARE_DATELINE = re.compile(r"^[\u0621-\u064a]+(?: [\u0621-\u064a]+)?$")
# A related article has a sentence of body before the next title: a short line after
# only a title and a byline is a subtitle, not the next article.
_RELATED_MIN_BODY = 40
_TERMINAL = ".!?؟…"
# Lines that are site furniture, not article text (share prompts, rights, tags).
_BOILERPLATE = re.compile(
    r"^\s*(?:"
    r"شارك(?:\s+(?:هذا|المقال|الخبر|على).*)?|تابعونا.*|تابعوا.*على.*|اشترك.*|"
    r"جميع الحقوق محفوظة.*|©.*|حقوق النشر.*|الوسوم\s*[:：].*|كلمات مفتاحية\s*[:：].*|"
    r"اضغط هنا.*|للمزيد.*اضغط.*|طباعة|أضف تعليق(?:ك)?|التعليقات|مشاركة|"
    r"(?:https?://|www\.)\S+|share|tweet|print|facebook|twitter|whatsapp|"
    # agency end marks and a wire's time stamp (// انتهى //, // يتبع //, 20:26 ت م),
    # a teaser's link (...المزيد)
    r"//\s*(?:انتهى|يتبع)\s*//|\d{1,2}:\d{2}\s*ت\s*م|\.{2,}\s*المزيد|"
    # a columnist's contact lines: an e-mail or a handle alone, the SMS instructions
    r"(?:تويتر\s*[:：]\s*)?@?[\w.+-]+@[\w-]+(?:\.[\w-]+)+|تويتر\s*[:：]\s*@?\w+|"
    r"تبدأ بالرمز.*نص الرسالة.*|\d{3,6}\s*-\s*(?:stc|mobily|zain)|للتواصل\s+(?:أ|ا)رسل\s+sms.*"
    r")\s*$",
    re.IGNORECASE,
)
# Site furniture inside a line, found by counting the first and last words of 13 days of
# Saudi news per site: a share bar before the text (شارك من خلال تويتر فيسبوك جوجل بلس
# اكتب رأيك), a link back to the site with the title repeated after the text (رابط الخبر
# بصحيفة الوئام: ...), a columnist's SMS footer with the e-mail glued before it. Left in,
# they put تويتر, جوجل and الخبر among a day's top organisations and count the title's
# names twice.
_INLINE_FURNITURE = re.compile(
    r"^\s*شارك من خلال(?:\s+(?:تويتر|فيسبوك|فيس بوك|جوجل|بلس|واتساب|واتس اب|لينكد إن))+"
    r"(?:\s+اكتب رأيك)?\s*"
    r"|\s*رابط الخبر (?:ب|في )?(?:صحيفة|موقع) [^:\n]{1,40}:.*$"
    r"|\s*(?:\S+@\S+?)?للتواصل مع الكاتب ارسل رسالة.*$"
)


@dataclass
class CleanResult:
    """Articles kept, plus per-file counts of articles left out by reason."""

    articles: pa.Table
    rejected: dict[str, Counter[str]] = field(default_factory=dict)


@dataclass
class ParsedArticle:
    """One article parsed from a record before acceptance checks."""

    title: str | None
    body: str
    date_raw: str | None = None
    source_name: str | None = None
    dateline: str | None = None


# Arabic punctuation that arclean would turn into Latin (، -> ,); news text keeps it.
_KEEP_PUNCT = "،؛؟«»"


@lru_cache(maxsize=1)
def _arclean():
    """camel-tools' arclean mapper, minus its rewriting of Arabic punctuation."""
    from camel_tools.utils.charmap import CharMapper

    base = CharMapper.builtin_mapper("arclean")
    charmap = dict(base._charmap)
    charmap.update(dict.fromkeys(_KEEP_PUNCT))  # None = keep the character as it is
    return CharMapper(charmap, base._default)


def clean_line(text: str) -> str:
    """One line of text: camel-tools arclean, no tatweel/zero-width/bidi, single spaces."""
    text = text.translate(_ZERO_WIDTH_BIDI)
    text = _LONE_TATWEEL.sub(lambda m: "-" * len(m.group()), text).replace(_TATWEEL, "")
    text = _arclean()(text)
    return _SPACES.sub(" ", text).strip()


def _text_lines(text: str) -> list[str]:
    """The non-blank lines of ``text``, each cleaned, with site furniture dropped."""
    lines = []
    for raw in text.splitlines():
        line = _INLINE_FURNITURE.sub("", clean_line(raw)).strip()
        if line and not _BOILERPLATE.match(line):
            lines.append(line)
    return lines


def clean_text(text: str) -> str:
    """Clean a multi-line body: lines cleaned, boilerplate dropped, one ``\\n`` per paragraph."""
    return _BLANK_LINES.sub("\n", "\n".join(_text_lines(text)))


def arabic_ratio(text: str) -> float:
    """Share of letters in ``text`` that are Arabic letters (0.0 when there are no letters)."""
    letters = len(_ANY_LETTER.findall(text))
    return len(_ARABIC_LETTER.findall(text)) / letters if letters else 0.0


def _is_title_line(line: str, nxt: str | None) -> bool:
    # A related-article title is short words (not a number), has no final punctuation,
    # and a paragraph follows it.
    return (
        nxt is not None
        and len(line.split()) <= 25
        and line[-1] not in _TERMINAL
        and len(nxt) > len(line)
        and _ARABIC_LETTER.search(line) is not None
    )


def _date_value(line: str) -> str | None:
    """The date after a date-line label, or None when ``line`` is not a date line."""
    m = _DATE_LINE.match(line)
    if m is None or len(line.split()) > _DATE_LINE_MAX_WORDS:
        return None
    if m["label"] != "تاريخ النشر" and not _DIGIT.search(m["value"]):
        return None
    return m["value"].strip()


def _site_line(line: str) -> re.Match[str] | None:
    if len(line.split()) > 8 or line[-1] in _TERMINAL:
        return None
    return _SITE_LINE.match(line)


def _parse_header(lines: list[str]) -> tuple[ParsedArticle, int]:
    """Title, date line and site/dateline line at the top of ``lines``; each may be missing.

    The date line is found wherever it stands among the first ``_HEADER_LINES`` lines:
    the file may lack its title (the date line comes first) or print the site line
    above the date. Lines above the date line are the title (issue 17).
    """
    art = ParsedArticle(title=None, body="")
    at = next((j for j, ln in enumerate(lines[:_HEADER_LINES]) if _date_value(ln)), None)
    if at is None:
        art.title = lines[0] if lines else None
        i = 1
    else:
        art.date_raw = _date_value(lines[at])
        above = lines[:at]
        if len(above) == 2 and (m := _site_line(above[1])):
            art.source_name, art.dateline = m["site"].strip(), m["dateline"].strip()
            above = above[:1]
        # Two lines above the date and no site line among them: a headline on two lines.
        art.title = " ".join(above) or None
        i = at + 1
    if art.source_name is None and i < len(lines):
        if m := _site_line(lines[i]):
            art.source_name, art.dateline = m["site"].strip(), m["dateline"].strip()
            i += 1
        elif at is not None and _BARE_DATELINE.match(lines[i]):
            # الرياض alone under the date line: a dateline without the site name
            art.dateline = lines[i]
            i += 1
    return art, i


def parse_news_txt(text: str) -> list[ParsedArticle]:
    """Parse the scraped ``.txt`` layout into the main article and its related articles.

    Layout: title line, ``تاريخ النشر:`` date line, ``site ا dateline`` line, body
    paragraphs, an ``المصدر:`` source line, then ``إقرأ أيضاً:`` followed by
    related articles (each a title line and paragraphs), which take the file's source
    unless they name their own. Site furniture is dropped as in ``clean_text``.
    """
    lines = _text_lines(text)
    if not lines:
        return []
    main, i = _parse_header(lines)
    body: list[str] = []
    rest: list[str] | None = None
    for j in range(i, len(lines)):
        line = lines[j]
        if m := _SOURCE_LINE.match(line):
            main.source_name = main.source_name or (m.group(1).strip() or None)
            continue
        if m := _READ_ALSO.match(line):
            rest = ([m["title"].strip()] if m["title"] else []) + lines[j + 1 :]
            break
        body.append(line)
    main.body = "\n".join(body)
    articles = [main]
    if not rest:
        return articles
    parts: list[list[str]] = []
    current: list[str] = []
    body_chars = 0  # of the current part, after its title
    for j, line in enumerate(rest):
        nxt = rest[j + 1] if j + 1 < len(rest) else None
        if body_chars >= _RELATED_MIN_BODY and _is_title_line(line, nxt):
            parts.append(current)
            current, body_chars = [], 0
        elif current:
            body_chars += len(line)
        current.append(line)
    if current:
        if parts and body_chars < _RELATED_MIN_BODY:
            parts[-1] += current  # a photo caption closing the last article, not another
        else:
            parts.append(current)
    related = [_related(part) for part in parts]
    for art in related:
        # A related article is on the same site as the file (issue 26): without it the
        # report listed it under "(unknown)".
        art.source_name = art.source_name or main.source_name
    return articles + related


def _related(lines: list[str]) -> ParsedArticle:
    art, i = _parse_header(lines)
    body = []
    for line in lines[i:]:
        if m := _SOURCE_LINE.match(line):
            art.source_name = art.source_name or (m.group(1).strip() or None)
        else:
            body.append(line)
    art.body = "\n".join(body)
    return art


@lru_cache(maxsize=1)
def _camel_normalize():
    from camel_tools.utils.dediac import dediac_ar
    from camel_tools.utils.normalize import (
        normalize_alef_ar,
        normalize_alef_maksura_ar,
        normalize_teh_marbuta_ar,
    )

    return dediac_ar, normalize_alef_ar, normalize_alef_maksura_ar, normalize_teh_marbuta_ar


def normalize_ar(text: str) -> str:
    """Dediacritized, alef/yaa/teh-marbuta normalized text (camel-tools' normalizers).

    أحمد/إلى/مدرسةٌ -> احمد/الي/مدرسه: the forms users search by.
    """
    dediac, alef, maksura, teh = _camel_normalize()
    return teh(maksura(alef(dediac(text))))


def content_hash(text: str) -> str:
    """SHA-256 of the text after dediac and alef/yaa/teh-marbuta normalization."""
    norm = normalize_ar(" ".join(text.split()))
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def article_id_for(file_id: str, record_index: int, part: int, content_sha: str) -> str:
    """Stable article id from its input, position and content (re-runs never duplicate rows)."""
    key = f"{file_id}\x1f{record_index}\x1f{part}\x1f{content_sha}".encode()
    return hashlib.sha256(key).hexdigest()[:20]


def _reference_time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def _record_articles(rec: dict) -> list[ParsedArticle]:
    if rec["layout"] == "news_txt":
        return parse_news_txt(rec["body"] or "")
    title = clean_line(rec["title"] or "") or None
    return [
        ParsedArticle(
            title=title,
            body=clean_text(rec["body"] or ""),
            date_raw=rec["date_raw"],
            source_name=clean_line(rec["source"] or "") or None,
        )
    ]


def clean_batch(records: pa.Table, config: CleanConfig) -> CleanResult:
    """Turn fetched records into cleaned articles.

    Adds the ``articles`` columns article_id, file_id, record_index, part,
    parent_article_id, title, published_date, published_raw, hijri_date,
    source_name, dateline, url, author, text, n_paragraphs and content_sha256.
    """
    missing = [
        n for n in ("file_id", "record_index", "layout", "body") if n not in records.column_names
    ]
    if missing:
        from tasks.errors import SchemaError

        raise SchemaError(f"clean needs records columns {missing}; has {records.column_names}")
    records = conform(records, RECORDS)
    rows: dict[str, list] = {name: [] for name in ARTICLES.names if name != "run_id"}
    rejected: dict[str, Counter[str]] = {}
    for rec in records.to_pylist():
        ref = _reference_time(rec["reference_time"])
        parent_id = None
        parsed_articles = _record_articles(rec)
        if not parsed_articles:  # nothing left after cleaning (only diacritics, blank lines)
            rejected.setdefault(rec["file_id"], Counter())[Reason.EMPTY_AFTER_CLEAN.value] += 1
        for part, art in enumerate(parsed_articles, start=1):
            reason = _reject_reason(art.body, config)
            if reason is not None:
                rejected.setdefault(rec["file_id"], Counter())[reason] += 1
                continue
            parsed = parse_date(art.date_raw, ref)
            sha = content_hash(art.body)
            aid = article_id_for(rec["file_id"], rec["record_index"], part, sha)
            if part == 1:
                parent_id = aid
            values = {
                "article_id": aid,
                "file_id": rec["file_id"],
                "record_index": rec["record_index"],
                "part": part,
                "parent_article_id": parent_id if part > 1 else None,
                "title": art.title,
                "published_date": parsed.date,
                "published_raw": art.date_raw,
                "hijri_date": parsed.hijri,
                "source_name": art.source_name,
                "dateline": art.dateline,
                "url": rec["url"] or None,
                "author": clean_line(rec["author"] or "") or None,
                "text": art.body,
                "n_paragraphs": art.body.count("\n") + 1,
                "content_sha256": sha,
            }
            for name, col in rows.items():
                col.append(values.get(name))
    table = pa.table({k: pa.array(v, type=ARTICLES.field(k).type) for k, v in rows.items()})
    return CleanResult(articles=table, rejected=rejected)


def _reject_reason(body: str, config: CleanConfig) -> str | None:
    if len(body.strip()) < config.min_chars:
        return Reason.EMPTY_AFTER_CLEAN.value
    if arabic_ratio(body) < config.min_arabic_ratio:
        return Reason.NOT_ARABIC.value
    return None
