"""What ``akhbar run`` shows in an ordinary terminal: a tmux capture, mid-run and at the end.

Usage::

    python bench/terminal_capture.py [INPUT ...] [--width 160] [--height 45]

Runs ``.venv/bin/akhbar run INPUT... --out <fresh dir> --batch-size 1`` in a detached
tmux session of WIDTHxHEIGHT (default: three SaudiNewsNet days from ../shared),
captures the pane every second while it runs and once when it has exited, and writes
the last mid-run frame and the final screen to ``test-output/terminal-run.txt``.
Needs tmux.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAYS = ("2015-07-21", "2015-07-26", "2015-07-27")
DEFAULT_INPUTS = [str(REPO.parent / "shared/corpora/saudinewsnet" / f"{d}.zip") for d in DAYS]


def _pane(session: str) -> str:
    res = subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
    )
    return "\n".join(line.rstrip() for line in res.stdout.rstrip("\n").splitlines()).strip("\n")


def capture(inputs: list[str], width: int, height: int, timeout_s: float) -> tuple[str, str, float]:
    """The last frame seen while running, the final screen, and the run's wall time."""
    out = Path(tempfile.mkdtemp(prefix="akhbar-term-")) / "out"
    session = f"akhbar-capture-{int(time.time())}"
    done = Path(tempfile.mkdtemp(prefix="akhbar-term-done-")) / "exited"
    command = " ".join(
        [shlex.quote(str(REPO / ".venv/bin/akhbar")), "run", *map(shlex.quote, inputs)]
        + ["--out", shlex.quote(str(out)), "--batch-size", "1"]
    )
    # the shell stays after the run so the final screen can be captured
    script = f"cd {shlex.quote(str(REPO))} && {command}; touch {shlex.quote(str(done))}; sleep 3600"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), script],
        check=True,
    )
    started = time.monotonic()
    frame = ""
    try:
        while not done.exists():
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"akhbar run did not finish in {timeout_s:.0f} s")
            screen = _pane(session)
            if "words/s" in screen and "ETA" in screen and "akhbar run " not in screen:
                frame = screen
            time.sleep(1)
        seconds = time.monotonic() - started
        time.sleep(0.5)
        return frame, _pane(session), seconds
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        shutil.rmtree(out.parent, ignore_errors=True)
        shutil.rmtree(done.parent, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", nargs="*", default=DEFAULT_INPUTS)
    p.add_argument("--width", type=int, default=160)
    p.add_argument("--height", type=int, default=45)
    p.add_argument("--timeout", type=float, default=900)
    args = p.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return 2
    missing = [i for i in args.inputs if not Path(i).exists()]
    if missing:
        print(f"missing inputs: {missing}", file=sys.stderr)
        return 2
    frame, final, seconds = capture(args.inputs, args.width, args.height, args.timeout)
    names = " ".join(Path(i).name for i in args.inputs)
    text = (
        f"akhbar run {names} --batch-size 1, in tmux {args.width}x{args.height} "
        f"({seconds:.0f} s)\n\n--- while running ---\n{frame}\n\n--- at the end ---\n{final}\n"
    )
    dest = REPO / "test-output" / "terminal-run.txt"
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
