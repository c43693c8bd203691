"""Tests for tasks/dedup/stories.py: story links of edited reposts, chaining, the table."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pyarrow as pa
import pytest

from tasks.config import DedupConfig
from tasks.dedup import (
    DedupIndex,
    build_stories,
    compute_signatures,
    containment,
    dedup_words,
    plan_story,
)
from tasks.dedup.signatures import number_hashes
from tasks.dedup.stories import (
    MIN_CONTAINED_JACCARD,
    StoryVote,
    numbers_agree,
    resolve_merges,
    story_lsh_threshold,
    story_similar,
)
from tasks.schemas import STORIES
from tests.tasks.test_dedup import DISPATCH, OTHER_ROAD, _true_jaccard

CONFIG = DedupConfig()

# DISPATCH with two more paragraphs (about 190 words): story links need some 60 shared
# shingles, which a 95-word text barely has left after a site's edits.
STORY = (
    DISPATCH + "\nوأشار الوزير إلى أن الطريق الجديد يضم ثمانية جسور وأربعة أنفاق، إضافة إلى ممرات "
    "خاصة بالشاحنات ومحطات للاستراحة على مسافات منتظمة، وأن الوزارة حرصت على استخدام مواد "
    "محلية في أعمال الرصف والإنارة. وبين أن نسبة المقاولين السعوديين المشاركين في المشروع "
    "تجاوزت سبعين في المائة، وأن المشروع وفر أكثر من ألف فرصة عمل للشباب من أبناء المنطقة "
    "خلال مراحل التنفيذ المختلفة.\nوفي ختام الحفل، كرم الوزير عددا من المهندسين والعاملين "
    "في المشروع، وتجول برفقة أمير المنطقة في المعرض المصاحب الذي استعرض مراحل إنشاء الطريق "
    "والصور الجوية للمسار الجديد، قبل أن يفتتح رسميا مركز التحكم المروري الذي يراقب حركة "
    "السير على الطريق على مدار الساعة."
)

# Edited reposts of STORY, as a site would publish it.
# A new dateline, one sentence dropped, three words changed and a "follow us" line.
REPOST_EDITED = (
    "الرياض - صحيفة المرصد: "
    + STORY.replace("جازان 14 مارس (واس) - ", "")
    .replace(
        "وأضاف أن الوزارة تعمل على تنفيذ عشرين مشروعا آخر في المنطقة خلال العامين المقبلين، "
        "تشمل توسعة الطرق القائمة وإنشاء جسور وأنفاق جديدة. ",
        "",
    )
    .replace("الازدحام", "الزحام")
    .replace("السلامة", "الأمان")
    .replace("سنوات", "أعوام")
    + "\nتابعونا على حسابنا في تويتر لمزيد من الأخبار المحلية"
)
# Only the first half of the dispatch, under the site's own dateline.
REPOST_TRUNCATED = "جدة - «عكاظ»: " + STORY[: len(STORY) // 2]
# The dispatch with two paragraphs of background the site added.
REPOST_EXPANDED = (
    STORY + "\nويذكر أن المنطقة شهدت خلال الأعوام الماضية افتتاح عدد من المشاريع الكبرى في قطاعات "
    "الصحة والتعليم والمياه، ضمن خطة شاملة لتطوير البنية التحتية في المحافظات الجنوبية. "
    "\nوكانت الوزارة قد أعلنت في وقت سابق عن خطة لربط جميع المحافظات بشبكة طرق حديثة "
    "تتوافق مع معايير السلامة الدولية وتخدم النمو السكاني المتسارع في المنطقة."
)

# Words we wrote for random filler texts whose 5-word shingles are all distinct.
_WORDS = (
    "مدينة وزير طريق مشروع ميناء سوق شركة مجلس لجنة مدرسة جامعة مستشفى مطار قطار نادي ملعب "
    "مهرجان معرض حديقة مكتبة مسجد جسر نفق شارع حي قرية وادي جبل بحر نهر صحراء مزرعة مصنع "
    "فندق مطعم مخبز متحف مسرح سينما قناة إذاعة صحيفة مجلة كتاب رواية قصيدة لوحة صورة فيلم "
    "أغنية رياضة كرة سباق بطولة جائزة ميدالية لاعب مدرب حكم جمهور"
).split()


def _filler(seed: int, n_words: int = 60) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(n_words))


def _assign(index: DedupIndex, items: list[tuple[str, str]], config=CONFIG) -> dict[str, str]:
    ids = [i for i, _ in items]
    sigs = compute_signatures([t for _, t in items], config, ids)
    out = index.assign(pa.table({"article_id": ids}), sigs).to_pylist()
    return {r["article_id"]: r["story_id"] for r in out}


def test_edited_reposts_join_their_story_but_are_not_near_duplicates(tmp_path):
    reposts = {"e": REPOST_EDITED, "t": REPOST_TRUNCATED, "x": REPOST_EXPANDED}
    for text in reposts.values():
        # Below the near-duplicate threshold: before issue 15 each founded its own story.
        assert _true_jaccard(STORY, text) < CONFIG.threshold
    index = DedupIndex.load(str(tmp_path), CONFIG)
    items = [("d", STORY), ("o", OTHER_ROAD), *reposts.items()]
    ids = [i for i, _ in items]
    out = index.assign(
        pa.table({"article_id": ids}), compute_signatures([t for _, t in items], CONFIG, ids)
    )
    rows = {r["article_id"]: r for r in out.to_pylist()}
    for rid in reposts:
        assert rows[rid]["story_id"] == "d", rid
        assert rows[rid]["near_duplicate_of"] is None, rid
    assert rows["o"]["story_id"] == "o"
    assert index.merges == {}


def test_story_threshold_is_configurable(tmp_path):
    strict = DedupConfig(story_threshold=0.95, story_containment=0.99)
    index = DedupIndex.load(str(tmp_path), strict)
    out = _assign(index, [("d", STORY), ("e", REPOST_EDITED)], strict)
    assert out["e"] == "e"


def test_weak_links_do_not_chain_unrelated_articles(tmp_path):
    # A drifting chain: each text shares three quarters of the previous one (Jaccard 0.6),
    # so each is a weak link of the previous one; c2 still shares half of the canonical
    # c0 (Jaccard 0.33), c3 only a quarter (0.14).
    parts = [_filler(seed, 40) for seed in range(8)]
    texts = {f"c{k}": " ".join(parts[k : k + 4]) for k in range(5)}
    index = DedupIndex.load(str(tmp_path), CONFIG)
    out = _assign(index, list(texts.items()))
    assert out["c1"] == "c0"  # similar to the canonical article c0
    assert out["c2"] == "c0"  # a repost of the repost c1, still overlapping c0
    assert out["c3"] == "c3"  # similar to c2 but hardly overlapping c0: a new story
    assert out["c4"] == "c3"
    assert index.merges == {}


def test_digest_of_two_stories_does_not_merge_them(tmp_path):
    index = DedupIndex.load(str(tmp_path), CONFIG)
    digest = DISPATCH + "\n" + OTHER_ROAD
    out = _assign(index, [("d", DISPATCH), ("o", OTHER_ROAD), ("digest", digest)])
    # Both stories are contained in the digest; it joins one and they stay apart.
    assert out["digest"] in {"d", "o"}
    assert out["d"] != out["o"]
    assert index.merges == {}


def test_story_links_survive_reload(tmp_path):
    index = DedupIndex.load(str(tmp_path), CONFIG)
    _assign(index, [("d", STORY)])
    index.save("run1")
    again = DedupIndex.load(str(tmp_path), CONFIG)
    assert again.n_shingles[0] > 0
    assert _assign(again, [("t", REPOST_TRUNCATED)])["t"] == "d"


def test_containment_and_story_similarity():
    # 100 shingles against 50 with Jaccard 0.5: the 50 are all in the 100.
    assert containment(np.array([0.5]), np.array([100]), np.array([50]))[0] == pytest.approx(1.0)
    # Equal sizes: c = 2J / (1 + J).
    assert containment(np.array([1 / 3]), np.array([90]), np.array([90]))[0] == pytest.approx(0.5)
    # Unknown sizes (old index rows): Jaccard itself.
    assert containment(np.array([0.4]), np.array([0]), np.array([90]))[0] == pytest.approx(0.4)
    jaccard = np.array([0.55, 0.35, 0.35, 0.2, 0.55])
    n_a = np.array([200, 200, 200, 500, 60])
    n_b = np.array([200, 100, 200, 100, 60])
    # By Jaccard; by containment; neither; contained but in a text five times longer;
    # similar but too short to tell a story from a template (39 shared shingles).
    similar = story_similar(jaccard, n_a, n_b, CONFIG)
    assert similar.tolist() == [True, True, False, False, False]
    assert story_lsh_threshold(CONFIG) <= MIN_CONTAINED_JACCARD


def test_plan_story_merges_only_related_stories():
    age = {"a": 0, "b": 1, "c": 2}.__getitem__
    unrelated = lambda s, t: False  # noqa: E731
    related = lambda s, t: True  # noqa: E731
    votes = {"a": StoryVote(similar=True, jaccard=0.5), "b": StoryVote(similar=True, jaccard=0.7)}
    assert plan_story(votes, unrelated, age) == ("b", [])
    assert plan_story(votes, related, age) == ("a", ["b"])
    both_strong = {"b": StoryVote(strong=True), "c": StoryVote(strong=True)}
    assert plan_story(both_strong, unrelated, age) == ("b", ["c"])
    # A weak link to a member joins only with some overlap with the canonical article.
    assert plan_story({"a": StoryVote(weak=True, jaccard=0.1)}, related, age) == (None, [])
    assert plan_story({"a": StoryVote(weak=True, jaccard=0.3)}, related, age) == ("a", [])


def test_build_stories_aggregates_and_records_merges():
    articles = pa.table(
        {
            "article_id": ["a", "b", "c", "d", "e"],
            "story_id": ["a", "a", "c", "a", "e"],
            "title": ["افتتاح الطريق", "الطريق الجديد", "طريق جازان", None, "أمطار"],
            "source_name": ["spa", "okaz", "okaz", "okaz", None],
            "published_date": [
                dt.date(2015, 8, 2),
                dt.date(2015, 8, 3),
                dt.date(2015, 8, 1),
                None,
                None,
            ],
        }
    )
    table = build_stories(articles, {"c": "a"})
    assert table.schema.equals(STORIES, check_metadata=True)
    rows = {r["story_id"]: r for r in table.to_pylist()}
    assert rows["a"] == {
        "story_id": "a",
        "canonical_article_id": "a",
        "title": "افتتاح الطريق",
        "first_seen": dt.date(2015, 8, 1),
        "last_seen": dt.date(2015, 8, 3),
        "n_articles": 4,
        "n_sources": 2,
        "sources": ["okaz", "spa"],
        "merged_into": None,
    }
    assert rows["c"]["merged_into"] == "a" and rows["c"]["n_articles"] == 1
    assert rows["e"]["n_sources"] == 0 and rows["e"]["first_seen"] is None


def test_resolve_merges_follows_chains():
    assert resolve_merges({"c": "b", "b": "a"}) == {"c": "a", "b": "a"}


def test_templated_series_with_other_numbers_stay_apart(tmp_path):
    # The same template about the fourth and the fifth relief flight: most words shared,
    # the ordinal and the tonnage not.
    body = STORY.replace("ستين كيلومترا", "{n} كيلومترا")
    fourth = "وصلت الطائرة الرابعة " + body.format(n="60")
    fifth = "وصلت الطائرة الخامسة " + body.format(n="75")
    assert number_hashes(dedup_words(fourth)) != number_hashes(dedup_words(fifth))
    assert numbers_agree(frozenset({1, 2}), frozenset({2, 3, 4}))
    assert not numbers_agree(frozenset({1, 5}), frozenset({2, 6}))
    assert numbers_agree(frozenset(), frozenset({2, 6})) and numbers_agree(None, frozenset({1}))
    config = DedupConfig(threshold=0.99)  # not near duplicates here: only the story rule
    index = DedupIndex.load(str(tmp_path), config)
    out = _assign(index, [("4", fourth), ("5", fifth), ("4b", fourth + " واس")], config)
    assert out == {"4": "4", "5": "5", "4b": "4"}


def _commit(out, run: str, articles: list[tuple[str, str, str, str]], config: DedupConfig):
    """Stage a batch of (article_id, file_id, source_name, text) as the flow does; commit."""
    import datetime as _dt

    from tasks import store, write
    from tasks.config import PipelineParams
    from tasks.dedup import assign_duplicates

    batch = f"{run}-00000"
    params = PipelineParams(inputs=["in"], out=str(out), dedup=config.model_dump())
    spec = store.BatchSpec(
        run_id=run,
        batch_id=batch,
        seq=0,
        out=str(out),
        stage_dir=str(store.staging_dir(out, run, batch)),
        sources=["in"],
        params=params,
    )
    ids = [a for a, *_ in articles]
    table = pa.table(
        {
            "article_id": ids,
            "file_id": [f for _, f, _, _ in articles],
            "title": [f"عنوان {a}" for a in ids],
            "source_name": [s for _, _, s, _ in articles],
            "published_date": [_dt.date(2015, 8, 2)] * len(ids),
            "text": [t for *_, t in articles],
            "run_id": [run] * len(ids),
        }
    )
    store.save_stage(
        compute_signatures(table.column("text").to_pylist(), config, ids),
        spec.path("signatures", 0),
    )
    parts = [(0, table)]
    assign_duplicates(spec, parts)
    write.write_batch({"articles": parts[0][1]}, spec.stage_dir, spec.part(0), params.write)
    store.commit_batch(out, spec.stage_dir, batch, [], params.write)


def test_stories_table_is_kept_current_across_runs(tmp_path):
    from tasks import store
    from tasks.report import connect_dataset

    out = tmp_path / "out"
    _commit(out, "r1", [("d", "f1", "spa", STORY), ("o", "f1", "spa", OTHER_ROAD)], CONFIG)
    first = {r["story_id"]: r for r in store.read_table(out, "stories").to_pylist()}
    assert set(first) == {"d", "o"} and first["d"]["n_articles"] == 1
    # Run 2: two edited reposts from other sites join d's story; the table is restated.
    _commit(
        out,
        "r2",
        [("e", "f2", "okaz", REPOST_EDITED), ("t", "f3", "sabq", REPOST_TRUNCATED)],
        CONFIG,
    )
    rows = {r["story_id"]: r for r in store.read_table(out, "stories").to_pylist()}
    assert set(rows) == {"d", "o"}
    assert rows["d"]["n_articles"] == 3 and rows["d"]["n_sources"] == 3
    assert rows["d"]["sources"] == ["okaz", "sabq", "spa"]
    assert rows["d"]["canonical_article_id"] == "d" and rows["d"]["title"] == "عنوان d"
    assert len(list((out / "stories").glob("part-*.parquet"))) == 1
    # Consumers need no Python: the stories view joins the articles view.
    con = connect_dataset(out)
    got = con.execute(
        "select s.story_id, count(*) from articles a join stories s using (story_id) "
        "group by 1 order by 1"
    ).fetchall()
    assert got == [("d", 3), ("o", 1)]


def test_stories_table_records_a_merge(tmp_path):
    from tasks import store

    # a and b share three of their seven paragraphs (Jaccard 0.43): neither near
    # duplicates (threshold 0.6 here) nor one story under a strict story threshold; c
    # holds all seven, a near duplicate of both (0.71), and merges b's story into a's.
    config = DedupConfig(threshold=0.6, story_threshold=0.9, story_containment=0.99)
    parts = [_filler(seed, 30) for seed in range(7)]
    a, b, c = " ".join(parts[:5]), " ".join(parts[2:]), " ".join(parts)
    out = tmp_path / "out"
    _commit(out, "r1", [("a", "f1", "spa", a), ("b", "f2", "okaz", b)], config)
    assert store.read_table(out, "stories").column("merged_into").null_count == 2
    _commit(out, "r2", [("c", "f3", "sabq", c)], config)
    rows = {r["story_id"]: r for r in store.read_table(out, "stories").to_pylist()}
    assert rows["b"]["merged_into"] == "a" and rows["b"]["n_articles"] == 1
    assert rows["a"]["merged_into"] is None and rows["a"]["n_articles"] == 3
    assert rows["a"]["sources"] == ["okaz", "sabq", "spa"]
