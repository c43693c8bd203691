"""``akhbar run`` as a user sees it: in a terminal (a pseudo-terminal), and off one.

The terminal runs are real runs on data/samples with the temporary Prefect server,
driven through pexpect at 160x45. What reaches the screen is checked with the ANSI
control sequences stripped; the last one is kept in test-output/ for a person to read.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from rich.console import Console as RichConsole

from flows.console import LiveRun
from tests.flows.prefect_server import REPO, SAMPLES, _kill_group, free_port

pexpect = pytest.importorskip("pexpect")

AKHBAR = str(Path(sys.executable).parent / "akhbar")
SHOTS = REPO / "test-output"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
_TASK_LINE = re.compile(r"Task run '[a-z-]+-[0-9a-f]+' - Finished in state")


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PREFECT_HOME for the module's runs: the first pays the cold start."""
    return tmp_path_factory.mktemp("prefect-home")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm-256color"
    return env


def _in_terminal(home: Path, out: Path, *extra: str) -> tuple[int, str]:
    """Run ``akhbar run data/samples`` in a 160x45 pseudo-terminal; exit code and screen text."""
    child = pexpect.spawn(
        AKHBAR,
        ["run", str(SAMPLES), "--out", str(out), "--batch-size", "2", *extra],
        cwd=str(REPO),
        env=_env(home),
        dimensions=(45, 160),
        encoding="utf-8",
        codec_errors="replace",
        timeout=300,
    )
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.before


def _text(screen: str) -> str:
    return _ANSI.sub("", screen)


@pytest.fixture(scope="module")
def quiet_run(prefect_home: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    code, screen = _in_terminal(prefect_home, tmp_path_factory.mktemp("tty") / "out")
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / "terminal-samples.txt").write_text(_text(screen), encoding="utf-8")
    assert code == 0, _text(screen)[-3000:]
    return screen


def test_terminal_shows_the_live_display_without_task_lines(quiet_run: str) -> None:
    text = _text(quiet_run)
    assert not _TASK_LINE.search(text), text[-3000:]
    assert "Beginning flow run" not in text and "| INFO" not in text
    # the display advanced per chunk and ended at 100 % of the articles read
    assert re.search(r"articles .*100%\s+(\d+)/\1 records", text), text[-3000:]
    assert re.search(r"files .*6 ok, 0 unchanged, 0 quarantined, 0 failed", text)
    assert "words/s" in text
    # and the closing summary is still there
    assert re.search(r"akhbar run \S+: completed", text)
    assert re.search(r"files ok\s+6", text)


def test_terminal_run_points_at_the_run_in_a_local_ui(quiet_run: str) -> None:
    """Following what the CLI printed finds the run: start that server, open that URL."""
    text = _text(quiet_run)
    command = re.search(r"^  (.*prefect server start.*)$", text, re.M)
    url = re.search(r"open (http://127\.0\.0\.1:4200/runs/flow-run/([0-9a-f-]{36}))", text)
    assert command and url, text[-2000:]
    words = shlex.split(command.group(1))
    env = dict(os.environ)
    while "=" in words[0]:
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    assert Path(env["PREFECT_HOME"]).is_dir()
    # the command as printed, on a free port instead of 4200 (other runs may hold it)
    port = free_port()
    words[words.index("--port") + 1] = str(port)
    server = subprocess.Popen(
        words,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        run = httpx.get(f"{base}/api/flow_runs/{url.group(2)}", timeout=10).json()
        assert run["state_type"] == "COMPLETED", run
        flow = httpx.get(f"{base}/api/flows/{run['flow_id']}", timeout=10).json()
        assert flow["name"] == "news-pipeline"
        # the page the CLI named is the UI's (served by the same command)
        page = httpx.get(
            url.group(1).replace(":4200", f":{port}"),
            headers={"Accept": "text/html"},  # as a browser asks; the UI routes the path
            timeout=10,
        )
        assert page.status_code == 200 and "<html" in page.text.lower()
    finally:
        _kill_group(server)


def test_verbose_shows_the_task_lines_above_the_display(prefect_home: Path, tmp_path: Path) -> None:
    code, screen = _in_terminal(prefect_home, tmp_path / "out", "--verbose", "--workers", "1")
    text = _text(screen)
    assert code == 0, text[-3000:]
    assert _TASK_LINE.search(text), text[-3000:]
    assert "100%" in text


def test_off_a_terminal_the_output_is_unchanged(prefect_home: Path, tmp_path: Path) -> None:
    """Plain lines: Prefect log lines (one per batch among them) on stderr, the table on stdout."""
    res = subprocess.run(
        [AKHBAR, "run", str(SAMPLES), "--out", str(tmp_path / "out"), "--workers", "1"],
        cwd=REPO,
        env=_env(prefect_home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "\x1b[" not in res.stderr and "\x1b[" not in res.stdout
    assert _TASK_LINE.search(res.stderr)
    # the flow's own lines, as Prefect log lines (the flow logs its prints), and only those
    batch = r"akhbar: batch 1/1 committed: 6 files, \d+ articles, \d+ tokens$"
    assert re.search(r"\| INFO    \| Flow run '[\w-]+' - " + batch, res.stderr, re.M)
    for line in res.stderr.splitlines():
        assert re.match(r"\d\d:\d\d:\d\d\.\d{3} \| (INFO|WARNING) +\| ", line), line
    assert res.stdout.startswith("akhbar run ")
    assert "prefect server start" not in res.stdout + res.stderr


_ROUTED = """
import subprocess, sys, time
from flows.console import Console
console = Console()
console.start()
console.on_fetched(10, batches=1)
print("warning from this process", file=sys.stderr)
subprocess.run(["sh", "-c", "echo error from a child process >&2"])
console.on_chunk(10, {"articles": 9, "words": 120})
time.sleep(0.6)
console.close()
print("after", file=sys.stderr)
"""


def test_lines_from_any_process_print_above_the_display() -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-c", _ROUTED],
        cwd=str(REPO),
        dimensions=(45, 160),
        encoding="utf-8",
        timeout=60,
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, _text(child.before)
    # what the terminal shows line by line: a newline or a line erase ends a line
    pieces = re.split(r"\r?\n|\x1b\[2K", child.before)
    lines = [_text(piece).rstrip() for piece in pieces if _text(piece).strip()]
    last_frame = max(i for i, line in enumerate(lines) if line.startswith("articles"))
    for said in ("warning from this process", "error from a child process"):
        # printed whole, on a line of its own, and before the display's last frame
        assert said in lines and lines.index(said) < last_frame, lines
    assert "100%  10/10 records -> 9 kept" in lines[last_frame]
    assert lines[-1] == "after"  # the terminal is given back


def _render(run: LiveRun, width: int = 160) -> str:
    screen = RichConsole(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    screen.print(run)
    return screen.export_text()


def test_live_run_counts_chunks_and_estimates_before_every_batch_is_read() -> None:
    run = LiveRun()
    assert "reading inputs" in _render(run)
    run.on_fetched(100, batches=4)
    run.on_chunk(50, {"articles": 48, "words": 5000})
    run.reading_done_at -= 10  # as if the chunk had taken 10 s
    text = _render(run)
    # one batch of four read: the total is extrapolated (~400) and so is the ETA
    assert "50/~400 records -> 48 kept" in text and "5,000 words" in text
    assert "ETA ~0:01:10" in text and "500 words/s" in text
    # an 80-column terminal gets the same figures on more lines, none cut
    narrow = _render(run, width=80)
    assert "ETA ~0:01:10" in narrow and "1 failed" not in narrow and "0 failed" in narrow
    assert max(len(line.rstrip()) for line in narrow.splitlines()) <= 80
    for _ in range(3):
        run.on_fetched(100, batches=4)
    run.on_chunk(50, None)  # a crashed chunk is done too, with no words
    run.on_chunk(300, {"articles": 290, "words": 30000})
    run.on_batch({"status": {"ok": 3, "quarantined": 1}})
    text = _render(run)
    assert "100%  400/400 records -> 338 kept" in text and "done" in text
    assert "3 ok, 0 unchanged, 1 quarantined, 0 failed" in text
