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

FORMAT = 3  # 3: the rowid table of tasks.morphology.type_cache
_CODE = ("crf.py", "emissions.py", "spec.py", "store.py")
_HEAD = struct.Struct("<I")
_PLAIN, _SEP, _NONE = "\x02", "\x1f", "\x00"  # parts as plain text: marker, separator, None

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

    def __init__(self, directory: str | Path, key: str, shape: tuple[int, int],
                 parts: tuple[str, ...] = ()) -> None:
        super().__init__(directory, key)
        self.shape = shape
        self.part_names = tuple(parts)
        self._size = shape[0] * shape[1] * 8

    def encode(self, entry: Entry) -> bytes:
        block, parts = entry
        values = [parts.get(p) for p in self.part_names]
        if all(v is None or (_SEP not in v and _NONE not in v) for v in values):
            # the common case, cheaper to read back than JSON
            text = _PLAIN + _SEP.join(_NONE if v is None else v for v in values)
        else:
            text = json.dumps(values, ensure_ascii=False)
        head = text.encode()
        return _HEAD.pack(len(head)) + head + np.ascontiguousarray(block, "<f8").tobytes()

    def decode(self, blob: bytes) -> Entry | None:
        """An entry, or None when the bytes are not one of this shape."""
        try:
            (n,) = _HEAD.unpack_from(blob)
            if len(blob) != _HEAD.size + n + self._size:
                return None
            text = blob[_HEAD.size : _HEAD.size + n].decode()
            if text.startswith(_PLAIN):
                values = [None if v == _NONE else v for v in text[1:].split(_SEP)] \
                    if self.part_names else []
            else:
                values = json.loads(text)
            if not isinstance(values, list) or len(values) != len(self.part_names) or \
                    not all(isinstance(v, str) or v is None for v in values):
                return None
            block = np.frombuffer(blob, "<f8", offset=_HEAD.size + n).reshape(self.shape)
            return block, dict(zip(self.part_names, values, strict=True))
        except (struct.error, ValueError, TypeError, UnicodeDecodeError):
            return None
