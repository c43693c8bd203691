"""Fetch stage: discover inputs, read their bytes, expand archives, decode and parse records.

``discover_sources`` turns the user's inputs (files, directories, globs, archives,
fsspec/http URLs) into ``Source``s; ``fetch_batch`` reads a batch of them and returns
one ``files`` row per input (archive members get their own row) plus the ``records``
staging table (``tasks.schemas.RECORDS``) that the clean stage parses.

Bad data never raises: an input that cannot be used becomes a ``files`` row with
status ``quarantined`` (bad data) or ``failed`` (unreadable), a ``Reason`` code and a
message naming the input. Transient read failures (timeouts, connection resets,
HTTP 429/5xx, EIO) are retried with exponential backoff and jitter.

Bad records inside a good JSON/JSONL/CSV file (a broken JSONL line, ``content`` that is
a number) are left out and counted in ``files.n_rejected``; the message names the first
few. A file whose records are *all* bad is quarantined (``bad_json`` when no line
parsed, ``bad_record`` when the records have the wrong shape).
"""

from __future__ import annotations

import csv
import errno
import glob
import gzip
import hashlib
import io
import json
import os
import posixpath
import random
import re
import stat
import tarfile
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import pyarrow as pa

from tasks.config import FetchConfig
from tasks.errors import ConfigError, Reason
from tasks.schemas import RECORDS

# Columns of the ``files`` table that fetch fills (the flow adds n_articles, run_id, ...).
FILES_COLUMNS = (
    "file_id",
    "source_uri",
    "member",
    "bytes",
    "sha256",
    "format",
    "encoding",
    "status",
    "reason",
    "message",
    "n_rejected",
)

_FILES_FETCH_SCHEMA = pa.schema(
    [
        pa.field("file_id", pa.string(), nullable=False),
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("member", pa.string()),
        pa.field("bytes", pa.int64()),
        pa.field("sha256", pa.string()),
        pa.field("format", pa.string()),
        pa.field("encoding", pa.string()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("message", pa.string()),
        pa.field("n_rejected", pa.int32()),
    ]
)

_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".gz", ".tar.bz2", ".tar.xz")
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
_GLOB_CHARS = re.compile(r"[*?\[]")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
# Decompressed bytes below this never count as a bomb: tiny archives of short articles
# legitimately compress far better than large ones.
_RATIO_FLOOR = 1 << 20
_CHUNK = 1 << 16
_HEAD = 4096
_MAX_MESSAGES = 3
_USER_AGENT = "akhbar/0.1 (Arabic news pipeline)"
_TRANSIENT_ERRNOS = frozenset(
    {errno.EIO, errno.EAGAIN, errno.ETIMEDOUT, errno.ECONNRESET, getattr(errno, "ESTALE", -1)}
)

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
_ALL_KEYS = frozenset(
    _TITLE_KEYS + _BODY_KEYS + _DATE_KEYS + _REFTIME_KEYS + _SOURCE_KEYS + _URL_KEYS
)


@dataclass(frozen=True)
class Source:
    """One input to fetch: an absolute local path or an fsspec/http URL."""

    uri: str


class FetchResult(NamedTuple):
    """What ``fetch_batch`` returns.

    Attributes:
        files: one row per input or archive member, columns ``FILES_COLUMNS``.
        records: the ``RECORDS`` staging table (one row per article-like record).
    """

    files: pa.Table
    records: pa.Table


class _Bad(Exception):
    """Internal: an input that cannot be used, with its files-row status and reason."""

    def __init__(self, status: str, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class _Transient(Exception):
    """Internal: a read failure worth retrying, with a server-requested delay."""

    def __init__(self, message: str, delay: float = 0.0) -> None:
        super().__init__(message)
        self.delay = delay


def _quarantine(reason: Reason, message: str) -> _Bad:
    return _Bad("quarantined", reason, message)


def _failed(reason: Reason, message: str) -> _Bad:
    return _Bad("failed", reason, message)


def _is_url(s: str) -> bool:
    return bool(_URL.match(s)) and not s.startswith("file://")


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _walk_dir(root: str) -> list[str]:
    out: list[str] = []

    def unlistable(err: OSError) -> None:
        # A directory we cannot list is returned too: it becomes a failed row.
        if err.filename and err.filename != root:
            out.append(err.filename)

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable):
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
        # A symlink to a directory is listed but not followed (no loops); it becomes a
        # not_a_regular_file row rather than vanishing.
        for d in dirnames[:]:
            if os.path.islink(os.path.join(dirpath, d)):
                dirnames.remove(d)
                out.append(os.path.join(dirpath, d))
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames) if not _hidden(f))
    return sorted(out)


def discover_sources(inputs: list[str], config: FetchConfig) -> list[Source]:
    """Expand files, directories (recursive), globs and URLs into sorted, unique sources.

    Hidden files and directories are skipped. Entries found inside a directory are
    returned even when they cannot be read (dangling symlink, no permission) so that
    they become ``failed`` rows instead of being silently dropped.

    Raises:
        ConfigError: a local path or glob matches nothing, naming the input.
    """
    del config  # discovery needs no settings today; kept for a stable signature
    found: list[str] = []
    for raw in inputs:
        inp = raw.strip()
        if not inp:
            raise ConfigError("empty input path")
        if _is_url(inp):
            found.extend(_discover_url(inp))
            continue
        path = os.path.abspath(os.path.expanduser(inp.removeprefix("file://")))
        if os.path.isdir(path):
            found.extend(_walk_dir(path))
        elif os.path.lexists(path):
            found.append(path)
        elif _GLOB_CHARS.search(inp):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                raise ConfigError(f"input glob {raw!r} matches no file")
            for m in matches:
                found.extend(_walk_dir(m) if os.path.isdir(m) else [m])
        else:
            raise ConfigError(f"input {raw!r} does not exist")
    seen: set[str] = set()
    out = []
    for uri in found:
        if uri not in seen:
            seen.add(uri)
            out.append(Source(uri))
    return out


def _discover_url(url: str) -> list[str]:
    if url.startswith(("http://", "https://")):
        return [url]  # HTTP has no listing: a URL names one input
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"cannot open input URL {url!r}: {exc}") from exc
    protocol = url.split("://", 1)[0]

    def unstrip(p: str) -> str:
        return p if _is_url(p) else f"{protocol}://{p.lstrip('/') if protocol != 'memory' else p}"

    if _GLOB_CHARS.search(path):
        matches = sorted(fs.glob(path))
        if not matches:
            raise ConfigError(f"input glob {url!r} matches no file")
    elif fs.isdir(path):
        matches = sorted(fs.find(path))
    else:
        return [url]  # a missing remote file becomes a failed row at fetch time
    return [
        unstrip(m)
        for m in matches
        if not any(_hidden(part) for part in m.split("/")) and not fs.isdir(m)
    ]


def file_id_for(source_uri: str, member: str | None) -> str:
    """Stable 16-hex-digit id of an input: a hash of its URI and archive member."""
    key = source_uri if member is None else f"{source_uri}\x00{member}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _looks_archive(name: str, head: bytes) -> bool:
    low = name.lower()
    if low.endswith(_ARCHIVE_SUFFIXES):
        return True
    return head.startswith((b"PK\x03\x04", b"\x1f\x8b")) or head[257:262] == b"ustar"


def _read_capped(f: Any, name: str, config: FetchConfig) -> bytes:
    """Read a file object, refusing more than the cap (archives get the archive cap)."""
    head = f.read(_HEAD)
    cap = config.max_archive_bytes if _looks_archive(name, head) else config.max_file_bytes
    parts = [head]
    n = len(head)
    while n <= cap:
        chunk = f.read(_CHUNK)
        if not chunk:
            break
        parts.append(chunk)
        n += len(chunk)
    if n > cap:
        raise _quarantine(Reason.FILE_TOO_LARGE, f"{name}: larger than the {cap}-byte cap")
    return b"".join(parts)


def _read_local(path: str, config: FetchConfig) -> bytes:
    if os.path.islink(path) and not os.path.exists(path):
        raise _failed(
            Reason.BROKEN_LINK, f"{path}: symlink points to missing {os.readlink(path)!r}"
        )
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode) and not os.access(path, os.R_OK | os.X_OK):
        raise _failed(Reason.PERMISSION_DENIED, f"{path}: directory cannot be listed")
    if not stat.S_ISREG(st.st_mode):
        # Never open FIFOs or devices: reading them can block forever.
        raise _failed(Reason.NOT_A_REGULAR_FILE, f"{path}: not a regular file")
    cap = max(config.max_file_bytes, config.max_archive_bytes)
    if st.st_size > cap:
        raise _quarantine(
            Reason.FILE_TOO_LARGE, f"{path}: {st.st_size} bytes is over the {cap}-byte cap"
        )
    with open(path, "rb") as f:
        return _read_capped(f, path, config)


def _read_http(url: str, config: FetchConfig) -> bytes:
    # The standard library, not fsspec's HTTP filesystem: one GET per attempt and the
    # real status code (fsspec sends HEAD first and reports most errors as not found).
    import urllib.request

    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(req, timeout=config.timeout_s) as resp:
        return _read_capped(resp, url, config)


def _read_remote(url: str, config: FetchConfig) -> bytes:
    if url.startswith(("http://", "https://")):
        return _read_http(url, config)
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    if not fs.exists(path):
        raise FileNotFoundError(url)
    if fs.isdir(path):
        raise _failed(Reason.NOT_A_REGULAR_FILE, f"{url}: is a directory")
    with fs.open(path, "rb") as f:
        return _read_capped(f, url, config)


def _classify(exc: BaseException, uri: str) -> _Bad | _Transient:
    """Map a read exception to a permanent failure or a retryable one."""
    import http.client
    import socket
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        if exc.code == 429 or exc.code >= 500:
            return _Transient(f"HTTP {exc.code} {exc.reason}", _retry_after(exc))
        return _failed(Reason.HTTP_ERROR, f"{uri}: HTTP {exc.code} {exc.reason}")
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, socket.gaierror):
            return _failed(Reason.NETWORK_ERROR, f"{uri}: cannot resolve host ({reason})")
        if isinstance(reason, OSError):
            return _Transient(f"{type(reason).__name__}: {reason}")
        return _failed(Reason.HTTP_ERROR, f"{uri}: {reason}")
    if isinstance(exc, http.client.InvalidURL):
        return _failed(Reason.HTTP_ERROR, f"{uri}: invalid URL ({exc})")
    if isinstance(exc, FileNotFoundError):
        return _failed(Reason.NOT_FOUND, f"{uri}: no such file")
    if isinstance(exc, PermissionError):
        return _failed(Reason.PERMISSION_DENIED, f"{uri}: permission denied")
    if isinstance(exc, IsADirectoryError):
        return _failed(Reason.NOT_A_REGULAR_FILE, f"{uri}: is a directory")
    if isinstance(exc, TimeoutError | ConnectionError | http.client.HTTPException):
        return _Transient(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
        return _Transient(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ValueError) and _is_url(uri):
        return _failed(Reason.HTTP_ERROR, f"{uri}: invalid URL ({exc})")
    return _failed(Reason.READ_ERROR, f"{uri}: {type(exc).__name__}: {exc}")


def _retry_after(exc: Any) -> float:
    # Honour a short Retry-After (seconds) from 429/503; dates and long waits are ignored.
    value = (exc.headers or {}).get("Retry-After", "") if hasattr(exc, "headers") else ""
    try:
        return min(float(value), 30.0)
    except ValueError:
        return 0.0


def is_transient(exc: BaseException, uri: str = "") -> bool:
    """Whether a read failure is worth retrying (for Prefect's ``retry_condition_fn``)."""
    return isinstance(_classify(exc, uri), _Transient)


def _read_source(uri: str, config: FetchConfig) -> bytes:
    """Read one source's raw bytes, retrying transient failures with backoff and jitter."""
    last = ""
    wait = 0.0
    for attempt in range(config.retries + 1):
        try:
            return _read_remote(uri, config) if _is_url(uri) else _read_local(uri, config)
        except _Bad:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is classified below
            kind = _classify(exc, uri)
            if isinstance(kind, _Bad):
                raise kind from exc
            last = str(kind)
            wait = kind.delay
        if attempt < config.retries:
            # Exponential backoff with jitter around the nominal delay.
            delay = config.retry_backoff_s * (2**attempt) * random.uniform(0.5, 1.5)
            time.sleep(max(delay, wait))
    raise _failed(
        Reason.RETRIES_EXHAUSTED,
        f"{uri}: gave up after {config.retries + 1} attempts; last error: {last}",
    )


class _Unit(NamedTuple):
    member: str | None
    data: bytes | None
    bad: _Bad | None


def _bad_unit(member: str | None, bad: _Bad) -> _Unit:
    return _Unit(member, None, bad)


def _unsafe_name(name: str) -> bool:
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        return True
    return ".." in norm.split("/")


def _link_escapes(member: str, target: str) -> bool:
    if _unsafe_name(target) and target.replace("\\", "/").startswith("/"):
        return True
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(member), target))
    return joined.startswith("../") or joined == ".." or joined.startswith("/")


def _skip_member(name: str) -> bool:
    # macOS resource forks and dot files are not articles, same as hidden files on disk.
    parts = [p for p in name.replace("\\", "/").split("/") if p and p not in (".", "..")]
    return not parts or parts[0] == "__MACOSX" or any(_hidden(p) for p in parts)


class _Budget:
    """Total decompressed bytes left for one archive (the bomb guard)."""

    def __init__(self, uri: str, compressed: int, config: FetchConfig) -> None:
        self.uri = uri
        self.left = config.max_archive_bytes
        self.total = 0
        self.compressed = max(compressed, 1)
        self.ratio = config.max_archive_ratio
        self.exhausted = False


def _read_member(
    f: Any, budget: _Budget, member: str, compressed: int | None, config: FetchConfig
) -> bytes:
    """Stream-read a member under the per-file cap, the archive total and the ratio guard.

    Header sizes are never trusted: the caps apply to the bytes actually produced.
    """
    parts: list[bytes] = []
    n = 0
    where = f"{budget.uri} member {member!r}"
    while True:
        chunk = f.read(_CHUNK)
        if not chunk:
            break
        n += len(chunk)
        budget.total += len(chunk)
        parts.append(chunk)
        if budget.total > budget.left:
            budget.exhausted = True
            raise _quarantine(
                Reason.ARCHIVE_BOMB,
                f"{where}: archive expands past the {budget.left}-byte total cap",
            )
        ratio_base, ratio_n = (
            (compressed, n) if compressed is not None else (budget.compressed, budget.total)
        )
        if ratio_n > _RATIO_FLOOR and ratio_n / max(ratio_base, 1) > budget.ratio:
            if compressed is None:
                budget.exhausted = True
            raise _quarantine(
                Reason.ARCHIVE_BOMB,
                f"{where}: expands more than {budget.ratio:g}x its compressed size",
            )
        if n > config.max_file_bytes:
            raise _quarantine(
                Reason.FILE_TOO_LARGE,
                f"{where}: larger than the {config.max_file_bytes}-byte cap",
            )
    return b"".join(parts)


def _archive_kind(name: str, data: bytes) -> str | None:
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return "zip"
    if data[257:262] == b"ustar":
        return "tar"
    if data.startswith(b"\x1f\x8b"):
        try:
            head = gzip.GzipFile(fileobj=io.BytesIO(data)).read(512)
        except (OSError, EOFError, zlib.error):
            return "gz"  # let the gz reader report the damage
        return "tar" if head[257:262] == b"ustar" else "gz"
    if data.startswith((b"BZh", b"\xfd7zXZ")):
        return "tar"
    low = name.lower()
    if low.endswith(".zip"):
        return "zip"
    if low.endswith((".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz")):
        return "tar"
    if low.endswith(".gz"):
        return "gz"
    return None


def _expand_archive(uri: str, kind: str, data: bytes, config: FetchConfig) -> Iterator[_Unit]:
    budget = _Budget(uri, len(data), config)
    if kind == "zip":
        yield from _expand_zip(uri, data, budget, config)
    elif kind == "tar":
        if data[257:262] == b"ustar":
            budget.ratio = float("inf")  # an uncompressed tar has no ratio to guard
        yield from _expand_tar(uri, data, budget, config)
    else:
        member = posixpath.basename(uri.rstrip("/"))
        member = member[:-3] if member.lower().endswith(".gz") else member
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
                yield _Unit(member, _read_member(f, budget, member, None, config), None)
        except _Bad as bad:
            yield _bad_unit(member, bad)
        except (OSError, EOFError, zlib.error) as exc:
            yield _bad_unit(None, _quarantine(Reason.BAD_ARCHIVE, f"{uri}: bad gzip: {exc}"))


def _check_member(name: str, where: str, budget: _Budget) -> _Bad | None:
    """Refuse a member once the archive is over budget or when its path is unsafe."""
    if budget.exhausted:
        return _quarantine(
            Reason.ARCHIVE_BOMB, f"{where}: not read, the archive already hit its size cap"
        )
    if _unsafe_name(name):
        return _quarantine(Reason.UNSAFE_ARCHIVE_MEMBER, f"{where}: absolute path or '..' part")
    return None


def _link_unit(name: str, where: str, target: str, escapes: bool) -> _Unit:
    if escapes:
        return _bad_unit(
            name,
            _quarantine(
                Reason.UNSAFE_ARCHIVE_MEMBER, f"{where}: link to {target!r} points outside"
            ),
        )
    return _bad_unit(name, _failed(Reason.NOT_A_REGULAR_FILE, f"{where}: link to {target!r}"))


_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError)


def _expand_zip(uri: str, data: bytes, budget: _Budget, config: FetchConfig) -> Iterator[_Unit]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        yield _bad_unit(None, _quarantine(Reason.BAD_ARCHIVE, f"{uri}: bad zip: {exc}"))
        return
    for info in infos:
        name = info.filename
        if info.is_dir() or (_skip_member(name) and not _unsafe_name(name)):
            continue
        where = f"{uri} member {name!r}"
        bad = _check_member(name, where, budget)
        if bad is not None:
            yield _bad_unit(name, bad)
            continue
        if info.flag_bits & 0x1:
            yield _bad_unit(name, _quarantine(Reason.BAD_ARCHIVE, f"{where}: encrypted"))
            continue
        try:
            with zf.open(info) as f:
                if stat.S_ISLNK(info.external_attr >> 16):
                    target = f.read(4096).decode("utf-8", "replace")
                    yield _link_unit(name, where, target, _link_escapes(name, target))
                    continue
                yield _Unit(name, _read_member(f, budget, name, info.compress_size, config), None)
        except _Bad as bad:
            yield _bad_unit(name, bad)
        except _ZIP_ERRORS as exc:
            yield _bad_unit(name, _quarantine(Reason.BAD_ARCHIVE, f"{where}: {exc}"))


def _expand_tar(uri: str, data: bytes, budget: _Budget, config: FetchConfig) -> Iterator[_Unit]:
    try:
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        yield _bad_unit(None, _quarantine(Reason.BAD_ARCHIVE, f"{uri}: bad tar: {exc}"))
        return
    try:
        for ti in tf:
            name = ti.name
            if ti.isdir() or (_skip_member(name) and not _unsafe_name(name)):
                continue
            where = f"{uri} member {name!r}"
            bad = _check_member(name, where, budget)
            if bad is not None:
                yield _bad_unit(name, bad)
            elif ti.issym() or ti.islnk():
                # Hard links name another member by its archive path; symlinks are relative.
                escapes = (
                    _link_escapes(name, ti.linkname) if ti.issym() else _unsafe_name(ti.linkname)
                )
                yield _link_unit(name, where, ti.linkname, escapes)
            elif not ti.isfile():
                yield _bad_unit(
                    name, _failed(Reason.NOT_A_REGULAR_FILE, f"{where}: not a regular file")
                )
            else:
                f = tf.extractfile(ti)
                if f is None:
                    raise tarfile.TarError(f"member {name!r} has no data")
                try:
                    # Members of a compressed tar share one compressor, so the ratio is
                    # judged on the whole stream (compressed=None).
                    yield _Unit(name, _read_member(f, budget, name, None, config), None)
                except _Bad as bad:
                    yield _bad_unit(name, bad)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        yield _bad_unit(None, _quarantine(Reason.BAD_ARCHIVE, f"{uri}: damaged tar: {exc}"))


# Letters in these blocks count as Arabic script (Arabic, Supplement, Presentation Forms).
_ARABIC_RANGES = ((0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))


def _is_arabic_char(ch: str) -> bool:
    o = ord(ch)
    return any(a <= o <= b for a, b in _ARABIC_RANGES)


_MIXED_SCRIPT = re.compile(
    r"[\u0621-\u064a][a-zA-Z\u00c0-\u024f]|[a-zA-Z\u00c0-\u024f][\u0621-\u064a]"
)


def _arabic_score(text: str) -> float | None:
    """How plausibly ``text`` is real Arabic (share of non-ASCII letters that are Arabic).

    None when it reads as mojibake: replacement characters, C1 controls, or Arabic letters
    glued to Latin ones inside words (``Le prىsident`` is Latin-1 French read as
    ISO-8859-6; ``ê`` inside an Arabic word is ISO-8859-6 read as cp1256).
    """
    sample = text[:20000]
    if "\ufffd" in sample or any("\x80" <= c <= "\x9f" for c in sample):
        return None
    non_ascii = [c for c in sample if ord(c) > 127 and c.isalpha()]
    arabic = sum(1 for c in non_ascii if _is_arabic_char(c))
    if not arabic:
        return 0.0
    if len(_MIXED_SCRIPT.findall(sample)) > max(1, arabic // 50):
        return None
    # UTF-8 Arabic read as cp1256 turns every lead byte into ط or ظ (ط§ظ„ for ال);
    # in real Arabic text the two letters are ~1.5 % of letters.
    if arabic >= 20 and sum(1 for c in non_ascii if c in "طظ") > 0.25 * arabic:
        return None
    return arabic / len(non_ascii)


# The article ال and the most frequent particles (في، من، على، إلى، أن).
_COMMON_ARABIC = re.compile(r"(?<![\u0621-\u064a])(?:ال|في|من|على|إلى|أن)")


def _plausible_arabic(text: str) -> bool:
    score = _arabic_score(text)
    return score is not None and score >= 0.9


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > max(2, len(sample) // 100)


_MOJIBAKE = re.compile("[ØÙÚÛ][\u0080-\u00ff\u0152-\u2122]")


def _decode_bytes(data: bytes, name: str = "input") -> tuple[str, str]:
    """Decode raw bytes to text and name the encoding.

    Tries BOMs (UTF-8, UTF-16), strict UTF-8, BOM-less UTF-16, then the legacy Arabic
    code pages (Windows-1256, ISO-8859-6), keeping only a decoding that reads as Arabic.

    Returns:
        ``(text, encoding)`` with encoding one of utf-8, utf-8-sig, utf-16, utf-16-le,
        utf-16-be, cp1256, iso8859_6 (or another charset-normalizer guess).

    Raises:
        _Bad: quarantined ``binary_file`` or ``bad_encoding``.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    else:
        candidates = []
    for enc in candidates:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError as exc:
            raise _quarantine(
                Reason.BAD_ENCODING, f"{name}: has a {enc} BOM but does not decode: {exc}"
            ) from exc
    utf16 = _guess_bomless_utf16(data)
    if utf16:
        return data.decode(utf16), utf16
    if _looks_binary(data):
        raise _quarantine(Reason.BINARY_FILE, f"{name}: binary data, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a download cut inside the last character: keep the text, drop the partial char
        text = None
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            try:
                text = data[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                text = None
    if text is not None:
        if _MOJIBAKE.search(text[:20000]) and len(_MOJIBAKE.findall(text[:20000])) > 3:
            raise _quarantine(
                Reason.BAD_ENCODING,
                f"{name}: UTF-8 text that is itself mojibake (Arabic decoded as Latin and "
                "re-encoded)",
            )
        return text, "utf-8"
    # Both legacy Arabic code pages decode most bytes; keep the one that reads as Arabic.
    # When both do (they share ء..ض), the one with more common words wins: ISO-8859-6's
    # ل is cp1256's ن, so ال and في vanish from a wrong decoding. Remaining ties go to
    # cp1256, by far the more common in older corpora.
    best: tuple[float, int, str, str] | None = None
    for enc in ("cp1256", "iso8859_6"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        score = _arabic_score(text)
        if score is None or score < 0.9:
            continue
        common = len(_COMMON_ARABIC.findall(text[:20000]))
        if best is None or (score, common) > best[:2]:
            best = (score, common, text, enc)
    if best is not None:
        return best[2], best[3]
    guess = _charset_normalizer_guess(data)
    if guess is not None:
        return guess
    raise _quarantine(
        Reason.BAD_ENCODING,
        f"{name}: not UTF-8/UTF-16 and does not decode as Arabic in cp1256 or iso8859_6",
    )


def _arabic_share(text: str) -> float:
    letters = [c for c in text[:20000] if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if _is_arabic_char(c)) / len(letters)


def _guess_bomless_utf16(data: bytes) -> str | None:
    # Arabic UTF-16 without a BOM: every other byte is 0x06 (Arabic block) or 0x00.
    sample = data[:4096]
    if len(sample) < 8 or len(data) % 2:
        return None
    even, odd = sample[0::2], sample[1::2]
    for enc, high in (("utf-16-le", odd), ("utf-16-be", even)):
        share = sum(1 for b in high if b in (0x00, 0x06)) / len(high)
        zeros = high.count(0) / len(high)
        if share > 0.95 and zeros > 0.05:
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                continue
            if _plausible_arabic(text):
                return enc
    return None


def _charset_normalizer_guess(data: bytes) -> tuple[str, str] | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover
        return None
    best = from_bytes(data[:200_000]).best()
    if best is None or best.encoding is None:
        return None
    try:
        text = data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    if _plausible_arabic(text) and _arabic_share(text) >= 0.5:
        return text, best.encoding
    return None


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
            rejected.append(f"line {lineno}: invalid JSON ({exc.msg})")
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


class _Rows:
    """Column lists for the files and records tables."""

    def __init__(self) -> None:
        self.files: dict[str, list[Any]] = {c: [] for c in FILES_COLUMNS}
        self.records: dict[str, list[Any]] = {f.name: [] for f in RECORDS}

    def add_file(self, **row: Any) -> None:
        for c in FILES_COLUMNS:
            self.files[c].append(row.get(c))

    def add_records(self, file_id: str, recs: list[_Rec]) -> None:
        r = self.records
        for i, rec in enumerate(recs):
            r["file_id"].append(file_id)
            r["record_index"].append(i)
            for k, v in rec._asdict().items():
                r[k].append(v)


def _name_of(uri: str, member: str | None) -> str:
    return f"{uri} member {member!r}" if member is not None else uri


def _process_unit(
    rows: _Rows,
    uri: str,
    member: str | None,
    data: bytes,
    config: FetchConfig,
    known: Mapping[tuple[str, str | None], str] | None,
    quarantined: list[tuple[str, str | None, bytes, str, str, str]],
) -> None:
    fid = file_id_for(uri, member)
    sha = hashlib.sha256(data).hexdigest()
    name = _name_of(uri, member)
    base = {"file_id": fid, "source_uri": uri, "member": member, "bytes": len(data), "sha256": sha}
    path_name = member if member is not None else uri
    if known is not None and known.get((uri, member)) == sha:
        rows.add_file(
            **base,
            format=_ext_format(path_name),
            status="skipped_unchanged",
            reason=str(Reason.UNCHANGED),
            message=f"{name}: unchanged since last run",
        )
        return
    fmt: str | None = None
    enc: str | None = None
    try:
        if not data.strip():
            raise _quarantine(Reason.EMPTY_FILE, f"{name}: empty file")
        if data.startswith((b"PK\x03\x04", b"\x1f\x8b")) or data[257:262] == b"ustar":
            fmt = "archive"
            raise _quarantine(Reason.UNKNOWN_FORMAT, f"{name}: nested archives are not expanded")
        text, enc = _decode_bytes(data, name)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text.strip():
            raise _quarantine(Reason.EMPTY_FILE, f"{name}: only whitespace")
        fmt = sniff_format(path_name, text)
        try:
            parsed = _parse(name, fmt, text, config)
        except _Bad as bad:
            # JSON Lines whose first line is broken sniff as JSON; give them a second try.
            if fmt != "json" or bad.reason != Reason.BAD_JSON or "\n{" not in text:
                raise
            parsed, fmt = _parse_jsonl(name, text), "jsonl"
        if not parsed.records:
            if parsed.rejected:
                raise _quarantine(
                    Reason.BAD_RECORD,
                    f"{name}: all {parsed.total} records rejected; "
                    + "; ".join(parsed.rejected[:_MAX_MESSAGES]),
                )
            raise _quarantine(Reason.NO_ARTICLES, f"{name}: no articles in the {fmt} input")
    except _Bad as bad:
        rows.add_file(
            **base,
            format=fmt,
            encoding=enc,
            status=bad.status,
            reason=str(bad.reason),
            message=bad.message,
        )
        if bad.status == "quarantined":
            quarantined.append((uri, member, data, fid, str(bad.reason), bad.message))
        return
    message = None
    if parsed.rejected:
        message = (
            f"{name}: {len(parsed.rejected)} of {parsed.total} records rejected: "
            + "; ".join(parsed.rejected[:_MAX_MESSAGES])
            + (" ..." if len(parsed.rejected) > _MAX_MESSAGES else "")
        )
    rows.add_file(
        **base,
        format=fmt,
        encoding=enc,
        status="ok",
        message=message,
        n_rejected=len(parsed.rejected),
    )
    rows.add_records(fid, parsed.records)


def _read_all(sources: list[Source], config: FetchConfig) -> list[bytes | _Bad]:
    def one(src: Source) -> bytes | _Bad:
        try:
            return _read_source(src.uri, config)
        except _Bad as bad:
            return bad

    remote = [s for s in sources if _is_url(s.uri)]
    if len(remote) < 2:
        return [one(s) for s in sources]
    # Network reads overlap (slow servers, retry sleeps); local reads stay in order.
    with ThreadPoolExecutor(max_workers=min(8, len(remote))) as pool:
        futures = {s.uri: pool.submit(one, s) for s in remote}
        return [futures[s.uri].result() if s.uri in futures else one(s) for s in sources]


def fetch_batch(
    sources: list[Source],
    config: FetchConfig,
    known: Mapping[tuple[str, str | None], str] | None = None,
    quarantine_dir: str | None = None,
) -> FetchResult:
    """Read, expand, decode and parse a batch of sources.

    Args:
        sources: inputs from ``discover_sources``.
        config: caps, retries and timeouts.
        known: ``(source_uri, member) -> sha256`` of inputs already in the dataset; an
            input with the same hash gets status ``skipped_unchanged`` and no records.
        quarantine_dir: when given, each quarantined original is copied there as
            ``<file_id>__<basename>`` with a ``.json`` sidecar (source_uri, member,
            reason, message, sha256).

    Returns:
        ``FetchResult(files, records)``: ``files`` has ``FILES_COLUMNS`` (one row per
        input or archive member), ``records`` follows ``RECORDS``.
    """
    rows = _Rows()
    quarantined: list[tuple[str, str | None, bytes, str, str, str]] = []
    for src, raw in zip(sources, _read_all(sources, config), strict=True):
        uri = src.uri
        if isinstance(raw, _Bad):
            rows.add_file(
                file_id=file_id_for(uri, None),
                source_uri=uri,
                status=raw.status,
                reason=str(raw.reason),
                message=raw.message,
            )
            if raw.status == "quarantined":
                quarantined.append(
                    (uri, None, b"", file_id_for(uri, None), str(raw.reason), raw.message)
                )
            continue
        kind = _archive_kind(uri, raw) if _looks_archive(uri, raw[:600]) else None
        if kind is None:
            _process_unit(rows, uri, None, raw, config, known, quarantined)
            continue
        n_members = 0
        for unit in _expand_archive(uri, kind, raw, config):
            n_members += 1
            if unit.bad is not None:
                fid = file_id_for(uri, unit.member)
                size = len(raw) if unit.member is None else None
                rows.add_file(
                    file_id=fid,
                    source_uri=uri,
                    member=unit.member,
                    bytes=size,
                    format="archive" if unit.member is None else None,
                    status=unit.bad.status,
                    reason=str(unit.bad.reason),
                    message=unit.bad.message,
                )
                if unit.bad.status == "quarantined":
                    data = raw if unit.member is None else b""
                    quarantined.append(
                        (uri, unit.member, data, fid, str(unit.bad.reason), unit.bad.message)
                    )
            else:
                assert unit.data is not None
                _process_unit(rows, uri, unit.member, unit.data, config, known, quarantined)
        if n_members == 0:
            fid = file_id_for(uri, None)
            rows.add_file(
                file_id=fid,
                source_uri=uri,
                bytes=len(raw),
                format="archive",
                status="quarantined",
                reason=str(Reason.NO_ARTICLES),
                message=f"{uri}: archive holds no files",
            )
            quarantined.append(
                (uri, None, raw, fid, str(Reason.NO_ARTICLES), f"{uri}: archive holds no files")
            )
    if quarantine_dir is not None:
        for item in quarantined:
            write_quarantine(quarantine_dir, *item)
    files = pa.Table.from_pydict(rows.files, schema=_FILES_FETCH_SCHEMA)
    records = pa.Table.from_pydict(rows.records, schema=RECORDS)
    return FetchResult(files, records)


_UNSAFE_FS_CHARS = re.compile(r"[^\w.\-]+", re.UNICODE)


def write_quarantine(
    qdir: str, uri: str, member: str | None, data: bytes, fid: str, reason: str, message: str
) -> None:
    """Copy a quarantined original and its sidecar into ``qdir`` (local path or URL).

    Writes ``<fid>__<basename>`` (skipped when ``data`` is empty, e.g. a file over the
    size cap) and ``<fid>__<basename>.json`` with source_uri, member, reason, message,
    sha256 and whether the original was copied.
    """
    import fsspec

    base = posixpath.basename((member or uri).replace("\\", "/").rstrip("/")) or "input"
    base = _UNSAFE_FS_CHARS.sub("_", unicodedata.normalize("NFC", base))[:120]
    stem = f"{fid}__{base}"
    fs, root = fsspec.core.url_to_fs(qdir)
    fs.makedirs(root, exist_ok=True)
    copied = bool(data)
    if copied:
        with fs.open(posixpath.join(root, stem), "wb") as f:
            f.write(data)
    sidecar = {
        "source_uri": uri,
        "member": member,
        "reason": reason,
        "message": message,
        "sha256": hashlib.sha256(data).hexdigest() if data else None,
        "copied": copied,
    }
    with fs.open(posixpath.join(root, stem + ".json"), "w", encoding="utf-8") as f:
        json.dump(sidecar, f, ensure_ascii=False, indent=1)


_write_quarantine = write_quarantine  # the name flows/ first used


def read_input(source_uri: str, member: str | None, config: FetchConfig) -> bytes:
    """Re-read one input's raw bytes (an archive member when ``member`` is set).

    Used to quarantine an input that a later stage finds bad.

    Raises:
        OSError: the input (or member) cannot be read or is no longer usable.
    """
    try:
        raw = _read_source(source_uri, config)
    except _Bad as bad:
        raise OSError(bad.message) from bad
    if member is None:
        return raw
    kind = _archive_kind(source_uri, raw)
    if kind is None:
        raise OSError(f"{source_uri}: not an archive, cannot read member {member!r}")
    for unit in _expand_archive(source_uri, kind, raw, config):
        if unit.member == member:
            if unit.bad is not None:
                raise OSError(unit.bad.message)
            assert unit.data is not None
            return unit.data
    raise OSError(f"{source_uri}: no member {member!r}")
