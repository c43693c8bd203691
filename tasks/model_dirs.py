"""Where the learned NER model lives and whether a directory holds one.

A leaf module (it imports only ``tasks.errors``): ``tasks.config`` validates ``--ner``
with it without importing the entities package, whose model imports the clusters,
which import ``tasks.clean``, which imports ``tasks.config`` (issue 21).
"""

from __future__ import annotations

from pathlib import Path

from tasks.errors import ConfigError

MODEL_FILE = "ner.crfsuite"
CONFIG_FILE = "config.json"
CARD_FILE = "MODEL_CARD.md"
SHIPPED_DIR = Path(__file__).parent / "models" / "ner"


def shipped_model_available() -> bool:
    """True when the package carries a trained model (tasks/models/ner/)."""
    return (SHIPPED_DIR / MODEL_FILE).is_file() and (SHIPPED_DIR / CONFIG_FILE).is_file()


def check_model_dir(path: str | Path) -> Path:
    """The directory if it holds a trained NER model; else ConfigError naming it."""
    p = Path(path).expanduser()
    for name in (MODEL_FILE, CONFIG_FILE):
        if not (p / name).is_file():
            raise ConfigError(
                f"NER model directory {str(path)!r} has no {name} "
                "(train one with `akhbar train ner --data FILE --out DIR`)"
            )
    return p
