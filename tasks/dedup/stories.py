"""Story clusters: which story an article joins, and the ``stories`` table (issue 15).

A story is one text as it travels between sites: an agency dispatch and its reposts, each
perhaps with a new title, the site's dateline, a dropped sentence, a few changed words, a
trailing "اقرأ أيضاً" line, or cut short. Such reposts are often far below the
near-duplicate threshold (Jaccard 0.5-0.8 on 5-word shingles), so stories use their own,
looser similarity:

- Two texts are **story-similar** (``story_similar``) when their shingle Jaccard is >=
  ``DedupConfig.story_threshold``, or when the shorter one's shingles are mostly inside
  the other (``containment`` >= ``DedupConfig.story_containment``), so that a truncated
  or expanded repost, whose Jaccard drops, still joins. Containment alone would let every
  short item of a long digest join the digest's story, so it also needs a Jaccard of
  ``MIN_CONTAINED_JACCARD`` (the longer text at most about three times the shorter).
  Either way the two must share at least ``MIN_SHARED_SHINGLES`` shingles: short
  templated texts (telegrams of congratulation that differ in the country's name) are
  otherwise as similar as an edited repost. And their numbers must agree
  (``numbers_agree``): a templated series (the fourth and the fifth relief flight)
  changes the figures that a repost keeps. All of it is estimated from the MinHash
  signatures and shingle counts, never from LSH band collisions alone.
- An article joins a story when it is story-similar to the **story's canonical article**
  (its founder, the first article of the story the index saw), or when it is a near
  duplicate or exact duplicate of one of the story's articles (a strong link), or when it
  is story-similar to one of its articles (a weak link) *and* shares a Jaccard of at
  least ``MIN_CANONICAL_JACCARD`` with the canonical article. Every article of a story
  thus overlaps its canonical article (or is a near duplicate of a member), so a chain of
  weak links (A~B, B~C, C~D) cannot drift into an unrelated story.
- Two stories merge only if the article links strongly to both, or if their canonical
  articles are themselves similar. An article that overlaps two unrelated stories (a
  digest quoting both) joins the one it is closest to, and the stories stay apart.

``build_stories`` turns articles and story merges into the published ``stories`` table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tasks.config import DedupConfig
from tasks.dedup.signatures import _require
from tasks.schemas import STORIES, conform

# Least Jaccard of a containment link: a text fully inside one 3.3 times longer.
MIN_CONTAINED_JACCARD = 0.3
# Least Jaccard with a story's canonical article for an article that joins through a
# weak link to another of its articles (a repost of a repost).
MIN_CANONICAL_JACCARD = 0.25
# Fewest shingles two texts must share for a story link (about 60 words of common text).
# Short templated texts (royal telegrams that differ only in the country and its
# president, weather or prayer-time notes) share half their shingles across different
# stories; they still join a story as near duplicates.
MIN_SHARED_SHINGLES = 60


def containment(jaccard: np.ndarray, n_a: np.ndarray, n_b: np.ndarray) -> np.ndarray:
    """Estimated share of the smaller shingle set contained in the larger one.

    From Jaccard J and set sizes: ``|A & B| = J (|A| + |B|) / (1 + J)``, divided by the
    smaller size and capped at 1. Sizes of 0 (unknown) fall back to J itself.

    >>> float(containment(np.array([0.5]), np.array([100]), np.array([50]))[0])
    1.0
    """
    jaccard = np.asarray(jaccard, dtype=np.float64)
    n_a = np.asarray(n_a, dtype=np.float64)
    n_b = np.asarray(n_b, dtype=np.float64)
    small = np.minimum(n_a, n_b)
    inter = jaccard * (n_a + n_b) / (1.0 + jaccard)
    share = np.divide(inter, small, out=np.array(jaccard, dtype=np.float64), where=small > 0)
    return np.minimum(share, 1.0)


def story_similar(
    jaccard: np.ndarray, n_a: np.ndarray, n_b: np.ndarray, config: DedupConfig
) -> np.ndarray:
    """Which pairs are story-similar, from their Jaccard estimates and shingle counts.

    Sizes of 0 (unknown, index rows written before issue 15) skip the size checks.
    """
    jaccard = np.asarray(jaccard, dtype=np.float64)
    n_a = np.asarray(n_a, dtype=np.float64)
    n_b = np.asarray(n_b, dtype=np.float64)
    shared = jaccard * (n_a + n_b) / (1.0 + jaccard)
    enough = (shared >= MIN_SHARED_SHINGLES) | (n_a == 0) | (n_b == 0)
    contained = (containment(jaccard, n_a, n_b) >= config.story_containment) & (
        jaccard >= MIN_CONTAINED_JACCARD
    )
    return enough & ((jaccard >= config.story_threshold) | contained)


def numbers_agree(a: frozenset[int] | None, b: frozenset[int] | None) -> bool:
    """Whether two texts' numbers fit one story: at least half the smaller set is shared.

    Reposts keep a dispatch's figures (a dateline may add a date, a cut drops some);
    templated series change them: the fourth and the fifth relief flight to Aden, "10
    tons" and "12 tons", share most of their words but not their numbers. Texts without
    numbers (or unknown, None) always agree.
    """
    if not a or not b:
        return True
    return 2 * len(a & b) >= min(len(a), len(b))


def story_lsh_threshold(config: DedupConfig) -> float:
    """Jaccard the LSH that finds story candidates is tuned to."""
    return min(config.story_threshold, MIN_CONTAINED_JACCARD)


@dataclass
class StoryVote:
    """What one new article has to do with one existing story."""

    strong: bool = False  # exact or near duplicate of one of its articles
    weak: bool = False  # story-similar to one of its articles
    similar: bool = False  # story-similar to the story's canonical article
    jaccard: float = 0.0  # with the canonical article, to rank the stories

    @property
    def joins(self) -> bool:
        """Whether these links are enough to join the story."""
        return self.strong or self.similar or (self.weak and self.jaccard >= MIN_CANONICAL_JACCARD)


def plan_story(
    votes: Mapping[str, StoryVote],
    related: Callable[[str, str], bool],
    age: Callable[[str], int],
) -> tuple[str | None, list[str]]:
    """Story a new article joins and the stories that merge into it.

    Args:
        votes: Canonical story id -> the article's links to it (from its candidates).
        related: Whether two stories' canonical articles are story-similar.
        age: Sort key of a story, smaller is older (the founder's index position).

    Returns:
        ``(story, merged)``: the story to join (None: the article founds a new one) and
        the stories to record as merged into it. The merged group keeps its oldest id.
    """
    qualified = {s: v for s, v in votes.items() if v.joins}
    if not qualified:
        return None, []
    best = max(qualified, key=lambda s: (qualified[s].strong, qualified[s].jaccard, -age(s)))
    group = [best]
    for s, vote in qualified.items():
        if s == best:
            continue
        if (vote.strong and qualified[best].strong) or related(s, best):
            group.append(s)
    root = min(group, key=lambda s: (age(s), s))
    return root, [s for s in group if s != root]


def resolve_merges(merges: Mapping[str, str]) -> dict[str, str]:
    """Each merged story -> the story it finally belongs to (chains followed)."""
    out: dict[str, str] = {}
    for story in merges:
        seen, target = {story}, merges[story]
        while target in merges and target not in seen:
            seen.add(target)
            target = merges[target]
        out[story] = target
    return out


def build_stories(articles: pa.Table, merges: Mapping[str, str]) -> pa.Table:
    """The ``stories`` table of a dataset: one row per story id its articles carry.

    A story that was never merged aggregates every article whose ``story_id`` resolves to
    it (its own and those of stories merged into it). A merged story keeps a row with
    ``merged_into`` set, aggregating only the articles labelled with its own id, so that
    every ``articles.story_id`` finds a row.

    Args:
        articles: Needs ``article_id`` and ``story_id``; ``title``, ``source_name`` and
            ``published_date`` fill the descriptive columns when present.
        merges: ``DedupIndex.merges`` (story -> story it was merged into).

    Returns:
        A ``STORIES`` table sorted by ``story_id``.
    """
    _require(articles, ("article_id", "story_id"), "articles")
    resolved = resolve_merges(merges)
    ids = articles.column("article_id").to_pylist()
    stories = articles.column("story_id").to_pylist()
    titles = _column(articles, "title")
    sources = _column(articles, "source_name")
    dates = _column(articles, "published_date")
    row_of = {aid: k for k, aid in enumerate(ids)}
    members: dict[str, list[int]] = {}
    own: dict[str, list[int]] = {}
    for k, story in enumerate(stories):
        if story is None:
            continue
        own.setdefault(story, []).append(k)
        members.setdefault(resolved.get(story, story), []).append(k)
    names = sorted(set(members) | {s for s in own if s in resolved})
    rows = []
    for story in names:
        merged_into = resolved.get(story)
        rows_k = own[story] if merged_into is not None else members[story]
        founder = row_of.get(story)
        title = titles[founder] if founder is not None else None
        if not title:
            title = next((titles[k] for k in rows_k if titles[k]), None)
        counts = Counter(sources[k] for k in rows_k if sources[k])
        seen = [dates[k] for k in rows_k if dates[k] is not None]
        rows.append(
            {
                "story_id": story,
                "canonical_article_id": story,
                "title": title,
                "first_seen": min(seen) if seen else None,
                "last_seen": max(seen) if seen else None,
                "n_articles": len(rows_k),
                "n_sources": len(counts),
                "sources": [s for s, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))],
                "merged_into": merged_into,
            }
        )
    if not rows:
        return STORIES.empty_table()
    return conform(pa.Table.from_pylist(rows), STORIES)


def _column(table: pa.Table, name: str) -> list:
    if name in table.column_names:
        return table.column(name).to_pylist()
    return [None] * table.num_rows
