"""Dialect by hand-written markers (``--dialect rules``, the system before issue 24).

It counts lexical markers written for this project
(``tasks/resources/dialect/markers.txt``: function words, negation and future particles,
demonstratives, frequent dialect verbs) plus two shape cues (Egyptian ه+imperfect future,
the ما...ش negation circumfix). A text is dialectal only when its best variety's marker
weight reaches a floor that grows with the text's length, so formal news prose with one
quoted colloquial phrase stays MSA.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

DIALECTS = ("MSA", "EGY", "LEV", "GLF", "MGR", "IRQ")
_MARKERS = Path(__file__).parent.parent / "resources" / "dialect" / "markers.txt"

# A text needs this much marker weight, and this much per token, to leave MSA.
_MIN_WEIGHT = 2
_MIN_DENSITY = 0.03

_NORM = {c: None for c in range(0x064B, 0x0653)}
_NORM.update({0x0670: None, 0x0640: None, ord("أ"): "ا", ord("إ"): "ا", ord("آ"): "ا",
              ord("ى"): "ي", ord("ة"): "ه"})
_NORM_TABLE = str.maketrans(_NORM)
# Anything that is not an Arabic letter separates words.
_SEP_TABLE = str.maketrans({c: " " for c in map(chr, range(0x20, 0x0621))})

# Egyptian future ه + imperfect (هيروح, هنعمل); these MSA words share the shape.
_HA_PREFIXES = ("هي", "هت", "هن")
_HA_MSA = frozenset({"هيئه", "هيكل", "هيمنه", "هيبه", "هيا", "هيجان", "هتاف", "هتلر", "هنا",
                     "هناك", "هنالك", "هند", "هندسه", "هندي", "هنديه", "هنود", "هنيه", "هيات",
                     "هيئات", "هيثم", "هيفاء", "هيلين", "هيلاري", "هيوستن", "هيومن",
                     "هتافات", "هندسيه", "هنغاريا", "هنيئا", "هيروين", "هيدروجين", "هيليكوبتر"})
# ما...ش negation (ماعرفتش, مابغيتش) against MSA words ending in ش.
_MA_SH_MSA = frozenset({"ماريش", "مدهش", "منعش", "مفتش", "معاش", "مشوش", "مرعش", "منقوش",
                        "مخدوش", "مغشوش", "مرتعش", "ماكنتوش"})
@functools.lru_cache(maxsize=1)
def load_markers() -> dict[str, tuple[tuple[str, ...], int]]:
    """Marker word (normalized) -> (dialects, weight), read once per process."""
    out: dict[str, tuple[tuple[str, ...], int]] = {}
    for line in _MARKERS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        word, dialects, weight = line.split("\t")
        out[word.translate(_NORM_TABLE)] = (tuple(dialects.split(",")), int(weight))
    return out


def _words(text: str) -> list[str]:
    return text.translate(_SEP_TABLE).translate(_NORM_TABLE).split()


def score_dialects(text: str) -> tuple[Counter[str], int]:
    """Marker weight per dialect and the number of Arabic words in ``text``."""
    markers = load_markers()
    scores: Counter[str] = Counter()
    words = _words(text)
    for w in words:
        hit = markers.get(w)
        if hit is None and len(w) > 2 and w[0] in "وف":
            hit = markers.get(w[1:])  # وهيك, فشو
        if hit is not None:
            for d in hit[0]:
                scores[d] += hit[1]
            continue
        if len(w) >= 5 and w.startswith(_HA_PREFIXES) and w not in _HA_MSA:
            scores["EGY"] += 1
        elif len(w) >= 5 and w[0] == "م" and w[-1] == "ش" and w not in _MA_SH_MSA:
            scores["EGY"] += 1
            scores["MGR"] += 1
        if "چ" in w or "گ" in w:
            scores["IRQ"] += 1
            scores["GLF"] += 1
    return scores, len(words)


def identify_dialect_rules(text: str) -> str:
    """One label for ``text`` from lexical markers; MSA unless the evidence is enough."""
    scores, n = score_dialects(text)
    if not scores:
        return "MSA"
    # Ties go to the variety listed first in DIALECTS (most common in news).
    best = max(DIALECTS[1:], key=lambda d: (scores[d], -DIALECTS.index(d)))
    need = max(_MIN_WEIGHT, _MIN_DENSITY * n)
    return best if scores[best] >= need else "MSA"
