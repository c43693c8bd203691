"""The entity span type and labels shared by every NER method."""

from __future__ import annotations

from dataclasses import dataclass

LABELS = ("PER", "LOC", "ORG", "MISC")


@dataclass(frozen=True, slots=True)
class EntitySpan:
    """One entity over tokens ``token_start:token_end`` of sentence ``sentence``.

    ``skip_chars`` letters of a proclitic are skipped at the start of the first token
    (ل in لليبيا) and ``trim_chars`` of an enclitic at the end of the last one.
    """

    sentence: int
    token_start: int
    token_end: int
    label: str
    score: float
    method: str
    skip_chars: int = 0
    trim_chars: int = 0
