"""A crfsuite model's weights as numpy arrays (read once per model file)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.errors import EnvironmentError_


@dataclass(frozen=True, eq=False)
class CrfWeights:
    """Labels, transition scores and state-feature weights of a linear-chain CRF.

    ``weights`` has one row per attribute (``attrs`` maps an attribute name to its row)
    and a last row of zeros (``zero``) for attributes the model does not know; column
    ``k`` scores ``labels[k]``, in crfsuite's own label order.
    """

    labels: tuple[str, ...]
    trans: np.ndarray  # (L, L): score of label a followed by label b
    attrs: dict[str, int]
    weights: np.ndarray  # (len(attrs) + 1, L)
    sha256: str

    @property
    def zero(self) -> int:
        return len(self.attrs)


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_crfsuite(path: str | Path) -> CrfWeights:
    """Read a crfsuite model file (python-crfsuite's own reader, then arrays).

    Raises:
        EnvironmentError_: the file is missing or is not a crfsuite model.
    """
    import pycrfsuite

    p = Path(path)
    tagger = pycrfsuite.Tagger()
    try:
        tagger.open(str(p))
    except (OSError, ValueError) as exc:
        raise EnvironmentError_(f"cannot read CRF model {str(p)!r}: {exc}") from exc
    try:
        info = tagger.info()
        labels = tuple(tagger.labels())
    finally:
        tagger.close()
    lab = {x: k for k, x in enumerate(labels)}
    n_lab = len(labels)
    trans = np.zeros((n_lab, n_lab))
    for (a, b), w in info.transitions.items():
        trans[lab[a], lab[b]] = w
    attrs: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for (attr, y), w in info.state_features.items():
        rows.append(attrs.setdefault(attr, len(attrs)))
        cols.append(lab[y])
        vals.append(w)
    weights = np.zeros((len(attrs) + 1, n_lab))
    weights[rows, cols] = vals
    return CrfWeights(labels, trans, attrs, weights, file_sha256(p))
