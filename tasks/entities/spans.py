"""The entity span type and labels shared by every NER method, and the name of an entity."""

from __future__ import annotations

import re
from dataclasses import dataclass

LABELS = ("PER", "LOC", "ORG", "MISC")

# Diacritics (fathatan..sukun, superscript alef) and tatweel.
_MARKS = re.compile("[\u064b-\u0652\u0670\u0640]")
# A first word that is ل + ال fused (للبنك): three letters or more after the لل
# (للا, the Moroccan title, is no such word).
_LI_AL = re.compile(r"^لل(?=\w{3})")


def entity_name(text: str) -> str:
    """The name an entity's surface text stands for: ``entities.name`` (issue 26).

    An entity's ``text`` is the exact slice of ``articles.text`` at its offsets, so a
    proclitic is either stripped whole (وبالرباط gives الرباط) or kept whole: ل fused
    with the article (للبنك الدولي) has no alef to start a slice at. The name restores
    the article and drops diacritics and tatweel: للبنك الدولي -> البنك الدولي, so that
    every mention of one name counts together.

    >>> entity_name("للبنك الدولي")
    'البنك الدولي'
    >>> entity_name("الأُمَم المتحدة")
    'الأمم المتحدة'
    """
    name = _MARKS.sub("", text).strip()
    return _LI_AL.sub("ال", name, count=1)


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
