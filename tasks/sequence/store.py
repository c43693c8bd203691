"""The persistent per-type cache of a model's rows, beside the word-type analysis cache.

What a word type gives the tokens around it (its block of summed weight vectors and
its conjunction parts) depends only on the type, the model file and the code that
spells the type's features. It is kept across runs in
``<cache dir>/rows-<key>.sqlite``, the key hashing the model's sha256, the layer, the
model's feature fingerprint (its feature code's bytes and resources) and this runtime's
code: a retrained model or changed feature code opens another file and never reads
stale rows. Unreadable entries are misses; a corrupt file is rebuilt with a warning, as
the analysis cache is (``tasks.morphology.type_cache``).
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np

from tasks.morphology.type_cache import TypeCache

FORMAT = 1
_CODE = ("crf.py", "emissions.py", "spec.py", "store.py")
_HEAD = struct.Struct("<I")

Entry = tuple[np.ndarray, dict[str, str | None]]


def store_key(model_sha256: str, layer: str, fingerprint: str) -> str:
    """Key of a layer's rows for one model file and one version of its feature code."""
    h = hashlib.sha256(f"rows{FORMAT}|{model_sha256}|{layer}|{fingerprint}".encode())
    here = Path(__file__).resolve().parent
    for name in _CODE:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:20]


def code_fingerprint(*paths: str | Path, extra: str = "") -> str:
    """sha256 of the bytes of ``paths`` (a model's feature modules, its resources)."""
    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()


class RowStore(TypeCache):
    """Store key of a type -> (block, parts), in ``<directory>/rows-<key>.sqlite``."""

    STEM = "rows"
    WHAT = "per-type model cache"

    def __init__(self, directory: str | Path, key: str, shape: tuple[int, int]) -> None:
        super().__init__(directory, key)
        self.shape = shape
        self._size = shape[0] * shape[1] * 8

    def encode(self, entry: Entry) -> bytes:
        block, parts = entry
        head = json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode()
        return _HEAD.pack(len(head)) + head + np.ascontiguousarray(block, "<f8").tobytes()

    def decode(self, blob: bytes) -> Entry | None:
        """An entry, or None when the bytes are not one of this shape."""
        try:
            (n,) = _HEAD.unpack_from(blob)
            if len(blob) != _HEAD.size + n + self._size:
                return None
            parts = json.loads(blob[_HEAD.size : _HEAD.size + n])
            if not isinstance(parts, dict) or not all(
                isinstance(v, str) or v is None for v in parts.values()
            ):
                return None
            block = np.frombuffer(blob, "<f8", offset=_HEAD.size + n).reshape(self.shape)
            return block, parts
        except (struct.error, ValueError, TypeError):
            return None
