"""Tagging with a trained NER model: load it once per process, spans per sentence.

The CRF is scored by the sequence runtime (``tasks.sequence``) over the features of
:mod:`tasks.entities.ner_features`: per-type rows summed once (and kept across runs
with the analysis cache), Viterbi and marginals over all sentences of a chunk at once;
labels and marginals equal crfsuite's own tagger.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tasks.entities.gazetteers import _forms, _surface_skip, load_gazetteers, named_after_heads
from tasks.entities.ner_data import bio_spans
from tasks.entities.ner_doc import doc_layer, document_codes, encode_codes
from tasks.entities.ner_features import (
    CONJUNCTIONS,
    FEATURES_VERSION,
    NerFeatures,
    _clusters,
    _vectors,
    encoded_contexts,
    rule_tags,
    token_keys,
)
from tasks.entities.span_repair import repair_spans
from tasks.entities.spans import EntitySpan
from tasks.errors import EnvironmentError_
from tasks.model_dirs import CONFIG_FILE, MODEL_FILE, SHIPPED_DIR, check_model_dir
from tasks.sequence import Decoded, SequenceModel, encode, load_weights

SECOND_FILE = "ner-doc.crfsuite"  # the second stage, beside MODEL_FILE (the first)


@dataclass
class NerModel:
    """A trained CRF and what it needs at inference; ``method`` names it in the tables."""

    path: Path
    config: dict
    sha256: str
    sequence: SequenceModel = field(repr=False)
    features: NerFeatures = field(repr=False)
    # the document-consistency stage (``tasks.entities.ner_doc``), when the model has one
    second: SequenceModel | None = field(default=None, repr=False)

    @property
    def method(self) -> str:
        return f"crf:{self.sha256[:12]}"

    def keys(self, sentences: Sequence[Sequence[str]], morph: dict[str, list] | None,
             documents: list | None = None) -> dict[str, list]:
        """Per layer, each token's key, sentences one after another."""
        rules = rule_tags(sentences, morph, documents) if self.config.get("rules") else None
        return token_keys(sentences, morph, rules)

    def labels(self) -> tuple[str, ...]:
        """Label names of :meth:`decode`'s indices (the last stage's)."""
        return (self.second or self.sequence).labels

    def decode(
        self,
        sentences: Sequence[Sequence[str]],
        morph: dict[str, list] | None = None,
        documents: list | None = None,
        persistent: bool = False,
    ) -> Decoded:
        """Label indices (:meth:`labels`) and marginals of every token.

        A model with a second stage decodes the chunk once with the first, summarises
        that pass over each document (``documents``: a key per sentence; None: each
        sentence alone; a model whose config says ``scope: chunk`` takes the whole chunk
        as one document) and decodes again with the second. With ``persistent``,
        word-type rows are read from and added to the persistent cache (the result is
        the same).
        """
        keys, lengths = self.first_keys(sentences, morph, documents)
        first = self.sequence.tag(lengths, keys, None, persistent)
        if self.second is None:
            return first
        if self.config["second_stage"].get("scope") == "chunk":
            documents = [0] * len(sentences)  # every mention in the chunk informs the others
        codes = document_codes(sentences, documents, first, self.sequence.labels)
        return self.second.tag(lengths, {**keys, "doc": encode_codes(codes)}, None, persistent)

    def first_keys(self, sentences: Sequence[Sequence[str]], morph: dict[str, list] | None,
                   documents: list | None = None) -> tuple[dict, np.ndarray]:
        """The encoded keys of the first stage's layers, and the sentence lengths."""
        if morph is not None and morph.get("pos") is not None and not self.config.get("rules"):
            # the usual case, without a context tuple per token (equal to ``self.keys``)
            n = sum(len(s) for s in sentences)
            keys = {"word": encode(t for s in sentences for t in s),
                    "ctx": encoded_contexts(n, morph)}
        else:
            keys = {name: encode(k) for name, k in self.keys(sentences, morph, documents).items()}
        lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
        return keys, lengths

    def tag(
        self,
        sentences: Sequence[Sequence[str]],
        morph: dict[str, list] | None = None,
        documents: list | None = None,
        persistent: bool = False,
    ) -> list[list[tuple[int, int, str, float]]]:
        """Spans ``(start, end, label, confidence)`` per sentence.

        The confidence is the least marginal probability of the span's token labels.
        ORG pieces are joined and a person named after an ORG is cut out of it
        (:mod:`tasks.entities.span_repair`) unless the config's ``span_repair`` is false.
        Spans follow ANERcorp's convention: a currency (دولار) or the divine name is MISC;
        ``akhbar report`` leaves such non-names out of its top-entity lists
        (``gazetteers.names_nothing``).
        """
        decoded = self.decode(sentences, morph, documents, persistent)
        labels = self.labels()
        outside = labels.index("O") if "O" in labels else -1
        lens = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
        ends = np.cumsum(lens)
        best = decoded.best_marginals()
        # only sentences with a label other than O have spans (most have none)
        named = np.concatenate([[0], np.cumsum(decoded.labels != outside)])
        out: list[list[tuple[int, int, str, float]]] = [[] for _ in sentences]
        for s in np.flatnonzero(named[ends] > named[ends - lens]).tolist():
            a0, a1 = int(ends[s] - lens[s]), int(ends[s])
            tags = [labels[k] for k in decoded.labels[a0:a1].tolist()]
            marg = best[a0:a1].tolist()
            out[s] = [(a, z, lab, min(marg[a:z])) for a, z, lab in bio_spans(tags)]
            if self.config.get("span_repair", True):  # on unless a model says otherwise
                out[s] = repair_spans(sentences[s], out[s])
        return out


@functools.lru_cache(maxsize=4)
def load_model(path: str | Path | None = None) -> NerModel:
    """Load a trained model once per process (default: the shipped one)."""
    p = check_model_dir(SHIPPED_DIR if path is None else path)
    config = json.loads((p / CONFIG_FILE).read_text(encoding="utf-8"))
    if config.get("features_version") != FEATURES_VERSION:
        raise EnvironmentError_(
            f"NER model {str(p)!r} has features version {config.get('features_version')}, "
            f"this akhbar extracts version {FEATURES_VERSION}: retrain it"
        )
    if config.get("clusters") is not None:
        clusters = _clusters()
        if clusters is None or clusters.sha256 != config["clusters"]:
            raise EnvironmentError_(
                f"NER model {str(p)!r} was trained with the word clusters of sha256 "
                f"{config['clusters'][:12]}, not the installed ones: retrain it"
            )
    vec = config.get("vectors")
    if vec is not None:
        wv = _vectors()
        if wv is None or wv.sha256 != vec["sha256"]:
            raise EnvironmentError_(
                f"NER model {str(p)!r} was trained with the word vectors of sha256 "
                f"{vec['sha256'][:12]}, not the installed ones: retrain it"
            )
    weights = load_weights(p / MODEL_FILE)
    features = NerFeatures(use_clusters=config.get("clusters") is not None,
                           vectors=vec["use"] if vec else None)
    sequence = SequenceModel(weights, features.layers(), CONJUNCTIONS, features.fingerprint())
    sha = weights.sha256
    second = None
    if config.get("second_stage"):
        path2 = p / SECOND_FILE
        if not path2.is_file():
            raise EnvironmentError_(
                f"NER model {str(p)!r} has a second stage but no {SECOND_FILE}: retrain it")
        w2 = load_weights(path2)
        second = SequenceModel(w2, (*features.layers(), doc_layer()), CONJUNCTIONS,
                               features.fingerprint() + "|doc")
        sha = two_stage_sha256(sha, w2.sha256)
    return NerModel(p, config, sha, sequence, features, second)


def two_stage_sha256(first: str, second: str) -> str:
    """The model's sha256 when it has two stages: of the two files' sha256s, in order."""
    return hashlib.sha256(f"{first}\n{second}\n".encode()).hexdigest()


def recognize_with_model(
    sentences: list[list[str]],
    morph: dict[str, list] | None,
    choice: str = "model",
    documents: list | None = None,
    persistent: bool = False,
) -> list[EntitySpan]:
    """Entity spans from a trained model: ``model`` (the shipped one) or a model directory.

    Spans follow the rules' offset convention: a proclitic before an article-bearing name
    is skipped (بالرباط -> الرباط), so ``char_start`` points at the name.
    """
    model = load_model(None if choice == "model" else choice)
    out = []
    for si, spans in enumerate(model.tag(sentences, morph, documents, persistent)):
        toks = sentences[si]
        for a, b, label, conf in spans:
            skip = _surface_skip(toks[a], _proclitic_skip(toks[a]))
            out.append(EntitySpan(si, a, b, label, round(conf, 4), model.method, skip))
    return out


@functools.lru_cache(maxsize=100_000)
def _proclitic_skip(token: str) -> int:
    """Letters of a proclitic before the name in ``token`` (وبالرباط -> 2, بطنجة -> 1).

    Only when the rest is evidently the name: it carries the article, or the gazetteers
    know it and not the whole token (بغداد keeps its ب, لندن its ل), or it is the head
    word of an organisation's name (لمركز الملك سلمان -> مركز; لجنة keeps its ل).
    """
    g = load_gazetteers()
    heads = named_after_heads()
    forms = _forms(token)
    whole = forms[0][0]
    if whole in g.longest or whole in g.first_names or whole in g.org_heads or whole in heads:
        return 0
    for form, skip in forms[1:]:
        if (len(form) > 3 and form.startswith("ال")) or form in g.longest \
                or form in g.first_names or form in g.org_heads or form in heads:
            return skip
    return 0


def model_method(choice: str) -> str:
    """The ``entities.method`` value of a model choice (``crf:<sha256 prefix>``)."""
    return load_model(None if choice == "model" else choice).method
