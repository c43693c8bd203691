"""Switch the file set of a table directory at once, for readers that glob it (issue 25).

A commit that rewrites a table (stories touched by a batch, rows of a re-processed
input, a compaction) replaces some parts by others. Moving them into ``OUT/<table>/``
one by one leaves moments where a glob reader sees both the old and the new parts (rows
counted twice) or neither. Instead the commit builds the table's next directory aside,
of hard links to the parts in ``_history`` (no copy), and exchanges it with
``OUT/<table>`` in one ``renameat2(RENAME_EXCHANGE)`` call (Linux 3.15+; ext4, xfs,
btrfs, tmpfs). A reader that opens the directory gets the old file set or the new one,
never a mix. A reader that listed the old set and opens a part afterwards finds every
part the two sets share under the same name, the same inode; only a part the commit
removed is gone (the reader retries, or reads a version through ``akhbar paths``).

Where the exchange is not available (another OS, a filesystem without it) or hard links
are not, the directory is updated in place: new parts first, then the removed ones
leave. Readers of versions are unaffected either way.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# errnos that mean "this system or filesystem cannot exchange", not a real failure.
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV}


def _renameat2():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return func


_EXCHANGE = _renameat2() if os.name == "posix" else None


def exchange(a: str | Path, b: str | Path) -> bool:
    """Swap two existing paths atomically; False when the system cannot.

    Raises:
        OSError: the exchange failed for another reason (a path is missing, ...).
    """
    if _EXCHANGE is None:
        return False
    if _EXCHANGE(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(a))


def sync_table_dir(target: Path, sources: dict[str, Path], work: Path, history: Path) -> str:
    """Make directory ``target`` hold exactly ``sources`` (name -> file), switching at once.

    ``sources`` are the parts' ``_history`` links (``history``), or their table-directory
    files on a filesystem without hard links. ``work`` is a scratch path on the same
    filesystem (it is removed). Safe to repeat after a crash at any point.

    Returns:
        How it was done: ``exchange``, ``rename`` (``target`` did not exist) or
        ``in_place`` (no exchange or no hard links here).
    """
    if target.is_dir() and sorted(p.name for p in target.glob("part-*.parquet")) == sorted(sources):
        shutil.rmtree(work, ignore_errors=True)
        return "unchanged"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        for name, src in sources.items():
            os.link(src, work / name)
    except OSError as exc:
        if exc.errno not in (
            errno.EPERM,
            errno.EXDEV,
            errno.ENOTSUP,
            errno.EMLINK,
            errno.EOPNOTSUPP,
        ):
            raise
        shutil.rmtree(work, ignore_errors=True)
        return _sync_in_place(target, sources, history, link=False)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(work, target)
        return "rename"
    if not exchange(work, target):
        shutil.rmtree(work, ignore_errors=True)
        return _sync_in_place(target, sources, history, link=True)
    shutil.rmtree(work, ignore_errors=True)  # the old directory, now at ``work``
    return "exchange"


def _sync_in_place(target: Path, sources: dict[str, Path], history: Path, link: bool) -> str:
    """New parts in, then old ones out: a glob reader may see both for a moment.

    Without hard links a part lives in one place: moved from ``history`` into the table
    directory when published, and back to ``history`` when it leaves the table.
    """
    target.mkdir(parents=True, exist_ok=True)
    for name, src in sources.items():
        dst = target / name
        if dst.exists() or not src.exists():
            continue
        if link:
            os.link(src, dst)
        else:
            os.replace(src, dst)
    for part in target.glob("part-*.parquet"):
        if part.name in sources:
            continue
        if link or (history / part.name).exists():
            part.unlink(missing_ok=True)
        else:
            history.mkdir(parents=True, exist_ok=True)
            os.replace(part, history / part.name)
    return "in_place"
