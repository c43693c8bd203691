"""Format sniffing and the five record parsers (txt, json, jsonl, csv, html) of the fetch stage.

Bad records inside a good JSON/JSONL/CSV file (a broken JSONL line, ``content`` that is
a number) are left out and counted; a file whose records are *all* bad is quarantined
(``bad_json`` when no line parsed, ``bad_record`` when the records have the wrong shape).
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from tasks.config import FetchConfig
from tasks.errors import Reason
from tasks.fetch.sources import _Bad, _quarantine

_EXT_FORMATS = {
    ".txt": "txt",
    ".text": "txt",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
}

_TITLE_KEYS = ("title", "headline", "name")
_BODY_KEYS = ("content", "text", "body", "article", "articlebody", "article_body")
_DATE_KEYS = (
    "date",
    "published",
    "date_published",
    "datepublished",
    "pubdate",
    "published_at",
    "publish_date",
    "date_extracted",
)
_REFTIME_KEYS = ("date_extracted", "scraped_at", "crawled_at", "fetched_at", "retrieved_at")
_SOURCE_KEYS = ("source", "site", "sitename", "publisher", "source_name")
_URL_KEYS = ("url", "link", "href")
_AUTHOR_KEYS = ("author", "authors", "byline", "writer")
_LIST_KEYS = ("articles", "items", "data", "records", "results", "posts")
_MAX_MESSAGES = 3  # rejected-record notes quoted in a message
_ALL_KEYS = frozenset(
    _TITLE_KEYS + _BODY_KEYS + _DATE_KEYS + _REFTIME_KEYS + _SOURCE_KEYS + _URL_KEYS
)


def _ext_format(name: str) -> str | None:
    low = name.lower()
    base, ext = posixpath.splitext(low)
    if ext == ".gz":
        ext = posixpath.splitext(base)[1]
    return _EXT_FORMATS.get(ext)


_HTML_START = re.compile(r"^\s*(<!doctype\s+html|<html\b|<head\b|<body\b|<!--)", re.I)
_HTML_TAGS = re.compile(r"<(html|head|body|article|div|p|meta|title)\b", re.I)


def sniff_format(name: str, text: str) -> str:
    """Format of a decoded input: json, jsonl, csv, html or txt.

    The content decides when it is unambiguous (an extension can lie); the extension
    breaks ties, and plain text is the news ``.txt`` layout.
    """
    ext = _ext_format(name)
    stripped = text.lstrip()
    first = stripped[:1]
    if first in ("[", "{"):
        if ext == "jsonl":
            return "jsonl"
        nl = stripped.find("\n")
        first_line = stripped if nl < 0 else stripped[:nl]
        rest = "" if nl < 0 else stripped[nl:].strip()
        if first == "{" and rest.startswith("{"):
            try:
                json.loads(first_line)
                return "jsonl"
            except ValueError:
                pass
        return "json"
    if first == "<" and (_HTML_START.match(stripped) or _HTML_TAGS.search(stripped[:2000])):
        return "html"
    if ext in ("json", "jsonl", "html"):
        return ext  # the parser reports what is wrong with it
    first_line = stripped.split("\n", 1)[0]
    if ext == "csv" or _csv_header(first_line):
        return "csv"
    return "txt"


def _csv_header(line: str) -> bool:
    for delim in (",", ";", "\t", "|"):
        if delim in line:
            keys = {k.strip().strip('"').lower() for k in line.split(delim)}
            if keys & set(_BODY_KEYS) and len(keys & _ALL_KEYS) >= 2:
                return True
    return False


class _Rec(NamedTuple):
    layout: str
    title: str | None
    body: str | None
    date_raw: str | None
    reference_time: str | None
    source: str | None
    url: str | None
    author: str | None


class _Parsed(NamedTuple):
    records: list[_Rec]
    rejected: list[str]  # one short note per rejected record
    total: int  # records seen (good + rejected)


def _pick(obj: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for k in keys:
        if k in obj and obj[k] is not None and obj[k] != "":
            return k, obj[k]
    return None, None


def _as_text(key: str | None, value: Any, *, allow_list: bool = False) -> str | None:
    if key is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError(f"{key!r} is a boolean")
    if allow_list and isinstance(value, list) and all(isinstance(v, str) for v in value):
        # Several authors: joined with the Arabic comma (، ).
        return "، ".join(v for v in value if v)
    if allow_list and isinstance(value, dict) and isinstance(value.get("name"), str):
        return value["name"]  # JSON-LD style {"@type": "Person", "name": ...}
    raise TypeError(f"{key!r} is {type(value).__name__}, expected text")


def _as_date(key: str | None, value: Any) -> str | None:
    if key is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        from datetime import UTC, datetime

        # Epoch seconds (or milliseconds) as scrapers often store them.
        ts = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(ts, UTC).isoformat()
        except (OverflowError, OSError, ValueError) as exc:
            raise TypeError(f"{key!r} is not a valid timestamp") from exc
    raise TypeError(f"{key!r} is {type(value).__name__}, expected a date")


def _record_from_obj(obj: Any) -> _Rec:
    """Map one JSON/CSV object to a record; raises TypeError/ValueError when unusable."""
    if not isinstance(obj, Mapping):
        raise TypeError(f"item is {type(obj).__name__}, expected an object")
    low = {str(k).strip().lower(): v for k, v in obj.items()}
    body_key, body = _pick(low, _BODY_KEYS)
    if body_key is None:
        present = [k for k in _BODY_KEYS if k in low]
        if not present:
            raise ValueError("no content/text/body field")
        # An empty body is still an article of the input; clean counts it as
        # empty_after_clean, so every item of a dump is accounted for.
        body_key, body = present[0], ""
    date_key, date = _pick(low, _DATE_KEYS)
    ref_key, ref = _pick(low, _REFTIME_KEYS)
    return _Rec(
        layout="fields",
        title=_as_text(*_pick(low, _TITLE_KEYS)),
        body=_as_text(body_key, body),
        date_raw=_as_date(date_key, date),
        reference_time=_as_date(ref_key, ref),
        source=_as_text(*_pick(low, _SOURCE_KEYS), allow_list=True),
        url=_as_text(*_pick(low, _URL_KEYS)),
        author=_as_text(*_pick(low, _AUTHOR_KEYS), allow_list=True),
    )


def _records_from_items(items: list[Any], label: str = "item") -> _Parsed:
    recs: list[_Rec] = []
    rejected: list[str] = []
    for i, item in enumerate(items):
        try:
            recs.append(_record_from_obj(item))
        except (TypeError, ValueError) as exc:
            rejected.append(f"{label} {i}: {exc}")
    return _Parsed(recs, rejected, len(items))


def _parse_json(name: str, text: str) -> _Parsed:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise _quarantine(Reason.BAD_JSON, f"{name}: invalid JSON: {exc}") from exc
    except RecursionError as exc:
        raise _quarantine(Reason.BAD_JSON, f"{name}: JSON nested too deeply to read") from exc
    if isinstance(doc, list):
        return _records_from_items(doc)
    if isinstance(doc, dict):
        low = {str(k).lower(): v for k, v in doc.items()}
        for key in _LIST_KEYS:
            if isinstance(low.get(key), list):
                return _records_from_items(low[key])
        if (
            not low.keys() & set(_BODY_KEYS)
            and doc
            and all(isinstance(v, dict) for v in doc.values())
        ):
            return _records_from_items(list(doc.values()))  # {"id1": {...}, "id2": {...}}
        return _records_from_items([doc], "object")
    raise _quarantine(
        Reason.BAD_RECORD, f"{name}: JSON top level is {type(doc).__name__}, not articles"
    )


def _parse_jsonl(name: str, text: str) -> _Parsed:
    recs: list[_Rec] = []
    rejected: list[str] = []
    total = 0
    bad_json = 0
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        total += 1
        try:
            obj = json.loads(line)
        except ValueError as exc:
            bad_json += 1
            # The whole message: exc.msg alone stops at "Unterminated string starting at".
            rejected.append(f"line {lineno}: invalid JSON ({exc})")
            continue
        try:
            recs.append(_record_from_obj(obj))
        except (TypeError, ValueError) as exc:
            rejected.append(f"line {lineno}: {exc}")
    if total and bad_json == total:
        raise _quarantine(Reason.BAD_JSON, f"{name}: no line is valid JSON; {rejected[0]}")
    return _Parsed(recs, rejected, total)


def _parse_csv(name: str, text: str, config: FetchConfig) -> _Parsed:
    csv.field_size_limit(max(config.max_file_bytes, 131072))
    first = text.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(first, delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = "\t" if name.lower().endswith(".tsv") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise _quarantine(Reason.BAD_CSV, f"{name}: no CSV header") from exc
    keys = [h.strip().lstrip("\ufeff").lower() for h in header]
    if not set(keys) & set(_BODY_KEYS):
        raise _quarantine(
            Reason.BAD_CSV, f"{name}: CSV header {header[:8]!r} names no content/text/body column"
        )
    recs: list[_Rec] = []
    rejected: list[str] = []
    total = 0
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            total += 1
            if len(row) != len(keys):
                rejected.append(f"row {total}: {len(row)} cells, header has {len(keys)}")
                continue
            try:
                recs.append(_record_from_obj(dict(zip(keys, row, strict=True))))
            except (TypeError, ValueError) as exc:
                rejected.append(f"row {total}: {exc}")
    except csv.Error as exc:
        raise _quarantine(Reason.BAD_CSV, f"{name}: broken CSV at row {total + 1}: {exc}") from exc
    return _Parsed(recs, rejected, total)


def _parse_html(name: str, text: str) -> _Parsed:
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(
            text,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
        )
    except Exception as exc:  # noqa: BLE001 - the extractor may fail on any broken page
        raise _quarantine(
            Reason.NO_TEXT_EXTRACTED, f"{name}: HTML extraction failed: {exc}"
        ) from exc
    if doc is None:
        raise _quarantine(Reason.NO_TEXT_EXTRACTED, f"{name}: no article text in the page")
    meta = doc if isinstance(doc, dict) else doc.as_dict()
    body = (meta.get("text") or "").strip()
    if not body:
        raise _quarantine(Reason.NO_TEXT_EXTRACTED, f"{name}: no article text in the page")
    title = meta.get("title") or None
    # The extracted text repeats the <h1> headline as its first line; the title has it.
    first, _, rest = body.partition("\n")
    if title and first.strip() == title.strip() and rest.strip():
        body = rest.strip()
    rec = _Rec(
        layout="fields",
        title=title,
        body=body,
        date_raw=meta.get("date") or None,
        reference_time=None,
        source=meta.get("sitename") or meta.get("hostname") or None,
        url=meta.get("url") or None,
        author=meta.get("author") or None,
    )
    return _Parsed([rec], [], 1)


def _fallbacks(path_name: str, fmt: str, text: str) -> list[str]:
    """Formats to try, in order, for a text sniffed as ``fmt``.

    JSON Lines whose first line is broken sniff as JSON, so JSONL is tried next. When
    sniffing, not the extension, chose ``fmt``, the extension's format comes after it
    and plain text (the news layout) last: a ``.txt`` headline such as
    ``{فورمولا 1} تودع بيانكي`` or ``[فيديو] ...`` opens like JSON (issue 17).
    """
    ext = _ext_format(path_name)
    tries = [fmt]
    if fmt == "json" and "\n{" in text:
        tries.append("jsonl")
    if fmt != ext:
        tries.append(ext or "txt")
    return list(dict.fromkeys(tries))


def _parse_text(
    name: str, path_name: str, fmt: str, text: str, config: FetchConfig
) -> tuple[_Parsed, str, str | None]:
    """Parse decoded text sniffed as ``fmt``, falling back as ``_fallbacks`` orders.

    Returns:
        ``(parsed, format_used, note)``; ``note`` says why a fallback was read instead
        of the sniffed format (None when the sniffed format parsed).

    Raises:
        _Bad: the last format tried fails too (``bad_json``, ``bad_csv``,
            ``bad_record``, ``no_articles``, ``no_text_extracted``).
    """
    first: _Bad | None = None
    last: _Bad | None = None
    for used in _fallbacks(path_name, fmt, text):
        if used == "jsonl" and fmt == "json" and (first is None or first.reason != Reason.BAD_JSON):
            continue  # valid JSON with unusable records is not JSON Lines either
        try:
            parsed = _parse(name, used, text, config)
            if not parsed.records:
                raise _no_records(name, used, parsed)
        except _Bad as bad:
            first, last = first or bad, bad
            continue
        note = None if first is None else f"{first.message}; read as {used}"
        return parsed, used, note
    assert last is not None  # every format tried raised
    raise last


def _no_records(name: str, fmt: str, parsed: _Parsed) -> _Bad:
    if parsed.rejected:
        return _quarantine(
            Reason.BAD_RECORD,
            f"{name}: all {parsed.total} records rejected; "
            + "; ".join(parsed.rejected[:_MAX_MESSAGES]),
        )
    return _quarantine(Reason.NO_ARTICLES, f"{name}: no articles in the {fmt} input")


def _parse(name: str, fmt: str, text: str, config: FetchConfig) -> _Parsed:
    if fmt == "json":
        return _parse_json(name, text)
    if fmt == "jsonl":
        return _parse_jsonl(name, text)
    if fmt == "csv":
        return _parse_csv(name, text, config)
    if fmt == "html":
        return _parse_html(name, text)
    # The .txt news layout is parsed by the clean stage; fetch hands over the whole text.
    return _Parsed([_Rec("news_txt", None, text, None, None, None, None, None)], [], 1)
