"""The sequence-labelling runtime shared by the learned POS tagger and NER (issue 21).

A linear-chain CRF trained with python-crfsuite scores a token with the sum of the
weights of its attributes. Almost all attributes depend on one word type seen from one
window offset, so the runtime sums them once per type and offset; a token's emission is
then a handful of numpy gathers, and Viterbi and forward-backward run over all the
sentences of a chunk at once. Labels and marginals equal crfsuite's own tagger.

Modules: ``spec`` (how a model declares its features), ``emissions`` (the per-key
blocks and the chunk's emissions), ``decode`` (batched Viterbi and marginals), ``crf``
(a crfsuite model file as arrays), ``store`` (the persistent per-type rows), ``items``
(the same features as crfsuite items, for training), ``runtime`` (:class:`SequenceModel`).
It imports neither model; both import it.

**Declaring features.** A model gives a list of :class:`Layer` and of
:class:`Conjunction`:

- A layer is one kind of per-token key (the word type; a token context such as the
  morphology's in-sentence POS) with ``compute(key, aux) -> Row``. A :class:`Row` maps
  each window offset ``d`` to the attributes a token gets from the key ``d`` positions
  away, spelled exactly as trained (``{0: ["w=كتاب"], -1: ["-1:w=كتاب"]}``), and names
  the ``parts`` its conjunctions use. ``boundary`` gives the attributes of a position
  outside the sentence (``{-1: ["BOS"]}``). A word-type layer whose rows depend only on
  the key and the model also gives ``store_key`` and is kept in the persistent cache.
- **Dense features**: an attribute may be a ``(name, value)`` pair, e.g.
  ``("e17", 0.031)`` for dimension 17 of an embedding; crfsuite multiplies the weight by
  the value, and so does the runtime, once per type. Training items then come out as
  ``{name: value}`` dicts, which python-crfsuite accepts.
- A conjunction is ``prefix + "|".join(parts)`` over nearby tokens:
  ``Conjunction("w-1|w0=", ((-1, "word", "w"), (0, "word", "w")))``; ``outside``
  gives the value of a part beyond the sentence edge (``"BOS"``), else it is absent.

Train on ``SequenceModel.items(...)`` (the same layers spelled as crfsuite items), so
what is trained is what is scored; bump the model's fingerprint inputs (its feature
module's bytes are part of it) and the persistent rows of the old features are never
read again.
"""

from tasks.sequence.crf import CrfWeights, file_sha256, read_crfsuite
from tasks.sequence.decode import Decoded, decode
from tasks.sequence.emissions import EmissionScorer, encode
from tasks.sequence.runtime import SequenceModel, load_weights
from tasks.sequence.spec import Conjunction, Feature, Layer, Row
from tasks.sequence.store import RowStore, code_fingerprint

__all__ = [
    "Conjunction",
    "CrfWeights",
    "Decoded",
    "EmissionScorer",
    "Feature",
    "Layer",
    "Row",
    "RowStore",
    "SequenceModel",
    "code_fingerprint",
    "decode",
    "encode",
    "file_sha256",
    "load_weights",
    "read_crfsuite",
]
