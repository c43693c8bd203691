"""How a model declares its features to the runtime: layers of keyed rows, conjunctions."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# An attribute as the CRF knows it: a name (value 1.0) or a name with a real value
# (a dense embedding dimension, a score): crfsuite multiplies the weight by the value.
Feature = str | tuple[str, float]


@dataclass(frozen=True)
class Row:
    """What one key (a word type, a token context) gives the tokens around it.

    Attributes:
        features: offset ``d`` -> the attributes a token gets from the key ``d``
            positions away (at ``i + d``), spelled as the model was trained on them
            (``"-1:w=كتاب"``). Offsets the layer declares but the row omits give nothing.
        parts: named strings the layer's conjunctions join (``{"w": "w=كتاب"}``);
            None where the key has no such part (the conjunction is then absent).
    """

    features: Mapping[int, Sequence[Feature]]
    parts: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Layer:
    """One kind of per-token key and the row each key gives.

    Attributes:
        name: The layer's name in ``keys`` and in ``Conjunction.parts``.
        compute: ``compute(key, aux) -> Row``; ``aux`` is whatever the caller passed to
            the scorer for this chunk (e.g. the morphology, for its readings).
        offsets: The offsets the rows use (``(-2, -1, 0, 1, 2)``).
        boundary: offset ``d`` -> the attributes a token gets when ``i + d`` is outside
            its sentence (``{-1: ["BOS"], 1: ["EOS"]}``).
        limit: Keys held in memory; the cache starts over past it (a chunk's own keys are
            always all held while it runs).
        store_key: ``store_key(key) -> str`` for keys whose row depends only on the key
            and the model, which are then kept in the persistent cache; None: never kept.
    """

    name: str
    compute: Callable[[Hashable, Any], Row]
    offsets: tuple[int, ...] = (0,)
    boundary: Mapping[int, Sequence[Feature]] = field(default_factory=dict)
    limit: int = 40_000
    store_key: Callable[[Hashable], str] | None = None


@dataclass(frozen=True)
class Conjunction:
    """An attribute ``prefix + "|".join(values)`` of parts of several nearby tokens.

    ``Conjunction("w-1|w0=", ((-1, "word", "w"), (0, "word", "w")))`` is the pair of the
    previous and the current word. A token has it when every part is present; a part
    outside the sentence takes ``outside[k]`` (``"BOS"``), or, when that is None (the
    default), the token has no such attribute.
    """

    prefix: str
    parts: tuple[tuple[int, str, str], ...]
    outside: tuple[str | None, ...] | None = None

    def outside_value(self, k: int) -> str | None:
        return None if self.outside is None else self.outside[k]
