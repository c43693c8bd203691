"""Typed settings: one pydantic model per stage, combined into the flow's parameters.

Prefect validates ``PipelineParams`` and draws the deployment's run form from it,
so every field has a description. Bad values fail fast with a message naming them.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Stage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FetchConfig(_Stage):
    """How inputs are discovered and read."""

    max_file_bytes: int = Field(
        50_000_000, gt=0, description="Largest input (or archive member) read, in bytes"
    )
    max_archive_bytes: int = Field(
        2_000_000_000, gt=0, description="Largest total uncompressed size of one archive"
    )
    max_archive_ratio: float = Field(
        200.0, gt=1, description="Largest uncompressed/compressed ratio of an archive member"
    )
    retries: int = Field(3, ge=0, le=10, description="Retries of a transient read failure")
    retry_backoff_s: float = Field(
        0.5, ge=0, description="First retry delay in seconds (doubles, with jitter)"
    )
    timeout_s: float = Field(30.0, gt=0, description="Network timeout per request in seconds")


class CleanConfig(_Stage):
    """How text is cleaned and which articles are kept."""

    min_arabic_ratio: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Least share of letters that must be Arabic for an article to be kept",
    )
    # 10, not more: short genuine items (a one-line flash, من يكونون؟) are news too; what
    # falls under it is a leftover such as a lone dateline (الرياض) or a word (عاجل).
    min_chars: int = Field(
        10, ge=1, description="Fewest characters of body text for an article to be kept"
    )


class AnnotateConfig(_Stage):
    """Which annotators run and with what resources."""

    morphology: str = Field(
        "auto",
        description="auto, bama, calima-msa-r13, none, or a path to a camel-tools .db file",
    )
    ner: str = Field(
        "auto",
        description="Named-entity recognizer: auto (the shipped model when present), model, "
        "rules, camelbert, none, or a directory holding a model from `akhbar train ner`",
    )
    dialect: Literal["auto", "rules", "camel-did", "none"] = Field(
        "auto", description="Dialect identifier: auto, rules, camel-did or none"
    )
    cache_size: int = Field(
        500_000, ge=0, description="Word types whose analysis is cached per process"
    )
    analysis_cache: bool = Field(
        True,
        description="Keep each word type's analysis in a persistent cache across runs "
        "(in the user cache directory, keyed by the morphology DB and code versions), and "
        "the learned models' per-type rows beside it (keyed by model sha256 and feature code)",
    )

    @field_validator("morphology")
    @classmethod
    def _known_morphology(cls, v: str) -> str:
        if v in {"auto", "bama", "calima-msa-r13", "none"}:
            return v
        if v.endswith(".db") or os.sep in v:
            if not os.path.isfile(v):
                raise ValueError(f"morphology DB file {v!r} does not exist")
            return v
        raise ValueError(
            f"unknown morphology {v!r}: use auto, bama, calima-msa-r13, none or a path to a .db"
        )


    @field_validator("ner")
    @classmethod
    def _known_ner(cls, v: str) -> str:
        if v == "model":
            from tasks.model_dirs import SHIPPED_DIR, check_model_dir

            check_model_dir(SHIPPED_DIR)
            return v
        if v in {"auto", "rules", "camelbert", "none"}:
            return v
        if os.sep in v or os.path.isdir(v):
            from tasks.model_dirs import check_model_dir

            check_model_dir(v)  # ConfigError (a ValueError) naming the directory
            return v
        raise ValueError(
            f"unknown NER method {v!r}: use auto, model, rules, camelbert, none "
            "or a trained model directory"
        )


class DedupConfig(_Stage):
    """Exact and near-duplicate detection."""

    enabled: bool = Field(True, description="Flag exact and near duplicates")
    threshold: float = Field(
        0.8, gt=0, lt=1, description="Jaccard similarity (MinHash estimate) of near duplicates"
    )
    story_threshold: float = Field(
        0.5,
        gt=0,
        lt=1,
        description=(
            "Story clusters: Jaccard similarity (MinHash estimate) an article needs with a "
            "story's canonical article to join the story (looser than threshold)"
        ),
    )
    story_containment: float = Field(
        0.7,
        gt=0,
        le=1,
        description=(
            "Story clusters: or this share of the shorter text's shingles inside the other "
            "(a truncated or expanded repost), with a Jaccard of at least 0.3"
        ),
    )
    num_perm: int = Field(128, ge=16, le=512, description="MinHash permutations")
    shingle_size: int = Field(5, ge=1, le=10, description="Words per shingle")
    drop_duplicates: bool = Field(
        False, description="Leave duplicates out of sentences/tokens/entities (kept in articles)"
    )


class WriteConfig(_Stage):
    """How Parquet is written."""

    compression: Literal["zstd", "snappy", "gzip", "none"] = Field(
        "zstd", description="Parquet compression codec"
    )
    compression_level: int | None = Field(3, description="Codec level (zstd: 1-22)")
    keep_runs: int = Field(
        5,
        ge=1,
        description="Dataset versions kept for --as-of reads: the last version of this many runs",
    )
    keep_days: float = Field(
        0.0, ge=0, description="Also keep every dataset version younger than this many days"
    )


class PipelineParams(BaseModel):
    """Parameters of one pipeline run (the Prefect flow's run form)."""

    model_config = ConfigDict(extra="forbid")

    inputs: list[str] = Field(
        ...,
        min_length=1,
        description="Files, directories (recursive), globs, archives or fsspec/http URLs",
    )
    out: str = Field("data/out", description="Output dataset directory (local path or fsspec URL)")
    batch_size: int = Field(200, gt=0, description="Input files per batch (one task chain each)")
    chunk_size: int = Field(
        250, gt=0, description="Records per annotation chunk (a big JSON dump is split in chunks)"
    )
    workers: int = Field(
        0, ge=0, description="Worker processes for batches; 0 = one per core, 1 = in-process"
    )
    dask_address: str | None = Field(
        None, description="Run batch tasks on this Dask scheduler (tcp://host:8786)"
    )
    full_refresh: bool = Field(False, description="Reprocess inputs even when unchanged")
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    clean: CleanConfig = Field(default_factory=CleanConfig)
    annotate: AnnotateConfig = Field(default_factory=AnnotateConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    write: WriteConfig = Field(default_factory=WriteConfig)

    @field_validator("dask_address")
    @classmethod
    def _dask_scheme(cls, v: str | None) -> str | None:
        if v is not None and "://" not in v:
            raise ValueError(f"dask_address {v!r} must look like tcp://host:port")
        return v
