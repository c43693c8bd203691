"""Exact and near-duplicate detection across runs, and story clusters (issue 9).

Arabic news is heavily syndicated: one agency dispatch appears on many sites with a new
title, a dateline or a trailing "اقرأ أيضا" list. The work is split in two:

1. ``signatures``: ``compute_signatures`` runs in the batch workers (parallel) and gives
   each article a normalized-text hash and a MinHash signature.
2. ``index``: ``DedupIndex.assign`` runs at commit time in the flow process (serial),
   looks each article up in a persistent index under ``OUT/_index/dedup/`` and fills
   ``duplicate_of``, ``near_duplicate_of`` and ``story_id``.
3. ``stories``: the story rules (a looser, containment-based similarity checked against
   each story's canonical article, issue 15) and the published ``stories`` table.

``assign`` applies the index to a batch at commit time; ``summary`` counts duplicates
and ranks story clusters for the run summary.
"""

from tasks.dedup.assign import assign_duplicates
from tasks.dedup.index import ASSIGNMENTS, INDEX_DIR, DedupIndex
from tasks.dedup.signatures import (
    MIN_SHINGLES,
    MINHASH_SCHEME,
    MINHASH_SEED,
    SIGNATURE_VERSION,
    SIGNATURES,
    compute_signatures,
    dedup_words,
    estimated_jaccard,
    lsh_params,
    normalize_for_dedup,
    shingle_hashes,
    signatures_for_articles,
    signatures_to_numpy,
)
from tasks.dedup.stories import build_stories, containment, plan_story
from tasks.dedup.summary import DedupSummary, summarize_duplicates, summarize_stories

__all__ = [
    "ASSIGNMENTS",
    "INDEX_DIR",
    "MIN_SHINGLES",
    "MINHASH_SCHEME",
    "MINHASH_SEED",
    "SIGNATURES",
    "SIGNATURE_VERSION",
    "DedupIndex",
    "DedupSummary",
    "assign_duplicates",
    "build_stories",
    "compute_signatures",
    "containment",
    "dedup_words",
    "estimated_jaccard",
    "lsh_params",
    "normalize_for_dedup",
    "plan_story",
    "shingle_hashes",
    "signatures_for_articles",
    "signatures_to_numpy",
    "summarize_duplicates",
    "summarize_stories",
]
