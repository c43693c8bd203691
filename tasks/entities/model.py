"""Learned named entities: a linear-chain CRF (python-crfsuite) over rich token features.

Issue 12; on the shared sequence runtime since issue 21. The model is split by concern:

- :mod:`tasks.entities.ner_data`: ANERcorp-format BIO files, the held-aside split, scoring;
- :mod:`tasks.entities.ner_features`: the features (word-type rows, token contexts,
  conjunctions) declared for ``tasks.sequence``;
- :mod:`tasks.entities.ner_infer`: :func:`load_model` and the spans of a chunk;
- :mod:`tasks.entities.ner_train`: :func:`train_model` and the model card;
- :mod:`tasks.model_dirs`: where a model lives (light: ``tasks.config`` uses it).

This module gathers their public names. Spans follow ANERcorp's convention (دولار and
الله are MISC); the report leaves such non-names out of its top lists
(``gazetteers.names_nothing``).
"""

from tasks.entities.ner_data import (
    ANERCORP_LICENSE,
    Sentence,
    bio_spans,
    describe_data,
    read_bio,
    retokenize,
    score_spans,
    split_holdout,
    write_bio,
)
from tasks.entities.ner_features import (
    FEATURES_VERSION,
    NerFeatures,
    _strip_clitics,
    contexts,
    rule_tags,
    token_keys,
    training_items,
)
from tasks.entities.ner_infer import NerModel, load_model, model_method, recognize_with_model
from tasks.entities.ner_train import TrainReport, train_model, write_card
from tasks.model_dirs import (
    CARD_FILE,
    CONFIG_FILE,
    MODEL_FILE,
    SHIPPED_DIR,
    check_model_dir,
    shipped_model_available,
)
from tasks.sequence import file_sha256

__all__ = [
    "ANERCORP_LICENSE",
    "CARD_FILE",
    "CONFIG_FILE",
    "FEATURES_VERSION",
    "MODEL_FILE",
    "SHIPPED_DIR",
    "NerFeatures",
    "NerModel",
    "Sentence",
    "TrainReport",
    "_strip_clitics",
    "bio_spans",
    "check_model_dir",
    "contexts",
    "describe_data",
    "file_sha256",
    "load_model",
    "model_method",
    "read_bio",
    "recognize_with_model",
    "retokenize",
    "rule_tags",
    "score_spans",
    "shipped_model_available",
    "split_holdout",
    "token_keys",
    "train_model",
    "training_items",
    "write_bio",
    "write_card",
]
