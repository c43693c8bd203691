"""Tests for tasks.fetch: discovery, reading, decoding, formats, archives, remote inputs."""

from __future__ import annotations

import json
import os

import pytest

from tasks.config import FetchConfig
from tasks.errors import ConfigError
from tasks.fetch import Source, discover_sources, fetch_batch, file_id_for, read_input

CFG = FetchConfig(retries=2, retry_backoff_s=0.01, timeout_s=5)

NEWS_TXT = (
    "افتتاح معرض الكتاب في المدينة\n"
    "تاريخ النشر: 28th, May 2024 GMT\n"
    "موقع الخبر ا الرباط\n"
    "افتتح صباح اليوم معرض الكتاب بمشاركة عشرات دور النشر من مختلف البلدان.\n"
)

ARTICLES = [
    {
        "title": "ارتفاع أسعار الذهب",
        "content": "ارتفعت أسعار الذهب في الأسواق المحلية اليوم.",
        "date": "2024-05-28",
        "source": "وكالة الأنباء",
        "url": "https://example.org/a/1",
        "author": "سعيد",
    },
    {
        "title": "افتتاح مدرسة جديدة",
        "text": "افتتحت وزارة التعليم مدرسة جديدة في الحي.",
        "date_extracted": "2024-05-29 10:00:00",
    },
]


def _fetch(paths, **kw):
    return fetch_batch([Source(str(p)) for p in paths], CFG, **kw)


def _rows(result):
    return result.files.to_pylist()


def test_txt_file_becomes_one_news_txt_record(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(NEWS_TXT, encoding="utf-8")
    res = _fetch([p])
    (row,) = _rows(res)
    assert row["status"] == "ok" and row["format"] == "txt" and row["encoding"] == "utf-8"
    assert row["file_id"] == file_id_for(str(p), None)
    (rec,) = res.records.to_pylist()
    assert rec["layout"] == "news_txt" and rec["body"] == NEWS_TXT
    assert rec["file_id"] == row["file_id"]


def test_json_array_object_and_single(tmp_path):
    (tmp_path / "arr.json").write_text(json.dumps(ARTICLES, ensure_ascii=False))
    (tmp_path / "obj.json").write_text(json.dumps({"articles": ARTICLES}, ensure_ascii=False))
    (tmp_path / "one.json").write_text(json.dumps(ARTICLES[0], ensure_ascii=False))
    res = _fetch(sorted(tmp_path.iterdir()))
    assert [r["status"] for r in _rows(res)] == ["ok"] * 3
    recs = res.records.to_pylist()
    assert len(recs) == 5
    first = recs[0]
    assert first["layout"] == "fields"
    assert first["title"] == "ارتفاع أسعار الذهب"
    assert first["body"].startswith("ارتفعت")
    assert first["date_raw"] == "2024-05-28"
    assert (first["source"], first["url"], first["author"]) == (
        "وكالة الأنباء",
        "https://example.org/a/1",
        "سعيد",
    )
    # date_extracted is both the only date and the reference time for relative dates
    assert recs[1]["date_raw"] == recs[1]["reference_time"] == "2024-05-29 10:00:00"


def test_jsonl_broken_line_is_rejected_and_good_lines_survive(tmp_path):
    lines = [json.dumps(a, ensure_ascii=False) for a in ARTICLES]
    p = tmp_path / "dump.jsonl"
    p.write_text(lines[0] + '\n{"title": "مقطوع\n' + lines[1] + "\n", encoding="utf-8")
    res = _fetch([p])
    (row,) = _rows(res)
    assert row["status"] == "ok" and row["format"] == "jsonl"
    assert row["n_rejected"] == 1 and "line 2" in row["message"]
    assert res.records.num_rows == 2


def test_wrong_types_rejected_and_all_bad_quarantined(tmp_path):
    good_and_bad = [ARTICLES[0], {"title": "رقم", "content": 42}, {"title": "قائمة", "body": []}]
    (tmp_path / "mixed.json").write_text(json.dumps(good_and_bad, ensure_ascii=False))
    (tmp_path / "allbad.json").write_text(json.dumps([{"content": 1}, {"title": "بلا نص"}]))
    res = _fetch([tmp_path / "mixed.json", tmp_path / "allbad.json"])
    mixed, allbad = _rows(res)
    assert mixed["status"] == "ok" and mixed["n_rejected"] == 2
    assert "'content' is int" in mixed["message"]
    assert (allbad["status"], allbad["reason"]) == ("quarantined", "bad_record")
    assert res.records.num_rows == 1


def test_bad_json_quarantined(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('[{"title": "نص", "content": "مقطوع"', encoding="utf-8")
    (row,) = _rows(_fetch([p]))
    assert (row["status"], row["reason"]) == ("quarantined", "bad_json")
    assert str(p) in row["message"]


def test_empty_and_binary_files_quarantined(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("  \n\n ")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    res = _fetch(sorted(tmp_path.iterdir()))
    reasons = {os.path.basename(r["source_uri"]): r["reason"] for r in _rows(res)}
    assert reasons == {
        "blank.txt": "empty_file",
        "empty.txt": "empty_file",
        "image.txt": "binary_file",
    }
    assert res.records.num_rows == 0


def test_discover_directory_recursive_sorted_hidden_skipped_links_kept(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.txt").write_text(NEWS_TXT)
    (tmp_path / "1.txt").write_text(NEWS_TXT)
    (tmp_path / ".hidden.txt").write_text(NEWS_TXT)
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    uris = [s.uri for s in discover_sources([str(tmp_path)], CFG)]
    assert uris == [
        str(tmp_path / "1.txt"),
        str(tmp_path / "b" / "2.txt"),
        str(tmp_path / "dangling.txt"),
    ]
    res = fetch_batch(discover_sources([str(tmp_path)], CFG), CFG)
    last = _rows(res)[-1]
    assert (last["status"], last["reason"]) == ("failed", "broken_link")
    assert "dangling.txt" in last["message"]


def test_discover_glob_and_missing_inputs(tmp_path):
    (tmp_path / "x.json").write_text("[]")
    (tmp_path / "y.txt").write_text(NEWS_TXT)
    assert [s.uri for s in discover_sources([str(tmp_path / "*.json")], CFG)] == [
        str(tmp_path / "x.json")
    ]
    with pytest.raises(ConfigError, match="nope"):
        discover_sources([str(tmp_path / "nope")], CFG)
    with pytest.raises(ConfigError, match=r"\*\.csv"):
        discover_sources([str(tmp_path / "*.csv")], CFG)


def test_missing_file_and_directory_fail(tmp_path):
    (tmp_path / "d").mkdir()
    res = _fetch([tmp_path / "gone.txt", tmp_path / "d"])
    assert [(r["status"], r["reason"]) for r in _rows(res)] == [
        ("failed", "not_found"),
        ("failed", "not_a_regular_file"),
    ]


def test_known_unchanged_is_skipped(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(NEWS_TXT)
    first = _rows(_fetch([p]))[0]
    res = _fetch([p], known={(str(p), None): first["sha256"]})
    (row,) = _rows(res)
    assert (row["status"], row["reason"]) == ("skipped_unchanged", "unchanged")
    assert res.records.num_rows == 0
    p.write_text(NEWS_TXT + "سطر جديد\n")
    assert _rows(_fetch([p], known={(str(p), None): first["sha256"]}))[0]["status"] == "ok"


def test_quarantine_dir_gets_copy_and_sidecar(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text("{not json", encoding="utf-8")
    qdir = tmp_path / "q"
    res = _fetch([p], quarantine_dir=str(qdir))
    fid = _rows(res)[0]["file_id"]
    assert (qdir / f"{fid}__broken.json").read_text() == "{not json"
    side = json.loads((qdir / f"{fid}__broken.json.json").read_text())
    assert side["reason"] == "bad_json" and side["source_uri"] == str(p)
    assert read_input(str(p), None, CFG) == b"{not json"
