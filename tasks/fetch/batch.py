"""Fetch one batch of inputs: read, expand, decode and parse, one ``files`` row per input.

``fetch_batch`` returns one ``files`` row per input (archive members get their own row)
plus the ``records`` staging table (``tasks.schemas.RECORDS``) that the clean stage parses.

Bad data never raises: an input that cannot be used becomes a ``files`` row with
status ``quarantined`` (bad data) or ``failed`` (unreadable), a ``Reason`` code and a
message naming the input. Bad records inside a good file are left out and counted in
``files.n_rejected``; the message names the first few.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import unicodedata
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import pyarrow as pa

from tasks.config import FetchConfig
from tasks.errors import Reason
from tasks.fetch.archives import _archive_kind, _expand_archive
from tasks.fetch.decoding import _decode_bytes
from tasks.fetch.formats import _MAX_MESSAGES, _ext_format, _parse_text, _Rec, sniff_format
from tasks.fetch.sources import (
    Source,
    _Bad,
    _is_url,
    _looks_archive,
    _quarantine,
    _read_source,
    file_id_for,
)
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


class FetchResult(NamedTuple):
    """What ``fetch_batch`` returns.

    Attributes:
        files: one row per input or archive member, columns ``FILES_COLUMNS``.
        records: the ``RECORDS`` staging table (one row per article-like record).
    """

    files: pa.Table
    records: pa.Table


class _Rows:
    """Column lists for the files and records tables.

    With a ``sink``, records leave as tables of exactly ``sink_rows`` rows as soon as
    that many are held (the last one may be shorter): fetch then holds one input's
    records at a time, not the batch's (issue 14).
    """

    def __init__(
        self, sink: Callable[[pa.Table], None] | None = None, sink_rows: int = 0
    ) -> None:
        self.files: dict[str, list[Any]] = {c: [] for c in FILES_COLUMNS}
        self.records: dict[str, list[Any]] = {f.name: [] for f in RECORDS}
        self._sink = sink
        self._sink_rows = max(sink_rows, 1)

    def flush(self, final: bool = False) -> None:
        """Send every full ``sink_rows`` slice of the records held (and, if ``final``, the rest)."""
        if self._sink is None:
            return
        held = len(self.records["file_id"])
        start = 0
        while held - start >= self._sink_rows or (final and held > start):
            end = min(start + self._sink_rows, held)
            part = {k: v[start:end] for k, v in self.records.items()}
            self._sink(pa.Table.from_pydict(part, schema=RECORDS))
            start = end
        if start:
            for values in self.records.values():
                del values[:start]

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
        self.flush()


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
        parsed, fmt, note = _parse_text(name, path_name, fmt, text, config)
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
    notes = [note] if note else []
    if parsed.rejected:
        notes.append(
            f"{name}: {len(parsed.rejected)} of {parsed.total} records rejected: "
            + "; ".join(parsed.rejected[:_MAX_MESSAGES])
            + (" ..." if len(parsed.rejected) > _MAX_MESSAGES else "")
        )
    message = "; ".join(notes) or None
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
    record_sink: Callable[[pa.Table], None] | None = None,
    sink_rows: int = 0,
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
        record_sink: when given, receives the records as consecutive tables of
            ``sink_rows`` rows while the batch is read (the slices of the records
            table, in order), and the returned ``records`` is empty.
        sink_rows: rows per table sent to ``record_sink``.

    Returns:
        ``FetchResult(files, records)``: ``files`` has ``FILES_COLUMNS`` (one row per
        input or archive member), ``records`` follows ``RECORDS``.
    """
    rows = _Rows(record_sink, sink_rows)
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
    rows.flush(final=True)
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


def is_unchanged(
    uri: str, config: FetchConfig, known: Mapping[tuple[str, str | None], str]
) -> bool:
    """Whether ``fetch_batch`` would give every file of local input ``uri`` the status
    ``skipped_unchanged``: each one (each archive member) has the sha256 ``known`` holds.

    A URL is never called unchanged (it is read once, by fetch); nor is an input that
    cannot be read or holds a bad member (fetch records those again). Lets a run where
    nothing changed skip the work a change needs (issue 21).
    """
    if _is_url(uri):
        return False
    try:
        raw = _read_source(uri, config)
    except _Bad:
        return False
    kind = _archive_kind(uri, raw) if _looks_archive(uri, raw[:600]) else None
    if kind is None:
        return known.get((uri, None)) == hashlib.sha256(raw).hexdigest()
    n_members = 0
    for unit in _expand_archive(uri, kind, raw, config):
        n_members += 1
        if unit.bad is not None or unit.data is None:
            return False
        if known.get((uri, unit.member)) != hashlib.sha256(unit.data).hexdigest():
            return False
    return n_members > 0


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


def fetch_one_by_one(
    sources: list[Source],
    config: FetchConfig,
    known: Mapping[tuple[str, str | None], str] | None = None,
    quarantine_dir: str | None = None,
) -> FetchResult:
    """Fetch each source alone; one that crashes fetch becomes a failed files row.

    The fallback when ``fetch_batch`` raised on a batch (a bug): the other inputs of the
    batch still get their rows (issue 5).
    """
    empty = fetch_batch([], config)
    files, records = [empty.files], [empty.records]
    for src in sources:
        try:
            one = fetch_batch([src], config, known=known, quarantine_dir=quarantine_dir)
        except Exception as exc:  # noqa: BLE001 - e.g. RecursionError on deeply nested JSON
            row = {
                "file_id": file_id_for(src.uri, None),
                "source_uri": src.uri,
                "status": "failed",
                "reason": Reason.PROCESSING_ERROR.value,
                "message": f"{src.uri}: fetch crashed: {type(exc).__name__}: {exc}"[:500],
            }
            files.append(pa.Table.from_pylist([row], schema=empty.files.schema))
            continue
        files.append(one.files)
        records.append(one.records)
    return FetchResult(pa.concat_tables(files), pa.concat_tables(records))
