"""Article-level dialect identification: MSA, EGY, LEV, GLF, MGR or IRQ.

Methods (``--dialect``):

* ``model``: the learned identifier (:mod:`tasks.dialect.model`, trained by
  :mod:`tasks.dialect.train` with ``akhbar train dialect``), shipped in
  ``tasks/models/dialect``; ``auto`` picks it when it is present;
* ``rules``: hand-written markers (:mod:`tasks.dialect.rules`);
* ``camel-did``: camel-tools' MADAR-26 identifier when installed (:mod:`tasks.dialect.camel`).
"""

from __future__ import annotations

from tasks.dialect.camel import camel_did_available, identify_dialects_camel
from tasks.dialect.rules import (
    DIALECTS,
    identify_dialect_rules,
    load_markers,
    score_dialects,
)
from tasks.errors import ConfigError

METHODS = ("auto", "model", "rules", "camel-did", "none")

__all__ = [
    "DIALECTS", "METHODS", "camel_did_available", "identify_dialect_rules", "identify_dialects",
    "load_markers", "model_available", "resolve_dialect_method", "score_dialects",
]


def model_available() -> bool:
    """True when the shipped learned model (``tasks/models/dialect``) is present."""
    from tasks.dialect.model import model_available as available

    return available()


def identify_dialects(
    texts: list[str], method: str = "rules"
) -> list[tuple[str, str, float | None]]:
    """Label each text with its dialect.

    Args:
        texts: Article texts.
        method: ``model``, ``rules`` or ``camel-did`` (see :func:`resolve_dialect_method`).

    Returns:
        One ``(label, method, score)`` per text; labels are from :data:`DIALECTS`, method
        is what ``articles.dialect_method`` records (``linear:<sha prefix>`` for the model)
        and score the probability of the label (None for ``rules``).
    """
    if method == "rules":
        return [(identify_dialect_rules(t), "rules", None) for t in texts]
    if method == "camel-did":
        return [(lab, "camel-did", p) for lab, p in identify_dialects_camel(texts)]
    if method == "model":
        from tasks.dialect.model import load_model

        model = load_model()
        return [(lab, model.method, p) for lab, p in model.identify(texts)]
    raise ConfigError(f"unknown dialect method {method!r}: use model, rules or camel-did")


def resolve_dialect_method(choice: str) -> str:
    """Map ``auto`` to ``model`` when it ships, else ``camel-did`` if installed, else ``rules``."""
    if choice == "auto":
        if model_available():
            return "model"
        return "camel-did" if camel_did_available() else "rules"
    if choice not in METHODS:
        raise ConfigError(
            f"unknown dialect method {choice!r}: use auto, model, rules, camel-did or none"
        )
    if choice == "model" and not model_available():
        raise ConfigError("dialect method 'model' needs tasks/models/dialect (config.json, "
                          "weights.npz); train it with `akhbar train dialect` or use rules")
    return choice
