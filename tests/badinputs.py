"""Generator of malformed news inputs (and good ones) with the accounting each should get.

Used by ``tests/flows/test_robustness.py`` and ``bench/make_bad_inputs.py`` (issue 5).
Every generated input comes with an ``Expected`` entry: the ``files`` status and reason
the pipeline must record for it, or for each of its members when it is an archive.

Kinds (``KINDS``): empty, whitespace-only, PNG and ELF bytes, truncated UTF-8, mixed
encodings in one file, NUL bytes, invalid JSON, deeply nested JSON, JSON with wrong
types, broken JSON Lines, HTML with only scripts, non-Arabic text, only diacritics and
tatweel, a FIFO, a directory symlink, a dangling symlink, a symlink loop, a mode-000
file (skipped as root: root reads it), a zip with a traversal member, a zip bomb, a
truncated gzip, a CSV without a text column, and (``huge=True``) a 20 MB single line
and a 20 MB article.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Small hand-written vocabulary: enough to make distinct, plausible news sentences.
_SUBJECTS = ("الوزير", "الحكومة", "المجلس البلدي", "الشركة الوطنية", "الجامعة", "الاتحاد")
_VERBS = ("أعلن", "افتتح", "ناقش", "أطلق", "وقع", "استقبل", "أكد", "قرر")
_OBJECTS = (
    "مشروعا جديدا للمياه",
    "برنامجا لدعم الشباب",
    "اتفاقية للتعاون الثقافي",
    "خطة لتطوير الطرق",
    "معرضا للكتاب",
    "مبادرة لحماية البيئة",
    "مركزا صحيا في الحي",
)
_PLACES = ("في الرباط", "في عمان", "في تونس", "في الرياض", "في القاهرة", "في بيروت")
_TIMES = ("صباح اليوم", "مساء أمس", "خلال الأسبوع الماضي", "يوم الأحد", "في بداية الشهر")
_TAILS = (
    "بحضور عدد من المسؤولين",
    "وسط اهتمام كبير من المواطنين",
    "ضمن خطة تمتد عدة سنوات",
    "بتمويل من القطاع الخاص",
    "بعد مشاورات طويلة",
)

# Fourteen harakat-like marks and the tatweel: text made only of them has no letters.
_DIACRITICS = "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0640"

_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06"
    b"\x00\x00\x00\x1f\xf3\xffa\x00\x00\x00\x0bIDATx\x9cc`\x00\x02\x00\x00\x05\x00\x01"
)
_ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00"


def arabic_sentence(rng: random.Random) -> str:
    """One random news sentence from the vocabulary above."""
    return (
        f"{rng.choice(_VERBS)} {rng.choice(_SUBJECTS)} {rng.choice(_OBJECTS)} "
        f"{rng.choice(_PLACES)} {rng.choice(_TIMES)} {rng.choice(_TAILS)}."
    )


def arabic_article(rng: random.Random, tag: int, n_sentences: int = 4) -> str:
    """A distinct article: a numbered headline line and a body of random sentences."""
    title = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} رقم {tag}"
    body = " ".join(arabic_sentence(rng) for _ in range(n_sentences))
    return f"{title}\n{body} وقال المتحدث إن العدد بلغ {tag} مشاركا.\n"


@dataclass(frozen=True)
class Expected:
    """Accounting a generated input must get.

    ``members`` maps an archive member name (``None`` for the input itself) to
    ``(status, reason)``; a plain file has the single key ``None``.
    """

    kind: str
    members: dict[str | None, tuple[str, str | None]] = field(default_factory=dict)
    good_titles: tuple[str, ...] = ()
    encoding: str | None = None


def _one(kind: str, status: str, reason: str | None) -> Expected:
    return Expected(kind, {None: (status, reason)})


Maker = Callable[[Path, random.Random, int], Expected | None]


def _empty(path: Path, rng: random.Random, i: int) -> Expected:
    path.with_suffix(".txt").write_bytes(b"")
    return _one("empty", "quarantined", "empty_file")


def _whitespace(path: Path, rng: random.Random, i: int) -> Expected:
    ws = "".join(rng.choice(" \t\n\r\u00a0") for _ in range(rng.randint(1, 200)))
    path.with_suffix(".txt").write_bytes(ws.encode("utf-8") + b" " * i)
    return _one("whitespace_only", "quarantined", "empty_file")


def _png(path: Path, rng: random.Random, i: int) -> Expected:
    path.with_suffix(".txt").write_bytes(_PNG + rng.randbytes(64 + i))
    return _one("png_bytes", "quarantined", "binary_file")


def _elf(path: Path, rng: random.Random, i: int) -> Expected:
    path.with_suffix(".json").write_bytes(_ELF + rng.randbytes(128 + i))
    return _one("elf_bytes", "quarantined", "binary_file")


def _truncated_utf8(path: Path, rng: random.Random, i: int) -> Expected:
    # The file stops inside a two-byte letter: "...في ال" + b"\xd8" (half of "ع").
    text = arabic_article(rng, 10_000 + i).encode("utf-8")
    path.with_suffix(".txt").write_bytes(text + "عمل".encode()[:1])
    # A download cut mid-letter: the article should survive, read as UTF-8.
    return Expected("truncated_utf8", {None: ("ok", None)}, encoding="utf-8")


def _mixed_encodings(path: Path, rng: random.Random, i: int) -> Expected:
    # First paragraph UTF-8, second Windows-1256: no single encoding decodes both.
    a = arabic_article(rng, 20_000 + i).encode("utf-8")
    b = arabic_article(rng, 30_000 + i).encode("cp1256")
    path.with_suffix(".txt").write_bytes(a + b"\n" + b)
    return _one("mixed_encodings", "quarantined", "bad_encoding")


def _nul_bytes(path: Path, rng: random.Random, i: int) -> Expected:
    text = arabic_article(rng, 40_000 + i).encode("utf-8")
    cut = rng.randint(10, len(text) - 10)
    path.with_suffix(".txt").write_bytes(text[:cut] + b"\x00" * (1 + i % 5) + text[cut:])
    return _one("nul_bytes", "quarantined", "binary_file")


def _invalid_json(path: Path, rng: random.Random, i: int) -> Expected:
    body = json.dumps({"title": "خبر", "content": arabic_sentence(rng)}, ensure_ascii=False)
    path.with_suffix(".json").write_text(body[: -1 - i % 5] + ",,", encoding="utf-8")
    return _one("invalid_json", "quarantined", "bad_json")


def _deep_json(path: Path, rng: random.Random, i: int) -> Expected:
    depth = 50_000 + 1_000 * i
    path.with_suffix(".json").write_text("[" * depth + "]" * depth, encoding="utf-8")
    return _one("deeply_nested_json", "quarantined", "bad_json")


def _wrong_types(path: Path, rng: random.Random, i: int) -> Expected:
    content = [rng.randint(0, 10**6), [1, 2, 3], {"x": 1}, True][i % 4]
    items = [{"title": f"خبر رقم {i}", "content": content} for _ in range(1 + i % 3)]
    path.with_suffix(".json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return _one("json_wrong_types", "quarantined", "bad_record")


def _broken_jsonl(path: Path, rng: random.Random, i: int) -> Expected:
    lines = ['{"title": "خبر", "content": "' + arabic_sentence(rng)] * (2 + i % 3)
    path.with_suffix(".jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return _one("broken_jsonl", "quarantined", "bad_json")


def _html_scripts(path: Path, rng: random.Random, i: int) -> Expected:
    scripts = "".join(
        f"<script>var x{k} = {rng.randint(0, 999)}; console.log('{k}');</script>"
        for k in range(1 + i % 4)
    )
    html = f"<html><head><title></title>{scripts}</head><body>{scripts}</body></html>"
    path.with_suffix(".html").write_text(html, encoding="utf-8")
    return _one("html_only_scripts", "quarantined", "no_text_extracted")


def _non_arabic(path: Path, rng: random.Random, i: int) -> Expected:
    words = ("the", "minister", "opened", "a", "new", "water", "project", "today", "in", "city")
    text = " ".join(rng.choice(words) for _ in range(60 + i)) + ".\n"
    path.with_suffix(".txt").write_text(f"News item {i}\n{text}", encoding="utf-8")
    return _one("non_arabic", "quarantined", "not_arabic")


def _diacritics_only(path: Path, rng: random.Random, i: int) -> Expected:
    # e.g. "ـَـُـِ ّْ" : marks and tatweel with no base letter; nothing left after cleaning.
    text = "".join(rng.choice(_DIACRITICS) for _ in range(40 + i))
    path.with_suffix(".txt").write_text(text + "\n" + text[::-1] + "\n", encoding="utf-8")
    return _one("only_diacritics_tatweel", "quarantined", "empty_after_clean")


def _fifo(path: Path, rng: random.Random, i: int) -> Expected:
    os.mkfifo(path.with_suffix(".txt"))
    return _one("fifo", "failed", "not_a_regular_file")


def _dir_symlink(path: Path, rng: random.Random, i: int) -> Expected:
    target = path.parent / f".target-dir-{i}"
    target.mkdir(exist_ok=True)
    (path.with_suffix(".d")).symlink_to(target, target_is_directory=True)
    return _one("directory_symlink", "failed", "not_a_regular_file")


def _dangling(path: Path, rng: random.Random, i: int) -> Expected:
    path.with_suffix(".txt").symlink_to(path.parent / f"missing-{i}.txt")
    return _one("dangling_symlink", "failed", "broken_link")


def _loop(path: Path, rng: random.Random, i: int) -> Expected:
    a, b = path.with_suffix(".a.txt"), path.with_suffix(".b.txt")
    a.symlink_to(b.name)
    b.symlink_to(a.name)
    # Both ends are inputs; Expected covers one, the caller registers the other.
    return _one("symlink_loop", "failed", "broken_link")


def _unreadable(path: Path, rng: random.Random, i: int) -> Expected | None:
    if os.geteuid() == 0:
        return None  # root reads mode-000 files: the FIFO and link kinds cover "failed"
    p = path.with_suffix(".txt")
    p.write_text(arabic_article(rng, 50_000 + i), encoding="utf-8")
    p.chmod(0)
    return _one("unreadable", "failed", "permission_denied")


def _zip_traversal(path: Path, rng: random.Random, i: int) -> Expected:
    buf = io.BytesIO()
    good = f"good-{i}.txt"
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(good, arabic_article(rng, 60_000 + i))
        zf.writestr(f"../../evil-{i}.txt", arabic_article(rng, 70_000 + i))
    path.with_suffix(".zip").write_bytes(buf.getvalue())
    return Expected(
        "zip_traversal",
        {good: ("ok", None), f"../../evil-{i}.txt": ("quarantined", "unsafe_archive_member")},
    )


def _zip_bomb(path: Path, rng: random.Random, i: int) -> Expected:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.txt", b"\x00" * (60_000_000 + i))  # ~60 KB compressed, ratio > 200
    path.with_suffix(".zip").write_bytes(buf.getvalue())
    return Expected("zip_bomb", {"bomb.txt": ("quarantined", "archive_bomb")})


def _truncated_gzip(path: Path, rng: random.Random, i: int) -> Expected:
    data = gzip.compress(arabic_article(rng, 80_000 + i).encode("utf-8"))
    path.with_suffix(".txt.gz").write_bytes(data[: len(data) // 2])
    return _one("truncated_gzip", "quarantined", "bad_archive")


def _csv_no_text(path: Path, rng: random.Random, i: int) -> Expected:
    rows = "\n".join(f"{k},{rng.randint(0, 99)}" for k in range(3 + i))
    path.with_suffix(".csv").write_text("id,value\n" + rows + "\n", encoding="utf-8")
    return _one("csv_without_text_column", "quarantined", "bad_csv")


def _huge_line(path: Path, rng: random.Random, i: int) -> Expected:
    # A 20 MB single line of Arabic with no newline and no sentence end.
    words = " ".join(arabic_sentence(rng).rstrip(".") for _ in range(200))
    unit = (words + " ").encode("utf-8")
    path.with_suffix(".txt").write_bytes(unit * (20_000_000 // len(unit) + 1))
    # A plain-text input's first line is its headline: a headline with no body is empty.
    return _one("huge_single_line", "quarantined", "empty_after_clean")


def _huge_article(path: Path, rng: random.Random, i: int) -> Expected:
    # A headline, then a 20 MB body on one line: the whole pipeline sees ~3.5M words.
    body = " ".join(arabic_sentence(rng) for _ in range(200))
    unit = (body + " ").encode("utf-8")
    head = f"عنوان طويل جدا رقم {i}\n".encode()
    path.with_suffix(".txt").write_bytes(head + unit * (20_000_000 // len(unit) + 1))
    return _one("huge_article", "ok", None)


# What the pipeline records today where that differs from ``Expected`` (reported, to fix
# in the stage named): kind -> ({(status, reason, encoding) observed}, why). The encoding
# is only compared for kinds whose ``Expected.encoding`` is set.
# Kinds whose current outcome differs from the expected one, with the accepted outcomes
# and why. Empty: truncated UTF-8, mixed encodings, diacritics-only files and deep JSON
# were fixed in fetch/clean; a new gap must be listed here with its reason.
KNOWN_GAPS: dict[str, tuple[set[tuple[str, str | None, str | None]], str]] = {}


KINDS: dict[str, Maker] = {
    "empty": _empty,
    "whitespace_only": _whitespace,
    "png_bytes": _png,
    "elf_bytes": _elf,
    "truncated_utf8": _truncated_utf8,
    "mixed_encodings": _mixed_encodings,
    "nul_bytes": _nul_bytes,
    "invalid_json": _invalid_json,
    "deeply_nested_json": _deep_json,
    "json_wrong_types": _wrong_types,
    "broken_jsonl": _broken_jsonl,
    "html_only_scripts": _html_scripts,
    "non_arabic": _non_arabic,
    "only_diacritics_tatweel": _diacritics_only,
    "fifo": _fifo,
    "directory_symlink": _dir_symlink,
    "dangling_symlink": _dangling,
    "symlink_loop": _loop,
    "unreadable": _unreadable,
    "zip_traversal": _zip_traversal,
    "zip_bomb": _zip_bomb,
    "truncated_gzip": _truncated_gzip,
    "csv_without_text_column": _csv_no_text,
}


def make_bad_inputs(
    root: str | Path, per_kind: int = 10, huge: bool = False, seed: int = 0
) -> dict[str, Expected]:
    """Write ``per_kind`` inputs of every kind under ``root``; return path -> Expected.

    Paths are absolute, as ``fetch.discover_sources`` reports them. Kinds that cannot
    be made here (mode-000 files as root) are left out. With ``huge`` a 20 MB single
    line file and a 20 MB article (headline + one 20 MB body line) are added.
    Big-but-cheap kinds (zip bomb, deep JSON) get at most 3 copies.
    """
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    expected: dict[str, Expected] = {}
    for kind, maker in KINDS.items():
        copies = min(per_kind, 3) if kind in ("zip_bomb", "deeply_nested_json") else per_kind
        for i in range(copies):
            stem = root / f"{kind}-{i:03d}"
            before = set(root.iterdir())
            exp = maker(stem, rng, i)
            if exp is None:
                break
            for p in sorted(set(root.iterdir()) - before):
                if p.name.startswith("."):
                    continue  # hidden helper targets are not inputs
                expected[str(p)] = exp
    if huge:
        for maker in (_huge_line, _huge_article):
            stem = root / f"{maker.__name__.strip('_').replace('line', 'single_line')}-000"
            before = set(root.iterdir())
            exp = maker(stem, rng, 0)
            for p in set(root.iterdir()) - before:
                expected[str(p)] = exp
    return expected


def make_good_inputs(root: str | Path, n: int = 10, seed: int = 1) -> dict[str, Expected]:
    """``n`` good plain-text articles (distinct content) under ``root``; path -> Expected."""
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        text = arabic_article(rng, 1_000 + i, n_sentences=3 + i % 4)
        p = root / f"good-{i:03d}.txt"
        p.write_text(text, encoding="utf-8")
        out[str(p)] = Expected("good", {None: ("ok", None)}, (text.splitlines()[0],))
    return out


@dataclass
class Accounting:
    """Result of ``check_accounting``: hard problems, known gaps seen, rows per kind."""

    problems: list[str] = field(default_factory=list)
    gaps: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)


def check_accounting(rows: list[dict], expected: dict[str, Expected]) -> Accounting:
    """Compare one run's ``files`` rows with what the generated inputs should get.

    Checks: every input has rows (exactly one per member, ``None`` for a plain file),
    no row is unexpected or duplicated, statuses are valid, reasons snake_case, messages
    of problem rows name the input, and each row's (status, reason) is the expected one
    (or, for kinds in ``KNOWN_GAPS``, the documented current behaviour).
    """
    import re

    acc = Accounting()
    seen: dict[tuple[str, str | None], int] = {}
    for r in rows:
        key = (r["source_uri"], r["member"])
        seen[key] = seen.get(key, 0) + 1
        exp = expected.get(r["source_uri"])
        if exp is None:
            acc.problems.append(f"unexpected row {key}")
            continue
        acc.kinds[exp.kind] = acc.kinds.get(exp.kind, 0) + 1
        if r["status"] not in ("ok", "skipped_unchanged", "quarantined", "failed"):
            acc.problems.append(f"{key}: bad status {r['status']!r}")
        if r["reason"] is not None and not re.fullmatch(r"[a-z][a-z0-9_]*", r["reason"]):
            acc.problems.append(f"{key}: reason {r['reason']!r} is not snake_case")
        if r["status"] in ("quarantined", "failed") and r["source_uri"] not in (r["message"] or ""):
            acc.problems.append(f"{key}: message {r['message']!r} does not name the input")
        want = exp.members.get(r["member"])
        if want is None:
            acc.problems.append(f"{key}: unexpected member")
            continue
        enc = r["encoding"] if exp.encoding and r["status"] == "ok" else None
        got = (r["status"], r["reason"], enc)
        want = (*want, exp.encoding if want[0] == "ok" else None)
        if got != want:
            gap = KNOWN_GAPS.get(exp.kind)
            if gap is not None and got in gap[0]:
                acc.gaps[exp.kind] = acc.gaps.get(exp.kind, 0) + 1
            else:
                acc.problems.append(f"{exp.kind} {key}: got {got}, expected {want}")
    for uri, exp in expected.items():
        for member in exp.members:
            n = seen.get((uri, member), 0)
            if n != 1:
                acc.problems.append(f"{exp.kind} {(uri, member)}: {n} rows, expected 1")
    return acc
