"""Dataset views for DuckDB and the self-contained HTML report of a dataset.

``connect_dataset(out)`` registers the published tables (``files``, ``articles``,
``sentences``, ``tokens``, ``entities``) of one dataset version as DuckDB views;
``akhbar query`` and the report both read through it. ``build_report`` computes
the figures, ``render_html`` draws them into one HTML file with inline SVG
charts, and ``write_report`` does both.

Arabic in charts: matplotlib 3.11+ shapes Arabic and lays it out right to left
itself (libraqm); before that it drew letters isolated and reversed, so there
``arabic_label`` shapes them (arabic-reshaper) and puts them in display order
(python-bidi). The SVG keeps glyphs as paths (DejaVu Sans, which has Arabic), so a
chart reads the same in every viewer, with or without Arabic fonts, and matplotlib
measures the labels it draws; its ``<desc>`` keeps the labels as text. Tables
with Arabic cells are plain HTML with ``dir="rtl" lang="ar"``.
"""

from __future__ import annotations

import html
import io
import re
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tasks.schemas import TABLES
from tasks.store.reads import snapshot

_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")

# Quarantine reasons are counted over each input's latest outcome; an unchanged
# input keeps the outcome of the run that last processed it.
_FILES_LATEST = """
    select * from files where status <> 'skipped_unchanged'
    qualify row_number() over (partition by file_id order by processed_at desc) = 1
"""


def table_glob(out: str | Path, name: str) -> str:
    """Glob of a table's current Parquet parts (what DuckDB or Polars can read directly).

    Between commits the table directories hold exactly the current version; during a
    commit a glob may see one table ahead of another, which ``connect_dataset`` does not.
    """
    return str(Path(out) / name / "part-*.parquet")


def connect_dataset(out: str | Path, as_of: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one version of the dataset's tables as views.

    The views list the part files of one version (``tasks.store.snapshot``): the
    current one, or the last one run ``as_of`` committed. Joins across tables are
    therefore consistent even while a run commits. Tables with no parts yet are empty
    views with the contract's columns, so queries over a fresh dataset return no rows
    instead of failing. The view ``files_latest`` holds one row per input: its latest
    processed outcome.

    Raises:
        FileNotFoundError: ``out`` is not a directory.
        ConfigError: ``as_of`` names no run with a retained version.
    """
    root = Path(out)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset directory {str(out)!r} does not exist")
    snap = snapshot(root, as_of)
    con = duckdb.connect()
    for name, schema in TABLES.items():
        paths = snap.paths(name)
        if paths:
            files = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            con.execute(
                f"create view {name} as select * from "
                f"read_parquet([{files}], union_by_name = true)"
            )
        else:
            empty = _plain_schema(schema).empty_table()
            con.register(f"_{name}_empty", empty)
            con.execute(f"create view {name} as select * from _{name}_empty")
    con.execute(f"create view files_latest as {_FILES_LATEST}")
    return con


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    """Dictionary columns as plain strings (DuckDB reads them as VARCHAR from Parquet too)."""
    fields = [
        pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema
    ]
    return pa.schema(fields)


# Top lemmas are content words: من، في، أن، على would fill the list otherwise (issue 26).
CONTENT_UPOS = ("NOUN", "PROPN", "VERB", "ADJ")
# Rows of an exact duplicate (its original is counted already), for a table aliased e.
_NOT_A_DUPLICATE = (
    "e.article_id not in (select article_id from articles where duplicate_of is not null)"
)


@dataclass
class Report:
    """Figures of a dataset, as small lists of rows ready to render."""

    out: str
    generated_at: str
    totals: dict[str, Any]
    files_by_status: list[tuple[str, int]]
    quarantine: list[tuple[str, str, int]]
    quarantined_files: list[tuple[str, str, str]]
    by_source: list[tuple[str, int, int, float]]
    by_day: list[tuple[str, int]]
    tokens_per_article: list[int]
    top_lemmas: list[tuple[str, str, str, int]]
    top_entities: dict[str, list[tuple[str, int]]]
    dialects: list[tuple[str, int]]
    runs: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None


def build_report(
    out: str | Path, top_n: int = 25, runs: list[dict] | None = None, run_id: str | None = None
) -> Report:
    """Compute the report's figures from the dataset at ``out``.

    Args:
        out: dataset directory.
        top_n: rows in the top-lemma table (entity tables show ``top_n // 2`` per label).
        runs: the dataset's run logs (``store.read_run_logs``), for the runs table.
        run_id: the run this report is attached to, if any.
    """
    con = connect_dataset(out)

    def rows(sql: str) -> list[tuple]:
        return con.execute(sql).fetchall()

    n_articles, n_sources = rows(
        "select count(*), count(distinct coalesce(source_name, '')) from articles"
    )[0]
    n_tokens, n_arabic, n_oov = rows(
        "select count(*), count(*) filter (where is_arabic), "
        "count(*) filter (where is_arabic and is_oov) from tokens"
    )[0]
    totals = {
        "inputs": rows("select count(*) from files_latest")[0][0],
        "articles": n_articles,
        "sources": n_sources,
        "sentences": rows("select count(*) from sentences")[0][0],
        "tokens": n_tokens,
        "arabic_tokens": n_arabic,
        "oov_rate": (n_oov / n_arabic) if n_arabic else 0.0,
        "entities": rows("select count(*) from entities")[0][0],
        "duplicates": rows(
            "select count(*) from articles "
            "where duplicate_of is not null or near_duplicate_of is not null"
        )[0][0],
        "rejected_articles": rows("select coalesce(sum(n_rejected), 0) from files_latest")[0][0],
    }
    totals["undated"] = rows("select count(*) from articles where published_date is null")[0][0]
    from tasks.entities.gazetteers import names_nothing

    per_label = {}
    keep = max(top_n // 2, 5)
    columns = {r[0] for r in rows("select column_name from (describe entities)")}
    name = "coalesce(e.name, e.text)" if "name" in columns else "e.text"
    for (label,) in rows("select distinct label from entities order by label"):
        # ANERcorp's MISC takes in currencies and the divine name (دولار, الله); the top
        # lists are about the day's names, so spans that name nothing are left out here.
        # Mentions count by name (للبنك and البنك together) and an exact duplicate's
        # once, with its original's (issue 26).
        ranked = rows(
            f"select {name} nm, count(*) n from entities e where e.label = '{label}' "
            f"and {_NOT_A_DUPLICATE} group by nm order by n desc, nm limit {keep * 4}"
        )
        per_label[label] = [(t, n) for t, n in ranked if not names_nothing(t)][:keep]
    return Report(
        out=str(out),
        generated_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        totals=totals,
        files_by_status=rows(
            "select status, count(*) n from files_latest group by status order by n desc"
        ),
        quarantine=rows(
            "select status, reason, count(*) n from files_latest where status <> 'ok' "
            "group by status, reason order by n desc, reason"
        ),
        quarantined_files=rows(
            "select source_uri || coalesce('!' || member, ''), reason, coalesce(message, '') "
            "from files_latest where status <> 'ok' order by source_uri limit 50"
        ),
        by_source=rows(
            """
            select coalesce(a.source_name, '(unknown)') src, count(distinct a.article_id),
                   coalesce(sum(t.n), 0),
                   coalesce(sum(t.oov) / nullif(sum(t.ar), 0), 0)
            from articles a left join (
                select article_id, count(*) n, count(*) filter (where is_arabic) ar,
                       count(*) filter (where is_arabic and is_oov) oov
                from tokens group by article_id) t using (article_id)
            group by src order by 2 desc, src
            """
        ),
        by_day=[
            (str(d), n)
            for d, n in rows(
                "select published_date, count(*) from articles "
                "where published_date is not null group by 1 order by 1"
            )
        ],
        tokens_per_article=[
            n for (n,) in rows("select coalesce(n_tokens, 0) from articles order by 1")
        ],
        top_lemmas=rows(
            f"""
            select lemma, any_value(upos) upos, coalesce(any_value(gloss), '') gloss, count(*) n
            from tokens e where is_arabic and lemma is not null and not is_oov
            and upos in ({", ".join(repr(u) for u in CONTENT_UPOS)}) and {_NOT_A_DUPLICATE}
            group by lemma order by n desc, lemma limit {top_n}
            """
        ),
        top_entities=per_label,
        dialects=rows(
            "select coalesce(dialect, '?'), count(*) n from articles group by 1 order by n desc"
        ),
        runs=runs or [],
        run_id=run_id,
    )


def arabic_label(text: str) -> str:
    """``text`` as matplotlib must get it to draw Arabic joined and right to left.

    Matplotlib 3.11 and later lay text out with libraqm (shaping and bidi), so the
    text goes as it is. Older versions draw code points one by one, left to right:
    the label is then shaped (``صوت`` -> ``ﺻﻮﺕ``, initial/medial/final forms, U+FExx)
    and put in display order, which they draw as the word reads.
    """
    if not _ARABIC.search(text) or _matplotlib_lays_out_text():
        return text
    from bidi import get_display

    return get_display(_reshaper().reshape(text))


@cache
def _matplotlib_lays_out_text() -> bool:
    from matplotlib import ft2font

    return hasattr(ft2font, "__libraqm_version__")


@cache
def _reshaper() -> Any:
    """A reshaper that forms only the ligatures the chart font has glyphs for.

    arabic-reshaper would turn الله into U+FDF2, which DejaVu Sans lacks (a blank box);
    the lam-alef ligatures (لا -> U+FEFB) it has and keeps.
    """
    from arabic_reshaper import ArabicReshaper
    from arabic_reshaper.ligatures import LIGATURES
    from fontTools.ttLib import TTFont
    from matplotlib.font_manager import FontProperties, findfont

    cmap = TTFont(findfont(FontProperties(family=_CHART_FONT))).getBestCmap()
    config = {
        name: all(ord(ch) in cmap for form in forms for ch in form)
        for name, (_, forms) in LIGATURES
    }
    return ArabicReshaper(configuration=config)


def _svg(fig: Any, desc: str = "") -> str:
    """A matplotlib figure as inline SVG, glyphs as paths; ``desc`` becomes its ``<desc>``."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "font.family": _CHART_FONT}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    if desc:
        head = text.index(">") + 1
        text = f"{text[:head]}\n<desc>{html.escape(desc)}</desc>{text[head:]}"
    return text


_CHART_FONT = "DejaVu Sans"  # has Arabic and its presentation forms; ships with matplotlib


def _figure(width: float, height: float) -> Any:
    # Figure without pyplot: no global state, no GUI backend, safe in worker threads.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _int_ticks(axis: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def figure_by_source(by_source: list[tuple]) -> Any:
    """Horizontal bars of articles per source, Arabic source names shaped."""
    top = by_source[:15][::-1]
    fig, ax = _figure(6.5, 0.35 * len(top) + 0.9)
    ax.barh([arabic_label(s) for s, *_ in top], [n for _, n, *_ in top], color="#3b6ea8")
    ax.set_xlabel("articles")
    _int_ticks(ax.xaxis)
    return fig


def chart_by_source(by_source: list[tuple]) -> str:
    """``figure_by_source`` as inline SVG."""
    desc = "articles per source: " + ", ".join(f"{s} {n}" for s, n, *_ in by_source[:15])
    return _svg(figure_by_source(by_source), desc)


_LABEL_COLORS = {"PER": "#3b6ea8", "LOC": "#5a8f5a", "ORG": "#c07a2c", "MISC": "#8a6bb0"}


def figure_entities(top_entities: dict[str, list[tuple[str, int]]], n: int = 15) -> Any:
    """Horizontal bars of the most frequent entities of all labels, coloured by label."""
    rows = sorted(
        ((text, label, count) for label, ents in top_entities.items() for text, count in ents),
        key=lambda r: (-r[2], r[0]),
    )[:n][::-1]
    fig, ax = _figure(6.5, 0.35 * len(rows) + 0.9)
    colors = [_LABEL_COLORS.get(label, "#777777") for _, label, _ in rows]
    ax.barh([arabic_label(t) for t, *_ in rows], [c for *_, c in rows], color=colors)
    from matplotlib.patches import Patch

    seen = dict.fromkeys(label for _, label, _ in reversed(rows))
    ax.legend(
        handles=[Patch(color=_LABEL_COLORS.get(lab, "#777777"), label=lab) for lab in seen],
        loc="lower right",
        frameon=False,
    )
    ax.set_xlabel("mentions")
    _int_ticks(ax.xaxis)
    return fig


def chart_entities(top_entities: dict[str, list[tuple[str, int]]]) -> str:
    """``figure_entities`` as inline SVG."""
    desc = "top entities: " + ", ".join(
        f"{t} ({label}) {n}" for label, ents in top_entities.items() for t, n in ents
    )
    return _svg(figure_entities(top_entities), desc)


def chart_by_day(by_day: list[tuple[str, int]]) -> str:
    """Bars of articles per publication day.

    A few days are drawn as one labelled bar each (a date axis would stretch
    them to the span); many days on a date axis, a day per bar.
    """
    import datetime as dt

    fig, ax = _figure(6.5, 2.6)
    counts = [n for _, n in by_day]
    if len(by_day) <= _FEW_DAYS:
        ax.bar(range(len(by_day)), counts, width=0.7, color="#3b6ea8")
        ax.set_xticks(range(len(by_day)), [d for d, _ in by_day], rotation=45, ha="right")
    else:
        days = [dt.date.fromisoformat(d) for d, _ in by_day]
        ax.bar(days, counts, width=1.0, color="#3b6ea8")
        fig.autofmt_xdate()
    ax.set_ylabel("articles")
    _int_ticks(ax.yaxis)
    return _svg(fig, "articles per day: " + ", ".join(f"{d} {n}" for d, n in by_day))


_FEW_DAYS = 40


def chart_tokens(tokens_per_article: list[int]) -> str:
    """Histogram of tokens per article."""
    fig, ax = _figure(6.5, 2.6)
    bins = min(30, max(5, len(set(tokens_per_article))))
    ax.hist(tokens_per_article, bins=bins, color="#5a8f5a", edgecolor="white")
    ax.set_xlabel("tokens per article")
    ax.set_ylabel("articles")
    _int_ticks(ax.yaxis)
    return _svg(fig)


def _quantiles(values: list[int]) -> dict[str, int]:
    if not values:
        return {}
    s = sorted(values)

    def q(p: float) -> int:
        return s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))]

    return {"min": s[0], "median": q(0.5), "p90": q(0.9), "max": s[-1]}


_CSS = """
body{font-family:"DejaVu Sans","Noto Sans Arabic","Noto Naskh Arabic",Tahoma,sans-serif;
 margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}
td,th{padding:.2rem .6rem;border-bottom:1px solid #eee}
th{text-align:start;background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
.kpis{display:flex;flex-wrap:wrap;gap:.75rem}.kpi{border:1px solid #ddd;border-radius:6px;
 padding:.5rem .9rem;min-width:7rem}.kpi b{display:block;font-size:1.4rem}
.grid{display:flex;flex-wrap:wrap;gap:2rem;align-items:flex-start}
.bar{background:#3b6ea8;height:.7rem;display:inline-block;vertical-align:middle}
[lang=ar]{font-size:1.05em}.muted{color:#777}svg{max-width:100%;height:auto}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _table(headers: list[str], body: list[list[Any]], rtl: set[int] = frozenset()) -> str:
    """An HTML table; cells of columns in ``rtl`` that hold Arabic get ``dir=rtl lang=ar``."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    lines = []
    for row in body:
        cells = []
        for i, v in enumerate(row):
            if i in rtl and _ARABIC.search(str(v)):
                cells.append(f'<td dir="rtl" lang="ar">{_esc(v)}</td>')
            elif i in rtl:  # a Latin source name or "(unknown)"
                cells.append(f'<td dir="auto">{_esc(v)}</td>')
            elif isinstance(v, int | float) and not isinstance(v, bool):
                cells.append(f'<td class="n">{_esc(v)}</td>')
            else:
                cells.append(f"<td>{v}</td>")  # already HTML (bars, code)
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _bar(n: int, top: int) -> str:
    return f'<span class="bar" style="width:{max(1, round(120 * n / max(top, 1)))}px"></span>'


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no external files)."""
    t = report.totals
    status = dict(report.files_by_status)
    kpis = [
        ("inputs", t["inputs"]),
        ("ok", status.get("ok", 0)),
        ("quarantined", status.get("quarantined", 0)),
        ("failed", status.get("failed", 0)),
        ("articles", t["articles"]),
        ("sources", t["sources"]),
        ("sentences", t["sentences"]),
        ("tokens", t["tokens"]),
        ("OOV rate", f"{t['oov_rate']:.1%}"),
        ("entities", t["entities"]),
        ("duplicates", t["duplicates"]),
        ("undated", t.get("undated", 0)),
    ]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>akhbar report: {_esc(report.out)}</title><style>{_CSS}</style></head><body>",
        f"<h1>akhbar dataset report{f' — run {_esc(report.run_id)}' if report.run_id else ''}</h1>",
        f'<p class="muted">Dataset <code>{_esc(report.out)}</code>, '
        f"generated {_esc(report.generated_at)}.</p>",
        '<div class="kpis" id="kpis">'
        + "".join(f'<div class="kpi"><b>{_esc(v)}</b>{_esc(k)}</div>' for k, v in kpis)
        + "</div>",
    ]
    if report.by_source:
        top = report.by_source[0][1]
        parts += [
            "<h2>Articles per source</h2>",
            '<div class="grid"><div>',
            _table(
                ["source", "articles", "", "tokens", "OOV rate"],
                [[s, n, _bar(n, top), tok, f"{oov:.1%}"] for s, n, tok, oov in report.by_source],
                rtl={0},
            ),
            "</div><div>",
            chart_by_source(report.by_source),
            "</div></div>",
        ]
    undated = t.get("undated", 0)
    if report.by_day or undated:
        parts += ["<h2>Articles per day</h2>"]
        if report.by_day:
            parts.append(chart_by_day(report.by_day))
        if undated:
            # Issue 26: an article without a date is in no day's bar; say how many.
            parts.append(
                f'<p id="undated">{undated:,} of {t["articles"]:,} articles have no '
                "publication date and are in no day above.</p>"
            )
    if report.tokens_per_article:
        q = _quantiles(report.tokens_per_article)
        parts += [
            "<h2>Tokens per article</h2>",
            '<div class="grid"><div>',
            chart_tokens(report.tokens_per_article),
            "</div><div>",
            _table(list(q), [list(q.values())]),
            f"<p>OOV rate (Arabic tokens with only a backoff analysis): "
            f"<b>{t['oov_rate']:.2%}</b> of {t['arabic_tokens']:,} Arabic tokens.</p>",
            "</div></div>",
        ]
    if report.top_lemmas:
        top = report.top_lemmas[0][3]
        parts += [
            "<h2>Top lemmas</h2>",
            _table(
                ["lemma", "UPOS", "gloss", "count", ""],
                [[lem, _esc(u), _esc(g), n, _bar(n, top)] for lem, u, g, n in report.top_lemmas],
                rtl={0},
            ),
        ]
    if report.top_entities:
        parts += [
            "<h2>Top entities per label</h2>",
            chart_entities(report.top_entities),
            '<div class="grid">',
        ]
        for label, ents in report.top_entities.items():
            parts.append(
                f"<div><h3>{_esc(label)}</h3>"
                + _table(["entity", "count"], [[e, n] for e, n in ents], rtl={0})
                + "</div>"
            )
        parts.append("</div>")
    parts += ["<h2>Quarantine and failures</h2>"]
    if report.quarantine:
        parts.append(
            _table(
                ["status", "reason", "inputs"],
                [[_esc(s), f"<code>{_esc(r)}</code>", n] for s, r, n in report.quarantine],
            )
        )
        parts.append(
            _table(
                ["input", "reason", "message"],
                [
                    [_esc(i), f"<code>{_esc(r)}</code>", _esc(m)]
                    for i, r, m in report.quarantined_files
                ],
            )
        )
    else:
        parts.append("<p>No input was quarantined or failed.</p>")
    parts.append(f"<p>Articles left out inside usable inputs: {t['rejected_articles']}.</p>")
    if report.dialects:
        parts += ["<h2>Dialects</h2>", _table(["dialect", "articles"], report.dialects)]
    if report.runs:
        parts += [
            "<h2>Runs</h2>",
            _table(
                ["run", "status", "files", "articles", "tokens", "seconds"],
                [
                    [
                        f"<code>{_esc(r.get('run_id'))}</code>",
                        _esc(r.get("status", r.get("outcome", "?"))),
                        _esc(", ".join(f"{k} {v}" for k, v in (r.get("files") or {}).items())),
                        r.get("articles", 0),
                        r.get("tokens", 0),
                        r.get("duration_s", 0),
                    ]
                    for r in report.runs[-20:]
                ],
            ),
        ]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    out: str | Path,
    html_path: str | Path | None = None,
    runs: list[dict] | None = None,
    run_id: str | None = None,
) -> Path:
    """Build and write the HTML report; default path ``OUT/_reports/report.html``."""
    path = Path(html_path) if html_path else Path(out) / "_reports" / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(build_report(out, runs=runs, run_id=run_id)), encoding="utf-8")
    tmp.replace(path)
    return path
