"""A persistent word-type analysis cache: each type's context-free readings, across runs.

Analysing a word type never seen by the process is the costliest part of annotate
(camel-tools' analysis plus the shape scoring of each analysis), and a new day of news
repeats most of the types of the days before it. The readings of a type
(``Morphology._candidates``: readings sorted by shape score, ``is_oov``,
``analysis_count``) depend only on the word, the morphology DB and the ranker's code,
so they are kept in a SQLite file under the user cache directory, next to the BAMA DB,
keyed by all three. What depends on context (corpus evidence, the in-sentence choice,
learned taggers) is computed every run from these readings and never cached.

The cache is an optimisation only: a cache that cannot be opened or read (corrupt
file, an entry of the wrong shape, a read-only directory) is logged as a warning,
removed if possible and rebuilt, or left off; the run never fails because of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import sys
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

# Bump when the layout of a cached entry changes.
FORMAT = 2  # 2: a rowid table
# Modules whose code decides a type's readings; their bytes are part of the cache key.
_CODE = ("analyzer.py", "ranker.py", "tags.py", "type_cache.py")
_IN_QUERY = 500  # words per SELECT ... IN (...) (well under SQLite's variable limit)

Entry = tuple[list[tuple], bool, int]


def cache_key(db_path: str | Path, extra: str = "") -> str:
    """Key of the analyses of ``db_path`` made by this code: DB identity and code version.

    The DB is identified by its name, size and modification time (hashing 13-40 MB in
    every worker would cost more than it saves); the code by the bytes of the modules
    that turn analyses into readings; ``extra`` names anything else that changes them.
    """
    h = hashlib.sha256(f"format{FORMAT}|{extra}".encode())
    db = Path(db_path)
    try:
        st = db.stat()
        h.update(f"|{db.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    except OSError:
        h.update(f"|{db}".encode())
    here = Path(__file__).resolve().parent
    for name in _CODE:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:20]


class TypeCache:
    """Word type -> readings entry, in ``<directory>/analyses-<key>.sqlite``.

    Several worker processes share one file (SQLite's WAL mode; writes are short
    transactions with a busy timeout). Any SQLite or decoding error turns into a
    warning: the file is discarded and rebuilt once, then the cache stays off.
    Subclasses keep other per-type entries (``tasks.sequence.store``) by overriding
    ``STEM``, ``WHAT`` and ``encode``/``decode``.
    """

    STEM = "analyses"
    WHAT = "word-type analysis cache"

    def __init__(self, directory: str | Path, key: str) -> None:
        self.path = Path(directory) / f"{self.STEM}-{key}.sqlite"
        self._conn: sqlite3.Connection | None = None
        self._broken = False
        self._rebuilt = False
        self.hits = 0
        self.misses = 0

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is not None or self._broken:
            return self._conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # A lost write only costs a re-analysis: no fsync per transaction.
            conn.execute("PRAGMA synchronous=OFF")
            # A rowid table: entries are 0.3-2 KB, and a WITHOUT ROWID b-tree keeps them
            # in its key order, so every insert split pages (5x slower writes, 2x reads).
            conn.execute(
                "CREATE TABLE IF NOT EXISTS types (word TEXT PRIMARY KEY, entry BLOB NOT NULL)"
            )
            conn.execute("SELECT count(*) FROM (SELECT 1 FROM types LIMIT 1)").fetchone()
        except (sqlite3.Error, OSError) as exc:
            self._fail(exc)
            return self._connect() if not self._broken else None
        self._conn = conn
        return conn

    def _fail(self, exc: BaseException) -> None:
        """Drop a cache that failed; rebuild it once, then leave it off for this process."""
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None
        if not self._rebuilt:
            self._rebuilt = True
            try:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            except OSError:
                pass
            else:
                log.warning("%s %s unusable (%s): rebuilding it", self.WHAT, self.path, exc)
                return
        log.warning("%s %s is off for this process: %s", self.WHAT, self.path, exc)
        self._broken = True

    def get_many(self, words: Iterable[str]) -> dict[str, Entry]:
        """The cached entries of ``words`` (those missing or unreadable are left out)."""
        words = list(words)
        conn = self._connect()
        found: dict[str, Entry] = {}
        if conn is None or not words:
            return found
        try:
            for i in range(0, len(words), _IN_QUERY):
                part = words[i : i + _IN_QUERY]
                marks = ",".join("?" * len(part))
                rows = conn.execute(
                    f"SELECT word, entry FROM types WHERE word IN ({marks})", part
                ).fetchall()
                for word, blob in rows:
                    entry = self.decode(blob)
                    if entry is not None:
                        found[word] = entry
        except sqlite3.Error as exc:
            self._fail(exc)
            return {}
        self.hits += len(found)
        self.misses += len(words) - len(found)
        return found

    def put_many(self, entries: dict[str, Entry]) -> None:
        """Store ``entries`` (one short transaction; a failure is a warning)."""
        conn = self._connect()
        if conn is None or not entries:
            return
        rows = [(w, self.encode(e)) for w, e in entries.items()]
        try:
            conn.execute("BEGIN")
            conn.executemany("INSERT OR REPLACE INTO types VALUES (?, ?)", rows)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self._fail(exc)

    def encode(self, entry: Entry) -> bytes:
        return _encode(entry)

    def decode(self, blob: bytes) -> Entry | None:
        return _decode(blob)

    def close(self) -> None:
        """Close the connection (the file stays)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _encode(entry: Entry) -> bytes:
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()


def _decode(blob: bytes) -> Entry | None:
    """An entry from its JSON bytes, or None if it is unreadable or not shaped like one.

    JSON rather than marshal or pickle: a damaged blob can only fail to parse, never
    build arbitrary objects or crash the interpreter.
    """
    try:
        readings, is_oov, count = json.loads(blob)
        if not isinstance(readings, list) or not all(isinstance(r, list) for r in readings):
            return None
        return [_shared(r) for r in readings], bool(is_oov), int(count)
    except (ValueError, TypeError):
        return None


# Reading fields that repeat across word types: lemma, pos, upos, gloss, source (the
# tuple layout of tasks.morphology.ranker). Decoded JSON makes a new string for each;
# one object per distinct value keeps a process's readings about a third smaller.
_REPEATED = (0, 1, 2, 4, 9)
_SCORE = 7


def _shared(reading: list) -> tuple:
    """``reading`` as a tuple whose repeated strings and scores are shared objects."""
    intern = sys.intern
    for i in _REPEATED:
        v = reading[i] if i < len(reading) else None
        if v.__class__ is str:
            reading[i] = intern(v)
    if len(reading) > _SCORE:
        v = reading[_SCORE]
        # equal non-zero floats are the same bits (0.0 and -0.0 are not, NaN never equal)
        if v.__class__ is float and v and len(_SCORES) < _MAX_SCORES:
            reading[_SCORE] = _SCORES.setdefault(v, v)
    return tuple(reading)


_SCORES: dict[float, float] = {}
_MAX_SCORES = 100_000  # the shape scores are a few hundred values; MLE log-probs more
