"""Learned named entities: a linear-chain CRF (python-crfsuite) over rich token features.

Issue 12. The rules in ``tasks/entities`` fit the data they were written against; this
model learns from BIO-labelled text (ANERcorp format: ``token label`` per line, a blank
line between sentences) and uses the rules' resources as *evidence*, not decisions:

* lexical: the normalized word, prefixes and suffixes, the clitic-stripped stem
  (و/ف, ب/ل/ك, ال: وبالرباط -> رباط) and the clitics themselves, a shape for non-words;
* gazetteers: single-word membership per label, given names, titles, organisation heads,
  place cues, verbs of saying, work cues, nationality adjectives, stop words;
* optionally the rules' own spans as BIO features (off in the shipped model: measured no
  gain on held-aside data, and they cost time);
* morphology of the pipeline (``tasks.morphology``): POS, OOV, a capitalised gloss, the
  article;
* word clusters learnt from unlabeled news (``tasks.clusters``), coarse to fine, when the
  shipped clusters are installed;
* a ±2 window over the strongest of these and a few conjunctions of neighbours.

Features that depend only on the word are computed once per word type and cached, and at
inference their weights are summed once per type (``_Scorer``): decoding is numpy
Viterbi and forward-backward over a batch of sentences, equal to crfsuite's own tagger.
Spans follow ANERcorp's convention (دولار and الله are MISC); the report leaves such
non-names out of its top lists (``gazetteers.names_nothing``). Tokens are the pipeline's
(``simple_word_tokenize``): training re-tokenizes the gold whitespace tokens the same
way, so (د gives ( and د and both keep the gold label.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.entities.gazetteers import (
    _forms,
    _is_word,
    _light,
    _surface_skip,
    load_gazetteers,
    normalize_name,
)
from tasks.entities.spans import EntitySpan
from tasks.errors import ConfigError, EnvironmentError_

MODEL_FILE = "ner.crfsuite"
CONFIG_FILE = "config.json"
CARD_FILE = "MODEL_CARD.md"
SHIPPED_DIR = Path(__file__).parents[1] / "models" / "ner"
FEATURES_VERSION = 1
# ANERcorp spells the person label PERS; the entities table says PER.
_LABEL_MAP = {"PERS": "PER", "PER": "PER", "LOC": "LOC", "ORG": "ORG", "MISC": "MISC"}
_LATIN = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"[0-9\u0660-\u0669]")
_DENSE_ATTR = re.compile(r"e[0-9]+")
ANERCORP_LICENSE = (
    "ANERcorp: Benajiba, Rosso & Benedí (2007), ANERsys; train split as fixed by CAMeL Lab "
    "(Obeid et al. 2020, CAMeL Tools, LREC), distributed at "
    "github.com/CAMeL-Lab/ANERcorp-CamelLabSplits. License: CC BY-SA 4.0 as stated by that "
    "distribution (not re-checked offline). The model holds feature weights learnt from it, "
    "no text."
)
_TRAIN_PARAMS = {"c1": 0.1, "c2": 0.01, "max_iterations": 150,
                 "feature.possible_transitions": True}


Sentence = list[tuple[str, str]]


def read_bio(path: str | Path) -> list[Sentence]:
    """Sentences of an ANERcorp-format file as ``(token, tag)`` lists.

    Raises:
        ConfigError: the file is missing or a line has no tag.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"NER training file {str(p)!r} does not exist")
    sents: list[Sentence] = []
    cur: Sentence = []
    for n, line in enumerate(p.read_text(encoding="utf-8").split("\n"), 1):
        line = line.strip()
        if not line:
            if cur:
                sents.append(cur)
                cur = []
            continue
        tok, _, tag = line.rpartition(" ")
        if not tok or not (tag == "O" or tag[:2] in ("B-", "I-")):
            raise ConfigError(f"{p}:{n}: expected 'token TAG' (BIO), got {line!r}")
        if tag != "O":
            label = _LABEL_MAP.get(tag[2:])
            if label is None:
                raise ConfigError(f"{p}:{n}: unknown entity label {tag[2:]!r}")
            tag = tag[:2] + label
        cur.append((tok, tag))
    if cur:
        sents.append(cur)
    return sents


def describe_data(paths: Sequence[str | Path]) -> str:
    """One line per training file: its name, sentences, tokens and sha256 (for the card)."""
    lines = []
    for path in paths:
        p = Path(path)
        sents = read_bio(p)
        n_tok = sum(len(s) for s in sents)
        lines.append(f"- `{p.name}`: {len(sents)} sentences, {n_tok} tokens, "
                     f"sha256 `{file_sha256(p)}`")
    return "\n".join(lines)


def write_bio(sents: Iterable[Sentence], path: str | Path) -> None:
    """Write sentences in the ANERcorp format (``PER`` spelled ``PERS`` as the corpus does)."""
    lines = []
    for s in sents:
        for tok, tag in s:
            lines.append(f"{tok} {tag.replace('-PER', '-PERS') if tag != 'O' else tag}")
        lines.append("")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def split_holdout(
    sents: Sequence[Sentence], fraction: float, seed: int, block: int = 100
) -> tuple[list[Sentence], list[Sentence]]:
    """Seeded split into (train, held-aside) sentences, in blocks of consecutive sentences.

    ANERcorp has no article boundaries, and one article repeats its names: sentences
    drawn one by one would put the same names on both sides and flatter the score. Whole
    blocks of ``block`` sentences (several articles) are held aside instead; both parts
    keep file order.
    """
    if not 0 <= fraction < 1:
        raise ConfigError(f"holdout fraction {fraction!r} must be in [0, 1)")
    n_blocks = -(-len(sents) // block)
    n_hold = int(round(n_blocks * fraction))
    held = set(random.Random(seed).sample(range(n_blocks), n_hold))
    train = [s for i, s in enumerate(sents) if i // block not in held]
    hold = [s for i, s in enumerate(sents) if i // block in held]
    return train, hold


def retokenize(sent: Sentence) -> tuple[list[str], list[str]]:
    """Pipeline tokens of a gold sentence and their BIO tags.

    Each whitespace token is split the way ``tasks.segment`` splits it; the pieces of a
    B- token are B- then I-, so the entity's span is unchanged.
    """
    from tasks.segment import tokenize_with_offsets

    toks: list[str] = []
    tags: list[str] = []
    for tok, tag in sent:
        pieces = [t for t, _, _ in tokenize_with_offsets(tok)] or [tok]
        for k, piece in enumerate(pieces):
            toks.append(piece)
            tags.append(tag if k == 0 or tag == "O" else "I-" + tag[2:])
    return toks, tags


def bio_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """``(start, end, label)`` spans of a BIO sequence, conlleval style (a stray I- starts one)."""
    spans = []
    start = label = None
    for i, tag in enumerate([*tags, "O"]):
        if start is not None and not (tag.startswith("I-") and tag[2:] == label):
            spans.append((start, i, label))
            start = label = None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):
            start, label = i, tag[2:]
    return spans


def _strip_clitics(n: str) -> tuple[str, str]:
    """(clitics, stem) of a normalized word: وبالرباط -> ('و+ب+ال', 'رباط')."""
    cl = []
    if len(n) > 3 and n[0] in "وف":
        cl.append(n[0])
        n = n[1:]
    if len(n) > 3 and n[0] in "بلك":
        cl.append(n[0])
        n = n[1:]
        if cl[-1] == "ل" and n.startswith("ل") and len(n) > 2:
            # لل is ل + the article whose alef is dropped (للأمم)
            cl.append("ال")
            n = n[1:]
    if len(n) > 3 and n.startswith("ال"):
        cl.append("ال")
        n = n[2:]
    return "+".join(cl), n


def _shape(tok: str) -> str:
    out = []
    for ch in tok[:6]:
        if _DIGIT.match(ch):
            c = "0"
        elif _LATIN.match(ch):
            c = "a"
        elif "\u0621" <= ch <= "\u064a":
            c = "ع"
        else:
            c = ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


@dataclass(frozen=True)
class _TypeFeatures:
    own: tuple[str, ...]  # features of the word at position 0
    near: tuple[str, ...]  # its features worth seeing from ±1
    far: tuple[str, ...]  # and from ±2
    pair: str  # what neighbour conjunctions see: the 256-way cluster, else the shape
    dense: tuple[float, ...] = ()  # the word's standardized vector (tasks.embeddings)


class FeatureExtractor:
    """Turns pipeline sentences into crfsuite feature lists, caching per word type."""

    def __init__(
        self, use_clusters: bool = True, cache_limit: int = 40_000, vectors: str | None = None
    ) -> None:
        """``vectors``: ``clusters`` (embedding cluster ids), ``dense`` (the vector itself
        as float features) or ``both``, from the shipped ``tasks.embeddings``; None: none."""
        self.g = load_gazetteers()
        self.clusters = _clusters() if use_clusters else None
        self.vectors = _vectors() if vectors else None
        self.vector_use = vectors if self.vectors is not None else None
        self._cache: dict[str, _TypeFeatures] = {}
        self._limit = cache_limit

    def type_features(self, tok: str) -> _TypeFeatures:
        hit = self._cache.get(tok)
        if hit is None:
            if len(self._cache) >= self._limit:
                self._cache.clear()
            hit = self._cache[tok] = self._compute(tok)
        return hit

    def _compute(self, tok: str) -> _TypeFeatures:
        g = self.g
        n = normalize_name(tok)
        own = ["w=" + n]
        near = ["w=" + n]
        far = []
        if not _is_word(tok):
            sh = "sh=" + _shape(tok)
            own.append(sh)
            near.append(sh)
            far.append(sh)
        else:
            cl, stem = _strip_clitics(n)
            own += ["st=" + stem, "cl=" + cl, "len=" + str(min(len(stem), 9))]
            if len(stem) > 4:
                own += ["sp4=" + stem[:4], "ss4=" + stem[-4:]]
            for k in (1, 2, 3):
                if len(n) > k:
                    own += [f"p{k}=" + n[:k], f"s{k}=" + n[-k:]]
                if len(stem) > k:
                    own += [f"sp{k}=" + stem[:k], f"ss{k}=" + stem[-k:]]
            near.append("st=" + stem)
            far.append("st=" + stem)
            flags = set()
            if _light(tok) in g.stop:  # stop words keep ى: على 'on' is not the name علي
                flags.add("stop")
            for form, _skip in _forms(tok):
                hit = g.phrases.get((form,))
                if hit is not None:
                    flags.add("gz=" + hit[0] + ("?" if hit[1] else ""))
                if form in g.longest and g.longest[form] > 1:
                    flags.add("gzs")
                amb = g.first_names.get(form)
                if amb is not None:
                    flags.add("fn" + ("?" if amb else ""))
                if (form,) in g.titles:
                    flags.add("ti")
                elif form in g.title_longest:
                    flags.add("tis")
                kind = g.org_heads.get(form)
                if kind is not None:
                    flags.add("oh=" + kind)
                if form in g.loc_cues:
                    flags.add("lc")
                if form in g.speech:
                    flags.add("sp")
                if form in g.misc_cues:
                    flags.add("mc")
                if form in g.demonyms:
                    flags.add("dm")
            fl = sorted(flags)
            own += fl
            near += fl
            far += [f for f in fl if f != "stop"]
        pair = None
        if self.clusters is not None:
            ids = self.clusters.lookup(tok)
            if ids:
                cs = [f"c{k}={c}" for k, c in enumerate(ids)]
                own += cs
                near += cs
                far.append(cs[0])
                pair = cs[min(2, len(cs) - 1)]
            else:
                own.append("c=none")  # rare in the news: names often are
        if pair is None:
            pair = "sh=" + _shape(tok)
        dense: tuple[float, ...] = ()
        if self.vector_use is not None and _is_word(tok):
            # issue 22: subword vectors reach words the corpus and the clusters never saw
            if self.vector_use in ("clusters", "both"):
                ks = [f"k{k}={c}" for k, c in enumerate(self.vectors.clusters(tok))]
                own += ks
                near.append(ks[1 if len(ks) > 1 else 0])
            if self.vector_use in ("dense", "both"):
                dense = _standardized(self.vectors, tok)
        return _TypeFeatures(tuple(own), tuple(near), tuple(far), pair, dense)

    def contexts(
        self,
        sentences: Sequence[Sequence[str]],
        morph: dict[str, list] | None,
        rule_tags: Sequence[Sequence[str]] | None,
    ) -> list[list[tuple[str, ...]]]:
        """Token-level features (morphology, the rules' tags) per token per sentence.

        Args:
            sentences: Pipeline tokens per sentence.
            morph: ``pos``, ``is_oov``, ``gloss``, ``bw`` flattened over the sentences in
                order (``Morphology.analyze_sentences``), or None.
            rule_tags: BIO tags from the rules per sentence, or None.
        """
        has_morph = morph is not None and morph.get("pos") is not None
        if has_morph:
            n = len(morph["pos"])
            pos = morph["pos"]
            oov = morph.get("is_oov") or [None] * n
            gloss = morph.get("gloss") or [None] * n
            bw = morph.get("bw") or [None] * n
        out = []
        offset = 0
        for si, toks in enumerate(sentences):
            rows = []
            for i in range(len(toks)):
                f: list[str] = []
                if has_morph:
                    k = offset + i
                    f.append(f"pos={pos[k]}")
                    if oov[k]:
                        f.append("oov")
                    if (gloss[k] or "").rsplit("+", 1)[-1][:1].isupper():
                        f.append("capgl")  # a proper name's gloss: the+Syrian, Tangier
                    if "/DET" in (bw[k] or ""):
                        f.append("det")
                if rule_tags is not None:
                    f.append("r=" + rule_tags[si][i])
                rows.append(tuple(f))
            out.append(rows)
            offset += len(toks)
        return out

    def keys(
        self, sentences: Sequence[Sequence[str]], contexts: list[list[tuple[str, ...]]]
    ) -> list[list[list[tuple]]]:
        """Per token, the keys of its feature groups (see ``expand``).

        A group depends on one word type or one token context and an offset, so its
        features (and at inference its weight vector) are computed once per batch.
        """
        out = []
        for toks, ctx in zip(sentences, contexts, strict=True):
            m = len(toks)
            sent = []
            for i in range(m):
                k: list[tuple] = [("o", toks[i])]
                if ctx[i]:
                    k.append(("c", ctx[i], 0))
                if i == 0:
                    k.append(("s", "BOS"))
                if i == m - 1:
                    k.append(("s", "EOS"))
                for d in (-1, 1):
                    j = i + d
                    if 0 <= j < m:
                        k.append(("n", toks[j], d))
                        if ctx[j]:
                            k.append(("c", ctx[j], d))
                for d in (-2, 2):
                    j = i + d
                    if 0 <= j < m:
                        k.append(("f", toks[j], d))
                        if ctx[j]:
                            k.append(("c1", ctx[j][0], d))
                # conjunctions of neighbours: word pairs, cluster pairs, the POS trigram
                t0 = self.type_features(toks[i])
                if i > 0:
                    tp = self.type_features(toks[i - 1])
                    k.append(("s", "w-1|w0=" + tp.own[0] + "|" + t0.own[0]))
                    k.append(("s", "c-1|c0=" + tp.pair + "|" + t0.pair))
                if i < m - 1:
                    tn = self.type_features(toks[i + 1])
                    k.append(("s", "w0|w+1=" + t0.own[0] + "|" + tn.own[0]))
                    k.append(("s", "c0|c+1=" + t0.pair + "|" + tn.pair))
                if ctx[i] and ctx[i][0].startswith("pos="):
                    a = ctx[i - 1][0] if i > 0 and ctx[i - 1] else "BOS"
                    b = ctx[i + 1][0] if i < m - 1 and ctx[i + 1] else "EOS"
                    k.append(("s", f"pos3={a}|{ctx[i][0]}|{b}"))
                sent.append(k)
            out.append(sent)
        return out

    def expand(self, key: tuple) -> tuple[str, ...]:
        """The feature strings of one group key."""
        kind = key[0]
        if kind == "s":
            return (key[1],)
        if kind == "o":
            return self.type_features(key[1]).own
        d = key[2]
        if kind == "c":
            return key[1] if d == 0 else tuple(f"{d}:{x}" for x in key[1])
        if kind == "c1":
            return (f"{d}:{key[1]}",)
        tf = self.type_features(key[1])
        return tuple(f"{d}:{x}" for x in (tf.near if kind == "n" else tf.far))

    def sentences(
        self,
        sentences: Sequence[Sequence[str]],
        morph: dict[str, list] | None,
        rule_tags: Sequence[Sequence[str]] | None,
    ) -> list[list[list[str]]]:
        """crfsuite feature lists per token per sentence (for training)."""
        expand = self.expand
        out = []
        keys = self.keys(sentences, self.contexts(sentences, morph, rule_tags))
        for toks, sent in zip(sentences, keys, strict=True):
            rows = [[f for k in ks for f in expand(k)] for ks in sent]
            if self.vector_use in ("dense", "both"):
                # crfsuite takes float-valued attributes as a dict: name -> value
                rows = [{**dict.fromkeys(r, 1.0), **_dense_attrs(self.type_features(t))}
                        for r, t in zip(rows, toks, strict=True)]
            out.append(rows)
        return out


def _dense_attrs(tf: _TypeFeatures) -> dict[str, float]:
    return {f"e{k}": v for k, v in enumerate(tf.dense)}


DENSE_SCALE = 0.3  # standardized dimensions times this: comparable to a 1.0 indicator


def _standardized(wv: Any, tok: str) -> tuple[float, ...]:
    mu, sd = _vector_stats(wv)
    return tuple(float(x) for x in (wv.vector(tok) - mu) / sd * DENSE_SCALE)


@functools.lru_cache(maxsize=2)
def _vector_stats(wv: Any):
    v = wv.vectors.astype("float32")
    return v.mean(0), v.std(0) + 1e-6


@functools.lru_cache(maxsize=1)
def _vectors() -> Any:
    """The shipped word vectors (``tasks.embeddings``), or None when they are not there."""
    from tasks.embeddings import load_vectors

    return load_vectors()


class _Scorer:
    """The CRF's weights as arrays: emissions from cached feature-group vectors, then
    Viterbi and forward-backward over all sentences of a batch at once (numpy).

    crfsuite's own tagger converts every feature string of every token; here each group
    (a word type's features seen from an offset, a morphology context) is summed once.
    """

    def __init__(self, tagger: Any, extractor: FeatureExtractor) -> None:
        import numpy as np

        info = tagger.info()
        self.labels = list(tagger.labels())
        lab = {x: k for k, x in enumerate(self.labels)}
        n_lab = len(self.labels)
        self.trans = np.zeros((n_lab, n_lab))
        for (a, b), w in info.transitions.items():
            self.trans[lab[a], lab[b]] = w
        attrs: dict[str, int] = {}
        rows: list[tuple[int, int, float]] = []
        for (attr, y), w in info.state_features.items():
            rows.append((attrs.setdefault(attr, len(attrs)), lab[y], w))
        self.weights = np.zeros((len(attrs) + 1, n_lab))  # last row: no weights
        for a, y, w in rows:
            self.weights[a, y] = w
        self.attrs = attrs
        self.extractor = extractor
        self._zero = len(attrs)
        # features by the offset they are seen from: "-1:w=X" is found as _by_offset[-1]["w=X"]
        self._by_offset: dict[int, dict[str, int]] = {d: {} for d in (-2, -1, 0, 1, 2)}
        for attr, row in attrs.items():
            head, colon, rest = attr.partition(":")
            if colon and head in ("-2", "-1", "1", "2"):
                self._by_offset[int(head)][rest] = row
            else:
                self._by_offset[0][attr] = row
        self._pending: list[list[int]] = []
        # the words on each side of the weighted word pairs (w-1|w0=w=X|w=Y), by direction
        self._w_left: dict[int, set[str]] = {-1: set(), 1: set()}
        self._w_right: dict[int, set[str]] = {-1: set(), 1: set()}
        for attr in attrs:
            for d, head in ((-1, "w-1|w0="), (1, "w0|w+1=")):
                if attr.startswith(head):
                    a, _, b = attr[len(head):].rpartition("|w=")
                    self._w_left[d].add(a)
                    self._w_right[d].add("w=" + b)
        self._pair_rows: dict[tuple, int] = {}
        self._types: dict[str, tuple] = {}
        self._ctxs: dict[tuple, tuple] = {}
        self._groups = np.zeros((1024, n_lab))
        self._n_groups = 0
        # float features e0..eN (the word's vector): their weights as one matrix, so a
        # word type's contribution is one product, made once per type
        dense = sorted((int(a[1:]), r) for a, r in attrs.items() if _DENSE_ATTR.fullmatch(a))
        self._dense_w = None
        if dense:
            n_dim = dense[-1][0] + 1
            self._dense_w = np.zeros((n_dim, n_lab))
            for k, r in dense:
                self._dense_w[k] = self.weights[r]
        self._dense_rows: dict[str, int] = {}
        self._dense_vecs: list = [np.zeros(n_lab)]

    def _materialize(self) -> None:
        import numpy as np

        if not self._pending:
            return
        n_new = len(self._pending)
        need = self._n_groups + n_new
        if need > len(self._groups):
            grown = np.zeros((max(need, 2 * len(self._groups)), self._groups.shape[1]))
            grown[: self._n_groups] = self._groups[: self._n_groups]
            self._groups = grown
        flat = [r for hits in self._pending for r in hits]
        starts = np.cumsum([0] + [len(h) for h in self._pending[:-1]])
        self._groups[self._n_groups: need] = np.add.reduceat(self.weights[flat], starts, axis=0)
        self._n_groups = need
        self._pending = []

    def _sum(self, hits: list[int]) -> int:
        """Row for the sum of weight rows ``hits`` (summed later, in ``_materialize``)."""
        if not hits:
            return self._zero
        if len(hits) == 1:
            return hits[0]
        self._pending.append(hits)
        return len(self.weights) + self._n_groups + len(self._pending) - 1

    def _type_rows(self, tok: str) -> tuple[int, int, int, int, int]:
        """Rows of a word type: its own features, and as seen from -1, +1, -2, +2.

        Token i sees its neighbour i+d through features prefixed with d (``-1:w=X``).
        """
        rows = self._types.get(tok)
        if rows is None:
            tf = self.extractor.type_features(tok)
            bo, sm = self._by_offset, self._sum
            o, m1, p1, m2, p2 = bo[0], bo[-1], bo[1], bo[-2], bo[2]
            rows = self._types[tok] = (
                sm([o[f] for f in tf.own if f in o]),
                sm([m1[f] for f in tf.near if f in m1]),
                sm([p1[f] for f in tf.near if f in p1]),
                sm([m2[f] for f in tf.far if f in m2]),
                sm([p2[f] for f in tf.far if f in p2]),
            )
        return rows

    def _ctx_rows(self, ctx: tuple[str, ...]) -> tuple[int, int, int, int, int]:
        rows = self._ctxs.get(ctx)
        if rows is None:
            if not ctx:
                rows = (self._zero,) * 5
            else:
                bo, sm = self._by_offset, self._sum
                rows = tuple(sm([bo[d][f] for f in ctx if f in bo[d]]) for d in (0, -1, 1))
                rows += tuple(sm([bo[d][ctx[0]]] if ctx[0] in bo[d] else []) for d in (-2, 2))
            self._ctxs[ctx] = rows
        return rows

    def emissions(self, sentences: Sequence[Sequence[str]], contexts: list[list[tuple]]):
        """Per-token label scores of all sentences, flattened; exactly crfsuite's sums."""
        import numpy as np

        # about two chunks' vocabulary: larger caches grew each worker by hundreds of MB
        if self._n_groups > 120_000 or len(self._types) > 40_000:  # (issue 14)
            self._types.clear()
            self._ctxs.clear()
            self._n_groups = 0
            self._dense_rows.clear()
            del self._dense_vecs[1:]
        dense_w, dense_rows, dense_vecs = self._dense_w, self._dense_rows, self._dense_vecs
        drow: list[int] = []
        type_rows, ctx_rows = self._type_rows, self._ctx_rows
        ex = self.extractor
        attrs, zero = self.attrs, self._zero
        trow: list[tuple] = []
        crow: list[tuple] = []
        pos: list[int] = []
        length: list[int] = []
        conj: list[int] = []  # token, row pairs of the conjunction features present
        left, right, pairs = self._w_left, self._w_right, self._pair_rows
        k = 0
        for toks, ctx in zip(sentences, contexts, strict=True):
            m = len(toks)
            tfs = [ex.type_features(t) for t in toks]
            words = [tf.own[0] for tf in tfs]
            for i in range(m):
                trow.append(type_rows(toks[i]))
                crow.append(ctx_rows(ctx[i]))
                if dense_w is not None:
                    r = dense_rows.get(toks[i])
                    if r is None:
                        d = tfs[i].dense
                        r = dense_rows[toks[i]] = len(dense_vecs) if d else 0
                        if d:
                            dense_vecs.append(np.asarray(d) @ dense_w[: len(d)])
                    drow.append(r)
                feats = []
                # only words that occur in a weighted pair can make one (most do not)
                if i > 0:
                    if words[i - 1] in left[-1] and words[i] in right[-1]:
                        feats.append("w-1|w0=" + words[i - 1] + "|" + words[i])
                    r = pairs.get((-1, tfs[i - 1].pair, tfs[i].pair))
                    if r is None:
                        r = pairs[(-1, tfs[i - 1].pair, tfs[i].pair)] = attrs.get(
                            "c-1|c0=" + tfs[i - 1].pair + "|" + tfs[i].pair, zero)
                    if r != zero:
                        conj += (k + i, r)
                if i < m - 1:
                    if words[i] in left[1] and words[i + 1] in right[1]:
                        feats.append("w0|w+1=" + words[i] + "|" + words[i + 1])
                    r = pairs.get((1, tfs[i].pair, tfs[i + 1].pair))
                    if r is None:
                        r = pairs[(1, tfs[i].pair, tfs[i + 1].pair)] = attrs.get(
                            "c0|c+1=" + tfs[i].pair + "|" + tfs[i + 1].pair, zero)
                    if r != zero:
                        conj += (k + i, r)
                if ctx[i] and ctx[i][0].startswith("pos="):
                    a = ctx[i - 1][0] if i > 0 and ctx[i - 1] else "BOS"
                    b = ctx[i + 1][0] if i < m - 1 and ctx[i + 1] else "EOS"
                    feats.append(f"pos3={a}|{ctx[i][0]}|{b}")
                for f in feats:
                    r = attrs.get(f, zero)
                    if r != zero:
                        conj += (k + i, r)
            pos.extend(range(m))
            length.extend([m] * m)
            k += m
        n_lab = len(self.labels)
        if not k:
            return np.zeros((0, n_lab))
        self._materialize()
        table = np.concatenate([self.weights, self._groups[: self._n_groups]])
        tr, cr = np.asarray(trow), np.asarray(crow)
        pos_a, len_a = np.asarray(pos), np.asarray(length)
        em = table[tr[:, 0]] + table[cr[:, 0]]
        for col, d in ((1, -1), (2, 1), (3, -2), (4, 2)):
            ok = np.flatnonzero((pos_a + d >= 0) & (pos_a + d < len_a))
            em[ok] += table[tr[ok + d, col]] + table[cr[ok + d, col]]
        for name, where in (("BOS", pos_a == 0), ("EOS", pos_a == len_a - 1)):
            em[where] += table[attrs.get(name, zero)]
        if conj:
            pairs = np.asarray(conj).reshape(-1, 2)
            np.add.at(em, pairs[:, 0], table[pairs[:, 1]])
        if dense_w is not None:
            em += np.asarray(dense_vecs)[np.asarray(drow)]
        return em

    def decode(self, emissions, lengths: list[int]) -> list[tuple[list[int], list[float]]]:
        """Best label path and its per-token marginal probabilities, per sentence."""
        import numpy as np

        out: list[tuple[list[int], list[float]]] = [([], [])] * len(lengths)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(int)
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        trans = self.trans
        exp_trans = np.exp(trans)
        n_lab = trans.shape[0]
        for b in range(0, len(order), 512):  # similar lengths together: little padding
            idx = [s for s in order[b:b + 512] if lengths[s]]
            if not idx:
                continue
            lens = np.array([lengths[s] for s in idx])
            t_max = int(lens.max())
            em = np.zeros((len(idx), t_max, n_lab))
            for r, s in enumerate(idx):
                em[r, : lens[r]] = emissions[offsets[s]: offsets[s + 1]]
            live = np.arange(t_max)[None, :] < lens[:, None]  # (S, T)
            # Viterbi (max-plus, so over (S, L, L) arrays)
            score = em[:, 0].copy()
            back = np.zeros((len(idx), t_max, n_lab), dtype=np.int64)
            for t in range(1, t_max):
                cand = score[:, :, None] + trans[None]
                best = cand.argmax(1)
                back[:, t] = best
                new = np.take_along_axis(cand, best[:, None, :], 1)[:, 0] + em[:, t]
                score = np.where(live[:, t, None], new, score)
            # forward-backward in scaled probabilities: matrix products, log scale kept
            e = np.exp(em - em.max(2, keepdims=True))
            alpha = np.empty_like(em)
            a = e[:, 0]
            a = a / a.sum(1, keepdims=True)
            alpha[:, 0] = a
            for t in range(1, t_max):
                a = (a @ exp_trans) * e[:, t]
                a = a / a.sum(1, keepdims=True)
                alpha[:, t] = a
            beta = np.empty_like(em)
            bb = np.ones((len(idx), n_lab))
            beta[:, t_max - 1] = bb
            for t in range(t_max - 2, -1, -1):
                nxt = (e[:, t + 1] * bb) @ exp_trans.T
                nxt = nxt / nxt.sum(1, keepdims=True)
                bb = np.where(live[:, t + 1, None], nxt, 1.0)
                beta[:, t] = bb
            post = alpha * beta
            post /= post.sum(2, keepdims=True)
            for r, s in enumerate(idx):
                n = int(lens[r])
                path = [int(score[r].argmax())]
                for t in range(n - 1, 0, -1):
                    path.append(int(back[r, t, path[-1]]))
                path.reverse()
                out[s] = (path, post[r, np.arange(n), path].tolist())
        return out


@functools.lru_cache(maxsize=1)
def _clusters() -> Any:
    """The shipped word clusters (``tasks.clusters``), or None when they are not there."""
    try:
        from tasks.clusters import load_clusters
    except ImportError:
        return None
    return load_clusters()


def rule_tags(
    sentences: Sequence[Sequence[str]], morph: dict[str, list] | None,
    documents: list | None = None,
) -> list[list[str]]:
    """BIO tags of the rules' spans per sentence; the tag carries the kind of rule."""
    from tasks.entities.rules import recognize_rules

    tags = [["O"] * len(s) for s in sentences]
    for sp in recognize_rules(list(map(list, sentences)), morph, documents):
        kind = f"{sp.score:.2f}"
        row = tags[sp.sentence]
        row[sp.token_start] = f"B-{sp.label}@{kind}"
        for k in range(sp.token_start + 1, sp.token_end):
            row[k] = f"I-{sp.label}"
    return tags


@dataclass
class NerModel:
    """A trained CRF and what it needs at inference; ``method`` names it in the tables."""

    path: Path
    config: dict
    sha256: str
    scorer: _Scorer = field(repr=False)
    extractor: FeatureExtractor = field(repr=False)

    @property
    def method(self) -> str:
        return f"crf:{self.sha256[:12]}"

    def tag(
        self,
        sentences: Sequence[Sequence[str]],
        morph: dict[str, list] | None = None,
        documents: list | None = None,
    ) -> list[list[tuple[int, int, str, float]]]:
        """Spans ``(start, end, label, confidence)`` per sentence.

        The confidence is the least marginal probability of the span's token labels.
        Spans follow ANERcorp's convention: a currency (دولار) or the divine name is MISC;
        ``akhbar report`` leaves such non-names out of its top-entity lists
        (``gazetteers.names_nothing``).
        """
        ex = self.extractor
        rules = rule_tags(sentences, morph, documents) if self.config.get("rules") else None
        contexts = ex.contexts(sentences, morph, rules)
        scorer = self.scorer
        out = []
        for b in range(0, len(sentences), 1000):  # bounds the emission arrays' memory
            sents = sentences[b:b + 1000]
            em = scorer.emissions(sents, contexts[b:b + 1000])
            decoded = scorer.decode(em, [len(s) for s in sents])
            out.extend(self._spans(decoded))
        return out

    def _spans(self, decoded):
        out = []
        for path, marg in decoded:
            labels = [self.scorer.labels[k] for k in path]
            out.append([(a, b, lab, min(marg[a:b])) for a, b, lab in bio_spans(labels)])
        return out


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shipped_model_available() -> bool:
    """True when the package carries a trained model (tasks/models/ner/)."""
    return (SHIPPED_DIR / MODEL_FILE).is_file() and (SHIPPED_DIR / CONFIG_FILE).is_file()


def check_model_dir(path: str | Path) -> Path:
    """The directory if it holds a trained NER model; else ConfigError naming it."""
    p = Path(path).expanduser()
    for name in (MODEL_FILE, CONFIG_FILE):
        if not (p / name).is_file():
            raise ConfigError(
                f"NER model directory {str(path)!r} has no {name} "
                "(train one with `akhbar train ner --data FILE --out DIR`)"
            )
    return p


@functools.lru_cache(maxsize=4)
def load_model(path: str | Path | None = None) -> NerModel:
    """Load a trained model once per process (default: the shipped one)."""
    import pycrfsuite

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
    tagger = pycrfsuite.Tagger()
    tagger.open(str(p / MODEL_FILE))
    extractor = FeatureExtractor(use_clusters=config.get("clusters") is not None,
                                 vectors=vec["use"] if vec else None)
    scorer = _Scorer(tagger, extractor)
    tagger.close()
    return NerModel(p, config, file_sha256(p / MODEL_FILE), scorer, extractor)


def recognize_with_model(
    sentences: list[list[str]],
    morph: dict[str, list] | None,
    choice: str = "model",
    documents: list | None = None,
) -> list[EntitySpan]:
    """Entity spans from a trained model: ``model`` (the shipped one) or a model directory.

    Spans follow the rules' offset convention: a proclitic before an article-bearing name
    is skipped (بالرباط -> الرباط), so ``char_start`` points at the name.
    """
    model = load_model(None if choice == "model" else choice)
    out = []
    for si, spans in enumerate(model.tag(sentences, morph, documents)):
        toks = sentences[si]
        for a, b, label, conf in spans:
            skip = _surface_skip(toks[a], _proclitic_skip(toks[a]))
            out.append(EntitySpan(si, a, b, label, round(conf, 4), model.method, skip))
    return out


@functools.lru_cache(maxsize=100_000)
def _proclitic_skip(token: str) -> int:
    """Letters of a proclitic before the name in ``token`` (وبالرباط -> 2, بطنجة -> 1).

    Only when the rest is evidently the name: it carries the article, or the gazetteers
    know it and not the whole token (بغداد keeps its ب, لندن its ل).
    """
    g = load_gazetteers()
    forms = _forms(token)
    whole = forms[0][0]
    if whole in g.longest or whole in g.first_names:
        return 0
    for form, skip in forms[1:]:
        if (len(form) > 3 and form.startswith("ال")) or form in g.longest \
                or form in g.first_names:
            return skip
    return 0


def model_method(choice: str) -> str:
    """The ``entities.method`` value of a model choice (``crf:<sha256 prefix>``)."""
    return load_model(None if choice == "model" else choice).method


@dataclass
class TrainReport:
    """What ``train_model`` did: where the model is and how it scored on the held-aside part."""

    out_dir: Path
    sha256: str
    n_train: int
    n_holdout: int
    scores: dict[str, dict[str, float]]
    seconds: float


def _prepare(sents: Sequence[Sentence], morphology: Any):
    toks, tags = zip(*(retokenize(s) for s in sents), strict=True) if sents else ((), ())
    toks = [list(t) for t in toks]
    morph = None
    if morphology is not None:
        morph = morphology.analyze_sentences(toks)
        if morphology.source == "bama":
            # the same readings the pipeline gives the model (tasks/annotate.py): BAMA's,
            # re-picked by the learned POS tagger when it ships (issue 13)
            from tasks.morphology.tagger import load_tagger

            tagger = load_tagger()
            if tagger is not None:
                morph = tagger.retag(toks, morphology, morph)
    return toks, list(tags), morph


def score_spans(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[tuple]]) -> dict:
    """Exact-span precision, recall and F1 per label and overall (conlleval style)."""
    counts: Counter = Counter()
    for g_tags, p_spans in zip(gold, pred, strict=True):
        g = set(bio_spans(g_tags))
        p = {(a, b, lab) for a, b, lab, *_ in p_spans}
        for x in g & p:
            counts[(x[2], "tp")] += 1
        for x in p - g:
            counts[(x[2], "fp")] += 1
        for x in g - p:
            counts[(x[2], "fn")] += 1
    out = {}
    for lab in ("PER", "LOC", "ORG", "MISC", "all"):
        keys = ("PER", "LOC", "ORG", "MISC") if lab == "all" else (lab,)
        tp = sum(counts[(k, "tp")] for k in keys)
        fp = sum(counts[(k, "fp")] for k in keys)
        fn = sum(counts[(k, "fn")] for k in keys)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[lab] = {"p": round(100 * prec, 1), "r": round(100 * rec, 1),
                    "f1": round(100 * f1, 1), "n": tp + fn}
    return out


def train_model(
    train: Sequence[Sentence],
    out_dir: str | Path,
    holdout: Sequence[Sentence] = (),
    *,
    morphology: str = "auto",
    use_rules: bool = False,
    use_clusters: bool = True,
    vectors: str | None = None,
    params: dict | None = None,
    card: dict | None = None,
) -> TrainReport:
    """Train a CRF on ``train``, score it on ``holdout``, write model, config and card.

    Args:
        train: Gold sentences (whitespace tokens and BIO tags).
        out_dir: Directory for ``ner.crfsuite``, ``config.json`` and ``MODEL_CARD.md``.
        holdout: Gold sentences held aside; scored after training, never trained on.
        morphology: The morphology whose readings become features (``none`` for none).
        use_rules: Give the rules' spans as features.
        use_clusters: Give word clusters as features when ``tasks.clusters`` has them.
        vectors: Use the shipped word vectors (``tasks.embeddings``): ``clusters``,
            ``dense`` or ``both`` (see ``FeatureExtractor``); None for none.
        params: crfsuite training parameters over the defaults.
        card: Extra facts for the model card (``command``, ``seed``, ``data``).
    """
    import pycrfsuite

    from tasks.morphology import load_morphology

    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    morph_tool = load_morphology(morphology)
    if vectors is not None and _vectors() is None:
        raise ConfigError(
            f"vectors={vectors!r} needs the word vectors: run `akhbar train embeddings`")
    extractor = FeatureExtractor(use_clusters=use_clusters, vectors=vectors)
    toks, tags, morph = _prepare(train, morph_tool)
    docs = list(range(len(toks)))
    feats = extractor.sentences(toks, morph, rule_tags(toks, morph, docs) if use_rules else None)
    trainer = pycrfsuite.Trainer(verbose=False)
    for x, y in zip(feats, tags, strict=True):
        trainer.append(x, y)
    p = {**_TRAIN_PARAMS, **(params or {})}
    trainer.set_params(p)
    model_path = out / MODEL_FILE
    trainer.train(str(model_path))
    train_seconds = time.perf_counter() - t0
    clusters = extractor.clusters
    config = {
        "features_version": FEATURES_VERSION,
        "labels": ["PER", "LOC", "ORG", "MISC"],
        "morphology": morph_tool.source if morph_tool is not None else None,
        "rules": use_rules,
        "clusters": clusters.sha256 if clusters is not None else None,
        "vectors": None if extractor.vector_use is None else {
            "use": extractor.vector_use, "sha256": extractor.vectors.sha256},
        "crfsuite": p,
    }
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    load_model.cache_clear()
    model = load_model(out)
    scores: dict = {}
    if holdout:
        h_toks, h_tags, h_morph = _prepare(holdout, morph_tool)
        pred = model.tag(h_toks, h_morph, list(range(len(h_toks))))
        scores = score_spans(h_tags, pred)
    report = TrainReport(out, model.sha256, len(train), len(holdout), scores, train_seconds)
    write_card(report, config, card or {})
    return report


def _vector_line(config: dict) -> str:
    vec = config.get("vectors")
    if not vec:
        return "not used"
    what = {"clusters": "their k-means cluster ids", "dense": "the vector as float features",
            "both": "the vector as float features and its k-means cluster ids"}[vec["use"]]
    return f"{what} (sha256 `{vec['sha256'][:12]}`)"


def write_card(report: TrainReport, config: dict, card: dict) -> Path:
    """MODEL_CARD.md beside the model: data, license, features, scores, command, seed, sha256."""
    rows = "\n".join(
        f"| {lab} | {s['p']} | {s['r']} | {s['f1']} | {s['n']} |"
        for lab, s in report.scores.items()
    ) or "| (no held-aside part) | | | | |"
    text = f"""# NER model card

A linear-chain CRF (python-crfsuite) that tags PER, LOC, ORG and MISC in BIO over the
pipeline's tokens. Loaded by `akhbar run --ner model` (the default when this model is
present) or `--ner {report.out_dir}`; `entities.method` is `crf:{report.sha256[:12]}`.

## Training data
{card.get("data", "(not given)")}

{card.get("license", "")}

## Features
- the normalized word, its prefixes and suffixes, the clitic-stripped stem and its
  clitics (و/ف, ب/ل/ك, ال), a shape for non-words;
- gazetteer membership (`tasks/resources/gazetteers`), as features, not decisions;
- morphology readings (POS, OOV, a capitalised gloss, the article) from `{config["morphology"]}`;
- word clusters learnt from unlabeled news (`tasks/models/clusters`, sha256
  `{(config["clusters"] or "none")[:12]}`), coarse to fine;
- subword-aware word vectors (`tasks/models/embeddings`, fastText): {_vector_line(config)};
- the rule NER's spans: {"yes" if config["rules"] else "no"};
- a ±2 window of these, and word-pair, cluster-pair and POS-trigram conjunctions.

crfsuite (L-BFGS) parameters: `{json.dumps(config["crfsuite"])}`.

Spans follow ANERcorp's convention: currencies (دولار) and the divine name are MISC. The
entities table keeps them; `akhbar report` leaves spans made only of such non-names
(`tasks/resources/gazetteers/non_entities.txt`) out of its top-entity lists.

## Scores on the held-aside part
{report.n_holdout} sentences held aside (never trained on or tuned on), {report.n_train}
trained on. The held-aside part is whole blocks of 100 consecutive sentences, so that the
names of one article are not on both sides. Exact span and label, on the pipeline's tokens:

| label | P | R | F1 | gold spans |
|---|---|---|---|---|
{rows}

## Reproduce
```
{card.get("command", "(not given)")}
```
Seed: {card.get("seed", "(not given)")}. Training time: {report.seconds:.0f} s.
sha256 of `{MODEL_FILE}`: `{report.sha256}`
"""
    path = report.out_dir / CARD_FILE
    path.write_text(text, encoding="utf-8")
    return path
