"""The "Using the output" snippets of docs/output.md, run as written against the sample output.

Snippets come from that section of docs/output.md (linked from the README). Python
blocks are run per "###" subsection in one namespace (later blocks continue earlier ones),
with the literal ``"data/out"`` pointed at a fresh ``akhbar run data/samples``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from flows.cli import main
from tests.flows.prefect_server import REPO

pytestmark = pytest.mark.server

_SECTION = "## Using the output"


def _section_text() -> str:
    text = (REPO / "docs" / "output.md").read_text(encoding="utf-8")
    start = text.index(_SECTION)
    nxt = re.search(r"^## ", text[start + len(_SECTION) :], re.M)
    return text[start : start + len(_SECTION) + nxt.start()] if nxt else text[start:]


def _blocks(lang: str) -> dict[str, list[str]]:
    """Code blocks of ``lang`` grouped by their ### subsection."""
    groups: dict[str, list[str]] = {}
    heading = ""
    for part in re.split(r"^(### .+)$", _section_text(), flags=re.M):
        if part.startswith("### "):
            heading = part[4:].strip()
            continue
        for code in re.findall(rf"```{lang}\n(.*?)```", part, re.S):
            groups.setdefault(heading, []).append(code)
    return groups


PYTHON = _blocks("python")


def test_section_has_every_consumer() -> None:
    assert {"DuckDB", "pandas", "Polars", "pyarrow.dataset"} <= set(PYTHON)
    duck = "\n".join(PYTHON["DuckDB"])
    assert "published_date" in duck and "lemma" in duck  # top lemmas per source per day
    assert "join sentences" in duck  # sentences mentioning an entity


def _run(heading: str, out: Path) -> dict:
    ns: dict = {"__name__": "snippet"}
    assert '"data/out"' in PYTHON[heading][0], f"{heading}: the first snippet must set OUT"
    for code in PYTHON[heading]:
        exec(compile(code.replace('"data/out"', repr(str(out))), heading, "exec"), ns)  # noqa: S102
    return ns


def test_duckdb_snippets(sample_dataset: Path) -> None:
    ns = _run("DuckDB", sample_dataset)
    top = ns["top_lemmas"]
    assert list(top.columns) == ["source_name", "published_date", "lemma", "n"]
    assert len(top) > 5
    # at most five lemmas per (source, day), most frequent first
    assert top.groupby(["source_name", "published_date"], dropna=False).size().max() <= 5
    sentences = ns["sentences"]
    assert len(sentences) >= 1
    assert all("الرياض" in t for t in sentences["text"])


def test_pandas_snippet(sample_dataset: Path) -> None:
    ns = _run("pandas", sample_dataset)
    assert ns["per_source"].sum() == len(ns["articles"]) >= 5
    assert ns["places"]["mentions"].iloc[0] >= 2


def test_polars_snippet(sample_dataset: Path) -> None:
    oov = _run("Polars", sample_dataset)["oov"]
    assert oov.columns == ["article_id", "tokens", "oov_rate", "title"]
    assert oov.height >= 5
    assert 0.0 <= oov["oov_rate"].min() <= oov["oov_rate"].max() <= 1.0


def test_pyarrow_dataset_snippet(sample_dataset: Path) -> None:
    ns = _run("pyarrow.dataset", sample_dataset)
    assert ns["proper_nouns"].num_rows > 0
    assert ns["proper_nouns"].column_names == ["article_id", "text", "lemma", "gloss"]
    # the written files carry the contract's field descriptions and schema version
    schema = ns["tokens"].schema
    assert schema.field("is_oov").metadata[b"description"]
    assert schema.metadata[b"akhbar.schema_version"]


def test_command_line_snippets(sample_dataset: Path, tmp_path: Path, capsys) -> None:
    commands = [
        line
        for code in sum(_blocks("sh").values(), [])
        for line in code.splitlines()
        if line.startswith("akhbar ")
    ]
    assert any(c.startswith("akhbar query") for c in commands)
    for command in commands:
        argv = [
            str(sample_dataset)
            if a == "data/out"
            else str(tmp_path / a)
            if a.endswith(".html")
            else a
            for a in shlex.split(command)[1:]
        ]
        assert main(argv) == 0, command
    out = capsys.readouterr().out
    assert "الخليج اليوم" in out  # the per-source query printed real rows
    assert (tmp_path / "report.html").exists()
