"""The persistent duplicate index under ``OUT/_index/dedup/`` and duplicate assignment.

``DedupIndex.assign`` runs at commit time in the flow process (serial). It looks each
article up in the index and fills ``duplicate_of``, ``near_duplicate_of`` and
``story_id``.

Semantics (see ``DedupIndex.assign``):

- ``duplicate_of``: the first-seen article (earlier run, or earlier row of this batch) with
  the same normalized text.
- ``near_duplicate_of``: for articles that are *not* exact duplicates, the earlier article
  with the highest estimated Jaccard similarity >= ``DedupConfig.threshold`` (candidates
  come from MinHash LSH and are verified on the signatures, ties go to the older article).
- ``story_id``: the story (``tasks.dedup.stories``), with its own looser similarity
  (Jaccard >= ``DedupConfig.story_threshold`` or containment >=
  ``DedupConfig.story_containment``, verified on the signatures). An article joins a story
  when it is similar to the story's canonical (first) article, or is an exact or near
  duplicate of one of its articles, or is similar to one of its articles and still
  overlaps the canonical one; otherwise it founds a story whose id is its own
  ``article_id``. Old rows are never rewritten: when an article joins two stories
  that belong together, the younger story is recorded as merged into the older one
  (``DedupIndex.merges``, published as ``stories.merged_into``) and later articles get the
  canonical (older) id.
- Texts with fewer than ``MIN_SHINGLES`` shingles (``shingle_size + MIN_SHINGLES - 1``
  normalized words, 20 with the default 5-word shingles) get no MinHash: a handful of
  shared shingles is not evidence of a shared story. They are still flagged as exact
  duplicates (``duplicate_of``) but do not join the original's story, because short
  boilerplate-only bodies are identical across unrelated articles.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.config import DedupConfig
from tasks.dedup.signatures import (
    MINHASH_SCHEME,
    MINHASH_SEED,
    SIGNATURE_VERSION,
    _band_keys,
    _require,
    _sig_array,
    lsh_params,
    signatures_to_numpy,
)
from tasks.dedup.stories import (
    StoryVote,
    numbers_agree,
    plan_story,
    story_lsh_threshold,
    story_similar,
)
from tasks.errors import ConfigError, SchemaError

INDEX_DIR = os.path.join("_index", "dedup")
_MANIFEST = "manifest.json"
# Compact the index into one segment when it has more segments than this.
_MAX_SEGMENTS = 32

ASSIGNMENTS = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("duplicate_of", pa.string()),
        pa.field("near_duplicate_of", pa.string()),
        pa.field("story_id", pa.string()),
    ]
)

_INDEX_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("exact_hash", pa.string()),
        pa.field("minhash", pa.list_(pa.uint32())),
        pa.field("duplicate_of", pa.string()),
        pa.field("near_duplicate_of", pa.string()),
        pa.field("story_id", pa.string()),
        pa.field("similarity", pa.float32()),
        pa.field("n_shingles", pa.int32()),  # null in indexes written before issue 15
        pa.field("numbers", pa.list_(pa.uint32())),  # likewise
    ]
)


# What the story checks need of a text: MinHash signature, shingle count, number hashes.
_Text = tuple[np.ndarray, int, "frozenset[int] | None"]


def _frozen(values: list[int] | None) -> frozenset[int] | None:
    return frozenset(values) if values is not None else None


@dataclass
class _Entry:
    duplicate_of: str | None
    near_duplicate_of: str | None
    story_id: str
    similarity: float | None


@dataclass
class DedupIndex:
    """Persistent exact-hash and MinHash LSH index of every article seen so far.

    Build with ``DedupIndex.load(out_dir, config)``; call ``assign`` for each batch at
    commit time, then ``save``. Positions (0, 1, ...) follow the order articles were first
    assigned, so "earlier" and "older" mean a smaller position.
    """

    root: str
    config: DedupConfig
    ids: list[str] = field(default_factory=list)
    exact_hashes: list[str | None] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)
    sigs: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.uint32))
    has_sig: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    # Shingles per article (0 = unknown), for the containment of story links.
    n_shingles: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    # Number hashes per article (None = unknown), for the story links' number check.
    numbers: list[frozenset[int] | None] = field(default_factory=list)
    merges: dict[str, str] = field(default_factory=dict)
    segments: list[str] = field(default_factory=list)
    _pos: dict[str, int] = field(default_factory=dict)
    _first_exact: dict[str, int] = field(default_factory=dict)
    _n_saved: int = 0
    _n_merges_saved: int = 0
    # Segments of the index before ``retain`` rewrote it: removed once a save replaces them.
    _stale_segments: list[str] = field(default_factory=list)
    _bands: tuple[int, int] = (0, 0)
    # LSH tables: sorted band keys + positions for loaded rows, dicts for rows added since.
    _base_keys: list[np.ndarray] = field(default_factory=list)
    _base_pos: list[np.ndarray] = field(default_factory=list)
    _delta: list[dict[int, list[int]]] = field(default_factory=list)

    @classmethod
    def load(cls, out_dir: str, config: DedupConfig) -> DedupIndex:
        """Load the index under ``out_dir/_index/dedup`` (an empty index if there is none).

        Raises:
            ConfigError: the index was built with another ``num_perm``, ``shingle_size`` or
                signature version, whose signatures cannot be compared with new ones.
        """
        root = os.path.join(out_dir, INDEX_DIR)
        index = cls(root=root, config=config)
        index.sigs = np.empty((0, config.num_perm), dtype=np.uint32)
        manifest_path = os.path.join(root, _MANIFEST)
        if os.path.exists(manifest_path):
            with open(manifest_path, encoding="utf-8") as f:
                manifest = json.load(f)
            index._check_manifest(manifest, manifest_path)
            index.segments = list(manifest["segments"])
            index.merges = dict(manifest.get("merges", {}))
            tables = [pq.read_table(os.path.join(root, s)) for s in index.segments]
            if tables:
                index._add_rows(pa.concat_tables([_upgrade(t) for t in tables]))
            index._n_saved = len(index.ids)
            index._n_merges_saved = len(index.merges)
        index._build_lsh()
        return index

    @staticmethod
    def exists(out_dir: str) -> bool:
        """Whether ``out_dir`` holds a saved index."""
        return os.path.exists(os.path.join(out_dir, INDEX_DIR, _MANIFEST))

    def entry(self, article_id: str) -> _Entry | None:
        """The links recorded for an indexed article (None if it is not indexed)."""
        pos = self._pos.get(article_id)
        return self.entries[pos] if pos is not None else None

    def _check_manifest(self, manifest: dict, path: str) -> None:
        want = {
            "signature_version": SIGNATURE_VERSION,
            "num_perm": self.config.num_perm,
            "shingle_size": self.config.shingle_size,
            "scheme": MINHASH_SCHEME,
        }
        for key, value in want.items():
            if manifest.get(key) != value:
                raise ConfigError(
                    f"dedup index {path} has {key}={manifest.get(key)!r} but this run uses "
                    f"{value!r}; use the same DedupConfig or start a new output directory"
                )

    def _add_rows(self, table: pa.Table) -> None:
        start = len(self.ids)
        ids = table.column("article_id").to_pylist()
        exact = table.column("exact_hash").to_pylist()
        dup = table.column("duplicate_of").to_pylist()
        near = table.column("near_duplicate_of").to_pylist()
        story = table.column("story_id").to_pylist()
        sim = table.column("similarity").to_pylist()
        sigs = signatures_to_numpy(table.column("minhash"), self.config.num_perm)
        has = ~np.asarray(table.column("minhash").is_null().to_numpy(), dtype=bool)
        counts = table.column("n_shingles").fill_null(0).to_numpy().astype(np.int32)
        self.n_shingles = np.concatenate([self.n_shingles[: len(self.ids)], counts])
        self.numbers.extend(_frozen(v) for v in table.column("numbers").to_pylist())
        self.ids.extend(ids)
        self.exact_hashes.extend(exact)
        self.entries.extend(_Entry(*row) for row in zip(dup, near, story, sim, strict=True))
        self.sigs = np.concatenate([self.sigs, sigs]) if len(self.sigs) else sigs
        self.has_sig = np.concatenate([self.has_sig, has])
        for k, (aid, h) in enumerate(zip(ids, exact, strict=True)):
            self._pos[aid] = start + k
            if h is not None:
                self._first_exact.setdefault(h, start + k)

    def _build_lsh(self) -> None:
        # One LSH serves both: tuned to the looser of the near-duplicate and story links.
        loosest = min(self.config.threshold, story_lsh_threshold(self.config))
        b, r = lsh_params(round(loosest, 3), self.config.num_perm)
        self._bands = (b, r)
        pos = np.flatnonzero(self.has_sig)
        keys = _band_keys(self.sigs[pos], b, r)
        self._base_keys, self._base_pos = [], []
        for band in range(b):
            order = np.argsort(keys[:, band], kind="stable")
            self._base_keys.append(keys[order, band])
            # int32 positions: the looser story bands make these tables 3.5x as many.
            self._base_pos.append(pos[order].astype(np.int32))
        self._delta = [{} for _ in range(b)]

    def __len__(self) -> int:
        return len(self.ids)

    def _base_ranges(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each row's band keys sit in the sorted base tables: (lo, hi) per band.

        One vectorized search per band for a whole batch: a search per article and band
        cost more than the rest of ``assign``.
        """
        lo = np.empty(keys.shape, dtype=np.int64)
        hi = np.empty(keys.shape, dtype=np.int64)
        for band, base_k in enumerate(self._base_keys):
            lo[:, band] = np.searchsorted(base_k, keys[:, band], side="left")
            hi[:, band] = np.searchsorted(base_k, keys[:, band], side="right")
        return lo, hi

    def _candidates(self, keys: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> set[int]:
        found: set[int] = set()
        for band in np.flatnonzero(hi > lo).tolist():
            found.update(self._base_pos[band][lo[band] : hi[band]].tolist())
        for table, key in zip(self._delta, keys.tolist(), strict=True):
            hit = table.get(key)
            if hit:
                found.update(hit)
        return found

    def _insert_lsh(self, pos: int, keys: np.ndarray) -> None:
        for table, key in zip(self._delta, keys.tolist(), strict=True):
            table.setdefault(key, []).append(pos)

    def canonical_story(self, story_id: str) -> str:
        """The story ``story_id`` was merged into (itself if it never was)."""
        seen = []
        while story_id in self.merges:
            seen.append(story_id)
            story_id = self.merges[story_id]
        for s in seen[:-1]:  # path compression
            self.merges[s] = story_id
        return story_id

    def _story_age(self, story_id: str) -> int:
        # A story's id is its founder's article_id, so its age is the founder's position.
        return self._pos.get(story_id, len(self.ids))

    def assign(self, articles: pa.Table, signatures: pa.Table) -> pa.Table:
        """Exact duplicates, near duplicates and story of each article of a batch.

        Rows are processed in order, so an article can link to earlier rows of the same
        batch. Articles already in the index (a re-run of the same input) get the answer
        recorded the first time and are not duplicates of themselves. The batch is added
        to the index in memory; call ``save`` to persist it.

        Args:
            articles: The batch's articles; only ``article_id`` is read (row order).
            signatures: ``compute_signatures`` output for these articles (any row order).

        Returns:
            An ``ASSIGNMENTS`` table (``article_id``, ``duplicate_of``,
            ``near_duplicate_of``, ``story_id``) in the row order of ``articles``.
        """
        _require(articles, ("article_id",), "articles")
        _require(signatures, ("article_id", "exact_hash", "minhash"), "dedup signatures")
        sig_ids = signatures.column("article_id").to_pylist()
        sig_row = {aid: k for k, aid in enumerate(sig_ids)}
        sig_exact = signatures.column("exact_hash").to_pylist()
        sig_has = ~np.asarray(signatures.column("minhash").is_null().to_numpy(), dtype=bool)
        sig_mat = signatures_to_numpy(signatures.column("minhash"), self.config.num_perm)
        if "n_shingles" in signatures.column_names:
            sig_n = signatures.column("n_shingles").fill_null(0).to_numpy()
        else:
            sig_n = np.zeros(len(sig_ids), dtype=np.int32)
        if "numbers" in signatures.column_names:
            sig_numbers = [_frozen(v) for v in signatures.column("numbers").to_pylist()]
        else:
            sig_numbers = [None] * len(sig_ids)
        b, r = self._bands
        sig_keys = _band_keys(sig_mat, b, r)
        base_lo, base_hi = self._base_ranges(sig_keys)
        threshold = self.config.threshold

        out_ids = articles.column("article_id").to_pylist()
        result: list[_Entry] = []
        new_rows: list[int] = []
        for aid in out_ids:
            pos = self._pos.get(aid)
            if pos is not None:  # seen before: idempotent
                result.append(self.entries[pos])
                continue
            k = sig_row.get(aid)
            if k is None:
                raise SchemaError(f"no dedup signature for article {aid!r}")
            h = sig_exact[k]
            pos = len(self.ids)
            links: list[int] = []  # strong: exact and near duplicates
            weak: list[int] = []  # story-similar, but not near duplicates
            duplicate_of = near_of = None
            similarity = None
            first = self._first_exact.get(h) if h is not None else None
            if first is not None:
                duplicate_of = self.ids[first]
                # Boilerplate-only texts ("تعليقات ()") are identical across unrelated
                # articles: flag them, but only texts long enough to sign link stories.
                if sig_has[k]:
                    links.append(first)
            if sig_has[k]:
                cands = self._candidates(sig_keys[k], base_lo[k], base_hi[k])
                if cands:
                    cand = np.fromiter(cands, dtype=np.int64, count=len(cands))
                    sims = (self.sigs[cand] == sig_mat[k]).mean(axis=1)
                    keep = sims >= threshold
                    similar = story_similar(sims, self.n_shingles[cand], sig_n[k], self.config)
                    weak = [
                        p
                        for p in cand[~keep & similar].tolist()
                        if numbers_agree(self.numbers[p], sig_numbers[k])
                    ]
                    cand, sims = cand[keep], sims[keep]
                    if len(cand):
                        # Highest similarity, then the oldest article.
                        best = np.lexsort((cand, -sims))[0]
                        if duplicate_of is None:
                            near_of = self.ids[int(cand[best])]
                            similarity = float(sims[best])
                        links.extend(cand.tolist())
            story_id = aid
            if sig_has[k]:
                story_id = self._join_story(
                    aid, links, weak, (sig_mat[k], int(sig_n[k]), sig_numbers[k])
                )
            entry = _Entry(duplicate_of, near_of, story_id, similarity)
            sig = sig_mat[k] if sig_has[k] else None
            self._append(aid, h, sig, entry, int(sig_n[k]), sig_numbers[k])
            if sig_has[k]:
                self._insert_lsh(pos, sig_keys[k])
            if h is not None:
                self._first_exact.setdefault(h, pos)
            result.append(entry)
            new_rows.append(pos)
        return pa.Table.from_arrays(
            [
                pa.array(out_ids, pa.string()),
                pa.array([e.duplicate_of for e in result], pa.string()),
                pa.array([e.near_duplicate_of for e in result], pa.string()),
                pa.array([e.story_id for e in result], pa.string()),
            ],
            schema=ASSIGNMENTS,
        )

    def _join_story(self, aid: str, strong: list[int], weak: list[int], text: _Text) -> str:
        """Story of a new article from its strong and weak links (see tasks.dedup.stories)."""
        votes: dict[str, StoryVote] = {}
        for p in strong:
            votes.setdefault(
                self.canonical_story(self.entries[p].story_id), StoryVote()
            ).strong = True
        for p in weak:
            votes.setdefault(
                self.canonical_story(self.entries[p].story_id), StoryVote()
            ).weak = True
        for story, vote in votes.items():
            vote.similar, vote.jaccard = self._story_similar(self._pos.get(story), text)
        root, merged = plan_story(votes, self._related_stories, self._story_age)
        if root is None:
            return aid
        for story in merged:
            self.merges[story] = root
        return root

    def _story_similar(self, pos: int | None, text: _Text) -> tuple[bool, float]:
        """Whether the indexed article at ``pos`` and a text are story-similar, and Jaccard."""
        if pos is None or not self.has_sig[pos]:
            return False, 0.0
        sig, n, numbers = text
        jaccard = np.mean(self.sigs[pos] == sig)
        similar = bool(story_similar(jaccard, self.n_shingles[pos], n, self.config))
        return similar and numbers_agree(self.numbers[pos], numbers), float(jaccard)

    def _related_stories(self, story_a: str, story_b: str) -> bool:
        pos_b = self._pos.get(story_b)
        if pos_b is None or not self.has_sig[pos_b]:
            return False
        text = (self.sigs[pos_b], int(self.n_shingles[pos_b]), self.numbers[pos_b])
        return self._story_similar(self._pos.get(story_a), text)[0]

    def _append(
        self,
        aid: str,
        h: str | None,
        sig: np.ndarray | None,
        entry: _Entry,
        n_shingles: int = 0,
        numbers: frozenset[int] | None = None,
    ) -> None:
        self._pos[aid] = len(self.ids)
        self.ids.append(aid)
        self.numbers.append(numbers)
        self.exact_hashes.append(h)
        self.entries.append(entry)
        # Grow the signature matrix geometrically so a batch appends in amortized O(1).
        n = len(self.ids)
        if n > len(self.sigs):
            grown = np.zeros((max(2 * len(self.sigs), n, 256), self.config.num_perm), np.uint32)
            grown[: len(self.sigs)] = self.sigs
            self.sigs = grown
            has = np.zeros(len(grown), dtype=bool)
            has[: len(self.has_sig)] = self.has_sig
            self.has_sig = has
            counts = np.zeros(len(grown), dtype=np.int32)
            counts[: len(self.n_shingles)] = self.n_shingles
            self.n_shingles = counts
        self.n_shingles[n - 1] = n_shingles
        if sig is not None:
            self.sigs[n - 1] = sig
            self.has_sig[n - 1] = True

    def retain(self, keep: set[str]) -> int:
        """Forget every article not in ``keep``; recompute the links that pointed at one.

        Called at commit time with the articles the dataset holds once the batch is
        committed (issue 26): an edited input's old version, a removed record, or the
        rows of a killed run leave the index, so no link can point at them. What pointed
        at a forgotten article is recomputed over the articles that stay, in their
        order: ``duplicate_of`` and ``near_duplicate_of`` by the rules of ``assign``
        (over every earlier article, not only LSH candidates), and a story whose founder
        left is renamed after its oldest remaining article (which becomes its canonical
        article), so every ``story_id`` is an article of the dataset.

        Returns:
            How many articles were forgotten.
        """
        n = len(self.ids)
        stay = np.fromiter((aid in keep for aid in self.ids), dtype=bool, count=n)
        if stay.all():
            return 0
        idx = np.flatnonzero(stay)
        self.ids = [self.ids[i] for i in idx]
        self.exact_hashes = [self.exact_hashes[i] for i in idx]
        self.entries = [self.entries[i] for i in idx]
        self.numbers = [self.numbers[i] for i in idx]
        self.sigs = self.sigs[:n][idx]
        self.has_sig = self.has_sig[:n][idx]
        self.n_shingles = self.n_shingles[:n][idx]
        self._pos = {aid: k for k, aid in enumerate(self.ids)}
        self._first_exact = {}
        for k, h in enumerate(self.exact_hashes):
            if h is not None:
                self._first_exact.setdefault(h, k)
        for k, entry in enumerate(self.entries):
            if _gone(entry.duplicate_of, self._pos) or _gone(entry.near_duplicate_of, self._pos):
                self.entries[k] = self._links_before(k, entry.story_id)
        self._rename_orphan_stories()
        self._build_lsh()
        self._n_saved = 0  # the next save rewrites the whole index
        self.segments, self._stale_segments = [], self.segments + self._stale_segments
        return n - len(self.ids)

    def _links_before(self, pos: int, story_id: str) -> _Entry:
        """The exact and near-duplicate links of the article at ``pos``, over earlier ones."""
        h = self.exact_hashes[pos]
        first = self._first_exact.get(h) if h is not None else None
        if first is not None and first < pos:
            return _Entry(self.ids[first], None, story_id, None)
        if not self.has_sig[pos] or pos == 0:
            return _Entry(None, None, story_id, None)
        earlier = np.flatnonzero(self.has_sig[:pos])
        sims = (self.sigs[earlier] == self.sigs[pos]).mean(axis=1)
        keep = sims >= self.config.threshold
        if not keep.any():
            return _Entry(None, None, story_id, None)
        cand, sims = earlier[keep], sims[keep]
        best = np.lexsort((cand, -sims))[0]
        return _Entry(None, self.ids[int(cand[best])], story_id, float(sims[best]))

    def _rename_orphan_stories(self) -> None:
        """Give every story whose founder was forgotten a founder that is still here.

        A story keeps its oldest remaining article as its id; one left with no article
        of its own disappears, and stories merged into it follow the oldest of them.
        """
        resolved = {s: self.canonical_story(s) for s in list(self.merges)}
        own_first: dict[str, int] = {}
        for k, entry in enumerate(self.entries):
            own_first.setdefault(entry.story_id, k)
        stories = set(own_first) | set(resolved) | set(resolved.values())
        rename: dict[str, str | None] = {}
        for story in stories:
            if story in self._pos:
                continue
            first = own_first.get(story)
            rename[story] = self.ids[first] if first is not None else None
        if not rename:
            return

        def new(story: str) -> str | None:
            return rename.get(story, story)

        for k, entry in enumerate(self.entries):
            if entry.story_id in rename:
                self.entries[k] = _Entry(
                    entry.duplicate_of, entry.near_duplicate_of, new(entry.story_id),
                    entry.similarity,
                )
        groups: dict[str, list[str]] = {}
        for story, root in resolved.items():
            groups.setdefault(root, []).append(story)
        merges: dict[str, str] = {}
        for root, members in groups.items():
            names = [m for m in (new(s) for s in members) if m is not None]
            target = new(root)
            if target is None:  # the root had no article left: its oldest merged story leads
                if not names:
                    continue
                target = min(names, key=self._pos.__getitem__)
            for name in names:
                if name != target:
                    merges[name] = target
        self.merges = merges
        self._n_merges_saved = -1  # saved with the rewritten index

    def story_merges(self) -> pa.Table:
        """Stories merged into older ones: ``story_id`` -> canonical ``merged_into``."""
        keys = sorted(self.merges)
        return pa.table(
            {
                "story_id": pa.array(keys, pa.string()),
                "merged_into": pa.array([self.canonical_story(k) for k in keys], pa.string()),
            }
        )

    def save(self, tag: str | None = None) -> None:
        """Persist articles assigned since the last save, atomically.

        Writes one new Parquet segment (temp file + ``os.replace``) and then replaces
        ``manifest.json``, which lists the segments and story merges; a crash before the
        manifest is replaced leaves the previous index intact. Recommended order at
        commit time: ``assign`` -> ``save(batch_id)`` -> commit the batch's Parquet. If the
        run dies before the commit, the re-run re-assigns the same articles and gets the
        recorded answers (``assign`` is idempotent), so the dataset stays consistent.

        Args:
            tag: Goes into the segment file name (e.g. the batch id) for debugging.
        """
        n = len(self.ids)
        if n == self._n_saved and len(self.merges) == self._n_merges_saved:
            return
        os.makedirs(self.root, exist_ok=True)
        segments = list(self.segments)
        if n > self._n_saved:
            if len(segments) >= _MAX_SEGMENTS:
                segments, start = [], 0  # compact: rewrite everything into one segment
            else:
                start = self._n_saved
            safe_tag = re.sub(r"[^A-Za-z0-9_.-]+", "-", tag or "batch")[:40]
            name = f"seg-{uuid.uuid4().hex[:12]}-{safe_tag}.parquet"
            self._write_segment(name, start, n)
            segments.append(name)
        manifest = {
            "signature_version": SIGNATURE_VERSION,
            "num_perm": self.config.num_perm,
            "shingle_size": self.config.shingle_size,
            "scheme": MINHASH_SCHEME,
            "seed": MINHASH_SEED,
            "n_articles": n,
            "segments": segments,
            "merges": self.merges,
        }
        tmp = os.path.join(self.root, f".{_MANIFEST}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.root, _MANIFEST))
        old = (set(self.segments) | set(self._stale_segments)) - set(segments)
        self.segments, self._stale_segments = segments, []
        self._n_saved, self._n_merges_saved = n, len(self.merges)
        for name in old:  # only after the new manifest no longer lists them
            try:
                os.remove(os.path.join(self.root, name))
            except FileNotFoundError:
                pass

    def _write_segment(self, name: str, start: int, end: int) -> None:
        entries = self.entries[start:end]
        has = self.has_sig[start:end]
        rows = self.sigs[start:end][has]
        table = pa.Table.from_arrays(
            [
                pa.array(self.ids[start:end], pa.string()),
                pa.array(self.exact_hashes[start:end], pa.string()),
                _sig_array(rows, has, self.config.num_perm),
                pa.array([e.duplicate_of for e in entries], pa.string()),
                pa.array([e.near_duplicate_of for e in entries], pa.string()),
                pa.array([e.story_id for e in entries], pa.string()),
                pa.array([e.similarity for e in entries], pa.float32()),
                pa.array(self.n_shingles[start:end], pa.int32()),
                pa.array(
                    [sorted(v) if v is not None else None for v in self.numbers[start:end]],
                    pa.list_(pa.uint32()),
                ),
            ],
            schema=_INDEX_SCHEMA,
        )
        tmp = os.path.join(self.root, f".{name}.tmp")
        # Signatures are random 32-bit values: compressing them would only cost load time.
        codecs = {name: "zstd" for name in table.column_names} | {"minhash": "none"}
        pq.write_table(table, tmp, compression=codecs, use_dictionary=["story_id"])
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.root, name))


def _gone(article_id: str | None, positions: dict[str, int]) -> bool:
    return article_id is not None and article_id not in positions


def _upgrade(table: pa.Table) -> pa.Table:
    """A segment in the current ``_INDEX_SCHEMA`` (older ones lack the story columns)."""
    for name in ("n_shingles", "numbers"):
        if name not in table.column_names:
            typ = _INDEX_SCHEMA.field(name).type
            table = table.append_column(name, pa.nulls(table.num_rows, typ))
    return table.select(_INDEX_SCHEMA.names).cast(_INDEX_SCHEMA)
