"""Inputs of the fetch stage: discovery, reading local files and URLs, and retries.

``discover_sources`` turns the user's inputs (files, directories, globs, archives,
fsspec/http URLs) into ``Source``s. ``_read_source`` reads one of them, retrying transient
failures (timeouts, connection resets, HTTP 429/5xx, EIO) with exponential backoff and
jitter, and turns the rest into ``_Bad`` (a files-row status, reason and message).
"""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import random
import re
import stat
import time
from dataclasses import dataclass
from typing import Any

from tasks.config import FetchConfig
from tasks.errors import ConfigError, Reason

_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".gz", ".tar.bz2", ".tar.xz")
_GLOB_CHARS = re.compile(r"[*?\[]")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_CHUNK = 1 << 16
_HEAD = 4096
_USER_AGENT = "akhbar/0.1 (Arabic news pipeline)"
_TRANSIENT_ERRNOS = frozenset(
    {errno.EIO, errno.EAGAIN, errno.ETIMEDOUT, errno.ECONNRESET, getattr(errno, "ESTALE", -1)}
)


@dataclass(frozen=True)
class Source:
    """One input to fetch: an absolute local path or an fsspec/http URL."""

    uri: str


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
    they become ``failed`` rows instead of being silently dropped; so is a local path
    that does not exist (a ``failed``/``not_found`` row, issue 26: ``unmatched_inputs``
    tells the user).

    Raises:
        ConfigError: a glob matches nothing, naming the input.
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
            found.append(path)  # missing: fetch records it as failed / not_found
    seen: set[str] = set()
    out = []
    for uri in found:
        if uri not in seen:
            seen.add(uri)
            out.append(Source(uri))
    return out


def unmatched_inputs(inputs: list[str], config: FetchConfig) -> list[str]:
    """Warnings for the local inputs that give no file to read (issue 26).

    A directory holding no input file (a scheduled run over an empty inbox is still a
    success, but the user should know) and a path that does not exist (it gets a
    ``failed``/``not_found`` row). Each warning names the input as given.
    """
    warnings = []
    for raw in inputs:
        inp = raw.strip()
        if not inp or _is_url(inp) or _GLOB_CHARS.search(inp):
            continue
        path = os.path.abspath(os.path.expanduser(inp.removeprefix("file://")))
        if os.path.isdir(path) and not _walk_dir(path):
            warnings.append(f"input folder {raw!r} holds no input file: nothing to process")
        elif not os.path.lexists(path):
            warnings.append(f"input {raw!r} does not exist: it is recorded as failed (not_found)")
    del config
    return warnings


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
