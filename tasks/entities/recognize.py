"""Entry points of the NER stage: pick a method and find entity spans."""

from __future__ import annotations

from tasks.entities.camelbert import camelbert_available, recognize_camelbert
from tasks.entities.rules import recognize_rules
from tasks.entities.spans import EntitySpan
from tasks.errors import ConfigError


def recognize_entities(
    sentences: list[list[str]],
    morph: dict[str, list] | None = None,
    method: str = "rules",
    documents: list | None = None,
) -> list[EntitySpan]:
    """Find entity spans in tokenized sentences.

    Args:
        sentences: Token lists (``simple_word_tokenize`` output, clitics attached).
        morph: Optional per-token columns flattened over all sentences in order; uses
            ``pos``, ``is_oov`` and ``gloss`` when present.
        method: ``rules`` or ``camelbert``.
        documents: Optional document key per sentence (e.g. its article id): names
            recalled from earlier mentions never cross into another document.

    Returns:
        Spans sorted by sentence and start token; ``sentence`` indexes ``sentences``.
    """
    if method == "camelbert":
        return recognize_camelbert(sentences)
    if method != "rules":
        raise ConfigError(f"unknown NER method {method!r}: use rules or camelbert")
    return recognize_rules(sentences, morph, documents)


def resolve_ner_method(choice: str) -> str:
    """Map ``auto`` to ``camelbert`` when its model is installed, else ``rules``."""
    if choice == "auto":
        return "camelbert" if camelbert_available() else "rules"
    if choice not in ("rules", "camelbert", "none"):
        raise ConfigError(f"unknown NER method {choice!r}: use auto, rules, camelbert or none")
    return choice
