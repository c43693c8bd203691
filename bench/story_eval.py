"""Evaluate story clusters on SaudiNewsNet days with planted edited reposts (issue 15).

Plants ``--plant`` reposts of random real articles (our own edit model, below) among the
days' articles, assigns everything day by day as the pipeline does, and prints:

- recall: planted reposts whose story is their original's story;
- link precision, judged on the exact shingle sets (not the MinHash estimate): every
  article that joined an existing story is compared with the story's canonical article;
  a link is right when their 5-shingle Jaccard is >= 0.5 or, for truncated or expanded
  texts, the shorter one's shingles are >= 0.8 contained in the other. The links that
  fail both are printed for reading (``--show-bad``);
- the largest stories on the real days alone (no planted reposts), with the largest
  one's articles printed for reading;
- overhead: assign time with stories against the same index without story links (the
  near-duplicate links only, as before issue 15), plus building the ``stories`` table,
  as a share of the pipeline's run time at its 50k words/s target.

Edit model, each repost of a random real article of >= ``--min-words`` words (seeded):
    a new title, an agency dateline prefix, three words changed and a trailing
    read-also / follow-us / source line, and one of: one sentence dropped (55 %), the
    end cut off (25 %, keep 50-80 % of the sentences), or one sentence dropped and
    background from another article appended (20 %, 25-60 % longer).

    python bench/story_eval.py /work/shared/corpora/saudinewsnet/*.zip [--plant 200]
        [--story-threshold 0.5] [--story-containment 0.7] [--min-words 150] [--seed 1]
        [--show 10] [--show-bad 10]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_eval import TARGET_WORDS_PER_S, read_zips  # noqa: E402

from tasks.config import DedupConfig  # noqa: E402
from tasks.dedup import DedupIndex, build_stories, compute_signatures, dedup_words  # noqa: E402
from tasks.dedup.index import _band_keys  # noqa: E402
from tasks.dedup.signatures import lsh_params  # noqa: E402

# Our own edit vocabulary (not taken from the corpus).
DATELINES = (
    "الرياض - واس:",
    "جدة – «المدينة»:",
    "الدمام - اليوم:",
    "مكة المكرمة (رويترز) -",
    "دبي - وكالات:",
    "القاهرة - أ ش أ:",
    "متابعات - سبق:",
)
TRAILERS = (
    "اقرأ أيضاً: {title}",
    "شاهد أيضا: {title}",
    "ذات صلة: {title}",
    "للمزيد من الأخبار تابعونا على حسابنا في تويتر",
    "المصدر: وكالة الأنباء",
)
FILLERS = ("كما", "أيضا", "الجديد", "اليوم", "أمس", "حيث", "وقد", "الذي", "رسميا", "مؤخرا")
TITLE_PREFIXES = ("عاجل: ", "بالفيديو: ", "", "تفاصيل: ")
_SENTENCE_END = re.compile(r"(?<=[.!؟])\s+")


def make_repost(text: str, title: str, other: dict, rng: random.Random) -> tuple[str, str, str]:
    """An edited repost of ``text``: (title, body, kind of length change)."""
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s.strip()]
    kind = rng.choices(("edited", "truncated", "expanded"), weights=(55, 25, 20))[0]
    if kind == "truncated" and len(sentences) >= 3:
        # A cut repost keeps the start instead of losing one sentence.
        keep = max(2, round(len(sentences) * rng.uniform(0.5, 0.8)))
        sentences = sentences[:keep]
    elif len(sentences) >= 3:
        sentences.pop(rng.randrange(1, len(sentences)))
    body = " ".join(sentences)
    words = body.split()
    for _ in range(3):
        k = rng.randrange(len(words))
        words[k] = rng.choice(FILLERS)
    body = rng.choice(DATELINES) + " " + " ".join(words)
    if kind == "expanded":
        extra = other["content"].split()
        n = round(len(words) * rng.uniform(0.25, 0.6))
        body += "\n" + " ".join(extra[-n:])
    body += "\n" + rng.choice(TRAILERS).format(title=other["title"].strip())
    new_title = rng.choice(TITLE_PREFIXES) + " ".join(reversed(title.split()))
    return new_title, body, kind


def shingles(text: str, k: int = 5) -> set[tuple[str, ...]]:
    w = dedup_words(text)
    return {tuple(w[i : i + k]) for i in range(len(w) - k + 1)}


def judge(a: set, b: set) -> tuple[float, float]:
    """Exact (Jaccard, containment of the smaller set) of two shingle sets."""
    if not a or not b:
        return 0.0, 0.0
    inter = len(a & b)
    return inter / len(a | b), inter / min(len(a), len(b))


def is_right(jaccard: float, contained: float) -> bool:
    return jaccard >= 0.5 or contained >= 0.8


class NearDuplicateStories(DedupIndex):
    """The index as before issue 15: stories are components of near-duplicate links."""

    def _build_lsh(self) -> None:
        b, r = lsh_params(self.config.threshold, self.config.num_perm)
        self._bands = (b, r)
        pos = np.flatnonzero(self.has_sig)
        keys = _band_keys(self.sigs[pos], b, r)
        self._base_keys, self._base_pos = [], []
        for band in range(b):
            order = np.argsort(keys[:, band], kind="stable")
            self._base_keys.append(keys[order, band])
            self._base_pos.append(pos[order])
        self._delta = [{} for _ in range(b)]

    def _join_story(self, aid, strong, weak, text):  # noqa: ANN001, ANN202
        if not strong:
            return aid
        stories = {self.canonical_story(self.entries[p].story_id) for p in strong}
        oldest = min(stories, key=lambda s: (self._story_age(s), s))
        for s in stories - {oldest}:
            self.merges[s] = oldest
        return oldest


def run(days: list[list[dict]], config: DedupConfig, index_cls: type, out: str) -> tuple:
    """Sign outside the clock, assign day by day; (assignments, index, assign seconds)."""
    index = index_cls.load(out, config)
    sigs = [
        compute_signatures([a["content"] for a in day], config, [a["article_id"] for a in day])
        for day in days
    ]
    t0 = time.perf_counter()
    parts = [
        index.assign(pa.table({"article_id": [a["article_id"] for a in day]}), sig)
        for day, sig in zip(days, sigs, strict=True)
    ]
    return pa.concat_tables(parts), index, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zips", nargs="+")
    ap.add_argument("--plant", type=int, default=200, help="edited reposts to plant")
    ap.add_argument("--story-threshold", type=float, default=DedupConfig().story_threshold)
    ap.add_argument("--story-containment", type=float, default=DedupConfig().story_containment)
    ap.add_argument(
        "--min-canonical-jaccard",
        type=float,
        default=None,
        help="override stories.MIN_CANONICAL_JACCARD (a weak link's overlap with the canonical)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--min-words", type=int, default=150, help="shortest original to plant a repost of"
    )
    ap.add_argument("--show", type=int, default=10, help="largest stories to print")
    ap.add_argument("--show-bad", type=int, default=10, help="wrong links to print")
    ap.add_argument("--read", type=int, default=1, help="largest stories to print in full")
    args = ap.parse_args(argv)
    config = DedupConfig(
        story_threshold=args.story_threshold, story_containment=args.story_containment
    )
    rng = random.Random(args.seed)
    if args.min_canonical_jaccard is not None:
        import tasks.dedup.stories

        tasks.dedup.stories.MIN_CANONICAL_JACCARD = args.min_canonical_jaccard

    real_days = [read_zips([z]) for z in sorted(args.zips)]
    real = [a for day in real_days for a in day]
    by_id = {a["article_id"]: a for a in real}
    n_words = sum(len((a["content"] or "").split()) for a in real)
    print(f"{len(real):,} real articles, {n_words:,} words from {len(args.zips)} day(s)")

    # Plant: each repost goes at the end of its original's day, in random order.
    eligible = [a for a in real if len((a["content"] or "").split()) >= args.min_words]
    originals = rng.sample(eligible, args.plant)
    planted_days = [list(day) for day in real_days]
    day_of = {a["article_id"]: d for d, day in enumerate(real_days) for a in day}
    planted: dict[str, tuple[str, str]] = {}  # repost id -> (original id, kind)
    for n, orig in enumerate(originals):
        other = rng.choice(eligible)
        title, body, kind = make_repost(orig["content"], orig["title"], other, rng)
        rid = f"planted/{n}"
        art = {"article_id": rid, "content": body, "title": title, "source": "planted"}
        by_id[rid] = art
        planted_days[day_of[orig["article_id"]]].append(art)
        planted[rid] = (orig["article_id"], kind)
    for day in planted_days:
        head = [a for a in day if a["source"] != "planted"]
        tail = [a for a in day if a["source"] == "planted"]
        rng.shuffle(tail)
        day[:] = head + tail
    cache: dict[str, set] = {}

    def sh(aid: str) -> set:
        if aid not in cache:
            cache[aid] = shingles(by_id[aid]["content"] or "", config.shingle_size)
        return cache[aid]

    with tempfile.TemporaryDirectory() as out:
        result, index, _ = run(planted_days, config, DedupIndex, out)
    story = dict(
        zip(
            result.column("article_id").to_pylist(),
            result.column("story_id").to_pylist(),
            strict=True,
        )
    )
    canon = {a: index.canonical_story(s) for a, s in story.items()}

    # Recall on planted reposts, by kind of edit.
    hits: Counter = Counter()
    kinds: Counter = Counter()
    truth = []
    for rid, (oid, kind) in planted.items():
        kinds[kind] += 1
        hits[kind] += canon[rid] == canon[oid]
        truth.append(judge(sh(rid), sh(oid)))
    recall = sum(hits.values()) / len(planted)
    jac = sorted(j for j, _ in truth)
    print(
        f"\nplanted reposts: {len(planted)}; true Jaccard to their original "
        f"{jac[0]:.2f}-{jac[-1]:.2f} (median {jac[len(jac) // 2]:.2f}); "
        f"below 0.8: {sum(j < 0.8 for j in jac)}"
    )
    print(
        f"recall (repost in its original's story): {sum(hits.values())}/{len(planted)} "
        f"= {recall:.3f}"
    )
    for kind in sorted(kinds):
        print(f"  {kind:10s} {hits[kind]}/{kinds[kind]}")
    bands: Counter = Counter()
    band_hits: Counter = Counter()
    for rid, (oid, _) in planted.items():
        n = len((by_id[oid]["content"] or "").split())
        band = "<150 words" if n < 150 else "150-299 words" if n < 300 else ">=300 words"
        bands[band] += 1
        band_hits[band] += canon[rid] == canon[oid]
    for band in ("<150 words", "150-299 words", ">=300 words"):
        print(f"  original {band:14s} {band_hits[band]}/{bands[band]}")
    missed = [(rid, oid) for rid, (oid, _) in planted.items() if canon[rid] != canon[oid]]
    for rid, oid in missed[:5]:
        j, c = judge(sh(rid), sh(oid))
        print(f"  missed {rid} (of {oid}): true Jaccard {j:.2f}, containment {c:.2f}")

    # Link precision: every article that joined an existing story, against its canonical.
    links = [(a, s) for a, s in story.items() if s != a]
    merges = [(s, index.canonical_story(s)) for s in index.merges]
    judged = [(a, s, *judge(sh(a), sh(s))) for a, s in links + merges]
    right = [x for x in judged if is_right(x[2], x[3])]
    by_j = sum(x[2] >= 0.5 for x in judged)
    print(
        f"\nlinks (article -> canonical article of the story it joined, and story merges): "
        f"{len(judged)}; right {len(right)} = {len(right) / max(len(judged), 1):.3f} "
        f"(Jaccard >= 0.5 alone: {by_j}, containment >= 0.8 for the rest: {len(right) - by_j})"
    )
    # The link itself: each joined article against the best earlier article of its story.
    earlier: dict[str, list[str]] = {}
    link_right = 0
    for a in story:
        group = earlier.setdefault(canon[a], [])
        if story[a] != a:
            link_right += any(is_right(*judge(sh(a), sh(b))) for b in group)
        group.append(a)
    print(
        f"  each joined article against the best earlier article of its story: "
        f"{link_right}/{len(links)} = {link_right / max(len(links), 1):.3f}"
    )
    real_links = [x for x in judged if not x[0].startswith("planted/")]
    real_right = sum(is_right(x[2], x[3]) for x in real_links)
    print(f"  among real articles only: {real_right}/{len(real_links)}")
    bad = [x for x in judged if not is_right(x[2], x[3])]
    hist = Counter(min(int(x[2] * 10), 9) / 10 for x in bad)
    print(
        "  wrong by the rule, by true Jaccard: "
        + ", ".join(f"{k:.1f}-{k + 0.1:.1f}: {hist[k]}" for k in sorted(hist))
    )
    for a, s, j, c in rng.sample(bad, min(args.show_bad, len(bad))):
        print(f"  LOW Jaccard {j:.2f} containment {c:.2f}: {a} -> {s}")
        for aid in (a, s):
            art = by_id[aid]
            body = " ".join((art["content"] or "").split())[:220]
            print(f"      {aid} {art['source']}: {art['title'].strip()[:70]} || {body}")

    # Largest stories and overhead on the real days alone.
    with tempfile.TemporaryDirectory() as out:
        base, _, t_base = run(real_days, config, NearDuplicateStories, out)
    with tempfile.TemporaryDirectory() as out:
        result, index, t_story = run(real_days, config, DedupIndex, out)
    table = pa.table(
        {
            "article_id": result.column("article_id"),
            "story_id": result.column("story_id"),
            "title": [by_id[a]["title"].strip() for a in result.column("article_id").to_pylist()],
            "source_name": [by_id[a]["source"] for a in result.column("article_id").to_pylist()],
        }
    )
    t0 = time.perf_counter()
    stories = build_stories(table, index.merges)
    t_table = time.perf_counter() - t0
    current = stories.filter(pa.compute.is_null(stories.column("merged_into")))
    sizes = sorted(current.column("n_articles").to_pylist(), reverse=True)
    n_before = sum(c >= 2 for c in Counter(base.column("story_id").to_pylist()).values())
    print(
        f"\nreal days: {sum(s >= 2 for s in sizes):,} stories of >= 2 articles holding "
        f"{sum(s for s in sizes if s >= 2):,} articles (near-duplicate stories before issue "
        f"15: {n_before:,}); story merges {len(index.merges)}"
    )
    print(f"largest stories: {sizes[: args.show]}")
    top = current.sort_by([("n_articles", "descending")]).slice(0, args.show).to_pylist()
    for row in top:
        print(f"  {row['n_articles']:3d} {row['title'][:70]} | {row['sources']}")
    real_story = dict(
        zip(
            result.column("article_id").to_pylist(),
            result.column("story_id").to_pylist(),
            strict=True,
        )
    )
    for rank, row in enumerate(top[: args.read], 1):
        members = [
            a for a, st in real_story.items() if index.canonical_story(st) == row["story_id"]
        ]
        print(f"\nstory {rank} by size, {row['story_id']} ({len(members)} articles), for reading:")
        for a in members:
            art = by_id[a]
            j, c = judge(sh(a), sh(row["story_id"]))
            body = " ".join((art["content"] or "").split())[:110]
            print(
                f"  J {j:.2f} C {c:.2f} {art['source']:12s} {art['title'].strip()[:60]} || {body}"
            )

    budget = n_words / TARGET_WORDS_PER_S
    extra = t_story - t_base + t_table
    print(
        f"\noverhead: assign {t_base:.2f} s without story links, {t_story:.2f} s with; "
        f"stories table {t_table:.2f} s; extra {extra:.2f} s = {100 * extra / budget:.1f} % "
        f"of the pipeline's run time at {TARGET_WORDS_PER_S:,} words/s ({budget:.0f} s)"
    )


if __name__ == "__main__":
    main()
