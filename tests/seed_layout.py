"""Writer of the seed ``.txt`` layout, for the round-trip tests and bench (issue 17).

The layout (see ``data/samples/*.txt``)::

    title line
    تاريخ النشر: 22nd, July 2015 GMT
    <site> ا <dateline>
    body paragraphs
    المصدر: <site>
    إقرأ أيضاً:            (optional: related articles follow, title line + paragraphs)

A ``Header`` says which of these lines a file gets and how its date is printed, so one
corpus can be written in every variant the parser must read; ``HEADERS`` lists the
variants and ``header_for`` deals them out. ``expected_fields`` says what the pipeline
must read back from a file written with a given header.
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

_EN_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_FR_MONTHS = (
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
).split()
# Egypt/Gulf, Levant/Iraq and Morocco month names (يوليو / تموز / يوليوز).
_AR_MONTHS = "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر".split()
_LEVANT_MONTHS = (
    "كانون الثاني",
    "شباط",
    "آذار",
    "نيسان",
    "أيار",
    "حزيران",
    "تموز",
    "آب",
    "أيلول",
    "تشرين الأول",
    "تشرين الثاني",
    "كانون الأول",
)
_MAGHREB_MONTHS = "يناير فبراير مارس أبريل ماي يونيو يوليوز غشت شتنبر أكتوبر نونبر دجنبر".split()
_AR_WEEKDAYS = ("الإثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد")
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _ordinal(day: int) -> str:
    if day in (11, 12, 13):
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th') }"


# How news sites print a publication date (each parses with tasks.dates.parse_date).
DATE_STYLES: dict[str, Callable[[date], str]] = {
    "english": lambda d: f"{_ordinal(d.day)}, {_EN_MONTHS[d.month - 1]} {d.year} GMT",
    "english_mdy": lambda d: f"{_EN_MONTHS[d.month - 1]} {d.day}, {d.year}",
    "french": lambda d: f"{d.day} {_FR_MONTHS[d.month - 1]} {d.year}",
    "arabic": lambda d: f"{_AR_WEEKDAYS[d.weekday()]} {d.day} {_AR_MONTHS[d.month - 1]} {d.year}",
    "levant": lambda d: f"{d.day} {_LEVANT_MONTHS[d.month - 1]} {d.year}",
    "levant_both": lambda d: (
        f"{d.day} {_LEVANT_MONTHS[d.month - 1]} ({_AR_MONTHS[d.month - 1]}) {d.year}"
    ),
    "maghreb": lambda d: f"{d.day} {_MAGHREB_MONTHS[d.month - 1]} {d.year}",
    "arabic_indic": lambda d: f"{d.day} {_AR_MONTHS[d.month - 1]} {d.year}".translate(
        _ARABIC_INDIC
    ),
    "iso": lambda d: f"{d.isoformat()}T08:30:00+03:00",
    "dmy": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
}


@dataclass(frozen=True)
class SeedArticle:
    """One article to write: what the pipeline must read back."""

    title: str
    body: str
    published: date | None = None
    site: str | None = None
    dateline: str | None = None


@dataclass(frozen=True)
class Header:
    """Which header lines a file gets, and how its date is printed.

    Attributes:
        title: write the title line (an empty title still writes an empty line).
        date_style: a ``DATE_STYLES`` key, or None for no date line.
        date_label: the label before the date.
        site_line: write ``<site> ا <dateline>``.
        site_above_date: put the site line above the date line instead of below it.
        source_line: write ``المصدر: <site>`` after the body.
        blank_lines: blank lines before the first line.
    """

    title: bool = True
    date_style: str | None = "english"
    date_label: str = "تاريخ النشر:"
    site_line: bool = True
    site_above_date: bool = False
    source_line: bool = True
    blank_lines: int = 0


# The variants a corpus is written in; index 0 is the plain seed layout.
HEADERS: tuple[Header, ...] = (
    Header(),
    Header(date_style="french"),
    Header(date_style="arabic", date_label="نشر في:"),
    Header(date_style="levant", blank_lines=2),
    Header(date_style="arabic_indic", title=False),
    Header(date_style="maghreb", site_line=False),
    Header(date_style="english_mdy", date_label="بتاريخ"),
    Header(date_style="iso", site_above_date=True),
    Header(date_style="dmy", source_line=False),
    Header(date_style="levant_both", title=False, site_line=False, blank_lines=1),
    Header(date_style=None),
    Header(date_style="english", site_line=False, source_line=False),
)


def header_for(index: int) -> Header:
    """The header variant of the ``index``-th file (round robin over ``HEADERS``)."""
    return HEADERS[index % len(HEADERS)]


def render_seed_txt(
    article: SeedArticle, header: Header = Header(), related: Sequence[SeedArticle] = ()
) -> str:
    """The text of one seed-layout file holding ``article`` and its ``related`` articles."""
    lines = [""] * header.blank_lines
    if header.title:
        lines.append(article.title)
    site = article.site if article.site else None
    site_line = f"{site} ا {article.dateline}" if site and article.dateline else site
    if header.site_line and site_line and header.site_above_date:
        lines.append(site_line)
    if header.date_style and article.published:
        printed = DATE_STYLES[header.date_style](article.published)
        lines.append(f"{header.date_label} {printed}")
    if header.site_line and site_line and not header.site_above_date:
        lines.append(site_line)
    lines.append(article.body)
    if header.source_line and site:
        lines.append(f"المصدر: {site}")
    if related:
        # إقرأ أيضاً starts the related articles: title line then paragraphs, no header.
        lines.append("إقرأ أيضاً:")
        for rel in related:
            lines += [rel.title, rel.body]
    return "\n".join(lines) + "\n"


def expected_fields(article: SeedArticle, header: Header) -> dict[str, object]:
    """Title, date, source and dateline the pipeline must read from the written file.

    The body is not here: compare it after the pipeline's own cleaning.
    """
    has_site = header.site_line and bool(article.site)
    return {
        "title": (article.title.strip() or None) if header.title else None,
        "published_date": article.published if header.date_style else None,
        "source_name": article.site if has_site or header.source_line else None,
        "dateline": article.dateline if has_site and article.dateline else None,
    }


# SaudiNewsNet's source keys as the papers print their names.
SITE_NAMES = {
    "alriyadh": "الرياض",
    "aljazirah": "الجزيرة",
    "aawsat": "الشرق الأوسط",
    "alyaum": "اليوم",
    "aleqtisadiya": "الاقتصادية",
    "okaz": "عكاظ",
    "alweeam": "الوئام",
    "alwatan": "الوطن",
    "almadina": "المدينة",
    "3alyoum": "عين اليوم",
    "sabq": "سبق",
    "was": "واس",
    "arreyadi": "الرياضي",
    "arriyadiyah": "الرياضية",
}
DATELINES = ("الرياض", "جدة", "الدمام", "مكة المكرمة", "أبها", "لندن", "القاهرة", "دبي")


def saudinewsnet_articles(zip_path: Path) -> Iterator[dict]:
    """The records of one SaudiNewsNet day (a zip holding one JSON array)."""
    with zipfile.ZipFile(zip_path) as zf:
        for name in sorted(zf.namelist()):
            if name.endswith(".json"):
                yield from json.loads(zf.read(name))


def seed_article(record: dict, index: int, dateline: str | None = None) -> SeedArticle:
    """A SaudiNewsNet record as the article its seed-layout file holds.

    The date is the day the record was collected (``date_extracted``), the site its
    paper's printed name, the dateline ``dateline`` or else one of ``DATELINES``.
    """
    source = record.get("source") or ""
    return SeedArticle(
        title=record.get("title") or "",
        body=record.get("content") or "",
        published=date.fromisoformat(record["date_extracted"][:10]),
        site=SITE_NAMES.get(source, source) or None,
        dateline=dateline or DATELINES[index % len(DATELINES)],
    )


def _opens_with_short_line(body: str) -> bool:
    first = next((ln.strip() for ln in body.splitlines() if ln.strip()), "")
    return bool(first) and len(first.split()) <= 8 and first[-1] not in ".!?؟…"


@dataclass(frozen=True)
class Written:
    """One file written by ``write_corpus``."""

    path: Path
    article: SeedArticle
    header: Header
    related: tuple[SeedArticle, ...] = ()


def write_corpus(
    articles: Sequence[SeedArticle], folder: Path, *, vary: bool = True, read_also_every: int = 0
) -> list[Written]:
    """Write one seed-layout ``.txt`` file per article into ``folder``.

    Args:
        articles: the articles, in order.
        folder: created if missing; files are named ``00000.txt``, ``00001.txt``, ...
        vary: deal the ``HEADERS`` variants out (else every file gets the plain layout).
        read_also_every: when > 0, every n-th file (n-1, 2n-1, ...) also carries the next
            article after ``إقرأ أيضاً:``, when that article has a title.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, article in enumerate(articles):
        header = header_for(i) if vary else Header()
        if not header.site_line and _opens_with_short_line(article.body):
            # A body opening with a byline (محمد علي - جدة) or a subtitle reads as the
            # site/dateline line when the file has none, as it would to a reader: such
            # an article keeps its site line.
            header = replace(header, site_line=True)
        if not header.date_style and not article.title.strip():
            # With neither a title nor a date line, the first line is read as the title.
            header = replace(header, date_style="english")
        related: tuple[SeedArticle, ...] = ()
        nxt = articles[i + 1] if i + 1 < len(articles) else None
        # A related article is known by its title line: one without a title is not added.
        if read_also_every and i % read_also_every == read_also_every - 1 and nxt and nxt.title:
            related = (nxt,)
        path = folder / f"{i:05d}.txt"
        path.write_text(render_seed_txt(article, header, related), encoding="utf-8")
        written.append(Written(path, article, header, related))
    return written


@dataclass
class RoundTrip:
    """What came back from a written corpus, against what was written.

    Attributes:
        files: files written.
        status: ``files`` rows per ``status`` (``status:reason`` when there is a reason).
        articles: ``articles`` rows read back.
        null_dates: files that have a date line but whose main article has no date.
        mismatches: ``(file name, field, expected, got)`` for every field that differs.
    """

    files: int = 0
    status: Counter[str] = field(default_factory=Counter)
    articles: int = 0
    null_dates: list[str] = field(default_factory=list)
    mismatches: list[tuple[str, str, object, object]] = field(default_factory=list)

    def by_field(self) -> Counter[str]:
        """Mismatches per field."""
        return Counter(f for _, f, _, _ in self.mismatches)


def check_roundtrip(
    written: Sequence[Written], files: Sequence[dict], articles: Sequence[dict]
) -> RoundTrip:
    """Compare the ``files`` and ``articles`` rows of a run with what was written.

    Titles, dates, sources, datelines and bodies must come back as written, after the
    pipeline's own cleaning (``clean_line``/``clean_text``: Arabic-Indic digits,
    lam-alef ligatures, Persian yeh, presentation forms, whitespace). A file whose
    articles are all too short or not Arabic after cleaning must be quarantined with
    that reason; a related article must come back as its title and body lines.
    """
    from tasks.clean import arabic_ratio, clean_line, clean_text
    from tasks.config import CleanConfig

    config = CleanConfig()

    def kept(text: str) -> bool:
        return len(text) >= config.min_chars and arabic_ratio(text) >= config.min_arabic_ratio

    by_uri = {str(Path(r["source_uri"])): r for r in files}
    parts: dict[str, list[dict]] = {}
    for row in articles:
        parts.setdefault(row["file_id"], []).append(row)
    report = RoundTrip(files=len(written), articles=len(articles))
    bad = report.mismatches.append
    for w in written:
        name = w.path.name
        row = by_uri.get(str(w.path))
        if row is None:
            bad((name, "files_row", "present", None))
            continue
        report.status[row["status"] + (f":{row['reason']}" if row["reason"] else "")] += 1
        got = sorted(parts.get(row["file_id"], []), key=lambda r: r["part"])
        body = clean_text(w.article.body)
        related = [
            clean_text(f"{r.title}\n{r.body}") for r in w.related if kept(clean_text(r.body))
        ]
        body_kept = kept(body)
        want_status = "ok" if body_kept or related else "quarantined"
        if row["status"] != want_status:
            bad((name, "status", want_status, f"{row['status']}:{row['reason']}"))
            continue
        if not body_kept:
            continue  # the main article is left out; its related ones are not checked
        main = got[0] if got and got[0]["part"] == 1 else None
        if main is None:
            bad((name, "main_article", "present", None))
            continue
        want = expected_fields(w.article, w.header)
        if want["title"] is not None:
            want["title"] = clean_line(str(want["title"])) or None
        if want["published_date"] is not None and main["published_date"] is None:
            report.null_dates.append(name)
        for key, value in want.items():
            if main[key] != value:
                bad((name, key, value, main[key]))
        if main["text"] != body:
            bad((name, "text", body, main["text"]))
        if related:
            want_lines = [ln for r in related for ln in r.split("\n")]
            if diff := _related_diff(got[1:], want_lines):
                bad((name, "related", *diff))
    return report


def _related_diff(parts: list[dict], want: list[str]) -> tuple[list, list] | None:
    """First difference between the related rows' lines and the written related lines.

    A related article may come back split where a short line looks like a title. A
    byline (محمد علي - جدة) or a date line (التاريخ: 9/10/2015) right under a title is
    that part's header: it is in the part's source_name/dateline or published_raw.
    """
    got = [
        (line, part, k == 0 and part["title"] is not None)
        for part in parts
        for k, line in enumerate(
            "\n".join(x for x in (part["title"], part["text"]) if x).split("\n")
        )
    ]
    k = j = 0
    under_title = False
    while k < len(want) or j < len(got):
        if k < len(want) and j < len(got) and want[k] == got[j][0]:
            under_title = got[j][2]
            k, j = k + 1, j + 1
        elif k < len(want) and under_title and _is_header_of(want[k], got[j - 1][1]):
            k += 1
        else:
            return want[k : k + 2], [line for line, _, _ in got[j : j + 2]]
    return None


def _is_header_of(line: str, part: dict) -> bool:
    site, dateline, date_raw = part["source_name"], part["dateline"], part["published_raw"]
    if dateline and line.startswith(site or "") and line.endswith(dateline):
        return True
    return bool(date_raw) and line.endswith(date_raw)


def run_stages(folder: Path) -> tuple[list[dict], list[dict]]:
    """``files`` and ``articles`` rows of ``fetch_batch`` + ``clean_batch`` over ``folder``.

    The layout parser without the flow. As the flow records it, a file whose articles
    are all left out is quarantined with the most frequent reason.
    """
    from tasks.clean import clean_batch
    from tasks.config import CleanConfig, FetchConfig
    from tasks.fetch import discover_sources, fetch_batch

    fetched = fetch_batch(discover_sources([str(folder)], FetchConfig()), FetchConfig())
    cleaned = clean_batch(fetched.records, CleanConfig())
    articles = cleaned.articles.to_pylist()
    has_articles = {r["file_id"] for r in articles}
    files = fetched.files.to_pylist()
    for row in files:
        rejected = cleaned.rejected.get(row["file_id"])
        if row["status"] == "ok" and row["file_id"] not in has_articles:
            row["status"] = "quarantined"
            row["reason"] = max(rejected, key=rejected.get) if rejected else "no_articles"
    return files, articles


def roundtrip_day(zip_path: Path, folder: Path, read_also_every: int = 7) -> RoundTrip:
    """Write one SaudiNewsNet day into ``folder`` (varied headers), parse it, compare.

    Runs ``run_stages`` (fetch + clean, no flow); a module-level function so that a
    process pool can run days side by side.
    """
    articles = [seed_article(r, i) for i, r in enumerate(saudinewsnet_articles(zip_path))]
    written = write_corpus(articles, folder, read_also_every=read_also_every)
    return check_roundtrip(written, *run_stages(folder))
