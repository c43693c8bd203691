"""Tests for tasks/dedup/: exact and near duplicates, story clusters, persistence."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from datasketch import MinHash

from tasks.config import DedupConfig
from tasks.dedup import (
    INDEX_DIR,
    MIN_SHINGLES,
    DedupIndex,
    compute_signatures,
    dedup_words,
    estimated_jaccard,
    normalize_for_dedup,
    shingle_hashes,
    signatures_for_articles,
    signatures_to_numpy,
    summarize_duplicates,
)
from tasks.errors import ConfigError, SchemaError

# An agency-style dispatch written for these tests (about 95 words).
DISPATCH = (
    "جازان 14 مارس (واس) - افتتح وزير النقل اليوم مشروع الطريق الساحلي الجديد الذي يربط "
    "مدينة جازان بمحافظة صبيا بطول ستين كيلومترا، بتكلفة بلغت أربعمائة مليون ريال. "
    "وأوضح الوزير في كلمة خلال حفل الافتتاح أن المشروع يهدف إلى تخفيف الازدحام المروري "
    "ورفع مستوى السلامة على الطرق في المنطقة، مشيرا إلى أن العمل فيه استغرق ثلاث سنوات. "
    "وأضاف أن الوزارة تعمل على تنفيذ عشرين مشروعا آخر في المنطقة خلال العامين المقبلين، "
    "تشمل توسعة الطرق القائمة وإنشاء جسور وأنفاق جديدة. من جهته، ثمن أمير المنطقة جهود "
    "الوزارة، مؤكدا أن الطريق سيسهم في دعم الحركة التجارية والسياحية وتسهيل تنقل "
    "المواطنين والمقيمين بين المحافظات."
)
# Repost 1: new title (titles are not signed), diacritics, tatweel and Eastern digits.
REPOST_TITLE = (
    DISPATCH.replace("14", "١٤").replace("افتتح وزير", "افتَتَحَ وزيرُ").replace("الساحلي", "السـاحلي")
)
# Repost 2: the site's own dateline instead of the agency's, and a trailing read-also list.
REPOST_DATELINE = (
    DISPATCH.replace("جازان 14 مارس (واس) -", "صحيفة المرصد – جازان:")
    + "\nاقرأ أيضاً:\nأمطار غزيرة على محافظات منطقة جازان\nافتتاح معرض الكتاب الدولي في الرياض"
)
# Repost 3: one sentence reworded.
REPOST_REWORDED = DISPATCH.replace(
    "وأوضح الوزير في كلمة خلال حفل الافتتاح أن المشروع",
    "وأوضح الوزير في كلمته أثناء حفل الافتتاح أن المشروع",
)
# Same topic (a minister opens a road), different story.
OTHER_ROAD = (
    "أبها 20 مارس (واس) - دشن وزير النقل مساء أمس طريق العقبة الجديد الذي يصل مدينة أبها "
    "بمحافظة محايل عسير عبر سلسلة جبال السروات، بعد أعمال استمرت خمس سنوات. وقال الوزير "
    "للصحفيين إن الطريق يختصر زمن الرحلة من ساعتين إلى أربعين دقيقة، ويتضمن اثني عشر نفقا "
    "وسبعة جسور صممت لتحمل الأمطار الغزيرة والانهيارات الصخرية. وأشار إلى أن الوزارة "
    "ستطرح قريبا مناقصة لإنارة الطريق وتركيب كاميرات لرصد الحركة، داعيا السائقين إلى "
    "الالتزام بالسرعة المحددة في المنعطفات. وحضر التدشين عدد من المسؤولين وأعيان المنطقة "
    "الذين عبروا عن سعادتهم بإنجاز المشروع."
)

CONFIG = DedupConfig()


def _articles(ids: list[str]) -> pa.Table:
    return pa.table({"article_id": pa.array(ids, pa.string())})


def _assign(index: DedupIndex, items: list[tuple[str, str]]) -> dict[str, dict]:
    ids = [i for i, _ in items]
    sigs = compute_signatures([t for _, t in items], CONFIG, ids)
    out = index.assign(_articles(ids), sigs).to_pylist()
    assert [r["article_id"] for r in out] == ids
    return {r["article_id"]: r for r in out}


def _true_jaccard(a: str, b: str, k: int = 5) -> float:
    wa, wb = dedup_words(a), dedup_words(b)
    sa = {tuple(wa[i : i + k]) for i in range(len(wa) - k + 1)}
    sb = {tuple(wb[i : i + k]) for i in range(len(wb) - k + 1)}
    return len(sa & sb) / len(sa | sb)


def test_normalize_for_dedup_folds_arabic_variants():
    assert normalize_for_dedup("قالَ الأميرُ: «إنّ المدينةَ ٢٠١٥»") == "قال الامير ان المدينه 2015"
    # Alef maksura, tatweel, Persian yeh, Latin case, punctuation runs.
    assert normalize_for_dedup("علـى  ی  SPA!!؟") == "علي ي spa"
    # A trailing read-also list is cut, but not a leading marker.
    assert normalize_for_dedup("نص الخبر. إقرأ أيضاً: خبر آخر") == "نص الخبر"
    assert normalize_for_dedup("اقرأ أيضا هذا") == "اقرا ايضا هذا"


def test_minhash_equals_datasketch_affine32():
    words = dedup_words(DISPATCH)
    hashes = shingle_hashes(words, CONFIG.shingle_size)
    assert len(hashes) == len(words) - CONFIG.shingle_size + 1
    ref = MinHash(num_perm=CONFIG.num_perm, scheme="affine32", hashfunc=lambda x: x)
    ref.update_batch(hashes.tolist())
    sigs = compute_signatures([DISPATCH], CONFIG)
    mine = signatures_to_numpy(sigs.column("minhash"), CONFIG.num_perm)[0]
    assert np.array_equal(mine, ref.hashvalues)


def test_signatures_survive_arrow_ipc(tmp_path):
    sigs = compute_signatures([DISPATCH, "خبر قصير", None], CONFIG, ["a", "b", "c"])
    path = tmp_path / "sig.arrow"
    with ipc.new_file(path, sigs.schema) as w:
        w.write_table(sigs)
    back = ipc.open_file(path).read_all()
    assert back.equals(sigs)
    assert back.column("exact_hash").to_pylist()[2] is None  # empty text
    assert back.column("minhash").to_pylist()[1] is None  # too short
    assert len(back.column("minhash").to_pylist()[0]) == CONFIG.num_perm


def test_dispatch_and_three_reposts_form_one_story(tmp_path):
    # The fixture edits stay near: each repost is above the threshold on exact shingles.
    for repost in (REPOST_DATELINE, REPOST_REWORDED):
        assert _true_jaccard(DISPATCH, repost) >= 0.85
    index = DedupIndex.load(str(tmp_path), CONFIG)
    out = _assign(
        index,
        [
            ("d", DISPATCH),
            ("r1", REPOST_TITLE),
            ("r2", REPOST_DATELINE),
            ("r3", REPOST_REWORDED),
        ],
    )
    assert {r["story_id"] for r in out.values()} == {"d"}
    assert out["d"] == {
        "article_id": "d",
        "duplicate_of": None,
        "near_duplicate_of": None,
        "story_id": "d",
    }
    # Same normalized text: an exact duplicate (and then not also a near duplicate).
    assert out["r1"]["duplicate_of"] == "d"
    assert out["r1"]["near_duplicate_of"] is None
    for rid in ("r2", "r3"):
        assert out[rid]["duplicate_of"] is None
        # d and r1 have the same signature; the tie goes to the older article.
        assert out[rid]["near_duplicate_of"] == "d"


def test_different_stories_on_same_topic_stay_apart(tmp_path):
    assert _true_jaccard(DISPATCH, OTHER_ROAD) < 0.1
    index = DedupIndex.load(str(tmp_path), CONFIG)
    out = _assign(index, [("d", DISPATCH), ("o", OTHER_ROAD)])
    assert out["o"] == {
        "article_id": "o",
        "duplicate_of": None,
        "near_duplicate_of": None,
        "story_id": "o",
    }


def test_short_texts_never_near_duplicates(tmp_path):
    a = "وزير النقل يفتتح الطريق الساحلي الجديد في جازان اليوم بحضور أمير المنطقة"
    b = "وزير النقل يفتتح الطريق الساحلي الجديد في جازان اليوم بحضور أمير المنطقة وعدد"
    sigs = compute_signatures([a, b], CONFIG, ["a", "b"])
    assert sigs.column("n_shingles").to_pylist()[0] < MIN_SHINGLES
    assert sigs.column("minhash").null_count == 2
    index = DedupIndex.load(str(tmp_path), CONFIG)
    out = _assign(index, [("a", a), ("b", b), ("a2", a)])
    assert out["b"]["near_duplicate_of"] is None and out["b"]["story_id"] == "b"
    # Short texts are still flagged as exact duplicates, but boilerplate-length bodies
    # do not link stories.
    assert out["a2"]["duplicate_of"] == "a" and out["a2"]["story_id"] == "a2"


def test_cross_run_linking_and_idempotent_reassign(tmp_path):
    out_dir = str(tmp_path)
    first = DedupIndex.load(out_dir, CONFIG)
    assert len(first) == 0
    run1 = _assign(first, [("d", DISPATCH), ("o", OTHER_ROAD)])
    first.save("run1")
    assert os.path.exists(os.path.join(out_dir, INDEX_DIR, "manifest.json"))

    second = DedupIndex.load(out_dir, CONFIG)
    assert len(second) == 2
    run2 = _assign(second, [("r3", REPOST_REWORDED), ("r1", REPOST_TITLE)])
    assert run2["r3"]["near_duplicate_of"] == "d" and run2["r3"]["story_id"] == "d"
    assert run2["r1"]["duplicate_of"] == "d" and run2["r1"]["story_id"] == "d"
    # Re-running run 1's input: the recorded answers, not duplicates of themselves.
    assert _assign(second, [("d", DISPATCH), ("o", OTHER_ROAD)]) == run1
    second.save("run2")

    third = DedupIndex.load(out_dir, CONFIG)
    assert len(third) == 4
    assert _assign(third, [("r1", REPOST_TITLE), ("r3", REPOST_REWORDED)]) == run2
    # A repeated id inside one new batch is not a duplicate of itself either.
    again = _assign(third, [("r2", REPOST_DATELINE), ("r2", REPOST_DATELINE)])
    assert again["r2"]["near_duplicate_of"] == "d" and again["r2"]["duplicate_of"] is None


def _sig_table(sigs: dict[str, np.ndarray]) -> pa.Table:
    ids = list(sigs)
    flat = np.concatenate([sigs[i] for i in ids])
    offsets = np.arange(len(ids) + 1, dtype=np.int32) * CONFIG.num_perm
    return pa.table(
        {
            "article_id": ids,
            "exact_hash": [f"hash-{i}" for i in ids],
            "minhash": pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.uint32())),
        }
    )


def test_bridging_article_merges_stories_into_the_older(tmp_path):
    # Crafted signatures: A and B differ on the first 48 of 128 values (0.62, two stories
    # under a story threshold of 0.7, though they share LSH bands, so this also checks
    # that candidates are verified); C takes the first 24 of those from B and the rest
    # from A: 0.81 from both, a near duplicate of both, which merges their stories.
    config = DedupConfig(story_threshold=0.7)
    rng = np.random.default_rng(3)
    n = CONFIG.num_perm
    sig_a = rng.integers(0, 2**32, n, dtype=np.uint32)
    sig_b = sig_a.copy()
    sig_b[:48] = rng.integers(0, 2**32, 48, dtype=np.uint32)
    sig_c = sig_a.copy()
    sig_c[:24] = sig_b[:24]
    sig_d = sig_b.copy()  # a later near duplicate of B
    sig_d[24:27] = 7
    assert estimated_jaccard(sig_a, sig_b) < CONFIG.threshold
    assert estimated_jaccard(sig_c, sig_a) >= CONFIG.threshold
    assert estimated_jaccard(sig_c, sig_b) >= CONFIG.threshold
    assert estimated_jaccard(sig_d, sig_a) < CONFIG.threshold

    index = DedupIndex.load(str(tmp_path), config)
    out = index.assign(_articles(["A", "B"]), _sig_table({"A": sig_a, "B": sig_b}))
    assert out.column("story_id").to_pylist() == ["A", "B"]
    index.save("b1")
    index = DedupIndex.load(str(tmp_path), config)
    out = index.assign(_articles(["C"]), _sig_table({"C": sig_c})).to_pylist()[0]
    assert out["story_id"] == "A"
    assert index.story_merges().to_pylist() == [{"story_id": "B", "merged_into": "A"}]
    index.save("b2")
    index = DedupIndex.load(str(tmp_path), config)
    out = index.assign(_articles(["D"]), _sig_table({"D": sig_d})).to_pylist()[0]
    # D links only to B, whose story was merged into A's: D gets the canonical id.
    assert out["near_duplicate_of"] == "B" and out["story_id"] == "A"


def test_save_is_atomic_and_incremental(tmp_path):
    out_dir = str(tmp_path)
    index = DedupIndex.load(out_dir, CONFIG)
    _assign(index, [("d", DISPATCH)])
    index.save("b1")
    _assign(index, [("o", OTHER_ROAD)])
    index.save("b2")
    root = os.path.join(out_dir, INDEX_DIR)
    with open(os.path.join(root, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    assert len(manifest["segments"]) == 2 and manifest["n_articles"] == 2
    assert not [n for n in os.listdir(root) if n.endswith(".tmp")]
    # A segment written but never listed (crash before the manifest) is ignored.
    stray = os.path.join(root, "seg-stray.parquet")
    with open(stray, "wb") as f:
        f.write(b"not parquet")
    assert len(DedupIndex.load(out_dir, CONFIG)) == 2


def test_load_rejects_incompatible_config(tmp_path):
    index = DedupIndex.load(str(tmp_path), CONFIG)
    _assign(index, [("d", DISPATCH)])
    index.save()
    with pytest.raises(ConfigError, match="num_perm"):
        DedupIndex.load(str(tmp_path), DedupConfig(num_perm=64))
    # The threshold may change between runs: bands are rebuilt on load.
    assert len(DedupIndex.load(str(tmp_path), DedupConfig(threshold=0.7))) == 1


def test_missing_columns_name_the_column(tmp_path):
    with pytest.raises(SchemaError, match="text"):
        signatures_for_articles(_articles(["a"]), CONFIG)
    index = DedupIndex.load(str(tmp_path), CONFIG)
    sigs = compute_signatures([DISPATCH], CONFIG, ["a"])
    with pytest.raises(SchemaError, match="article_id"):
        index.assign(pa.table({"id": ["a"]}), sigs)
    with pytest.raises(SchemaError, match="no dedup signature for article 'zz'"):
        index.assign(_articles(["zz"]), sigs)


def test_summarize_duplicates_counts_and_ranks_stories(tmp_path):
    index = DedupIndex.load(str(tmp_path), CONFIG)
    items = [("d", DISPATCH), ("o", OTHER_ROAD), ("r1", REPOST_TITLE), ("r3", REPOST_REWORDED)]
    ids = [i for i, _ in items]
    out = index.assign(_articles(ids), compute_signatures([t for _, t in items], CONFIG, ids))
    table = out.append_column("title", pa.array(["طريق جازان", "طريق أبها", None, "جازان"]))
    table = table.append_column("source_name", pa.array(["spa", "spa", "site", "site"]))
    summary = summarize_duplicates(table, index, top=5)
    assert (summary.n_articles, summary.n_exact, summary.n_near) == (4, 1, 1)
    assert (summary.n_stories, summary.n_in_stories) == (1, 3)
    assert summary.largest == [
        {"story_id": "d", "title": "طريق جازان", "size": 3, "sources": {"site": 2, "spa": 1}}
    ]


@pytest.mark.parametrize("num_perm", [16, 128, 256])
def test_permutations_equal_datasketch_affine32(num_perm: int) -> None:
    """Workers compute datasketch's permutations without importing it (issue 14)."""
    from tasks.dedup.signatures import MINHASH_SCHEME, MINHASH_SEED, _permutations

    a, b = MinHash(num_perm=num_perm, seed=MINHASH_SEED, scheme=MINHASH_SCHEME).permutations
    mine_a, mine_b = _permutations(num_perm)
    assert mine_a.dtype == mine_b.dtype == np.uint32
    assert np.array_equal(a.astype(np.uint32), mine_a)
    assert np.array_equal(b.astype(np.uint32), mine_b)


@pytest.mark.parametrize("num_perm", [32, 128, 256])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.8, 0.9])
def test_lsh_params_equal_datasketch(num_perm: int, threshold: float) -> None:
    """The flow computes MinHashLSH's (bands, rows) without importing scipy (issue 14)."""
    from datasketch import MinHashLSH

    from tasks.dedup import lsh_params
    from tasks.dedup.signatures import _LSH_WEIGHTS

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=_LSH_WEIGHTS)
    assert lsh_params(threshold, num_perm) == (lsh.b, lsh.r)
