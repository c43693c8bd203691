"""Round trip of real articles through the seed ``.txt`` layout (issue 17).

Writes every article of the chosen SaudiNewsNet days (``../shared/corpora/saudinewsnet``)
one per ``.txt`` file in the seed layout, runs the pipeline on the folder, and compares
each record's title, date, source, dateline and body with the original after the
pipeline's own cleaning. Prints the ``files`` statuses, the files with a date line
whose date came back null, and the mismatches per field.

    .venv/bin/python bench/txt_roundtrip.py --plain                 # the issue's folder
    .venv/bin/python bench/txt_roundtrip.py --read-also-every 7     # varied headers
    .venv/bin/python bench/txt_roundtrip.py --all-days --stages     # parser only, all days

``--plain`` writes every file as the issue did (title, ``تاريخ النشر: 22nd, July 2015
GMT``, ``<site> ا الرياض``, body, ``المصدر: <site>``); otherwise the header variants of
``tests/seed_layout.HEADERS`` are dealt out. ``--stages`` runs ``fetch_batch`` and
``clean_batch`` in-process instead of ``akhbar run``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.seed_layout import (  # noqa: E402
    check_roundtrip,
    run_stages,
    saudinewsnet_articles,
    seed_article,
    write_corpus,
)

CORPUS = REPO.parent / "shared" / "corpora" / "saudinewsnet"
DEFAULT_DAYS = ("2015-07-21", "2015-07-26")


def _run_pipeline(folder: Path, out: Path, workers: int, annotate: bool) -> tuple[list, list]:
    from tasks.store import read_table

    args = ["run", str(folder), "--out", str(out), "--workers", str(workers), "--json"]
    if not annotate:
        args += ["--morphology", "none", "--ner", "none", "--dialect", "none"]
    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"akhbar run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return read_table(out, "files").to_pylist(), read_table(out, "articles").to_pylist()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", nargs="+", default=list(DEFAULT_DAYS), help="YYYY-MM-DD days")
    p.add_argument("--all-days", action="store_true", help="every day of the corpus")
    p.add_argument("--plain", action="store_true", help="the plain seed layout, no variants")
    p.add_argument(
        "--read-also-every",
        type=int,
        default=0,
        help="n: every n-th file also carries the next article after إقرأ أيضاً (0: none)",
    )
    p.add_argument("--stages", action="store_true", help="fetch+clean in-process, no flow")
    p.add_argument("--workers", type=int, default=2, help="akhbar run --workers")
    p.add_argument(
        "--annotate",
        action="store_true",
        help="keep morphology/NER/dialect on (they do not touch these fields)",
    )
    p.add_argument("--work-dir", type=Path, default=None, help="kept; default: a temp dir")
    args = p.parse_args(argv)

    days = sorted(z.stem for z in CORPUS.glob("*.zip")) if args.all_days else args.days
    dateline = "الرياض" if args.plain else None
    articles = []
    for day in days:
        for record in saudinewsnet_articles(CORPUS / f"{day}.zip"):
            articles.append(seed_article(record, len(articles), dateline))
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="txt-roundtrip-"))
    shutil.rmtree(work / "in", ignore_errors=True)
    shutil.rmtree(work / "out", ignore_errors=True)
    t0 = time.perf_counter()
    written = write_corpus(
        articles, work / "in", vary=not args.plain, read_also_every=args.read_also_every
    )
    t1 = time.perf_counter()
    if args.stages:
        files, rows = run_stages(work / "in")
    else:
        files, rows = _run_pipeline(work / "in", work / "out", args.workers, args.annotate)
    t2 = time.perf_counter()
    report = check_roundtrip(written, files, rows)
    t3 = time.perf_counter()
    dated = sum(1 for w in written if (w.header.date_style and w.article.published))
    print(
        f"days: {' '.join(days)}  files: {report.files}  ({'plain' if args.plain else 'varied'}"
        f" headers, read-also every {args.read_also_every or '-'})"
    )
    print(
        f"run: {'fetch+clean' if args.stages else 'akhbar run'} {t2 - t1:.1f} s  "
        f"(write {t1 - t0:.1f} s, check {t3 - t2:.1f} s)"
    )
    print("files: " + json.dumps(dict(report.status.most_common()), ensure_ascii=False))
    print(f"articles: {report.articles}")
    print(f"null dates among {dated} files with a date line: {len(report.null_dates)}")
    print("mismatches per field: " + json.dumps(dict(report.by_field()), ensure_ascii=False))
    for name, key, want, got in report.mismatches[:10]:
        print(f"  {name} {key}: want {str(want)[:120]!r} got {str(got)[:120]!r}")
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if not report.mismatches and not report.null_dates else 1


if __name__ == "__main__":
    sys.exit(main())
