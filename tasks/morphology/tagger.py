"""Learned UPOS and lemma disambiguation on top of the BAMA analyzer (issue 13).

BAMA gives every word its candidate readings but no frequencies, and the hand-tuned
ranker (:mod:`tasks.morphology.ranker`) stops at about 83 % UPOS on UD Arabic-PUD. A
linear-chain CRF trained on a UD treebank labels each pipeline token with the UPOS of
its content part; the lemma comes from the reading that agrees. Since issue 21 it runs
on the shared sequence runtime (``tasks.sequence``) and is split by concern:

- :mod:`tasks.morphology.pos_data`: CoNLL-U reading and writing, the held-aside split;
- :mod:`tasks.morphology.pos_features`: the features declared for the runtime;
- :mod:`tasks.morphology.pos_lemma`: the lemma and reading that go with a tag;
- :mod:`tasks.morphology.pos_infer`: :class:`PosTagger` and :func:`load_tagger`;
- :mod:`tasks.morphology.pos_train`: :func:`train_tagger` and the model card;
- :mod:`tasks.morphology.prior`: the reading prior learnt from unlabeled news (issue 23);
- :mod:`tasks.morphology.crossval`: k-fold cross-validation scored like ``score_pud.py``.

This module gathers their public names.
"""

from tasks.morphology.pos_data import (
    GoldSentence,
    GoldWord,
    arabic_lemma,
    content_part,
    norm_lemma,
    read_conllu,
    split_holdout,
    write_conllu,
)
from tasks.morphology.pos_infer import (
    DEFAULT_MODEL_DIR,
    FORMAT_VERSION,
    META_FILE,
    MODEL_FILE,
    PosTagger,
    load_tagger,
)
from tasks.morphology.pos_train import TrainReport, fit_tagger, train_tagger

__all__ = [
    "DEFAULT_MODEL_DIR",
    "FORMAT_VERSION",
    "META_FILE",
    "MODEL_FILE",
    "GoldSentence",
    "GoldWord",
    "PosTagger",
    "TrainReport",
    "arabic_lemma",
    "content_part",
    "fit_tagger",
    "load_tagger",
    "norm_lemma",
    "read_conllu",
    "split_holdout",
    "train_tagger",
    "write_conllu",
]
