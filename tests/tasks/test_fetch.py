"""Tests for tasks.fetch: discovery, reading, decoding, formats, archives, remote inputs."""

from __future__ import annotations

import json
import os

import pytest

from tasks.config import FetchConfig
from tasks.errors import ConfigError
from tasks.fetch import (
    Source,
    discover_sources,
    fetch_batch,
    file_id_for,
    read_input,
    unmatched_inputs,
)

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
    # A missing path is an input too: it becomes a failed / not_found row (issue 26).
    missing = str(tmp_path / "nope")
    assert [s.uri for s in discover_sources([missing], CFG)] == [missing]
    assert (_rows(fetch_batch(discover_sources([missing], CFG), CFG))[0]["reason"]) == "not_found"
    (tmp_path / "inbox").mkdir()
    warnings = unmatched_inputs([missing, str(tmp_path / "inbox"), str(tmp_path)], CFG)
    assert len(warnings) == 2 and "nope" in warnings[0] and "inbox" in warnings[1]
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


FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
ARABIC = (
    "قال وزير الفلاحة إن محصول القمح هذا العام سيكون وفيرا بفضل الأمطار الغزيرة، "
    "وإن الحكومة ستشتري المحصول من الفلاحين بسعر مناسب في الأسواق."
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1256", "iso8859_6"])
def test_encodings_detected_and_recorded(tmp_path, encoding):
    p = tmp_path / f"{encoding}.txt"
    p.write_bytes(("عنوان الخبر\n" + ARABIC + "\n").encode(encoding))
    res = _fetch([p])
    (row,) = _rows(res)
    assert (row["status"], row["encoding"]) == ("ok", encoding)
    assert res.records.column("body")[0].as_py() == "عنوان الخبر\n" + ARABIC + "\n"


def test_undecodable_and_mojibake_quarantined_not_garbled(tmp_path):
    # Latin-1 French would "decode" as ISO-8859-6 with Arabic letters inside Latin words.
    (tmp_path / "latin1.txt").write_bytes("Le président a annoncé une réforme.".encode("latin-1"))
    # UTF-8 Arabic read as cp1252 and saved again as UTF-8: classic mojibake.
    garbled = ARABIC.encode("utf-8").decode("cp1252", "replace").encode("utf-8")
    (tmp_path / "mojibake.txt").write_bytes(garbled)
    res = _fetch(sorted(tmp_path.iterdir()))
    assert [(r["status"], r["reason"]) for r in _rows(res)] == [("quarantined", "bad_encoding")] * 2
    assert res.records.num_rows == 0


def test_html_page_main_text_and_metadata(tmp_path):
    res = _fetch([os.path.abspath(os.path.join(FIXTURES, "fetch_news_page.html"))])
    (row,) = _rows(res)
    assert (row["status"], row["format"]) == ("ok", "html")
    (rec,) = res.records.to_pylist()
    assert rec["title"] == "افتتاح محطة لتحلية مياه البحر في المدينة الساحلية"
    assert rec["author"] == "ليلى بنعلي"
    assert rec["date_raw"].startswith("2024-05-28")
    assert rec["source"] == "جريدة الأفق"
    body = rec["body"]
    assert body.startswith("افتتحت الحكومة صباح اليوم")
    assert "المرحلة الثانية من المشروع" in body
    for junk in (
        "الرئيسية",
        "شارك على فيسبوك",
        "إعلان",
        "مقالات ذات صلة",
        "ارتفاع منسوب السدود",
        "تعليق القارئ",
        "trackerId",
        "جميع الحقوق محفوظة",
    ):
        assert junk not in body


def test_html_without_text_quarantined(tmp_path):
    p = tmp_path / "empty.html"
    p.write_text(
        "<html><head><title>x</title><script>var a = 1;</script></head>"
        "<body><script>document.write('إعلان');</script><img src='a.png'></body></html>"
    )
    (row,) = _rows(_fetch([p]))
    assert (row["status"], row["reason"]) == ("quarantined", "no_text_extracted")


def test_csv_with_header(tmp_path):
    p = tmp_path / "dump.csv"
    p.write_text(
        "title,content,published,source\n"
        f'"خبر أول","{ARABIC}",2024-05-28,الوكالة\n'
        '"خبر ثان","نص الخبر الثاني، مع فاصلة",28 مايو 2024,الوكالة\n'
        '"ناقص"\n',
        encoding="utf-8",
    )
    (tmp_path / "nobody.csv").write_text("title,date\nعنوان,2024-05-28\n", encoding="utf-8")
    res = _fetch([p, tmp_path / "nobody.csv"])
    good, bad = _rows(res)
    assert (good["status"], good["format"], good["n_rejected"]) == ("ok", "csv", 1)
    assert (bad["status"], bad["reason"]) == ("quarantined", "bad_csv")
    recs = res.records.to_pylist()
    assert [r["title"] for r in recs] == ["خبر أول", "خبر ثان"]
    assert recs[1]["body"] == "نص الخبر الثاني، مع فاصلة" and recs[1]["date_raw"] == "28 مايو 2024"


def test_format_sniffed_when_extension_lies_or_is_missing(tmp_path):
    (tmp_path / "a.txt").write_text(json.dumps(ARTICLES, ensure_ascii=False))
    (tmp_path / "b").write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in ARTICLES))
    (tmp_path / "c.json").write_text(
        "<!DOCTYPE html><html><body><article><p>"
        + ARABIC
        + "</p><p>"
        + ARABIC
        + "</p></article></body></html>"
    )
    (tmp_path / "d.dat").write_text(NEWS_TXT)
    res = _fetch(sorted(tmp_path.iterdir()))
    assert [r["format"] for r in _rows(res)] == ["json", "jsonl", "html", "txt"]
    assert all(r["status"] == "ok" for r in _rows(res))


@pytest.mark.parametrize(
    "title",
    [
        "{فورمولا 1} تودع بيانكي",
        "[فيديو] لحظة افتتاح الجسر الجديد",
        '["عاجل"] الحكومة تعلن خطة للطرق',
        '{"عاجل": 1} سقوط أمطار غزيرة',
        '"عاجل" الحكومة تعلن خطة للطرق',
    ],
)
def test_txt_headline_opening_like_json_is_read_as_the_layout(tmp_path, title):
    # Sniffing never overrules .txt: a failed JSON read falls back to the layout (issue 17).
    p = tmp_path / "headline.txt"
    text = NEWS_TXT.replace("افتتاح معرض الكتاب في المدينة", title)
    p.write_text(text, encoding="utf-8")
    res = _fetch([p])
    (row,) = _rows(res)
    assert (row["status"], row["format"], row["reason"]) == ("ok", "txt", None)
    (rec,) = res.records.to_pylist()
    assert rec["layout"] == "news_txt" and rec["body"] == text


def test_sniffed_format_that_fails_falls_back_and_says_so(tmp_path):
    # No extension: broken JSON sniffed as JSON is read as text, and the files row says why.
    (tmp_path / "broken").write_text('[{"title": "خبر"\n' + NEWS_TXT, encoding="utf-8")
    # .json that looks like HTML but has no text: the extension's parser has the last word.
    (tmp_path / "page.json").write_text(
        "<html><body><script>var a = 1;</script></body></html>", encoding="utf-8"
    )
    broken, page = _rows(_fetch(sorted(tmp_path.iterdir())))
    assert (broken["status"], broken["format"]) == ("ok", "txt")
    assert "invalid JSON" in broken["message"] and "read as txt" in broken["message"]
    assert (page["status"], page["reason"], page["format"]) == ("quarantined", "bad_json", "html")


def test_txt_holding_valid_json_articles_is_still_json(tmp_path):
    p = tmp_path / "dump.txt"
    p.write_text(json.dumps(ARTICLES, ensure_ascii=False), encoding="utf-8")
    res = _fetch([p])
    (row,) = _rows(res)
    assert (row["status"], row["format"], row["message"]) == ("ok", "json", None)
    assert res.records.num_rows == 2


def _zip(path, members: dict[str, bytes]):
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _tar(path, members: dict[str, bytes], mode="w:gz", links=()):
    import io
    import tarfile

    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)


def _members():
    return {
        "dump/news.json": json.dumps(ARTICLES, ensure_ascii=False).encode(),
        "dump/story.txt": NEWS_TXT.encode("cp1256"),
    }


@pytest.mark.parametrize("kind", ["zip", "tar.gz", "tar"])
def test_archives_expand_into_member_rows(tmp_path, kind):
    p = tmp_path / f"bundle.{kind}"
    if kind == "zip":
        _zip(p, _members())
    else:
        _tar(p, _members(), mode="w:gz" if kind == "tar.gz" else "w")
    res = _fetch([p])
    rows = _rows(res)
    assert [(r["member"], r["status"], r["format"]) for r in rows] == [
        ("dump/news.json", "ok", "json"),
        ("dump/story.txt", "ok", "txt"),
    ]
    assert all(r["source_uri"] == str(p) for r in rows)
    assert rows[1]["encoding"] == "cp1256"
    assert rows[0]["file_id"] == file_id_for(str(p), "dump/news.json")
    assert res.records.num_rows == 3
    assert read_input(str(p), "dump/story.txt", CFG) == NEWS_TXT.encode("cp1256")
    # unchanged members are skipped one by one
    known = {(str(p), r["member"]): r["sha256"] for r in rows}
    again = _fetch([p], known=known)
    assert {r["status"] for r in _rows(again)} == {"skipped_unchanged"}


def test_single_gz_file(tmp_path):
    import gzip

    p = tmp_path / "news.jsonl.gz"
    p.write_bytes(gzip.compress(json.dumps(ARTICLES[0], ensure_ascii=False).encode()))
    res = _fetch([p])
    (row,) = _rows(res)
    assert (row["member"], row["format"], row["status"]) == ("news.jsonl", "jsonl", "ok")


def test_unsafe_members_rejected_and_nothing_written(tmp_path):
    z = tmp_path / "evil.zip"
    _zip(
        z,
        {
            "../escape.txt": NEWS_TXT.encode(),
            "/abs.txt": NEWS_TXT.encode(),
            "ok.txt": NEWS_TXT.encode(),
        },
    )
    t = tmp_path / "evil.tar.gz"
    _tar(
        t,
        {"../../up.txt": NEWS_TXT.encode(), "fine.txt": NEWS_TXT.encode()},
        links=[("passwd.txt", "../../../etc/passwd"), ("abs_link.txt", "/etc/passwd")],
    )
    res = _fetch([z, t], quarantine_dir=str(tmp_path / "q"))
    got = {(r["member"], r["reason"]) for r in _rows(res)}
    assert got == {
        ("../escape.txt", "unsafe_archive_member"),
        ("/abs.txt", "unsafe_archive_member"),
        ("ok.txt", None),
        ("../../up.txt", "unsafe_archive_member"),
        ("fine.txt", None),
        ("passwd.txt", "unsafe_archive_member"),
        ("abs_link.txt", "unsafe_archive_member"),
    }
    assert not (tmp_path.parent / "escape.txt").exists()
    assert res.records.num_rows == 2
    # only sidecars in the quarantine dir, never files at the member's own path
    assert all(f.parent == tmp_path / "q" for f in (tmp_path / "q").rglob("*"))


def test_zip_bomb_and_oversized_member(tmp_path):
    z = tmp_path / "bomb.zip"
    _zip(z, {"zeros.txt": b"0" * 3_000_000, "small.txt": NEWS_TXT.encode()})
    res = fetch_batch([Source(str(z))], CFG.model_copy(update={"max_archive_ratio": 50}))
    rows = {r["member"]: r for r in _rows(res)}
    assert (rows["zeros.txt"]["status"], rows["zeros.txt"]["reason"]) == (
        "quarantined",
        "archive_bomb",
    )
    assert rows["small.txt"]["status"] == "ok"
    capped = CFG.model_copy(update={"max_file_bytes": 1000})
    rows = {r["member"]: r["reason"] for r in _rows(fetch_batch([Source(str(z))], capped))}
    assert rows["zeros.txt"] == "file_too_large"
    total = CFG.model_copy(update={"max_archive_bytes": 100_000})
    rows = {r["member"]: r["reason"] for r in _rows(fetch_batch([Source(str(z))], total))}
    assert rows == {"zeros.txt": "archive_bomb", "small.txt": "archive_bomb"}


def test_tar_gz_bomb_judged_on_the_whole_stream(tmp_path):
    t = tmp_path / "bomb.tar.gz"
    _tar(t, {"a.txt": NEWS_TXT.encode(), "zeros.txt": b"0" * 3_000_000})
    res = fetch_batch([Source(str(t))], CFG.model_copy(update={"max_archive_ratio": 50}))
    rows = {r["member"]: r["reason"] for r in _rows(res)}
    assert rows == {"a.txt": None, "zeros.txt": "archive_bomb"}


def test_archive_hidden_members_skipped_and_empty_archive_recorded(tmp_path):
    z = tmp_path / "mac.zip"
    _zip(z, {"__MACOSX/._a.txt": b"\x00\x05", "dir/.DS_Store": b"\x00", "a.txt": NEWS_TXT.encode()})
    empty = tmp_path / "empty.zip"
    _zip(empty, {})
    res = _fetch([z, empty])
    assert [(r["member"], r["status"], r["reason"]) for r in _rows(res)] == [
        ("a.txt", "ok", None),
        (None, "quarantined", "no_articles"),
    ]


def test_damaged_archive_quarantined(tmp_path):
    p = tmp_path / "broken.zip"
    p.write_bytes(b"PK\x03\x04 this is not really a zip file at all")
    (row,) = _rows(_fetch([p]))
    assert (row["status"], row["reason"], row["member"]) == ("quarantined", "bad_archive", None)


def test_large_plain_file_capped(tmp_path):
    p = tmp_path / "big.txt"
    p.write_text(ARABIC * 50)
    res = fetch_batch([Source(str(p))], CFG.model_copy(update={"max_file_bytes": 500}))
    (row,) = _rows(res)
    assert (row["status"], row["reason"]) == ("quarantined", "file_too_large")


def test_permission_denied(tmp_path, monkeypatch):
    import tasks.fetch.sources as fetch_mod

    p = tmp_path / "secret.txt"
    p.write_text(NEWS_TXT)
    if os.geteuid() == 0:
        # Root reads mode-000 files (CI runs as root), so make open() refuse instead.
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(p))

        monkeypatch.setattr(fetch_mod, "open", refuse, raising=False)
    else:
        p.chmod(0)
    try:
        (row,) = _rows(_fetch([p]))
    finally:
        p.chmod(0o644)
    assert (row["status"], row["reason"]) == ("failed", "permission_denied")
    assert str(p) in row["message"]


def test_transient_local_io_error_is_retried(tmp_path, monkeypatch):
    import errno

    import tasks.fetch.sources as fetch_mod

    p = tmp_path / "flaky.txt"
    p.write_text(NEWS_TXT)
    calls = []
    real_open = open

    def flaky_open(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error")
        return real_open(*args, **kwargs)

    monkeypatch.setattr(fetch_mod, "open", flaky_open, raising=False)
    (row,) = _rows(_fetch([p]))
    assert row["status"] == "ok" and len(calls) == 2


def test_json_keyed_by_id_and_jsonl_with_broken_first_line(tmp_path):
    keyed = {"a1": ARTICLES[0], "a2": ARTICLES[1]}
    (tmp_path / "keyed.json").write_text(json.dumps(keyed, ensure_ascii=False))
    lines = [json.dumps(a, ensure_ascii=False) for a in ARTICLES]
    (tmp_path / "noext").write_text('{"title": "broken\n' + "\n".join(lines) + "\n")
    res = _fetch(sorted(tmp_path.iterdir()))
    keyed_row, noext_row = _rows(res)
    assert (keyed_row["status"], keyed_row["format"]) == ("ok", "json")
    assert (noext_row["status"], noext_row["format"], noext_row["n_rejected"]) == (
        "ok",
        "jsonl",
        1,
    )
    assert res.records.num_rows == 4


def test_memory_fsspec_directory_and_glob():
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/fetchtest/news/a.json", json.dumps(ARTICLES, ensure_ascii=False).encode())
    fs.pipe("/fetchtest/news/sub/b.txt", NEWS_TXT.encode("cp1256"))
    fs.pipe("/fetchtest/news/.hidden.txt", b"x")
    try:
        sources = discover_sources(["memory://fetchtest/news"], CFG)
        assert [s.uri for s in sources] == [
            "memory:///fetchtest/news/a.json",
            "memory:///fetchtest/news/sub/b.txt",
        ]
        globbed = discover_sources(["memory://fetchtest/news/*.json"], CFG)
        assert [s.uri for s in globbed] == ["memory:///fetchtest/news/a.json"]
        res = fetch_batch(sources + [Source("memory:///fetchtest/news/gone.txt")], CFG)
        assert [(r["status"], r["encoding"]) for r in _rows(res)][:2] == [
            ("ok", "utf-8"),
            ("ok", "cp1256"),
        ]
        assert _rows(res)[2]["reason"] == "not_found"
        assert res.records.num_rows == 3
    finally:
        fs.rm("/fetchtest", recursive=True)


@pytest.fixture
def http_server():
    import threading
    import time
    from collections import Counter
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: Counter[str] = Counter()
    served: Counter[str] = Counter()
    body = json.dumps(ARTICLES, ensure_ascii=False).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):  # noqa: N802 - http.server API
            hits[self.path] += 1
            if self.path.startswith("/flaky") and hits[self.path] <= 2:
                self.send_error(503)
                return
            if self.path.startswith("/limited") and hits[self.path] == 1:
                self.send_error(429)
                return
            if self.path == "/forbidden.json":
                self.send_error(403)
                return
            if self.path == "/down.json":
                self.send_error(500)
                return
            if self.path == "/hang.json":
                time.sleep(1.5)
            if self.path.startswith("/slow"):
                time.sleep(0.4)
            if self.path.startswith(("/flaky", "/slow", "/limited", "/ok", "/hang")):
                served[self.path] += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out on /hang.json and hung up
                return
            self.send_error(404)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits, served
    server.shutdown()
    server.server_close()


def test_http_retries_transient_and_records_permanent(http_server):
    base, hits, served = http_server
    good = [
        "/ok.json",
        "/flaky1.json",
        "/flaky2.json",
        "/slow1.json",
        "/slow2.json",
        "/limited.json",
    ]
    bad = ["/missing.json", "/forbidden.json", "/down.json"]
    sources = discover_sources([base + p for p in good + bad], CFG)
    res = fetch_batch(sources, CFG)
    rows = {r["source_uri"][len(base) :]: r for r in _rows(res)}
    for p in good:
        assert rows[p]["status"] == "ok", rows[p]
        assert served[p] == 1  # every file arrives exactly once
    assert res.records.num_rows == 2 * len(good)
    assert (rows["/missing.json"]["reason"], hits["/missing.json"]) == ("http_error", 1)
    assert "404" in rows["/missing.json"]["message"]
    assert (rows["/forbidden.json"]["reason"], hits["/forbidden.json"]) == ("http_error", 1)
    assert "403" in rows["/forbidden.json"]["message"]
    assert rows["/down.json"]["status"] == "failed"
    assert rows["/down.json"]["reason"] == "retries_exhausted"
    assert hits["/down.json"] == CFG.retries + 1 and "500" in rows["/down.json"]["message"]


def test_http_timeout_is_retried_then_gives_up(http_server):
    base, hits, _ = http_server
    cfg = CFG.model_copy(update={"timeout_s": 0.3, "retries": 1})
    (row,) = _rows(fetch_batch([Source(base + "/hang.json")], cfg))
    assert (row["status"], row["reason"]) == ("failed", "retries_exhausted")
    assert hits["/hang.json"] == 2


SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared")


@pytest.mark.shared
def test_saudinewsnet_zips_every_article_arrives():
    import glob
    import zipfile

    zips = sorted(glob.glob(os.path.join(SHARED, "corpora", "saudinewsnet", "*.zip")))
    if not zips:
        pytest.skip("../shared/corpora/saudinewsnet/*.zip is missing")
    expected = 0
    for z in zips:
        with zipfile.ZipFile(z) as zf:
            for name in zf.namelist():
                expected += len(json.loads(zf.read(name)))
    res = fetch_batch(discover_sources([os.path.join(SHARED, "corpora", "saudinewsnet")], CFG), CFG)
    assert {r["status"] for r in _rows(res)} == {"ok"}
    assert all(r["member"] for r in _rows(res))
    assert res.records.num_rows == expected


@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_record_sink_gets_the_slices_of_the_records_table(tmp_path, size):
    """Streaming records to a sink (issue 14) gives exactly the slices of the whole table."""
    (tmp_path / "arr.json").write_text(json.dumps(ARTICLES, ensure_ascii=False))
    (tmp_path / "b.txt").write_text(NEWS_TXT, encoding="utf-8")
    (tmp_path / "obj.json").write_text(json.dumps({"articles": ARTICLES}, ensure_ascii=False))
    paths = sorted(tmp_path.iterdir())
    whole = _fetch(paths)
    parts = []
    streamed = _fetch(paths, record_sink=parts.append, sink_rows=size)
    assert streamed.records.num_rows == 0
    assert streamed.files.equals(whole.files)
    n = whole.records.num_rows
    assert n == 2 * len(ARTICLES) + 1
    expected = [whole.records.slice(i, size) for i in range(0, n, size)]
    assert [p.num_rows for p in parts] == [e.num_rows for e in expected]
    assert all(p.equals(e) for p, e in zip(parts, expected, strict=True))
