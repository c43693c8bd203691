"""Real articles round-trip through the seed ``.txt`` layout (issue 17; needs ../shared).

Every article of the SaudiNewsNet days in ``../shared/corpora/saudinewsnet`` is written
one per ``.txt`` file with the header variants of ``tests/seed_layout.py`` (dates in
Arabic, French and English, missing title/site/source lines, leading blank lines,
``إقرأ أيضاً:`` followed by the next article) and read back. Each record's title, date,
source, dateline and body must equal the original after the pipeline's own cleaning.

The whole pipeline on all 13 days (~22,700 articles, 6.5M words) takes far longer than
a CI test may (segmenting and annotating them is most of it), so the check is split:
the stages that read these fields (``fetch_batch`` + ``clean_batch``) run over every
day, two days at a time, and ``akhbar run`` (annotators off: they do not touch these
fields) runs over one day's folder. ``bench/txt_roundtrip.py`` runs any of it by hand.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from tasks import store
from tests.seed_layout import (
    check_roundtrip,
    roundtrip_day,
    saudinewsnet_articles,
    seed_article,
    write_corpus,
)

REPO = Path(__file__).resolve().parents[2]
PIPELINE_DAY = "2015-07-26"  # 1,459 articles, one of the days of the folder


def _days(shared_dir: Path) -> list[Path]:
    zips = sorted((shared_dir / "corpora" / "saudinewsnet").glob("*.zip"))
    if not zips:
        pytest.skip(f"no SaudiNewsNet days under {shared_dir}/corpora/saudinewsnet")
    return zips


def _show(report) -> str:
    lines = [
        f"{name} {key}: want {want!r:.200} got {got!r:.200}"
        for name, key, want, got in report.mismatches[:10]
    ]
    return "\n".join(lines)


@pytest.mark.shared
def test_every_shared_day_round_trips_through_the_layout_parser(shared_dir, tmp_path):
    zips = _days(shared_dir)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        reports = dict(
            zip(
                (z.stem for z in zips),
                pool.map(roundtrip_day, zips, [tmp_path / z.stem for z in zips]),
                strict=True,
            )
        )
    for day, report in reports.items():
        assert report.mismatches == [], f"{day}: {report.by_field()}\n{_show(report)}"
        assert report.null_dates == [], f"{day}: dates lost in {report.null_dates[:10]}"
        assert report.files > 1000
        # Only empty or non-Arabic bodies are left out.
        assert set(report.status) <= {
            "ok",
            "quarantined:empty_after_clean",
            "quarantined:not_arabic",
        }
        assert report.status["ok"] > 0.95 * report.files
    assert sum(r.files for r in reports.values()) > 22_000


@pytest.mark.shared
def test_one_shared_day_round_trips_through_akhbar_run(shared_dir, tmp_path):
    zips = {z.stem: z for z in _days(shared_dir)}
    if PIPELINE_DAY not in zips:
        pytest.skip(f"{PIPELINE_DAY}.zip is missing")
    articles = [seed_article(r, i) for i, r in enumerate(saudinewsnet_articles(zips[PIPELINE_DAY]))]
    written = write_corpus(articles, tmp_path / "in", read_also_every=7)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", str(tmp_path / "in"), "--out", str(out)]
        + ["--workers", "2", "--morphology", "none", "--ner", "none", "--dialect", "none"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = store.read_table(out, "files").to_pylist()
    rows = store.read_table(out, "articles").to_pylist()
    report = check_roundtrip(written, files, rows)
    assert report.mismatches == [], f"{report.by_field()}\n{_show(report)}"
    assert report.null_dates == []
    assert report.files == len(files) == len(articles)
    assert report.status["ok"] > 0.95 * report.files
