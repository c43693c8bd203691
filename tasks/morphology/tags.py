"""POS tags and Buckwalter helpers shared by the DB build, the ranker and the taggers.

``_BW_TO_POS`` maps BAMA head tags to camel-tools POS names; :data:`UPOS_MAP` maps
camel-tools POS names to the 17 Universal Dependencies tags (documented there);
``_ar`` transliterates Buckwalter to Arabic script.
"""

from __future__ import annotations

import functools
import re

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
_NORM_TABLE = str.maketrans({"إ": "ا", "أ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ـ": None})
# Tags of proclitics that D3 splits off (و+ ف+ ب+ ل+ ك+ س+ أ+); ال+ stays attached.
_SPLIT_PROCLITICS = frozenset(
    {"CONJ", "PREP", "FUT", "SUBJUNC", "EMPHATIC_PARTICLE", "RESULT_CLAUSE_PARTICLE",
     "INTERROG_PART", "NEG_PART"}
)
_PRONOUN_SUFFIX_RE = re.compile(r"^(POSS_PRON|PVSUFF_DO|IVSUFF_DO|CVSUFF_DO|PRON)")
_SUFFIX_TAG_RE = re.compile(r"^(NSUFF|CASE|PVSUFF|IVSUFF|CVSUFF|POSS_PRON)")


@functools.cache
def _bw2ar():
    from camel_tools.utils.charmap import CharMapper

    return CharMapper.builtin_mapper("bw2ar")


def _ar(bw: str) -> str:
    return _bw2ar().map_string(bw)
