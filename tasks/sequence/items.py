"""crfsuite items (attribute lists) of sentences, from the same layers and conjunctions
the emission scorer sums: what a model is trained on is what it is scored with."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from tasks.sequence.spec import Conjunction, Layer, Row

Item = list[str] | dict[str, float]


def sentence_items(
    layers: Sequence[Layer],
    conjunctions: Sequence[Conjunction],
    lengths: Sequence[int],
    keys: Mapping[str, Sequence[Hashable]],
    aux: Any = None,
) -> list[list[Item]]:
    """Per sentence, per token, its attributes for python-crfsuite.

    ``keys[layer]`` holds one key per token, sentences one after another. An item is a
    list of names, or a ``{name: value}`` dict when some attribute carries a value.
    """
    rows: dict[str, dict[Hashable, Row]] = {}
    for layer in layers:
        cache: dict[Hashable, Row] = {}
        for k in keys[layer.name]:
            if k not in cache:
                cache[k] = layer.compute(k, aux)
        rows[layer.name] = cache
    out = []
    start = 0
    for m in lengths:
        seq = {layer.name: [rows[layer.name][k] for k in keys[layer.name][start : start + m]]
               for layer in layers}
        sent = []
        for i in range(m):
            feats: list = []
            for layer in layers:
                own = seq[layer.name]
                for d in layer.offsets:
                    j = i + d
                    feats.extend(own[j].features.get(d, ()) if 0 <= j < m
                                 else layer.boundary.get(d, ()))
            for c in conjunctions:
                vals = []
                for k, (d, layer, part) in enumerate(c.parts):
                    j = i + d
                    v = seq[layer][j].parts.get(part) if 0 <= j < m else c.outside_value(k)
                    if v is None:
                        break
                    vals.append(v)
                else:
                    feats.append(c.prefix + "|".join(vals))
            sent.append(_item(feats))
        out.append(sent)
        start += m
    return out


def _item(feats: list) -> Item:
    if all(isinstance(f, str) for f in feats):
        return feats
    item: dict[str, float] = {}
    for f in feats:
        name, value = (f, 1.0) if isinstance(f, str) else (f[0], float(f[1]))
        item[name] = item.get(name, 0.0) + value
    return item
