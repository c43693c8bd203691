"""The Prefect UI of a real run, seen by headless Chromium; and the HTML report.

Reuses the session's server and completed deployment run (conftest.py). Chromium
renders each page (``--dump-dom`` after a virtual-time budget, so the UI has
fetched from the API) and the test reads the resulting DOM; screenshots go to
``test-output/`` for a person to look at. Skips when Chromium is not installed
(.ci/run installs it).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flows.artifacts import FILES_KEY, REPORT_KEY, SUMMARY_KEY
from tests.flows.prefect_server import REPO, DeployedRun

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = REPO / "test-output"

pytestmark = [
    pytest.mark.server,
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
    ),
]

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1400,1600",
]


def _chromium(url: str, profile: Path, *args: str, budget_ms: int = 15000) -> str:
    res = subprocess.run(
        [
            CHROMIUM,
            *_FLAGS,
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={budget_ms}",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def _render(url: str, name: str, tmp_path: Path, wait_for: str) -> str:
    """The page's text after rendering, and its screenshot in test-output/<name>.png.

    The UI loads in stages on a busy machine: retry with a longer budget until
    ``wait_for`` shows up.
    """
    SHOTS.mkdir(exist_ok=True)
    text = ""
    for attempt, budget in enumerate((15000, 30000, 60000)):
        dom = _chromium(url, tmp_path / f"{name}-{attempt}", "--dump-dom", budget_ms=budget)
        text = html.unescape(re.sub(r"<[^>]+>", " ", dom))
        text = re.sub(r"\s+", " ", text)
        if wait_for in text:
            break
    _chromium(url, tmp_path / f"{name}-shot", f"--screenshot={SHOTS / f'{name}.png'}")
    return text


def _artifacts(run: DeployedRun) -> dict[str, dict]:
    arts = run.server.post(
        "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run.flow_run_id]}}}
    )
    return {a["key"] or a["type"]: a for a in arts}


def test_flow_run_page_shows_completed_run(deployed_run: DeployedRun, tmp_path: Path) -> None:
    url = f"{deployed_run.server.url}/runs/flow-run/{deployed_run.flow_run_id}"
    text = _render(url, "ui-flow-run", tmp_path, wait_for="Completed")
    assert "news-pipeline" in text
    assert "Completed" in text
    assert (SHOTS / "ui-flow-run.png").stat().st_size > 10_000


def test_summary_artifact_page_shows_run_figures(deployed_run: DeployedRun, tmp_path: Path) -> None:
    summary = _artifacts(deployed_run)[SUMMARY_KEY]
    url = f"{deployed_run.server.url}/artifacts/artifact/{summary['id']}"
    text = _render(url, "ui-run-summary", tmp_path, wait_for="files ok")
    assert "akhbar run" in text and "completed" in text
    assert "files ok" in text and "OOV rate" in text
    # the real figures of this run are on the page, not just the headings
    figures = re.search(r"\| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|", summary["data"])
    ok, _skipped, _quarantined, _failed, articles = figures.groups()
    assert int(ok) >= 5 and int(articles) >= 5
    row = re.search(r"files ok.*?duration\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", text)
    assert row and row.groups() == figures.groups(), text[:2000]
    assert "Entities by label" in text and "LOC" in text


def test_files_table_artifact_page_lists_inputs(deployed_run: DeployedRun, tmp_path: Path) -> None:
    files = _artifacts(deployed_run)[FILES_KEY]
    url = f"{deployed_run.server.url}/artifacts/artifact/{files['id']}"
    text = _render(url, "ui-files-table", tmp_path, wait_for="001_rabat_water.txt")
    for name in ("001_rabat_water.txt", "005_gulf_dump.jsonl"):
        assert name in text
    assert "n_articles" in text and " ok " in f" {text} "


def test_artifacts_page_lists_the_run_artifacts(deployed_run: DeployedRun, tmp_path: Path) -> None:
    url = f"{deployed_run.server.url}/artifacts"
    text = _render(url, "ui-artifacts", tmp_path, wait_for=FILES_KEY)
    assert SUMMARY_KEY in text and FILES_KEY in text and REPORT_KEY in text


def test_html_report_renders_arabic(deployed_run: DeployedRun, tmp_path: Path) -> None:
    from tasks.report import write_report

    page = write_report(deployed_run.out, tmp_path / "report.html")
    text = _render(page.as_uri(), "report", tmp_path, wait_for="Top lemmas")
    assert "الخليج اليوم" in text and "Top entities per label" in text
    assert (SHOTS / "report.png").stat().st_size > 20_000
