"""prefect.yaml deployed to a real server and run by a real process worker (issue 7).

The session fixture ``deployed_run`` (conftest.py) does what the README tells a
user to do: ``prefect server start``, ``prefect work-pool create --type process``,
``prefect --no-prompt deploy --all``, ``prefect deployment run`` and
``prefect worker start --run-once``. These tests check what it left behind.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
import yaml

from flows.artifacts import FILES_KEY, REPORT_KEY, SUMMARY_KEY
from tests.flows.prefect_server import (
    FLOW,
    N_SAMPLES,
    POOL,
    REPO,
    DeployedRun,
    PrefectServer,
)

pytestmark = pytest.mark.server


def test_prefect_yaml_declares_scheduled_and_on_demand_deployments() -> None:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    by_name = {d["name"]: d for d in spec["deployments"]}
    assert set(by_name) >= {"daily", "on-demand", "compact-weekly"}
    for d in by_name.values():
        assert d["work_pool"]["name"] == POOL
        if d["name"] == "compact-weekly":  # the upkeep flow (issue 25)
            assert d["entrypoint"] == "flows/maintenance.py:compact_dataset"
            assert d["schedules"][0]["cron"] and d["parameters"]["out"]
            continue
        assert d["entrypoint"] == "flows/news_pipeline.py:news_pipeline"
        assert d["work_pool"]["name"] == POOL
        assert set(d["parameters"]["params"]) >= {"inputs", "out"}
    (sched,) = by_name["daily"]["schedules"]
    assert sched["cron"] and sched["timezone"]
    assert not by_name["on-demand"]["schedules"]
    (pull,) = spec["pull"]
    assert "prefect.deployments.steps.set_working_directory" in pull


def test_deployments_registered_with_cron_and_typed_form(deployed_run: DeployedRun) -> None:
    server = deployed_run.server
    daily = server.get(f"/deployments/name/{FLOW}/daily")
    on_demand = server.get(f"/deployments/name/{FLOW}/on-demand")
    assert daily["work_pool_name"] == POOL == on_demand["work_pool_name"]
    (schedule,) = daily["schedules"]
    assert schedule["schedule"]["cron"] == "0 6 * * *"
    assert schedule["schedule"]["timezone"] == "Africa/Casablanca"
    assert on_demand["schedules"] == []
    # the pull step chdirs into the clone the deployment was made from
    (pull,) = daily["pull_steps"]
    directory = pull["prefect.deployments.steps.set_working_directory"]["directory"]
    assert Path(directory).resolve() == REPO
    # The run form is PipelineParams: typed, nested, every field described.
    schema = daily["parameter_openapi_schema"]
    assert schema["required"] == ["params"]
    defs = schema["definitions"]
    pipeline = defs["PipelineParams"]["properties"]
    assert pipeline["inputs"]["type"] == "array"
    assert pipeline["batch_size"]["type"] == "integer"
    for model in ("PipelineParams", "FetchConfig", "CleanConfig", "AnnotateConfig"):
        undocumented = [
            k
            for k, v in defs[model]["properties"].items()
            if "$ref" not in v and "allOf" not in v
            if not v.get("description")
        ]
        assert not undocumented, f"{model} fields without description: {undocumented}"
    assert daily["parameters"]["params"]["inputs"] == ["data/samples"]


def test_worker_ran_the_deployment_to_completion(deployed_run: DeployedRun) -> None:
    phases = {"server start": deployed_run.server.start_seconds, **deployed_run.seconds}
    print("deployment phases (s):", {k: round(v or 0, 1) for k, v in phases.items()})
    run = deployed_run.server.get(f"/flow_runs/{deployed_run.flow_run_id}")
    assert run["state"]["type"] == "COMPLETED"
    deployment = deployed_run.server.get(f"/deployments/{run['deployment_id']}")
    assert deployment["name"] == "on-demand"
    assert run["parameters"]["params"]["out"] == str(deployed_run.out)
    # Parquet output, one published part per table
    for table in ("files", "articles", "sentences", "tokens", "entities"):
        parts = list((deployed_run.out / table).glob("part-*.parquet"))
        assert parts, f"no {table} parquet under {deployed_run.out}"
    articles = pq.read_table(deployed_run.out / "articles")
    assert articles.num_rows >= 5
    assert not list((deployed_run.out / "_staging").glob("*/*"))


def test_run_published_summary_files_table_and_progress(deployed_run: DeployedRun) -> None:
    arts = deployed_run.server.post(
        "/artifacts/filter",
        {"artifacts": {"flow_run_id": {"any_": [deployed_run.flow_run_id]}}},
    )
    by_type: dict[str, list[dict]] = {}
    for a in arts:
        by_type.setdefault(a["type"], []).append(a)
    summary = next(a for a in by_type["markdown"] if a["key"] == SUMMARY_KEY)
    # outcome first: the heading and the figures table come before any detail
    head = summary["data"].splitlines()[0]
    assert head.startswith("# akhbar run") and head.endswith("completed")
    assert "| files ok |" in summary["data"].split("##")[0]
    assert str(deployed_run.out) in summary["data"]
    (files,) = [a for a in by_type["table"] if a["key"] == FILES_KEY]
    rows = (
        files["data"]
        if isinstance(files["data"], list)
        else __import__("json").loads(files["data"])
    )
    assert len(rows) == N_SAMPLES
    assert {r["status"] for r in rows} <= {"ok", "quarantined"}
    assert sum(r["status"] == "ok" for r in rows) >= 5
    assert sum(r["n_articles"] for r in rows) >= 5
    (progress,) = by_type["progress"]
    assert float(progress["data"]) == pytest.approx(100.0)
    # updated after each committed batch (one input per batch in this run), not just at the end
    assert f"{N_SAMPLES}/{N_SAMPLES} batches committed" in progress["description"]
    assert deployed_run.progress_seen and deployed_run.progress_seen[-1] == pytest.approx(100.0)
    assert deployed_run.progress_seen == sorted(deployed_run.progress_seen)


def test_run_links_its_html_report(deployed_run: DeployedRun) -> None:
    arts = deployed_run.server.post(
        "/artifacts/filter",
        {
            "artifacts": {
                "flow_run_id": {"any_": [deployed_run.flow_run_id]},
                "key": {"any_": [REPORT_KEY]},
            }
        },
    )
    (link,) = arts
    reports = list((deployed_run.out / "_reports").glob("*.html"))
    assert len(reports) == 1 and reports[0].as_uri() in link["data"]
    page = reports[0].read_text(encoding="utf-8")
    assert "<svg" in page and 'dir="rtl"' in page and "الخليج اليوم" in page


def test_akhbar_serve_registers_and_runs_a_deployment(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    """``akhbar serve``: one process that registers a cron deployment and runs its flow runs."""
    server = prefect_server
    out = tmp_path / "served"
    proc = server.spawn(
        [
            str(Path(sys.executable).parent / "akhbar"),
            "serve",
            str(REPO / "data" / "samples"),
            "--out",
            str(out),
            "--name",
            "serve-test",
            "--cron",
            "30 5 * * *",
            "--timezone",
            "Asia/Riyadh",
        ],
        "serve",
        env={"PREFECT_RUNNER_POLL_FREQUENCY": "2"},
    )
    try:
        deployment = _wait_for(lambda: _deployment(server, "serve-test"), 90, server, "serve")
        (schedule,) = deployment["schedules"]
        assert schedule["schedule"]["cron"] == "30 5 * * *"
        assert schedule["schedule"]["timezone"] == "Asia/Riyadh"
        assert deployment["parameters"]["params"]["out"] == str(out)
        run = server.post(f"/deployments/{deployment['id']}/create_flow_run", {})
        final = _wait_for(lambda: _final_state(server, run["id"]), 150, server, "serve")
        assert final == "COMPLETED", server.log("serve")
        assert list((out / "articles").glob("part-*.parquet"))
    finally:
        server.stop_one(proc)


def _deployment(server, name: str) -> dict | None:
    try:
        return server.get(f"/deployments/name/{FLOW}/{name}")
    except httpx.HTTPStatusError:
        return None


def _final_state(server, flow_run_id: str) -> str | None:
    state = server.get(f"/flow_runs/{flow_run_id}")["state"]["type"]
    return state if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None


def _wait_for(probe, timeout: float, server, log: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := probe()) is not None:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout} s:\n{server.log(log)}")
