"""Every reference in the dataset resolves after edits, deletions and full refreshes (issue 26).

The batches are driven in-process through the flow's own stage functions (fetch, the
chunk stages, commit: what ``news_pipeline`` runs, without Prefect), over small
seed-layout files written here from a made-up vocabulary, so a run takes a fraction of
a second. ``dangling`` lists every reference that does not resolve, checked in DuckDB
over the published version, as a reader joining on them would.
"""

from __future__ import annotations

import random
from pathlib import Path

from tasks.config import PipelineParams
from tests.seed_layout import Header, SeedArticle, render_seed_txt

# (table, column, target table, target column): every reference a reader joins on.
REFERENCES = [
    ("sentences", "article_id", "articles", "article_id"),
    ("tokens", "article_id", "articles", "article_id"),
    ("entities", "article_id", "articles", "article_id"),
    ("articles", "duplicate_of", "articles", "article_id"),
    ("articles", "near_duplicate_of", "articles", "article_id"),
    ("articles", "parent_article_id", "articles", "article_id"),
    ("articles", "story_id", "stories", "story_id"),
    ("stories", "canonical_article_id", "articles", "article_id"),
    ("stories", "merged_into", "stories", "story_id"),
]

_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def _vocabulary(rng: random.Random, n: int = 400) -> list[str]:
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(_LETTERS) for _ in range(rng.randint(3, 7))))
    return sorted(words)


def _body(rng: random.Random, vocab: list[str], n: int = 120) -> list[str]:
    return [rng.choice(vocab) for _ in range(n)]


def _edited(rng: random.Random, vocab: list[str], words: list[str], changes: int) -> list[str]:
    out = list(words)
    for _ in range(changes):
        out[rng.randrange(len(out))] = rng.choice(vocab)
    return out


def _write(folder: Path, name: str, words: list[str], site: str) -> None:
    text = " ".join(words)
    # Sentences of 12 words, so segmentation has work to do.
    body = (
        " ".join(" ".join(words[i : i + 12]) + "." for i in range(0, len(words), 12))
        if words
        else text
    )
    article = SeedArticle(title=f"خبر {name}", body=body, site=site, dateline="الرياض")
    (folder / name).write_text(render_seed_txt(article, Header()), encoding="utf-8")


def run_batches(inputs: Path, out: Path, *, full_refresh: bool = False, batch_size: int = 2):
    """One pipeline run, batch by batch, through the flow's stage functions, no Prefect."""
    import logging

    from flows.run import open_run
    from flows.stages import commit_stage, fetch_stage, run_chunk

    params = PipelineParams(
        inputs=[str(inputs)],
        out=str(out),
        workers=1,
        batch_size=batch_size,
        full_refresh=full_refresh,
        annotate={"morphology": "none", "ner": "rules", "dialect": "none"},
    )
    with open_run(params, logging.getLogger("test_references")) as run:
        for spec in run.specs:
            fetched = fetch_stage(spec, run.known_for(spec))
            chunks = [run_chunk(spec, k) for k in range(len(fetched["chunk_files"]))]
            run.summary.add_batch(commit_stage(fetched, chunks, run.had_rows))


def dangling(out: Path) -> list[tuple[str, str, str]]:
    """Every (table, column, value) whose reference finds no target row."""
    from tasks.report import connect_dataset

    con = connect_dataset(out)
    bad = []
    for table, column, target, key in REFERENCES:
        rows = con.execute(
            f"select distinct t.{column} from {table} t where t.{column} is not null "
            f"and t.{column} not in (select {key} from {target})"
        ).fetchall()
        bad += [(table, column, v) for (v,) in rows]
    return bad


def _articles(out: Path) -> dict[str, dict]:
    from tasks.report import connect_dataset

    con = connect_dataset(out)
    rows = con.execute(
        "select f.source_uri, a.article_id, a.duplicate_of, a.near_duplicate_of, a.story_id "
        "from articles a join files_latest f using (file_id)"
    ).fetchall()
    return {
        Path(uri).name: dict(zip(("id", "dup", "near", "story"), r, strict=True))
        for uri, *r in rows
    }


def test_editing_the_original_of_reposts_leaves_no_dangling_link(tmp_path):
    rng = random.Random(26)
    vocab = _vocabulary(rng)
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    story = _body(rng, vocab)
    _write(inputs, "a_orig.txt", story, "واس")
    _write(inputs, "b_exact.txt", story, "عكاظ")
    _write(inputs, "c_near.txt", _edited(rng, vocab, story, 2), "سبق")
    _write(inputs, "d_story.txt", story[:90], "الرياض")
    _write(inputs, "e_other.txt", _body(rng, vocab), "الوطن")
    _write(inputs, "f_other.txt", _body(rng, vocab, 40), "اليوم")
    run_batches(inputs, out)
    first = _articles(out)
    assert first["b_exact.txt"]["dup"] == first["a_orig.txt"]["id"]
    assert first["c_near.txt"]["near"] == first["a_orig.txt"]["id"]
    assert first["d_story.txt"]["story"] == first["a_orig.txt"]["id"]
    assert dangling(out) == []

    # The original is rewritten: its old version leaves the dataset.
    _write(inputs, "a_orig.txt", _body(rng, vocab), "واس")
    run_batches(inputs, out)
    assert dangling(out) == []
    after = _articles(out)
    # Recomputed, not nulled: the exact copy of the old text is now the original.
    assert after["b_exact.txt"]["dup"] is None
    assert after["c_near.txt"]["near"] == after["b_exact.txt"]["id"]
    assert after["c_near.txt"]["story"] == after["b_exact.txt"]["id"]
    assert after["d_story.txt"]["story"] == after["b_exact.txt"]["id"]
    assert after["a_orig.txt"]["story"] == after["a_orig.txt"]["id"]

    run_batches(inputs, out, full_refresh=True)
    assert dangling(out) == []
    assert _articles(out) == after


def test_random_edits_reruns_and_refreshes_keep_every_reference(tmp_path):
    rng = random.Random(2026)
    vocab = _vocabulary(rng)
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    bases = [_body(rng, vocab) for _ in range(3)]
    sites = ["واس", "عكاظ", "سبق", "الوطن"]

    def variant() -> list[str]:
        base = rng.choice(bases)
        kind = rng.choice(["exact", "near", "story", "cut", "fresh", "short"])
        if kind == "exact":
            return list(base)
        if kind == "near":
            return _edited(rng, vocab, base, 2)
        if kind == "story":
            return _edited(rng, vocab, base, 8)
        if kind == "cut":
            return base[: rng.randint(70, 110)]
        if kind == "fresh":
            return _body(rng, vocab)
        return _body(rng, vocab, 8)  # too short for a story

    names = [f"{i:02d}.txt" for i in range(7)]
    for name in names[:5]:
        _write(inputs, name, variant(), rng.choice(sites))
    run_batches(inputs, out, batch_size=rng.randint(1, 3))
    assert dangling(out) == []
    for step in range(8):
        for _ in range(rng.randint(1, 3)):
            name = rng.choice(names)
            if rng.random() < 0.2 and (inputs / name).exists():
                (inputs / name).unlink()  # deleted input: its rows stay, still consistent
            else:
                _write(inputs, name, variant(), rng.choice(sites))
        refresh = rng.random() < 0.3
        run_batches(inputs, out, full_refresh=refresh, batch_size=rng.randint(1, 3))
        assert dangling(out) == [], f"step {step} (full_refresh={refresh})"
