"""Named entities (PER, LOC, ORG, MISC) over tokenized sentences.

- ``recognize``: :func:`recognize_entities` and :func:`resolve_ner_method`, the entry points.
- ``rules``: the offline default, gazetteers plus a left-to-right sequence layer.
- ``gazetteers``: the name lists and the normalization used to look words up.
- ``camelbert``: camel-tools' ``NERecognizer.pretrained()`` when its model is installed.
- ``spans``: :class:`EntitySpan` and the labels.
"""

from tasks.entities.camelbert import camelbert_available
from tasks.entities.gazetteers import gazetteer_sizes, load_gazetteers, normalize_name
from tasks.entities.recognize import recognize_entities, resolve_ner_method
from tasks.entities.spans import LABELS, EntitySpan

__all__ = [
    "LABELS",
    "EntitySpan",
    "camelbert_available",
    "gazetteer_sizes",
    "load_gazetteers",
    "normalize_name",
    "recognize_entities",
    "resolve_ner_method",
]
