"""The output directory's writer lock ``OUT/_lock`` (pid, host, run id, start time)."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tasks.errors import LockError

# The lock -------------------------------------------------------------------

LOCK = "_lock"


@dataclass
class Lock:
    """The output directory's writer lock; release it with ``release()``.

    ``replaced`` holds the stale holder this lock replaced (a run that died), if any.
    """

    path: Path
    holder: dict
    replaced: dict | None = None

    def release(self) -> None:
        """Remove the lock file if it is still ours."""
        if _read_holder(self.path).get("token") == self.holder["token"]:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _process_started(pid: int) -> float | None:
    """Start time of a live process; None when there is none (or it is a zombie)."""
    try:
        import psutil

        proc = psutil.Process(pid)
        # A SIGKILLed run whose parent has not reaped it yet is dead all the same.
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except Exception:  # noqa: BLE001 - no such process, no access, or psutil unavailable
        return None


def _pid_alive(pid: int) -> bool:
    return _process_started(pid) is not None


def _read_holder(path: Path) -> dict:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _is_stale(holder: dict, path: Path | None = None) -> bool:
    """True when the lock's holder is surely dead (same host only)."""
    if not holder:
        # Unreadable or empty (a writer from before atomic lock files died mid-write):
        # stale once it is old enough that no live writer can still be filling it.
        try:
            return path is not None and time.time() - path.stat().st_mtime > 10
        except OSError:
            return True
    if holder.get("host") != socket.gethostname():
        return False  # cannot check another machine's processes; treat as live
    try:
        pid = int(holder.get("pid", -1))
    except (TypeError, ValueError):
        return True
    started = _process_started(pid)
    if started is None:
        return True
    # Same pid but another start time: the pid was reused by an unrelated process.
    return abs(started - float(holder.get("proc_started") or started)) > 1.0


def describe_holder(out: str | Path, holder: dict) -> str:
    """The message naming a live lock holder (run id, pid, host, start time)."""
    return (
        f"{out} is locked by run {holder.get('run_id', '?')} "
        f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
        f"started {holder.get('started_at', '?')}); wait for it to finish or use another "
        f"--out (if that run is dead on another host, delete {Path(out) / LOCK})"
    )


def lock_holder(out: str | Path) -> dict | None:
    """The live holder of ``out``'s lock, or None when it is free or held by a dead run."""
    path = Path(out) / LOCK
    if not path.exists():
        return None
    holder = _read_holder(path)
    return None if _is_stale(holder, path) else holder


def check_unlocked(out: str | Path) -> None:
    """Fail fast, before any work, when a live run holds ``out`` (does not take the lock).

    Raises:
        LockError: naming the holder's run id, pid, host and start time.
    """
    holder = lock_holder(out)
    if holder is not None:
        raise LockError(describe_holder(out, holder))


@contextmanager
def _guard(out: Path) -> Iterator[None]:
    """Serialize lock checks of ``out`` between processes (flock on the directory).

    Without it two runs that both find a stale lock could each delete the other's
    fresh one. The kernel drops the flock when its holder dies, so it never goes stale.
    """
    try:
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield  # e.g. a filesystem that cannot open directories: best effort
        return
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except (ImportError, OSError):
            pass
        yield
    finally:
        os.close(fd)


def _publish_lock(tmp: Path, path: Path) -> bool:
    """Create ``path`` with ``tmp``'s complete content, only if it does not exist."""
    try:
        # link() is atomic and fails if path exists: the lock never exists half-written.
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # filesystem without hard links: exclusive create, then write
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:
            fh.write(tmp.read_bytes())
        return True


def acquire_lock(out: str | Path, run_id: str, wait_s: float = 0.0) -> Lock:
    """Take the writer lock of ``out``; a lock left by a dead process is replaced.

    The lock file ``OUT/_lock`` holds JSON: pid, host, run_id, started_at, the
    process start time (to tell a reused pid) and a random token (so a run only ever
    removes its own lock). A holder on this host whose process is gone (or is a
    zombie) is stale; holders on other hosts are always taken as live.

    Args:
        out: The dataset directory (must exist).
        run_id: Recorded in the lock so the refusal message can name the run.
        wait_s: Keep retrying this long before giving up.

    Raises:
        LockError: another live run holds it (message names pid, host and start time).
    """
    out = Path(out)
    path = out / LOCK
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "run_id": run_id,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "proc_started": _process_started(os.getpid()),
        "token": uuid.uuid4().hex,
    }
    tmp = out / f".lock-{os.getpid()}-{holder['token'][:8]}.tmp"
    tmp.write_text(json.dumps(holder))
    replaced: dict | None = None
    deadline = time.monotonic() + wait_s
    try:
        while True:
            with _guard(out):
                if _publish_lock(tmp, path):
                    return Lock(path, holder, replaced)
                other = _read_holder(path)
                if _is_stale(other, path):
                    path.unlink(missing_ok=True)
                    replaced = other or {"pid": "?", "note": "unreadable lock file"}
                    continue
            if time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            raise LockError(describe_holder(out, other))
    finally:
        tmp.unlink(missing_ok=True)
