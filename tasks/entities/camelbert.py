"""NER with camel-tools' ``NERecognizer.pretrained()`` when its model is installed."""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

from tasks.entities.gazetteers import _forms, _surface_skip, load_gazetteers
from tasks.entities.spans import EntitySpan
from tasks.errors import EnvironmentError_


def camelbert_available() -> bool:
    """True when camel-tools and its NER model are installed."""
    if importlib.util.find_spec("camel_tools") is None:
        return False
    from tasks.camel_env import official_data_available

    return official_data_available("NamedEntityRecognition")


@functools.lru_cache(maxsize=1)
def _camelbert() -> Any:
    if not camelbert_available():
        from tasks.camel_env import missing_official_data

        raise EnvironmentError_(missing_official_data("--ner camelbert"))
    from tasks.camel_env import ensure_camel_data

    ensure_camel_data()
    from camel_tools.ner import NERecognizer  # 3.7 s: imports torch, so only on demand

    try:
        return NERecognizer.pretrained()
    except (KeyError, FileNotFoundError, OSError) as exc:
        raise EnvironmentError_(f"camel-tools NER model could not be loaded: {exc}") from exc


def _proclitic_letters(token: str) -> int:
    """Letters of a conjunction/preposition before an article-bearing name (وبالقاهرة -> 2)."""
    forms = _forms(token)
    for form, skip in forms[1:]:
        if form.startswith("ال"):
            return skip
    n = forms[0][0]
    return 1 if len(n) > 3 and n[0] in "وف" and n[1:] in load_gazetteers().first_names else 0


def recognize_camelbert(sentences: list[list[str]], batch: int = 32) -> list[EntitySpan]:
    """Find entity spans with camel-tools' pretrained NER model (PERS becomes PER)."""
    ner = _camelbert()
    out: list[EntitySpan] = []
    for b in range(0, len(sentences), batch):
        chunk = sentences[b:b + batch]
        for off, labels in enumerate(ner.predict(chunk)):
            si = b + off
            toks = sentences[si]
            start = None
            cur = None
            for k, lab in enumerate([*labels, "O"]):
                typ = lab[2:] if lab != "O" else None
                if start is not None and (lab == "O" or lab.startswith("B-") or typ != cur):
                    label = "PER" if cur == "PERS" else cur
                    skip = _proclitic_letters(toks[start])
                    out.append(EntitySpan(si, start, k, label, 0.9, "camelbert",
                                          _surface_skip(toks[start], skip)))
                    start = cur = None
                if lab != "O" and start is None:
                    start, cur = k, typ
    return out
