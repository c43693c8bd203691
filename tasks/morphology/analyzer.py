"""Open an analyzer once per process: the BAMA DB, camel-tools' official data, or a DB file.

:func:`load_morphology` is the cached loader. The analyzer is camel-tools' own
``Analyzer`` with a faster subclass (:func:`_fast_analyzer_class`) that gives the same
analyses. When camel-tools' official data is installed (``camel_data -i light``),
``auto`` uses calima-msa-r13 and the MLE disambiguator instead of BAMA.
"""

from __future__ import annotations

import functools
import gc
from pathlib import Path
from typing import Any

from tasks.camel_env import cache_dir, ensure_camel_data, official_data_available
from tasks.errors import EnvironmentError_
from tasks.morphology.bama import build_bama_db
from tasks.morphology.ranker import TYPES_IN_MEMORY, Morphology
from tasks.morphology.type_cache import TypeCache, cache_key


def _official_paths(dataset: str = "calima-msa-r13") -> tuple[Path, Path | None]:
    from tasks.camel_env import _dataset_dir

    db_dir = _dataset_dir("MorphologyDB", dataset)
    mle_dir = _dataset_dir("DisambigMLE", None)
    assert db_dir is not None
    mle = mle_dir / "model.json" if mle_dir is not None else None
    return db_dir / "morphology.db", mle if mle is not None and mle.is_file() else None


class _CharsetSearch:
    """``re.Pattern.search`` stand-in for a one-character class: a set test, same answer."""

    def __init__(self, chars: str) -> None:
        self._chars = frozenset(chars)

    def search(self, word: str) -> bool | None:
        return None if self._chars.isdisjoint(word) else True


# merge_features (camel_tools.morphology.utils) with its per-call work done once per DB.
@functools.cache
def _merge_plan(db_id: int, defines: frozenset, compute: frozenset) -> tuple:
    from camel_tools.morphology import utils as cu

    def present(feats):
        return tuple(f for f in sorted(feats) if f in defines)

    return (
        present(cu._JOIN_FEATS),
        present(cu._CONCAT_FEATS),
        present(cu._CONCAT_FEATS_NONE),
        present(cu._TOK_SCHEMES_1),
        present(cu._TOK_SCHEMES_2),
        "caphi" in defines,
        "form_gen" in defines,
        "form_num" in defines,
        "pattern" in compute,
        present(cu._LOGPROB_FEATS),
    )


@functools.cache
def _camel_utils() -> Any:
    from camel_tools.morphology import utils

    return utils


def _rewrite_diac(word: str) -> str:
    """camel-tools' ``rewrite_diac``, skipping the substitutions that cannot apply."""
    cu = _camel_utils()
    if "#" in word:
        word = cu._REWRITE_DIAC_RE_1.sub("\\1\u0651", word)
        word = cu._REWRITE_DIAC_RE_2.sub("", word)
    if "\u064e" in word and "\u0627" in word:
        word = cu._REWRITE_DIAC_RE_3.sub("\u0627\\1", word)
    if "\u0671" in word:
        word = word.replace("\u0671", "\u0627")
    if "+" in word:
        word = word.replace("+", "")
    if "\u0651\u0651" in word:
        word = cu._REWRITE_DIAC_RE_6.sub("\u0651", word)
    return word


def _merge_features(db, prefix_feats, stem_feats, suffix_feats, diac_mode="AF"):
    """Drop-in for camel-tools' ``merge_features``: same result, faster."""
    cu = _camel_utils()
    (join, concat, concat_none, tok1, tok2, caphi, form_gen, form_num, pattern,
     logprob) = _merge_plan(id(db), frozenset(db.defines), frozenset(db.compute_feats))
    result = dict(stem_feats)
    pget, sget = prefix_feats.get, suffix_feats.get
    for feat in stem_feats:
        value = sget(feat, "")
        if value != "-" and value != "":
            result[feat] = value
        value = pget(feat, "")
        if value != "-" and value != "":
            result[feat] = value
    stget = stem_feats.get
    for feat in join:
        vals = (pget(feat, None), stget(feat, None), sget(feat, None))
        result[feat] = "+".join([v for v in vals if v is not None and v != ""])
    for feat in concat:
        vals = (pget(feat, ""), stget(feat, ""), sget(feat, ""))
        result[feat] = "+".join([v for v in vals if len(v) > 0])
    for feat in concat_none:
        result[feat] = f"{pget(feat, '')}{stget(feat, stget('diac', ''))}{sget(feat, '')}"
    result["stem"] = stem_feats["diac"]
    result["stemgloss"] = stget("gloss", "")
    result["diac"] = cu.normalize_tanwyn(_rewrite_diac(result["diac"]), diac_mode)
    for feat in tok1:
        result[feat] = cu.rewrite_tok_1(result.get(feat, ""))
    for feat in tok2:
        value = result.get(feat, "")
        if "\u064e" in value and "\u0627" in value:
            value = cu._REWRITE_DIAC_RE_3.sub("\u0627\\1", value)
        result[feat] = value
    if caphi:
        result["caphi"] = cu.rewrite_caphi(result.get("caphi", ""))
    if form_gen and result["gen"] == "-":
        result["gen"] = result["form_gen"]
    if form_num and result["num"] == "-":
        result["num"] = result["form_num"]
    if pattern:
        result["pattern"] = cu.rewrite_pattern(
            f"{pget('diac', '')}{stget('pattern', stget('diac', ''))}{sget('diac', '')}"
        )
    for feat in logprob:
        result[feat] = float(result.get(feat, -99.0))
    return result


@functools.cache
def _fast_analyzer_class() -> type:
    """camel-tools' ``Analyzer`` with its hot spots replaced by equivalent, faster code.

    Profiled on 80k news word types, three places took most of the time:
    ``_has_punc`` searches each word with a regex class of 8,560 characters (15 us a
    word; a set test gives the same answer in well under 1 us); ``_combined_analyses``
    re-checks four compatibility tables for every prefix x stem x suffix triple (here the
    suffix categories allowed for a prefix+stem pair are intersected once and cached);
    ``merge_features`` re-checks the DB's feature definitions and runs regex
    substitutions whose characters are absent. The analyses are the same dicts;
    ``tests/tasks/test_morphology.py`` compares them with stock camel-tools.
    """
    from collections import deque

    from camel_tools.morphology import analyzer as ca
    from camel_tools.utils.dediac import dediac_ar

    # _has_punc reads this module global; the replacement answers the same for every word.
    if not isinstance(ca._HAS_PUNC_RE, _CharsetSearch):
        ca._HAS_PUNC_RE = _CharsetSearch(ca._ALL_PUNC)

    class FastAnalyzer(ca.Analyzer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._suffix_cats: dict[tuple[str, str], frozenset] = {}

        def _allowed_suffixes(self, prefix_cat: str, stem_cat: str) -> frozenset:
            key = (prefix_cat, stem_cat)
            hit = self._suffix_cats.get(key)
            if hit is None:
                db = self._db
                if stem_cat in db.stem_suffix_compat and prefix_cat in db.prefix_suffix_compat:
                    hit = frozenset(db.stem_suffix_compat[stem_cat]) & frozenset(
                        db.prefix_suffix_compat[prefix_cat]
                    )
                else:
                    hit = frozenset()
                self._suffix_cats[key] = hit
            return hit

        def _combined_analyses(self, word_dediac, prefix_analyses, stem_analyses,
                               suffix_analyses):
            combined: deque = deque()
            db = self._db
            prefix_stem = db.prefix_stem_compat
            word = word_dediac.replace("\u0640", "")
            for prefix_cat, prefix_feats in prefix_analyses:
                stems_ok = prefix_stem[prefix_cat]
                for stem_cat, stem_feats in stem_analyses:
                    if stem_cat not in stems_ok:
                        continue
                    allowed = self._allowed_suffixes(prefix_cat, stem_cat)
                    if not allowed:
                        continue
                    for suffix_cat, suffix_feats in suffix_analyses:
                        if suffix_cat not in allowed:
                            continue
                        merged = _merge_features(db, prefix_feats, stem_feats, suffix_feats)
                        merged["stem"] = stem_feats["diac"]
                        merged["stemcat"] = stem_cat
                        if word != dediac_ar(merged["diac"]):
                            merged["source"] = "spvar"
                        combined.append(merged)
            return combined

    return FastAnalyzer


def _open_analyzer(db_path: Path, cache_size: int) -> Any:
    ensure_camel_data()
    from camel_tools.morphology.database import MorphologyDB
    from camel_tools.morphology.errors import DatabaseParseError

    try:
        db = MorphologyDB(str(db_path), "a")
    except (OSError, DatabaseParseError, KeyError, ValueError) as exc:
        raise EnvironmentError_(f"cannot read morphology DB {db_path}: {exc}") from exc
    # The DB is about a million dicts and strings that live as long as the process; out of
    # the collector's generations, full collections stop re-scanning them (annotate spent
    # a fifth of its time in the collector before).
    gc.freeze()
    return _fast_analyzer_class()(db, backoff="NOAN_PROP", cache_size=cache_size)


@functools.lru_cache(maxsize=8)
def load_morphology(choice: str, cache_size: int = TYPES_IN_MEMORY) -> Morphology | None:
    """Build the analyzer for ``choice`` once per process.

    Args:
        choice: ``auto`` (official calima-msa-r13 + MLE when installed, else BAMA),
            ``bama``, ``calima-msa-r13``, a path to a camel-tools ``.db`` file, or
            ``none`` (returns None).
        cache_size: Word types whose analyses are cached.

    Raises:
        EnvironmentError_: the chosen data is not installed or unreadable.
    """
    if choice == "none":
        return None
    ensure_camel_data()
    if choice == "auto":
        choice = "calima-msa-r13" if official_data_available("MorphologyDB") else "bama"
    # Morphology caches readings per word type, so the Analyzer's own cache (a second copy
    # of every analysis) is only kept for the MLE disambiguator, which re-analyzes words.
    if choice == "bama":
        db_path = build_bama_db()
        return Morphology(
            _open_analyzer(db_path, 0), "bama", None, cache_size, _type_cache(db_path)
        )
    if choice == "calima-msa-r13":
        if not official_data_available("MorphologyDB", "calima-msa-r13"):
            from tasks.camel_env import missing_official_data

            raise EnvironmentError_(missing_official_data("--morphology calima-msa-r13"))
        db_path, mle_path = _official_paths()
        analyzer = _open_analyzer(db_path, cache_size)
        mle = None
        if mle_path is not None:
            from camel_tools.disambig.mle import MLEDisambiguator

            mle = MLEDisambiguator(analyzer, str(mle_path))
        return Morphology(
            analyzer, "calima-msa-r13", mle, cache_size, _type_cache(db_path, str(mle_path))
        )
    path = Path(choice).expanduser()
    if not path.is_file():
        raise EnvironmentError_(f"morphology DB file {choice!r} does not exist")
    return Morphology(_open_analyzer(path, 0), str(path), None, cache_size, _type_cache(path))


def _type_cache(db_path: Path, extra: str = "") -> TypeCache:
    """The persistent word-type analysis cache of ``db_path``, next to the BAMA DB."""
    return TypeCache(cache_dir(), cache_key(db_path, extra))
