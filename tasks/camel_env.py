"""Make camel-tools importable offline and tell which official CAMeL data is installed.

Importing ``camel_tools.morphology``, ``disambig``, ``ner`` or ``dialectid`` loads
``catalogue.json`` from ``$CAMELTOOLS_DATA`` (default ``~/.camel_tools``) and, when it
is missing, downloads it at import time, which fails on machines without internet.
:func:`ensure_camel_data` must run before the first such import: when the user has no
catalogue it points ``CAMELTOOLS_DATA`` at a cache directory holding an empty one.
A real installation (``camel_data -i light``) is always left alone.

Nothing here imports camel-tools, so it is cheap to call from anywhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

# Shape camel_tools.data.catalogue.Catalogue.load_catalogue needs (checked on 1.6.0).
_EMPTY_CATALOGUE = {"version": "1.6", "packages": {}, "components": {}}

# File each component's dataset directory must hold to be usable.
_COMPONENT_FILES = {
    "MorphologyDB": "morphology.db",
    "DisambigMLE": "model.json",
}


def cache_dir() -> Path:
    """Return akhbar's cache directory (``$AKHBAR_CACHE_DIR`` or the platform user cache)."""
    env = os.environ.get("AKHBAR_CACHE_DIR")
    if env:
        return Path(env).expanduser().absolute()
    import platformdirs

    return Path(platformdirs.user_cache_dir("akhbar"))


def _default_camel_dir() -> Path:
    # Mirrors camel_tools.data.catalogue._get_appdatadir.
    if sys.platform == "win32":
        return Path.home() / "AppData/Roaming/camel_tools"
    return Path.home() / ".camel_tools"


def camel_data_dir() -> Path:
    """Return the directory camel-tools will read its catalogue and data from."""
    env = os.environ.get("CAMELTOOLS_DATA")
    if env:
        return Path(env).expanduser().absolute()
    return _default_camel_dir()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same directory and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_camel_data() -> None:
    """Make sure camel-tools finds a catalogue, without touching a real installation.

    Call before importing ``camel_tools.morphology`` / ``disambig`` / ``ner`` /
    ``dialectid``. If ``$CAMELTOOLS_DATA`` (or ``~/.camel_tools``) already holds a
    ``catalogue.json`` nothing changes; otherwise ``CAMELTOOLS_DATA`` is pointed at
    ``<cache_dir>/camel_data`` holding an empty catalogue, so the imports work and the
    pretrained loaders raise ``KeyError`` instead of downloading.
    """
    if "camel_tools.data.catalogue" in sys.modules:
        # camel-tools reads CAMELTOOLS_DATA once at import; changing it now is useless.
        return
    if (camel_data_dir() / "catalogue.json").is_file():
        return
    fallback = cache_dir() / "camel_data"
    catalogue = fallback / "catalogue.json"
    if not catalogue.is_file():
        write_atomic(catalogue, json.dumps(_EMPTY_CATALOGUE))
    os.environ["CAMELTOOLS_DATA"] = str(fallback)


def _dataset_dir(component: str, dataset: str | None) -> Path | None:
    data_dir = camel_data_dir()
    try:
        catalogue = json.loads((data_dir / "catalogue.json").read_text(encoding="utf-8"))
        entry = catalogue["components"][component]
        name = dataset or entry["default"]
        return data_dir / "data" / entry["datasets"][name]["path"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


# What an option needs, and the camel_data package that installs it (camel-tools 1.6
# catalogue: `light` holds the calima-msa-r13 morphology DB and its MLE disambiguator).
OFFICIAL = {
    "--morphology calima-msa-r13": (
        "MorphologyDB", "calima-msa-r13", "its calima-msa-r13 morphology DB", "light",
        "--morphology bama",
    ),
    "--ner camelbert": (
        "NamedEntityRecognition", None, "its CAMeLBERT NER model", "ner-arabert", "--ner model",
    ),
    "--dialect camel-did": (
        "DialectID", None, "its DialectID model", "dialectid-default", "--dialect rules",
    ),
}


def missing_official_data(option: str) -> str | None:
    """Why ``option`` cannot run here, with the commands that fix it (None when it can).

    ``option`` is a key of ``OFFICIAL`` (as the user types it). One line, meant for
    ``akhbar run`` to print before any work (issue 26).
    """
    component, dataset, what, package, instead = OFFICIAL[option]
    steps = []
    if importlib.util.find_spec("camel_tools") is None:
        steps.append("`pip install camel-tools`")
    if option == "--dialect camel-did" and importlib.util.find_spec("kenlm") is None:
        steps.append("`pip install kenlm`")
    if not official_data_available(component, dataset):
        steps.append(f"`camel_data -i {package}`")
    if not steps:
        return None
    return (
        f"{option} needs camel-tools' data ({what}), which is not installed: "
        f"install it with {' and '.join(steps)}, or use {instead}"
    )


def official_data_available(component: str, dataset: str | None = None) -> bool:
    """Tell whether camel-tools' official data for a component is installed.

    Args:
        component: Catalogue component, e.g. ``MorphologyDB``, ``DisambigMLE``,
            ``NamedEntityRecognition``, ``DialectID``.
        dataset: Dataset name (``calima-msa-r13``); the component's default if None.
    """
    path = _dataset_dir(component, dataset)
    if path is None or not path.is_dir():
        return False
    needed = _COMPONENT_FILES.get(component)
    if needed is not None:
        return (path / needed).is_file()
    return any(path.iterdir())
