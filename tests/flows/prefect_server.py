"""A real Prefect server, a deployment from prefect.yaml and one completed run, for tests.

Started once per test session (see ``conftest.py``) and shared by the deployment,
UI and consumer tests. Every process started here runs in its own process group
and is killed with it: a Prefect worker ignores its first SIGTERM for seconds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "samples"
# inputs in data/samples (tests must not hard-code it: samples get added)
N_SAMPLES = sum(1 for p in SAMPLES.iterdir() if p.is_file() and not p.name.startswith("."))
POOL = "akhbar-local"
FLOW = "news-pipeline"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PrefectServer:
    """A ``prefect server start`` subprocess with its own ``PREFECT_HOME``."""

    home: Path
    port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen] = field(default_factory=list)
    logs: Path | None = None
    started: float = 0.0
    start_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PREFECT_HOME=str(self.home),
            PREFECT_API_URL=self.api,
            DO_NOT_TRACK="1",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_UI_ENABLED="true",
            PREFECT_CLI_PROMPT="false",
            # keep the venv's scripts (prefect, akhbar) first for child processes
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        env.pop("PREFECT_PROFILE", None)
        return env

    def spawn(
        self, args: list[str], name: str, cwd: Path = REPO, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        """Start a background process in its own group, output to ``logs/<name>.log``."""
        assert self.logs is not None
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def run(self, args: list[str], timeout: float = 120, cwd: Path = REPO) -> str:
        """Run a command to completion; fail with its output if it fails."""
        res = subprocess.run(
            args, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if res.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {res.returncode}\n{res.stdout}\n{res.stderr}"
            )
        return res.stdout + res.stderr

    def start(self, timeout: float = 90) -> None:
        self.started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs = self.home / "logs"
        self.logs.mkdir(exist_ok=True)
        proc = self.spawn(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            "server",
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server exited: {self.log('server')}")
            try:
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:
                    self.start_seconds = time.monotonic() - self.started
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"prefect server not healthy after {timeout} s: {self.log('server')}")

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log" if self.logs else None
        return path.read_text(errors="replace")[-4000:] if path and path.exists() else ""

    def stop(self) -> None:
        """Kill every process group this server object started, newest first."""
        for proc in reversed(self.procs):
            _kill_group(proc)
        self.procs.clear()

    def stop_one(self, proc: subprocess.Popen) -> None:
        """Kill one process group started by ``spawn``."""
        _kill_group(proc)
        if proc in self.procs:
            self.procs.remove(proc)

    def get(self, path: str) -> dict | list:
        return self._request("GET", path)

    def post(self, path: str, body: dict) -> dict | list:
        return self._request("POST", path, body)

    def _request(self, method: str, path: str, body: dict | None = None) -> dict | list:
        # A busy SQLite-backed server answers 503 for a moment (database locked); Prefect's
        # own client retries those, so the tests do too, a bounded number of times.
        for attempt in range(6):
            r = httpx.request(method, f"{self.api}{path}", json=body, timeout=10)
            if r.status_code not in (429, 502, 503) or attempt == 5:
                break
            time.sleep(0.5 * 2**attempt)
        r.raise_for_status()
        return r.json()


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is left after 5 s.

    The group, not just the leader: the leader may have exited and left children
    (uvicorn, flow-run subprocesses); a worker ignores its first SIGTERM for seconds.
    """
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


@dataclass
class DeployedRun:
    """What the deployment fixture produced: server, deploy output, the finished run."""

    server: PrefectServer
    out: Path
    flow_run_id: str
    deploy_output: str
    worker_seconds: float
    progress_seen: list[float] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def deploy_and_run(server: PrefectServer, out: Path, timeout: float = 180) -> DeployedRun:
    """Create the pool, deploy prefect.yaml, trigger on-demand, execute it with one worker."""
    prefect = [sys.executable, "-m", "prefect"]
    seconds: dict[str, float] = {}
    t = time.monotonic()
    server.run([*prefect, "work-pool", "create", POOL, "--type", "process"])
    seconds["work-pool create"] = time.monotonic() - t
    t = time.monotonic()
    deployed = server.run([*prefect, "--no-prompt", "deploy", "--all"], timeout=180)
    seconds["deploy --all"] = time.monotonic() - t
    t = time.monotonic()
    # one input per batch: the progress artifact then moves in five steps
    params = {
        "inputs": [str(REPO / "data" / "samples")],
        "out": str(out),
        "workers": 1,
        "batch_size": 1,
    }
    triggered = server.run(
        [
            *prefect,
            "deployment",
            "run",
            f"{FLOW}/on-demand",
            "--params",
            json.dumps({"params": params}),
        ]
    )
    match = re.search(r"UUID:\s*(" + _UUID.pattern + ")", triggered) or _UUID.search(triggered)
    assert match, f"no flow run id in: {triggered}"
    flow_run_id = match.group(1) if match.groups() else match.group(0)
    seconds["deployment run"] = time.monotonic() - t
    t0 = time.monotonic()
    worker = server.spawn([*prefect, "worker", "start", "--pool", POOL, "--run-once"], "worker")
    deadline = t0 + timeout
    state = None
    seen: list[float] = []
    progress_filter = {
        "artifacts": {"flow_run_id": {"any_": [flow_run_id]}, "type": {"any_": ["progress"]}}
    }
    while time.monotonic() < deadline:
        state = server.get(f"/flow_runs/{flow_run_id}")["state"]["type"]
        for art in server.post("/artifacts/filter", progress_filter):
            if not seen or seen[-1] != float(art["data"]):
                seen.append(float(art["data"]))
        if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            break
        time.sleep(0.2)
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass  # stop() kills its group
    if state != "COMPLETED":
        raise AssertionError(f"flow run {flow_run_id} ended {state}:\n{server.log('worker')}")
    seconds["worker --run-once"] = time.monotonic() - t0
    return DeployedRun(
        server, out, flow_run_id, deployed, seconds["worker --run-once"], seen, seconds
    )
