"""Gazetteers and the name normalization the rules look words up with.

The lists are facts written for this project (``tasks/resources/gazetteers/``:
places, organisations, known people, given names, other names, and trigger lists),
loaded once per process by :func:`load_gazetteers`.

Normalization for lookups: diacritics and tatweel dropped, أ/إ/آ/ٱ -> ا, ى -> ي, ة -> ه.
Stop words are matched with ى kept, so على 'on' never blocks or becomes the name علي.

Clitics: tokens come from ``simple_word_tokenize``, so proclitics are still attached
(وبالرباط). Lookups (:func:`_forms`) try the token with و/ف then ب/ل/ك stripped, and a
span's ``skip_chars`` counts the stripped letters so ``char_start`` points at the name.
The name keeps its article: بالرباط -> skip 1 (الرباط). With لل (ل + assimilated
article, للأمم) only the preposition is skipped, so the span text starts with the
article's lam (لأمم). Enclitics are not split (``trim_chars`` stays 0).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from tasks.entities.spans import LABELS

_GAZ_DIR = Path(__file__).parents[1] / "resources" / "gazetteers"

# Diacritics (fathatan..sukun, superscript alef) and tatweel vanish; hamzated alefs unify.
_LIGHT = {c: None for c in range(0x064B, 0x0653)}
_LIGHT.update({0x0670: None, 0x0640: None, ord("أ"): "ا", ord("إ"): "ا", ord("آ"): "ا",
               ord("ٱ"): "ا"})
_LIGHT_TABLE = str.maketrans(_LIGHT)
# Full normalization also folds ى->ي and ة->ه (يحيى/يحيي, أسامة/اسامه spelled both ways).
_FULL_TABLE = str.maketrans({**_LIGHT, ord("ى"): "ي", ord("ة"): "ه", ord("گ"): "ك",
                             ord("چ"): "ج", ord("ڤ"): "ف", ord("پ"): "ب"})


def normalize_name(text: str) -> str:
    """Dediac and fold spelling variants the way gazetteer keys are stored (إسرائيل -> اسراييل)."""
    return text.translate(_FULL_TABLE)


@dataclass(frozen=True, slots=True)
class _Gazetteers:
    phrases: dict[tuple[str, ...], tuple[str, bool]]  # key -> (label, ambiguous)
    clubs: frozenset[tuple[str, ...]]  # keys that name a club (ORG) in a sports sentence
    sports: frozenset[str]
    longest: dict[str, int]  # first key token -> longest phrase starting with it
    first_names: dict[str, bool]  # name -> ambiguous
    titles: dict[tuple[str, ...], bool]
    title_longest: dict[str, int]
    org_heads: dict[str, str]  # head -> 'inst' | 'firm'
    loc_cues: frozenset[str]
    speech: frozenset[str]
    misc_cues: frozenset[str]
    demonyms: frozenset[str]
    stop: frozenset[str]  # light-normalized


def _read_list(name: str) -> list[tuple[str, bool]]:
    """Lines of a gazetteer file as (text, ambiguous); '#' comments, ' *' marks ambiguity."""
    out = []
    for line in (_GAZ_DIR / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        amb = line.endswith(" *")
        out.append((line[:-2].strip() if amb else line, amb))
    return out


@functools.lru_cache(maxsize=1)
def load_gazetteers() -> _Gazetteers:
    """Read the gazetteer files once per process."""
    phrases: dict[tuple[str, ...], tuple[str, bool]] = {}
    clubs: set[tuple[str, ...]] = set()
    # Earlier files win a clash between unambiguous entries (الجزيرة: ORG before LOC).
    for fname, label in (("per_known.txt", "PER"), ("org.txt", "ORG"), ("loc.txt", "LOC"),
                         ("misc.txt", "MISC")):
        for text, amb in _read_list(fname):
            key = tuple(normalize_name(text).split())
            old = phrases.get(key)
            if label == "ORG" and amb:
                clubs.add(key)
            if old is None or (old[1] and not amb):
                phrases[key] = (label, amb)
    longest: dict[str, int] = {}
    for key in phrases:
        longest[key[0]] = max(longest.get(key[0], 0), len(key))
    first_names: dict[str, bool] = {}
    for text, amb in _read_list("per_first.txt"):
        key = normalize_name(text)
        first_names[key] = first_names.get(key, True) and amb
    titles = {tuple(normalize_name(t).split()): True for t, _ in _read_list("per_titles.txt")}
    title_longest: dict[str, int] = {}
    for key in titles:
        title_longest[key[0]] = max(title_longest.get(key[0], 0), len(key))
    heads = {}
    for text, _ in _read_list("org_heads.txt"):
        word, _, kind = text.partition("\t")
        heads[normalize_name(word.strip())] = kind.strip() or "inst"
    cues = frozenset(normalize_name(t) for t, _ in _read_list("loc_cues.txt"))
    stop = frozenset(t.translate(_LIGHT_TABLE) for t, _ in _read_list("stop.txt"))
    speech = frozenset(normalize_name(t) for t, _ in _read_list("per_speech.txt"))
    misc_cues = frozenset(normalize_name(t) for t, _ in _read_list("misc_cues.txt"))
    demonyms = set()
    for text, _ in _read_list("demonyms.txt"):
        masc = normalize_name(text)
        for form in (masc, masc + "ه"):
            demonyms.add(form)
            demonyms.add(form[2:] if form.startswith("ال") else form)
    sports = frozenset(normalize_name(t) for t, _ in _read_list("sports_cues.txt"))
    return _Gazetteers(phrases, frozenset(clubs), sports, longest, first_names, titles,
                       title_longest, heads, cues, speech, misc_cues,
                       frozenset(demonyms), stop)


def gazetteer_sizes() -> dict[str, int]:
    """Entry counts per gazetteer kind (for reports)."""
    g = load_gazetteers()
    sizes = {lab: 0 for lab in LABELS}
    for label, _ in g.phrases.values():
        sizes[label] += 1
    sizes.update(first_names=len(g.first_names), titles=len(g.titles),
                 org_heads=len(g.org_heads), loc_cues=len(g.loc_cues), stop=len(g.stop))
    return sizes


# Per-type caches hold a few chunks' vocabulary (~20k types a chunk): at 200k they grew
# each worker with the input for the first 200k types of a run (issue 14).
_TYPES_CACHED = 60_000


@functools.lru_cache(maxsize=_TYPES_CACHED)
def _forms(token: str) -> tuple[tuple[str, int], ...]:
    """(normalized form, letters skipped) for the token and its proclitic-stripped readings.

    وبالرباط -> (وبالرباط,0), (بالرباط,1), (الرباط,2); للأمم -> ..., (الامم,0) with the
    article's alef restored, since لل is ل + ال. That reading skips no letter of the
    لل: the surface has no alef, so ل + ال stays whole (للبنك, never لبنك; issue 26)
    and ``tasks.entities.spans.entity_name`` gives the name البنك.
    """
    n = token.translate(_FULL_TABLE)
    out = [(n, 0)]
    bases = [(n, 0)]
    if len(n) > 3 and n[0] in "وف":
        bases.append((n[1:], 1))
        out.append((n[1:], 1))
    for b, s in bases:
        if len(b) > 3 and b[0] in "بلك":
            out.append((b[1:], s + 1))
            if b[0] == "ل" and b[1] == "ل":
                out.append(("ا" + b[1:], s))
    return tuple(out)


@functools.lru_cache(maxsize=_TYPES_CACHED)
def _flags(token: str) -> int:
    """Bit set of what the token is, cached per surface form (the rules ask many times)."""
    g = load_gazetteers()
    forms = _forms(token)
    f = 0
    if not _is_word(token) or token.translate(_LIGHT_TABLE) in g.stop:
        f |= _STOP
    if any(x in g.speech for x, _ in forms):
        f |= _SPEECH
    if any(x in g.misc_cues for x, _ in forms):
        f |= _MISC_CUE
    if any(x in g.loc_cues for x, _ in forms):
        f |= _LOC_CUE
    if f & (_SPEECH | _MISC_CUE | _LOC_CUE) or any(
            x in g.longest or x in g.title_longest or x in g.org_heads or x in g.first_names
            or x in ("عبد", "ابو") for x, _ in forms):
        f |= _TRIGGER
    return f


# _TRIGGER: some rule may start at this token whatever the morphology says
_STOP, _SPEECH, _MISC_CUE, _LOC_CUE, _TRIGGER = 1, 2, 4, 8, 16


def _light(token: str) -> str:
    return token.translate(_LIGHT_TABLE)


def _surface_skip(token: str, letters: int) -> int:
    """Characters of ``token`` covering its first ``letters`` base letters plus their marks."""
    if letters == 0:
        return 0
    seen = 0
    for i, ch in enumerate(token):
        if 0x064B <= ord(ch) <= 0x0652 or ord(ch) in (0x0670, 0x0640):
            continue
        if seen == letters:
            return i
        seen += 1
    return len(token)


def _is_word(token: str) -> bool:
    """True for a token made of Arabic letters (no digits, punctuation or Latin)."""
    return all(("\u0621" <= ch <= "\u064a" and ch != "\u0640") or "\u064b" <= ch <= "\u0670"
               for ch in token)


@functools.lru_cache(maxsize=1)
def named_after_heads() -> dict[str, str]:
    """Normalized head -> label of a place or body named after a titled person
    (``gazetteers/named_after.txt``: جامعة -> ORG, طريق -> LOC)."""
    heads = {}
    for text, _amb in _read_list("named_after.txt"):
        word, _, label = text.partition("\t")
        heads[normalize_name(word.strip())] = label.strip() or "ORG"
    return heads


@functools.lru_cache(maxsize=1)
def _non_names() -> frozenset[str]:
    """Normalized words that name nothing alone (``gazetteers/non_entities.txt``)."""
    path = Path(__file__).parents[1] / "resources" / "gazetteers" / "non_entities.txt"
    words = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.add(normalize_name(line))
    return frozenset(words)


def names_nothing(text: str) -> bool:
    """Every word of an entity's text is a currency, a word of a religious formula or a
    bare title (دولار, رحمه الله, ولي): ANERcorp tags some of these MISC, but they are
    not among the names of a day's news."""
    stop = _non_names()
    words = text.split()
    return bool(words) and all(any(form in stop for form, _ in _forms(t)) for t in words)

