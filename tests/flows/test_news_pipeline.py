"""End-to-end: ``akhbar run data/samples`` into a temp dir, then the published dataset.

The Prefect server is the session's ``prefect_server`` (tests/flows/conftest.py), a
real ``prefect server start`` with a temporary home: the CLI runs reach it through
``PREFECT_API_URL`` and the in-process flow run is pointed at it, so its start-up
(~15-25 s) is paid once per session and shared with the deployment and UI tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tasks.schemas import SCHEMA_VERSION, TABLES
from tasks.segment import segment_batch
from tests.flows.prefect_server import PrefectServer

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
AKHBAR = Path(sys.executable).parent / "akhbar"

# Articles per .txt sample: the main one plus one per title after إقرأ أيضاً (read off the files).
TXT_PARTS = {
    "001_rabat_water.txt": 3,
    "002_tunis_culture.txt": 1,
    "003_amman_weather.txt": 2,
    "004_riyadh_tech.txt": 1,
    "006_amman_weather_repost.txt": 1,
}
KEYS = {
    "articles": ["article_id"],
    "sentences": ["article_id", "sentence_index"],
    "tokens": ["article_id", "sentence_index", "token_index"],
    "entities": ["article_id", "sentence_index", "token_start", "token_end", "label"],
}
CONTENT = ("articles", "sentences", "tokens", "entities")
N_FILES = len(list(SAMPLES.iterdir()))


def _expected_articles() -> dict[str, int]:
    """Articles per sample file: the parts above for .txt, one per line for .jsonl."""
    expected = {}
    for path in sorted(SAMPLES.iterdir()):
        if path.suffix == ".jsonl":
            lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
            assert all(json.loads(ln).get("content") for ln in lines)
            expected[path.name] = len(lines)
        else:
            expected[path.name] = TXT_PARTS[path.name]  # KeyError: a new sample needs a count
    return expected


def _read(out: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(out / name) for name in TABLES}


def _akhbar(out: Path, server: PrefectServer, *extra: str) -> dict:
    proc = subprocess.run(
        [str(AKHBAR), "run", str(SAMPLES), "--out", str(out), "--workers", "1", "--json", *extra],
        capture_output=True,
        text=True,
        env=server.env,
        cwd=out.parent,
        timeout=300,
    )
    assert proc.returncode == 0, f"akhbar exited {proc.returncode}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


@contextmanager
def _api(server: PrefectServer) -> Iterator[None]:
    """Point this process's Prefect client at the session server.

    On the way out, queued logs and events are sent while the server is still up:
    otherwise the log worker retries a stopped server at interpreter exit for a minute.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: server.api}):
        try:
            yield
        finally:
            try:
                APILogWorker.instance().drain()
            except RuntimeError:  # no log was sent in this process
                pass
            EventsWorker.drain_all()


@pytest.fixture(scope="module")
def runs(prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three runs into one dataset: ``akhbar run``, the same again, then a full refresh.

    The full refresh calls the flow in-process (as a deployment would), which also
    gives the artifact test a flow run that processed every file; the CLI's
    ``--full-refresh`` flag is checked separately to reach the same parameter.
    """
    from flows.news_pipeline import news_pipeline
    from tasks.config import PipelineParams

    if not AKHBAR.exists():
        pytest.fail(f"console script {AKHBAR} is missing: pip install -e . first")
    out = tmp_path_factory.mktemp("e2e") / "out"
    result: dict = {"out": out}
    clock = time.perf_counter()
    result["first"] = _akhbar(out, prefect_server)
    result["first_tables"] = _read(out)
    result["second"] = _akhbar(out, prefect_server)
    result["second_tables"] = _read(out)
    # Chunks of 4 records: the refresh's batch has several chunks, merged at commit.
    params = PipelineParams(
        inputs=[str(SAMPLES)], out=str(out), workers=1, full_refresh=True, chunk_size=4
    )
    with _api(prefect_server):
        result["refresh_state"] = news_pipeline(params, return_state=True)
        assert result["refresh_state"].is_completed(), result["refresh_state"]
        result["refresh"] = result["refresh_state"].result()
    result["refresh_tables"] = _read(out)
    # shown with -s: where the module's time goes (server start-up is the session's)
    print(f"\ne2e runs: {time.perf_counter() - clock:.1f} s for 2 CLI runs + 1 in-process run")
    return result


def test_first_run_row_counts(runs) -> None:
    expected = _expected_articles()
    t = runs["first_tables"]
    files = t["files"]
    assert len(files) == len(expected) == N_FILES
    assert (files["status"] == "ok").all() and files["reason"].isna().all()
    names = files["source_uri"].map(lambda u: Path(u).name)
    assert dict(zip(names, files["n_articles"], strict=True)) == expected
    assert len(t["articles"]) == sum(expected.values())
    summary = runs["first"]
    assert summary["outcome"] == "completed" and summary["files"] == {"ok": N_FILES}
    for name in ("articles", "sentences", "tokens", "entities"):
        assert summary[name] == len(t[name]), name
    assert len(t["entities"]) > 0


def test_related_articles_point_to_their_main_article(runs) -> None:
    arts = runs["first_tables"]["articles"]
    names = (
        runs["first_tables"]["files"].set_index("file_id")["source_uri"].map(lambda u: Path(u).name)
    )
    for file_id, group in arts.groupby("file_id"):
        if not names[file_id].endswith(".txt"):
            assert (group["part"] == 1).all() and group["parent_article_id"].isna().all()
            continue
        assert sorted(group["part"]) == list(range(1, TXT_PARTS[names[file_id]] + 1))
        main = group.loc[group["part"] == 1, "article_id"].item()
        assert (group.loc[group["part"] > 1, "parent_article_id"] == main).all()


def test_sentence_and_token_counts_match_the_article_text(runs) -> None:
    t = runs["first_tables"]
    arts = t["articles"]
    # The published tables hold exactly what segmenting articles.text gives.
    import pyarrow as pa

    seg = segment_batch(pa.Table.from_pandas(arts[["article_id", "text"]], preserve_index=False))
    assert len(t["sentences"]) == seg.sentences.num_rows
    assert len(t["tokens"]) == seg.tokens.num_rows
    n_tokens = dict(zip(arts["article_id"], arts["n_tokens"], strict=True))
    assert n_tokens == t["tokens"].groupby("article_id").size().to_dict()
    n_sentences = dict(zip(arts["article_id"], arts["n_sentences"], strict=True))
    assert n_sentences == t["sentences"].groupby("article_id").size().to_dict()


def test_schemas_match_the_contract(runs) -> None:
    out = runs["out"]
    for name, schema in TABLES.items():
        parts = sorted((out / name).glob("**/*.parquet"))
        assert parts, f"no parquet files for {name}"
        for part in parts:
            got = pq.read_schema(part)
            assert got.equals(schema, check_metadata=True), f"{part}: {got} != {schema}"
            assert got.metadata[b"akhbar.schema_version"].decode() == SCHEMA_VERSION
            assert got.metadata[b"akhbar.table"].decode() == name


def test_offsets_index_articles_text(runs) -> None:
    t = runs["first_tables"]
    texts = dict(zip(t["articles"]["article_id"], t["articles"]["text"], strict=True))
    for name in ("sentences", "tokens", "entities"):
        df = t[name]
        assert len(df), name
        bad = [
            (a, s, e, x)
            for a, s, e, x in zip(
                df["article_id"], df["char_start"], df["char_end"], df["text"], strict=True
            )
            if texts[a][s:e] != x
        ]
        assert not bad, f"{name}: {len(bad)} rows whose text is not articles.text[start:end]"


def test_readable_with_pandas_pyarrow_and_duckdb(runs) -> None:
    import duckdb

    out = runs["out"]
    n = len(pd.read_parquet(out / "tokens"))
    assert n == len(runs["refresh_tables"]["tokens"]) > 0
    dataset = ds.dataset(out / "tokens", format="parquet")
    assert dataset.count_rows() == n
    assert dataset.schema.equals(TABLES["tokens"])
    con = duckdb.connect()
    glob = (out / "tokens").as_posix() + "/**/*.parquet"
    assert con.execute(f"select count(*) from read_parquet('{glob}')").fetchone()[0] == n
    arabic = con.execute(
        f"select count(*) from read_parquet('{glob}') where is_arabic and lemma is not null"
    ).fetchone()[0]
    assert arabic > n / 2


def test_second_run_adds_no_content_rows(runs) -> None:
    first, second = runs["first_tables"], runs["second_tables"]
    for name in CONTENT:
        a = first[name].sort_values(KEYS[name]).reset_index(drop=True)
        b = second[name].sort_values(KEYS[name]).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=True, obj=name)
    summary = runs["second"]
    assert summary["files"] == {"skipped_unchanged": N_FILES} and summary["articles"] == 0
    files = second["files"]
    later = files[files["run_id"] == summary["run_id"]]
    assert len(files) == 2 * N_FILES and len(later) == N_FILES
    assert set(later["status"]) == {"skipped_unchanged"}
    assert set(later["file_id"]) == set(first["files"]["file_id"])


def test_each_run_adds_one_part_per_table_and_children_carry_the_article_date(runs) -> None:
    # issue 25: chunks are merged at commit; the refresh replaced every article, so its
    # part holds them all and the first run's parts left the folders
    out = runs["out"]
    parts = {name: sorted((out / name).glob("part-*.parquet")) for name in TABLES}
    assert {name: len(p) for name, p in parts.items()} == {
        "files": 3,
        "articles": 1,
        "sentences": 1,
        "tokens": 1,
        "entities": 1,
        "stories": 1,
    }
    t = runs["refresh_tables"]
    dates = t["articles"].set_index("article_id")[["published_date", "source_name"]]
    for name in CONTENT:
        if name == "articles":
            continue
        got = t[name].join(dates, on="article_id", rsuffix="_article")
        for col in ("published_date", "source_name"):
            same = got[col].astype(object).fillna("-") == got[f"{col}_article"].astype(
                object
            ).fillna("-")
            assert same.all(), (name, col)
        assert got["published_date"].notna().any()


def test_stories_updated_by_commits_equal_stories_built_from_every_article(runs) -> None:
    # issue 25: each commit rebuilds only the stories its articles touch
    from tasks.config import DedupConfig
    from tasks.dedup.index import DedupIndex
    from tasks.dedup.stories import build_stories
    from tasks.store import read_table

    out = runs["out"]
    cols = ["article_id", "story_id", "title", "source_name", "published_date"]
    merges = DedupIndex.load(out, DedupConfig()).merges
    full = build_stories(read_table(out, "articles", cols), merges).sort_by("story_id")
    published = read_table(out, "stories").sort_by("story_id")
    assert published.num_rows > 0 and published.equals(full)


def test_full_refresh_keeps_ids_without_duplicates(runs) -> None:
    first, refresh = runs["first_tables"], runs["refresh_tables"]
    assert set(refresh["articles"]["article_id"]) == set(first["articles"]["article_id"])
    for name in CONTENT:
        df = refresh[name]
        assert not df.duplicated(KEYS[name]).any(), f"duplicate {name} rows"
        # entity counts follow the rule resources, which may change between runs
        if name != "entities":
            assert len(df) == len(first[name]), name
    summary = runs["refresh"]
    assert summary["files"] == {"ok": N_FILES} and summary["articles"] == sum(
        _expected_articles().values()
    )
    # the re-processed articles are now credited to the refresh run
    assert set(refresh["articles"]["run_id"]) == {summary["run_id"]}
    runs_per_status = Counter(
        zip(refresh["files"]["run_id"], refresh["files"]["status"], strict=True)
    )
    assert runs_per_status[(summary["run_id"], "ok")] == N_FILES


def test_cli_full_refresh_flag_reaches_the_flow_parameters() -> None:
    from flows.cli import _params_from_args, _parser

    args = _parser().parse_args(["run", str(SAMPLES), "--out", "x", "--full-refresh"])
    assert _params_from_args(args).full_refresh is True
    args = _parser().parse_args(["run", str(SAMPLES), "--out", "x"])
    assert _params_from_args(args).full_refresh is False


def test_flow_run_publishes_artifacts(runs, prefect_server: PrefectServer) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    state, result = runs["refresh_state"], runs["refresh"]
    assert result["articles"] == sum(_expected_articles().values())
    flow_run_id = state.state_details.flow_run_id
    with _api(prefect_server), get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    assert flow_run.state.is_completed()
    assert flow_run.parameters["params"]["full_refresh"] is True
    by_key = {a.key: a for a in arts if a.key}
    assert {"akhbar-run-summary", "akhbar-files"} <= set(by_key)
    summary = by_key["akhbar-run-summary"]
    assert summary.type == "markdown" and result["run_id"] in summary.data
    files = by_key["akhbar-files"]
    assert files.type == "table"
    rows = json.loads(files.data) if isinstance(files.data, str) else files.data
    assert len(rows) == N_FILES
    progress = [a for a in arts if a.type == "progress"]
    assert progress and float(progress[0].data) == pytest.approx(100.0)
