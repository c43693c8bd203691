"""Article-level dialect identification: MSA, EGY, LEV, GLF, MGR or IRQ.

``rules`` (offline default) counts lexical markers written for this project
(``tasks/resources/dialect/markers.txt``: function words, negation and future particles,
demonstratives, frequent dialect verbs) plus two shape cues (Egyptian ه+imperfect future,
the ما...ش negation circumfix). A text is dialectal only when its best variety's marker
weight reaches a floor that grows with the text's length, so formal news prose with one
quoted colloquial phrase stays MSA.

``camel-did`` uses camel-tools' ``DialectIdentifier.pretrained()`` (MADAR 26 city
dialects) when its model is installed and maps cities to the six labels above.
"""

from __future__ import annotations

import functools
import importlib.util
from collections import Counter
from pathlib import Path
from typing import Any

from tasks.errors import ConfigError, EnvironmentError_

DIALECTS = ("MSA", "EGY", "LEV", "GLF", "MGR", "IRQ")
_MARKERS = Path(__file__).parent / "resources" / "dialect" / "markers.txt"

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
# MADAR cities (camel-tools DID labels) -> the labels used here.
_CITY_TO_DIALECT = {
    "CAI": "EGY", "ALX": "EGY", "ASW": "EGY", "KHA": "EGY",
    "BEI": "LEV", "DAM": "LEV", "ALE": "LEV", "AMM": "LEV", "SAL": "LEV", "JER": "LEV",
    "RIY": "GLF", "JED": "GLF", "DOH": "GLF", "MUS": "GLF", "SAN": "GLF",
    "BAG": "IRQ", "BAS": "IRQ", "MOS": "IRQ",
    "RAB": "MGR", "FES": "MGR", "ALG": "MGR", "TUN": "MGR", "SFX": "MGR", "TRI": "MGR",
    "BEN": "MGR", "MSA": "MSA",
}


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


def identify_dialects(texts: list[str], method: str = "rules") -> list[tuple[str, str]]:
    """Label each text with its dialect.

    Args:
        texts: Article texts.
        method: ``rules`` or ``camel-did``.

    Returns:
        One ``(label, method)`` per text; labels are from :data:`DIALECTS`.
    """
    if method == "rules":
        return [(identify_dialect_rules(t), "rules") for t in texts]
    if method == "camel-did":
        did = _camel_did()
        out = []
        for b in range(0, len(texts), 64):
            chunk = [t[:2000] for t in texts[b:b + 64]]  # the model reads sentences, not books
            for pred in did.predict(chunk):
                out.append((_CITY_TO_DIALECT.get(pred.top, "MSA"), "camel-did"))
        return out
    raise ConfigError(f"unknown dialect method {method!r}: use rules or camel-did")


def camel_did_available() -> bool:
    """True when camel-tools and its DialectID model are installed."""
    if importlib.util.find_spec("camel_tools") is None or importlib.util.find_spec(
            "kenlm") is None:
        return False
    from tasks.camel_env import official_data_available

    return official_data_available("DialectID")


def resolve_dialect_method(choice: str) -> str:
    """Map ``auto`` to ``camel-did`` when its model is installed, else ``rules``."""
    if choice == "auto":
        return "camel-did" if camel_did_available() else "rules"
    if choice not in ("rules", "camel-did", "none"):
        raise ConfigError(f"unknown dialect method {choice!r}: use auto, rules, camel-did or none")
    return choice


@functools.lru_cache(maxsize=1)
def _camel_did() -> Any:
    if not camel_did_available():
        from tasks.camel_env import missing_official_data

        raise EnvironmentError_(missing_official_data("--dialect camel-did"))
    from tasks.camel_env import ensure_camel_data

    ensure_camel_data()
    from camel_tools.dialectid import DialectIdentifier

    try:
        return DialectIdentifier.pretrained()
    except Exception as exc:  # noqa: BLE001 - camel-tools raises several unrelated types here
        raise EnvironmentError_(f"camel-tools DialectID model could not be loaded: {exc}") from exc
