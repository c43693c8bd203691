"""A CRF model on the runtime: its weights, its declared features, the persistent rows."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tasks.sequence.crf import CrfWeights, read_crfsuite
from tasks.sequence.decode import Decoded, decode
from tasks.sequence.emissions import EmissionScorer, Encoded
from tasks.sequence.items import Item, sentence_items
from tasks.sequence.spec import Conjunction, Layer
from tasks.sequence.store import RowStore, store_key


class SequenceModel:
    """Tag chunks of sentences with a crfsuite model through its declared features.

    Args:
        weights: The model (:func:`load_weights`).
        layers: Its per-key features (word types, token contexts).
        conjunctions: Its neighbour conjunctions.
        fingerprint: What else its rows depend on (feature code bytes, resources; see
            :func:`tasks.sequence.store.code_fingerprint`): part of the persistent key.
    """

    def __init__(
        self,
        weights: CrfWeights,
        layers: Sequence[Layer],
        conjunctions: Sequence[Conjunction] = (),
        fingerprint: str = "",
    ) -> None:
        self.weights = weights
        self.layers = tuple(layers)
        self.conjunctions = tuple(conjunctions)
        self.fingerprint = fingerprint
        self.scorer = EmissionScorer(weights, layers, conjunctions)
        self._stores: dict[str, dict[str, RowStore]] = {}

    @property
    def labels(self) -> tuple[str, ...]:
        return self.weights.labels

    def stores(self, scope: str = "") -> dict[str, RowStore]:
        """The persistent row store of each layer that has store keys (opened lazily).

        ``scope`` names what else the rows depend on that the fingerprint could not
        know at load time (the morphology's analysis cache, for rows built from its
        readings); each scope has its own files.
        """
        stores = self._stores.get(scope)
        if stores is None:
            from tasks.camel_env import cache_dir

            n_lab = len(self.weights.labels)
            stores = self._stores[scope] = {
                layer.name: RowStore(
                    cache_dir(),
                    store_key(self.weights.sha256, layer.name, f"{self.fingerprint}|{scope}"),
                    (len(layer.offsets), n_lab),
                    self.scorer.tables[layer.name].part_names,
                )
                for layer in self.layers
                if layer.store_key is not None
            }
        return stores

    def emissions(self, lengths: Sequence[int], keys: Mapping[str, Encoded],
                  aux: Any = None, persistent: bool | str | None = False) -> np.ndarray:
        """(tokens, labels) emission scores (see :class:`EmissionScorer`)."""
        stores = None
        if persistent is not False and persistent is not None:
            stores = self.stores("" if persistent is True else persistent)
        return self.scorer.emissions(lengths, keys, aux, stores)

    def tag(self, lengths: Sequence[int], keys: Mapping[str, Encoded],
            aux: Any = None, persistent: bool | str | None = False) -> Decoded:
        """Best labels and marginals of every token of the sentences of ``lengths``.

        Args:
            lengths: Tokens per sentence.
            keys: Per layer, ``encode`` of the tokens' keys, sentences one after another.
            aux: Passed to each layer's ``compute`` (the chunk's morphology, say).
            persistent: Read and fill the persistent per-type rows: True, or the name
                of a scope (see :meth:`stores`); False or None: memory only.
        """
        em = self.emissions(lengths, keys, aux, persistent)
        return decode(em, lengths, self.weights.trans)

    def items(self, lengths: Sequence[int], keys: Mapping[str, Sequence[Hashable]],
              aux: Any = None) -> list[list[Item]]:
        """python-crfsuite items of the same features, per sentence (for training)."""
        return sentence_items(self.layers, self.conjunctions, lengths, keys, aux)


def load_weights(path: str | Path) -> CrfWeights:
    """Read a crfsuite model file into arrays (:func:`tasks.sequence.crf.read_crfsuite`)."""
    return read_crfsuite(path)
