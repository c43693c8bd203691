"""A tiny published dataset written straight from rows, for report and query tests.

Two sources over two days, one quarantined input, one input seen twice (the later
``skipped_unchanged`` row must not hide its outcome). Texts are our own.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from tasks.config import WriteConfig
from tasks.write import write_parquet

_UTC = dt.UTC
T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=_UTC)
T1 = dt.datetime(2025, 3, 2, 8, 0, tzinfo=_UTC)


def _file(fid: str, uri: str, status: str, reason: str | None, n: int, at: dt.datetime) -> dict:
    return {
        "file_id": fid,
        "source_uri": uri,
        "status": status,
        "reason": reason,
        "message": f"{uri}: {reason}" if reason else None,
        "n_articles": n,
        "n_rejected": 1 if fid == "f1" else 0,
        "run_id": "r1" if at == T0 else "r2",
        "processed_at": at,
    }


FILES = [
    _file("f1", "in/a.txt", "ok", None, 2, T0),
    _file("f2", "in/b.jsonl", "ok", None, 1, T0),
    _file("f3", "in/bad.txt", "quarantined", "not_arabic", 0, T0),
    _file("f1", "in/a.txt", "skipped_unchanged", "unchanged", 0, T1),
]

ARTICLES = [
    # (article_id, file_id, source, date, title, n_tokens)
    ("a1", "f1", "صوت المغرب", dt.date(2025, 3, 1), "الرباط تطلق برنامج الماء", 6),
    ("a2", "f1", "صوت المغرب", dt.date(2025, 3, 2), "أمطار في الرباط", 4),
    ("a3", "f2", "واس", dt.date(2025, 3, 2), "الرياض تستضيف مؤتمرا", 5),
]

# (article_id, sentence_index, token_index, text, lemma, upos, is_oov)
TOKENS = [
    ("a1", 0, 0, "أطلقت", "أَطْلَق", "VERB", False),
    ("a1", 0, 1, "الرباط", "رِباط", "PROPN", False),
    ("a1", 0, 2, "برنامج", "بَرْنامَج", "NOUN", False),
    ("a1", 0, 3, "الماء", "ماء", "NOUN", False),
    ("a1", 0, 4, "في", "فِي", "ADP", False),
    ("a1", 0, 5, "زغلولة", None, "NOUN", True),
    ("a2", 0, 0, "أمطار", "مَطَر", "NOUN", False),
    ("a2", 0, 1, "في", "فِي", "ADP", False),
    ("a2", 0, 2, "الرباط", "رِباط", "PROPN", False),
    ("a2", 0, 3, ".", ".", "PUNCT", False),
    ("a3", 0, 0, "الرياض", "رِياض", "PROPN", False),
    ("a3", 0, 1, "تستضيف", "اِسْتَضاف", "VERB", False),
    ("a3", 0, 2, "مؤتمرا", "مُؤْتَمَر", "NOUN", False),
    ("a3", 0, 3, "في", "فِي", "ADP", False),
    ("a3", 0, 4, "الماء", "ماء", "NOUN", False),
]

ENTITIES = [
    ("a1", 0, 1, 2, "الرباط", "LOC"),
    ("a2", 0, 2, 3, "الرباط", "LOC"),
    ("a3", 0, 0, 1, "الرياض", "LOC"),
    ("a3", 1, 0, 2, "وزارة الطاقة", "ORG"),
]

SENTENCES = [
    ("a1", 0, "أطلقت الرباط برنامج الماء في زغلولة"),
    ("a2", 0, "أمطار في الرباط ."),
    ("a3", 0, "الرياض تستضيف مؤتمرا في الماء"),
    ("a3", 1, "وزارة الطاقة ترحب"),
]


def write_tiny_dataset(out: Path) -> Path:
    """Write the rows above as one published part per table under ``out``."""
    cfg = WriteConfig()
    tables = {
        "files": pa.Table.from_pylist(FILES),
        "articles": pa.Table.from_pylist(
            [
                {
                    "article_id": a,
                    "file_id": f,
                    "source_name": s,
                    "published_date": d,
                    "title": t,
                    "text": t,
                    "n_tokens": n,
                    "dialect": "MSA",
                    "run_id": "r1",
                }
                for a, f, s, d, t, n in ARTICLES
            ]
        ),
        "sentences": pa.Table.from_pylist(
            [{"article_id": a, "sentence_index": i, "text": t} for a, i, t in SENTENCES]
        ),
        "tokens": pa.Table.from_pylist(
            [
                {
                    "article_id": a,
                    "sentence_index": s,
                    "token_index": i,
                    "text": t,
                    "lemma": lem,
                    "upos": u,
                    "is_arabic": u != "PUNCT",
                    "is_oov": oov,
                }
                for a, s, i, t, lem, u, oov in TOKENS
            ]
        ),
        "entities": pa.Table.from_pylist(
            [
                {
                    "article_id": a,
                    "sentence_index": s,
                    "token_start": b,
                    "token_end": e,
                    "text": t,
                    "label": lab,
                }
                for a, s, b, e, t, lab in ENTITIES
            ]
        ),
    }
    for name, table in tables.items():
        write_parquet(table, name, out / name / "part-test-00000.parquet", cfg)
    return out
