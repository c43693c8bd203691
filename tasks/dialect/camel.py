"""Dialect by camel-tools' MADAR-26 identifier (``--dialect camel-did``), when installed.

``DialectIdentifier.pretrained()`` names one of 25 cities or MSA; the city is mapped
to the six labels of :data:`tasks.dialect.rules.DIALECTS`.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

from tasks.errors import EnvironmentError_

# MADAR cities (camel-tools DID labels) -> the labels used here.
_CITY_TO_DIALECT = {
    "CAI": "EGY", "ALX": "EGY", "ASW": "EGY", "KHA": "EGY",
    "BEI": "LEV", "DAM": "LEV", "ALE": "LEV", "AMM": "LEV", "SAL": "LEV", "JER": "LEV",
    "RIY": "GLF", "JED": "GLF", "DOH": "GLF", "MUS": "GLF", "SAN": "GLF",
    "BAG": "IRQ", "BAS": "IRQ", "MOS": "IRQ",
    "RAB": "MGR", "FES": "MGR", "ALG": "MGR", "TUN": "MGR", "SFX": "MGR", "TRI": "MGR",
    "BEN": "MGR", "MSA": "MSA",
}


def camel_did_available() -> bool:
    """True when camel-tools and its DialectID model are installed."""
    if importlib.util.find_spec("camel_tools") is None or importlib.util.find_spec(
            "kenlm") is None:
        return False
    from tasks.camel_env import official_data_available

    return official_data_available("DialectID")


def identify_dialects_camel(texts: list[str]) -> list[tuple[str, float]]:
    """``(label, probability of the predicted city)`` per text."""
    did = _camel_did()
    out = []
    for b in range(0, len(texts), 64):
        chunk = [t[:2000] for t in texts[b:b + 64]]  # the model reads sentences, not books
        for pred in did.predict(chunk):
            out.append((_CITY_TO_DIALECT.get(pred.top, "MSA"), float(pred.scores[pred.top])))
    return out


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
