"""Archive expansion for the fetch stage: zip, tar and gzip members, with the bomb guard.

Every member becomes a ``_Unit``: its bytes, or a ``_Bad`` saying why it cannot be used
(unsafe path, link escaping the archive, over the decompressed-size or ratio budget).
"""

from __future__ import annotations

import gzip
import io
import posixpath
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any, NamedTuple

from tasks.config import FetchConfig
from tasks.errors import Reason
from tasks.fetch.sources import _CHUNK, _Bad, _failed, _hidden, _quarantine

# Decompressed bytes below this never count as a bomb: tiny archives of short articles
# legitimately compress far better than large ones.
_RATIO_FLOOR = 1 << 20


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
