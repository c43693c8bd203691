"""Emission scores of a chunk as sums of per-key, per-offset label-score vectors.

Each key of a layer (a word type, a token context) is turned once into a block of
``len(offsets)`` summed weight vectors: row ``j`` is what the key gives a token
``offsets[j]`` positions away from it. A token's emission is then one gather and add per
layer and offset over the whole chunk (tokens laid out with ``pad`` boundary slots
between sentences, so the edges need no masks), plus the conjunctions: their parts are
integer ids per key, a token's combination is one int64 code, and only the distinct
codes of a chunk are spelled out and looked up in the model (once per process).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasks.sequence.crf import CrfWeights
from tasks.sequence.spec import Conjunction, Layer, Row

OUTSIDE = -2  # part id of the boundary slots
ABSENT = -1  # part id of a key without that part
_ID_BITS = 21  # bits of one part id in a conjunction code (3 parts fit in an int64)
Encoded = tuple[np.ndarray, Sequence[Hashable]]


def encode(keys: Iterable[Hashable]) -> Encoded:
    """Per-item index into the distinct keys, and the distinct keys in first-seen order.

    Strings (and None) are encoded by Arrow's hash table (a third of the time of a dict
    per item, issue 21); any other key by a dict, with the same result.
    """
    if not isinstance(keys, list):
        keys = list(keys)
    try:
        arr = pa.array(keys, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        if keys and keys[0].__class__ is bool:
            flags = np.asarray(keys)
            if flags.dtype == np.bool_:  # all bools (a flag column): no dict per item
                codes = (flags != flags[0]).astype(np.int64)
                return codes, [bool(flags[0]), not flags[0]][: 1 + int(codes.any())]
        index: dict[Hashable, int] = {}
        codes = [index.setdefault(k, len(index)) for k in keys]
        return np.asarray(codes, dtype=np.int64), list(index)
    enc = pc.dictionary_encode(arr, null_encoding="encode")
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, enc.dictionary.to_pylist()


class KeyTable:
    """The blocks of one layer's keys, with the part ids its conjunctions read."""

    def __init__(self, layer: Layer, weights: CrfWeights, part_names: Sequence[str]) -> None:
        self.layer = layer
        self.weights = weights
        self.part_names = tuple(part_names)
        self.generation = 0
        self.reset()

    def reset(self) -> None:
        """Forget every key (block 0, the boundary, is rebuilt)."""
        self.generation += 1
        n_lab = len(self.weights.labels)
        self.index: dict[Hashable, int] = {}
        self.blocks = np.zeros((1024, len(self.layer.offsets), n_lab))
        self.parts = {p: np.full(1024, ABSENT, dtype=np.int32) for p in self.part_names}
        self.vocab: dict[str, dict[str, int]] = {p: {} for p in self.part_names}
        self.values: dict[str, list[str]] = {p: [] for p in self.part_names}
        self.n = 1
        for p in self.part_names:
            self.parts[p][0] = OUTSIDE
        self._sum_rows([(0, Row(self.layer.boundary))])

    def part_id(self, part: str, value: str) -> int:
        ids = self.vocab[part]
        k = ids.get(value)
        if k is None:
            k = ids[value] = len(ids)
            self.values[part].append(value)
        return k

    def _grow(self, need: int) -> None:
        cap = len(self.blocks)
        if need <= cap:
            return
        # doubling, but never past the bound (a chunk whose own keys pass it excepted):
        # at a 40k bound, doubling alone reached 65k blocks (issue 21)
        new = max(need, min(2 * cap, self.layer.limit + 1))
        blocks = np.zeros((new, *self.blocks.shape[1:]))
        blocks[:cap] = self.blocks
        self.blocks = blocks
        for p, arr in self.parts.items():
            grown = np.full(new, ABSENT, dtype=np.int32)
            grown[:cap] = arr
            self.parts[p] = grown

    def _add(self, key: Hashable, parts: Mapping[str, str | None]) -> int:
        b = self.n
        self.n += 1
        if self.n > len(self.blocks):
            self._grow(self.n)
        self.index[key] = b
        for p in self.part_names:
            v = parts.get(p)
            if v is not None:
                self.parts[p][b] = self.part_id(p, v)
        return b

    def keep(self, keys: Sequence[Hashable]) -> None:
        """Forget every key but ``keys`` (all held), whose blocks move to the front.

        Used instead of :meth:`reset` at the bound: the chunk's keys that are already
        held stay held (their blocks and parts are the same numbers), so only its new
        keys are read back or computed. Part ids are renumbered over what is kept.
        """
        self.generation += 1
        old = np.fromiter((self.index[k] for k in keys), dtype=np.int64, count=len(keys))
        n = len(old) + 1
        self.blocks[1:n] = self.blocks[old]
        self.blocks[n:] = 0.0  # _sum_rows adds into zeroed blocks
        for p in self.part_names:
            ids = self.parts[p][old]
            used = np.unique(ids[ids >= 0])
            values = self.values[p]
            self.values[p] = [values[i] for i in used.tolist()]
            self.vocab[p] = {v: j for j, v in enumerate(self.values[p])}
            arr = self.parts[p]
            arr[1:n] = np.where(ids >= 0, np.searchsorted(used, ids), ids)
            arr[n:] = ABSENT
        self.index = {k: j for j, k in enumerate(keys, start=1)}
        self.n = n

    def _sum_rows(self, rows: list[tuple[int, Row]]) -> None:
        """Fill the blocks of ``rows`` (block, row): value-weighted sums of weight rows."""
        get = self.weights.attrs.get
        offsets = self.layer.offsets
        n_off = len(offsets)
        hit: list[int] = []  # weight rows of the named features, grouped by block slot
        grp: list[int] = []
        valued: list[tuple[int, int, float]] = []  # (slot, weight row, value)
        for b, row in rows:
            feats = row.features
            for j, d in enumerate(offsets):
                fs = feats.get(d)
                if not fs:
                    continue
                g = b * n_off + j
                for f in fs:
                    if f.__class__ is str:
                        a = get(f)
                        if a is not None:
                            hit.append(a)
                            grp.append(g)
                    else:
                        a = get(f[0])
                        if a is not None:
                            valued.append((g, a, float(f[1])))
        flat = self.blocks.reshape(-1, self.blocks.shape[2])
        w = self.weights.weights
        if hit:
            g = np.asarray(grp)
            starts = np.flatnonzero(np.diff(g, prepend=-1))
            flat[g[starts]] = np.add.reduceat(w[hit], starts, axis=0)
        if valued:
            slot, a, v = (np.asarray(x) for x in zip(*valued, strict=True))
            np.add.at(flat, slot, w[a] * v[:, None])

    def ensure(self, keys: Sequence[Hashable], aux: Any = None, store: Any = None) -> np.ndarray:
        """Block ids of ``keys``: held ones, then stored ones (``store``), then computed
        (and added to ``store``)."""
        index = self.index
        missing = [u for u, k in enumerate(keys) if k not in index]
        if missing and len(index) + len(missing) > self.layer.limit:
            # Bounded: keep only the chunk's held keys rather than track recency.
            self.keep([k for k in keys if k in index])
            index = self.index
        if missing:
            found: dict[str, tuple[np.ndarray, dict]] = {}
            names: list[str] = []
            if store is not None and self.layer.store_key is not None:
                names = [self.layer.store_key(keys[u]) for u in missing]
                found = store.get_many(names)
            todo: list[tuple[int, Row]] = []
            todo_names: list[str] = []
            for i, u in enumerate(missing):
                key = keys[u]
                entry = found.get(names[i]) if names else None
                if entry is not None:
                    b = self._add(key, entry[1])
                    self.blocks[b] = entry[0]
                    continue
                row = self.layer.compute(key, aux)
                todo.append((self._add(key, row.parts), row))
                if names:
                    todo_names.append(names[i])
            self._sum_rows(todo)
            if todo_names:
                store.put_many({
                    name: (self.blocks[b], {p: row.parts.get(p) for p in self.part_names})
                    for name, (b, row) in zip(todo_names, todo, strict=True)
                })
        return np.fromiter((index[k] for k in keys), dtype=np.int64, count=len(keys))


class _ConjunctionIndex:
    """One conjunction: which part values can start or end a weighted attribute, and the
    attribute row of each code seen (per process, until a part's table starts over)."""

    def __init__(self, conj: Conjunction, weights: CrfWeights) -> None:
        self.conj = conj
        self.weights = weights
        first: set[str] = set()
        last: set[str] = set()
        n = len(conj.prefix)
        for attr in weights.attrs:
            if attr.startswith(conj.prefix):
                rest = attr[n:]
                # Values may hold "|" themselves (NOUN|ADJ): every split is a candidate.
                for i, ch in enumerate(rest):
                    if ch == "|":
                        first.add(rest[:i])
                        last.add(rest[i + 1 :])
        self.candidates = (first, last)
        self.generation: tuple = ()

    def _reset(self, generation: tuple) -> None:
        self.generation = generation
        self.rows: dict[int, int] = {}
        self.ok = [np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)]

    def _ok(self, side: int, table: KeyTable, part: str) -> np.ndarray:
        ok = self.ok[side]
        values = table.values[part]
        if len(ok) < len(values):
            cands = self.candidates[side]
            more = np.fromiter((v in cands for v in values[len(ok):]), dtype=bool)
            ok = self.ok[side] = np.concatenate([ok, more])
        return ok

    def add(self, em: np.ndarray, tables: Mapping[str, KeyTable],
            slots: Mapping[str, np.ndarray], real: np.ndarray) -> None:
        conj = self.conj
        gen = tuple(tables[layer].generation for _, layer, _ in conj.parts)
        if gen != self.generation:
            self._reset(gen)
        ids: list[np.ndarray] = []
        valid = np.ones(len(real), dtype=bool)
        for k, (d, layer, part) in enumerate(conj.parts):
            t = tables[layer]
            x = t.parts[part][slots[layer][real + d]]
            out = conj.outside_value(k)
            if out is not None:
                x = np.where(x == OUTSIDE, t.part_id(part, out), x)
            valid &= x >= 0
            ids.append(x)
        last = len(conj.parts) - 1
        for side, k in ((0, 0), (1, last)):
            _, layer, part = conj.parts[k]
            ok = self._ok(side, tables[layer], part)
            valid &= ok[np.where(ids[k] >= 0, ids[k], 0)]
        sel = np.flatnonzero(valid)
        if not sel.size:
            return
        code = ids[0][sel].astype(np.int64)
        for k in range(1, len(ids)):
            code |= ids[k][sel].astype(np.int64) << (_ID_BITS * k)
        uniq, inv = np.unique(code, return_inverse=True)
        rows = self.rows
        attrs, zero = self.weights.attrs, self.weights.zero
        found = np.empty(len(uniq), dtype=np.int64)
        mask = (1 << _ID_BITS) - 1
        for u, c in enumerate(uniq.tolist()):
            r = rows.get(c)
            if r is None:
                vals = [tables[layer].values[part][(c >> (_ID_BITS * k)) & mask]
                        for k, (_, layer, part) in enumerate(conj.parts)]
                r = rows[c] = attrs.get(conj.prefix + "|".join(vals), zero)
            found[u] = r
        r = found[inv]
        hit = r != zero
        em[sel[hit]] += self.weights.weights[r[hit]]


class EmissionScorer:
    """Emissions of a model's layers and conjunctions over whole chunks."""

    def __init__(
        self,
        weights: CrfWeights,
        layers: Sequence[Layer],
        conjunctions: Sequence[Conjunction] = (),
    ) -> None:
        self.weights = weights
        self.layers = tuple(layers)
        self.conjunctions = tuple(conjunctions)
        names = {layer.name for layer in layers}
        parts: dict[str, list[str]] = {layer.name: [] for layer in layers}
        for c in conjunctions:
            for _, layer, part in c.parts:
                if layer not in names:
                    raise ValueError(f"conjunction {c.prefix!r} names unknown layer {layer!r}")
                if part not in parts[layer]:
                    parts[layer].append(part)
        self.tables = {layer.name: KeyTable(layer, weights, parts[layer.name]) for layer in layers}
        offsets = [abs(d) for layer in layers for d in layer.offsets]
        offsets += [abs(d) for c in conjunctions for d, _, _ in c.parts]
        self.pad = max(offsets, default=0)
        self._conj = [_ConjunctionIndex(c, weights) for c in conjunctions]

    def emissions(
        self,
        lengths: Sequence[int] | np.ndarray,
        keys: Mapping[str, Encoded],
        aux: Any = None,
        stores: Mapping[str, Any] | None = None,
    ) -> np.ndarray:
        """(tokens, labels) emission scores of sentences of ``lengths``, flattened.

        Args:
            lengths: Tokens per sentence.
            keys: Per layer, :func:`encode` of the tokens' keys in token order.
            aux: Passed to each layer's ``compute``.
            stores: Per layer, the persistent row store to read and fill (or none).
        """
        lengths = np.asarray(lengths, dtype=np.int64)
        n = int(lengths.sum())
        n_lab = len(self.weights.labels)
        em = np.zeros((n, n_lab))
        if not n:
            return em
        pad = self.pad
        sentence = np.repeat(np.arange(len(lengths)), lengths)
        real = np.arange(n) + pad * (sentence + 1)
        n_slots = n + pad * (len(lengths) + 1)
        slots: dict[str, np.ndarray] = {}
        for layer in self.layers:
            table = self.tables[layer.name]
            codes, uniq = keys[layer.name]
            blocks_of = table.ensure(uniq, aux, (stores or {}).get(layer.name))
            slot = np.zeros(n_slots, dtype=np.int64)  # 0: outside the sentence
            slot[real] = blocks_of[codes]
            slots[layer.name] = slot
            blocks = table.blocks
            for j, d in enumerate(layer.offsets):
                em += blocks[slot[real + d], j]
        for conj in self._conj:
            conj.add(em, self.tables, slots, real)
        return em
