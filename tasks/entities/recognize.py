"""Entry points of the NER stage: pick a method and find entity spans."""

from __future__ import annotations

from pathlib import Path

from tasks.entities.camelbert import camelbert_available, recognize_camelbert
from tasks.entities.rules import recognize_rules
from tasks.entities.spans import EntitySpan
from tasks.errors import ConfigError


def recognize_entities(
    sentences: list[list[str]],
    morph: dict[str, list] | None = None,
    method: str = "rules",
    documents: list | None = None,
    persistent: bool = False,
) -> list[EntitySpan]:
    """Find entity spans in tokenized sentences.

    Args:
        sentences: Token lists (``simple_word_tokenize`` output, clitics attached).
        morph: Optional per-token columns flattened over all sentences in order; uses
            ``pos``, ``is_oov`` and ``gloss`` when present.
        method: ``rules``, ``camelbert``, ``model`` (the shipped learned model) or the
            directory of a model trained with ``akhbar train ner``.
        documents: Optional document key per sentence (e.g. its article id): names
            recalled from earlier mentions never cross into another document.
        persistent: A learned model reads and fills its persistent per-type cache
            (beside the word-type analyses); the spans are the same either way.

    Returns:
        Spans sorted by sentence and start token; ``sentence`` indexes ``sentences``.
    """
    if method == "camelbert":
        return recognize_camelbert(sentences)
    if method == "model" or "/" in method:
        from tasks.entities.ner_infer import recognize_with_model

        return recognize_with_model(sentences, morph, method, documents, persistent)
    if method != "rules":
        raise ConfigError(
            f"unknown NER method {method!r}: use rules, camelbert, model or a model directory"
        )
    return recognize_rules(sentences, morph, documents)


def resolve_ner_method(choice: str) -> str:
    """Map ``auto`` to the shipped learned model when present (issue 12), else to
    ``camelbert`` when its model is installed, else ``rules``; a model directory stays."""
    if choice == "auto":
        from tasks.model_dirs import shipped_model_available

        if shipped_model_available():
            return "model"
        return "camelbert" if camelbert_available() else "rules"
    if choice in ("rules", "camelbert", "model", "none"):
        return choice
    if "/" in choice or Path(choice).expanduser().is_dir():
        from tasks.model_dirs import check_model_dir

        check_model_dir(choice)
        return choice
    raise ConfigError(
        f"unknown NER method {choice!r}: use auto, model, rules, camelbert, none "
        "or a trained model directory"
    )
