"""DuckDB views over a dataset and the HTML report, on a tiny hand-written dataset."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tasks import report
from tasks.report import (
    arabic_label,
    build_report,
    connect_dataset,
    figure_by_source,
    figure_entities,
    render_html,
    write_report,
)
from tests.dataset_factory import write_tiny_dataset

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny") / "out")


def test_views_cover_every_table(tiny: Path) -> None:
    con = connect_dataset(tiny)
    counts = {
        t: con.execute(f"select count(*) from {t}").fetchone()[0]
        for t in ("files", "articles", "sentences", "tokens", "entities")
    }
    assert counts == {"files": 4, "articles": 3, "sentences": 4, "tokens": 15, "entities": 4}


def test_files_latest_keeps_outcome_of_unchanged_input(tiny: Path) -> None:
    # f1 was skipped as unchanged in the second run: its outcome is still "ok"
    rows = connect_dataset(tiny).execute("select file_id, status from files_latest").fetchall()
    assert sorted(rows) == [("f1", "ok"), ("f2", "ok"), ("f3", "quarantined")]


def test_fresh_dataset_has_empty_views(tmp_path: Path) -> None:
    con = connect_dataset(tmp_path)
    assert con.execute("select count(*) from tokens where is_oov").fetchone() == (0,)
    cols = [d[0] for d in con.execute("select * from entities").description]
    assert "label" in cols and "token_start" in cols


def test_missing_dataset_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        connect_dataset(tmp_path / "nowhere")


def test_report_figures(tiny: Path) -> None:
    r = build_report(tiny)
    t = r.totals
    assert (t["inputs"], t["articles"], t["tokens"], t["entities"]) == (3, 3, 15, 4)
    # 14 Arabic tokens (one is punctuation), one of them only has the backoff analysis
    assert t["arabic_tokens"] == 14
    assert t["oov_rate"] == pytest.approx(1 / 14)
    assert t["rejected_articles"] == 1
    assert r.by_source[0][:3] == ("صوت المغرب", 2, 10)
    assert r.by_day == [("2025-03-01", 1), ("2025-03-02", 2)]
    assert r.top_lemmas[0][0] == "رِباط" and r.top_lemmas[0][3] == 2  # content words only
    assert "زغلولة" not in [lem for lem, *_ in r.top_lemmas]  # OOV words are not lemmas
    assert r.top_entities["LOC"][0] == ("الرباط", 2)
    assert r.top_entities["ORG"] == [("وزارة الطاقة", 1)]
    assert r.quarantine == [("quarantined", "not_arabic", 1)]
    assert r.quarantined_files[0][:2] == ("in/bad.txt", "not_arabic")
    assert sorted(r.tokens_per_article) == [4, 5, 6]


def test_html_is_self_contained_with_rtl_arabic_and_charts(tiny: Path) -> None:
    page = render_html(build_report(tiny, runs=[{"run_id": "r1", "status": "completed"}]))
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "external resource"
    assert page.count("<svg") == 4  # per source, per day, tokens per article, entities
    # Arabic cells are marked right-to-left; charts draw shaped glyphs and describe themselves
    assert '<td dir="rtl" lang="ar">صوت المغرب</td>' in page
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "<desc>articles per source: صوت المغرب 2" in svg
    assert "<text" not in svg  # glyphs are paths: the same in every viewer
    assert "<code>not_arabic</code>" in page
    assert "7.1%" in page  # OOV rate KPI


def test_report_escapes_markup_from_data(tmp_path: Path) -> None:
    out = write_tiny_dataset(tmp_path / "out")
    r = build_report(out)
    r.quarantined_files = [("in/<script>.txt", "not_arabic", "<b>bad</b>")]
    page = render_html(r)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_write_report_default_path(tiny: Path) -> None:
    path = write_report(tiny)
    assert path == tiny / "_reports" / "report.html"
    assert "akhbar dataset report" in path.read_text(encoding="utf-8")
    assert not list(path.parent.glob("*.tmp"))


def test_latin_names_are_not_marked_arabic(tiny: Path) -> None:
    r = build_report(tiny)
    r.by_source = [*r.by_source, ("alriyadh", 1, 10, 0.0)]
    page = render_html(r)
    assert '<td dir="auto">alriyadh</td>' in page
    assert '<td dir="rtl" lang="ar">واس</td>' in page


def test_few_days_get_one_labelled_bar_each(tiny: Path) -> None:
    page = render_html(build_report(tiny))
    # the day chart labels its bars with the dates (and names them in its description)
    assert "2025-03-01" in page and "2025-03-02" in page


def test_arabic_label_for_matplotlib_without_text_layout(monkeypatch) -> None:
    """Before 3.11 matplotlib draws code points left to right: shape and reorder them."""
    monkeypatch.setattr(report, "_matplotlib_lays_out_text", lambda: False)
    # صوت: ص initial (U+FEBB), و final (U+FEEE), ت isolated (U+FE95), stored right to left
    assert arabic_label("صوت") == "\ufe95\ufeee\ufebb"
    shaped = arabic_label("صوت المغرب")
    assert shaped.split(" ")[0] == arabic_label("المغرب")  # words in display order too
    assert all(not "\u0600" <= ch <= "\u06ff" for ch in shaped)
    assert arabic_label("alriyadh 24") == "alriyadh 24"
    # لا joins into its ligature (the font has it); الله keeps its letters (the font lacks U+FDF2)
    assert arabic_label("لا") == "\ufefb"
    assert "\ufdf2" not in arabic_label("عبد الله")


def test_chart_labels_are_drawn_right_to_left(tiny: Path) -> None:
    """Render the source and entity charts (PNG in test-output/) and check the glyph order."""
    if not report._matplotlib_lays_out_text():
        pytest.skip("matplotlib < 3.11: no libraqm layout to inspect")
    from matplotlib._text_helpers import layout
    from matplotlib.font_manager import FontProperties, findfont, get_font

    r = build_report(tiny)
    shots = REPO_ROOT / "test-output"
    shots.mkdir(exist_ok=True)
    for name, fig in (
        ("report-chart-sources", figure_by_source(r.by_source)),
        ("report-chart-entities", figure_entities(r.top_entities)),
    ):
        fig.savefig(shots / f"{name}.png", dpi=110, bbox_inches="tight")
        labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert "صوت المغرب" in labels or "الرباط" in labels, labels
    font = get_font(findfont(FontProperties(family="DejaVu Sans")))
    font.set_size(12, 72)
    placed = [(item.char, item.x, item.glyph_index) for item in layout("صوت المغرب", font)]
    x = {ch: pos for ch, pos, _ in placed}
    # the first word is drawn right of the second, its first letter right of its last
    assert x["ص"] > x["ت"] > x["ب"]
    # and ص takes its joined (initial) glyph, not the isolated one
    assert dict((ch, g) for ch, _, g in placed)["ص"] != font.get_char_index(ord("ص"))


def test_top_entities_leave_out_spans_that_name_nothing(tmp_path: Path) -> None:
    import pyarrow as pa

    from tasks.config import WriteConfig
    from tasks.schemas import ENTITIES
    from tasks.write import write_parquet

    out = write_tiny_dataset(tmp_path / "out")
    rows = [("دولار", "MISC")] * 3 + [("رحمه الله", "MISC"), ("كأس العالم", "MISC")]
    extra = pa.Table.from_pylist(
        [
            {"article_id": "a1", "sentence_index": 0, "token_start": 0, "token_end": 1,
             "text": t, "label": lab}
            for t, lab in rows
        ],
        schema=pa.schema([ENTITIES.field(n) for n in
                          ("article_id", "sentence_index", "token_start", "token_end",
                           "text", "label")]),
    )
    write_parquet(extra, "entities", out / "entities" / "part-test-00001.parquet", WriteConfig())
    r = build_report(out)
    assert r.totals["entities"] == 4 + 5  # the table keeps them all
    assert r.top_entities["MISC"] == [("كأس العالم", 1)]


def test_report_counts_names_and_duplicates_once_and_shows_undated(tmp_path: Path) -> None:
    # Issue 26: function words filled the top lemmas, an exact duplicate's entities were
    # counted twice, للبنك and البنك were two entities, and undated articles vanished.
    import pyarrow as pa

    from tasks.config import WriteConfig
    from tasks.schemas import ARTICLES, ENTITIES, TOKENS
    from tasks.write import write_parquet
    from tests.dataset_factory import TOKENS as TINY_TOKENS

    out = write_tiny_dataset(tmp_path / "out")
    cfg = WriteConfig()

    def part(table: str, schema: pa.Schema, rows: list[dict]) -> None:
        fields = pa.schema([schema.field(n) for n in rows[0]])
        write_parquet(
            pa.Table.from_pylist(rows, schema=fields),
            table,
            out / table / "part-test-00001.parquet",
            cfg,
        )

    # a4: an undated exact duplicate of a3, with a3's tokens and entity.
    part(
        "articles",
        ARTICLES,
        [
            {
                "article_id": "a4",
                "file_id": "f2",
                "source_name": "واس",
                "published_date": None,
                "title": "نسخة",
                "text": "نسخة",
                "n_tokens": 5,
                "duplicate_of": "a3",
                "run_id": "r1",
            }
        ],
    )
    part(
        "tokens",
        TOKENS,
        [
            {
                "article_id": "a4",
                "sentence_index": s,
                "token_index": i,
                "text": t,
                "lemma": lem,
                "upos": u,
                "is_arabic": True,
                "is_oov": oov,
            }
            for a, s, i, t, lem, u, oov in TINY_TOKENS
            if a == "a3"
        ],
    )
    part(
        "entities",
        ENTITIES,
        [
            {
                "article_id": a,
                "sentence_index": 0,
                "token_start": 0,
                "token_end": 2,
                "text": t,
                "name": n,
                "label": lab,
            }
            for a, t, n, lab in [
                ("a4", "الرياض", "الرياض", "LOC"),
                ("a1", "للبنك الدولي", "البنك الدولي", "ORG"),
                ("a2", "البنك الدولي", "البنك الدولي", "ORG"),
            ]
        ],
    )
    r = build_report(out)
    assert {u for _, u, _, _ in r.top_lemmas} <= {"NOUN", "PROPN", "VERB", "ADJ"}
    assert "فِي" not in [lem for lem, *_ in r.top_lemmas]
    assert dict((lem, n) for lem, _, _, n in r.top_lemmas)["مُؤْتَمَر"] == 1  # not a4's too
    assert ("الرياض", 1) in r.top_entities["LOC"]
    assert r.top_entities["ORG"][0] == ("البنك الدولي", 2)
    assert r.totals["undated"] == 1
    html = render_html(r)
    assert "1 of 4 articles have no publication date" in html
