"""The NER model's features, declared for the sequence runtime (``tasks.sequence``).

Two layers and five conjunctions:

* ``word`` (per word type, persisted): the normalized word, prefixes and suffixes, the
  clitic-stripped stem (و/ف, ب/ل/ك, ال: وبالرباط -> رباط) and the clitics, a shape for
  non-words, gazetteer membership, word clusters coarse to fine; the strongest of these
  are lent to the neighbours at ±1 (``near``) and ±2 (``far``), and the edges of the
  sentence give ``BOS``/``EOS``;
* ``ctx`` (per token): the morphology's POS, OOV, a capitalised gloss, the article and,
  optionally, the rules' BIO tag, seen from 0 and ±1, its first item from ±2;
* conjunctions: word pairs and cluster pairs with each neighbour, the POS trigram.

To add a word-type feature, append it in :meth:`NerFeatures.type_features` (``own``
for the word itself, ``near``/``far`` for its neighbours; a dense one as a
``(name, value)`` pair); to add a token feature, in :func:`contexts`; a conjunction, in
:data:`CONJUNCTIONS`. Then retrain and bump :data:`FEATURES_VERSION`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasks.entities.gazetteers import (
    _GAZ_DIR,
    _forms,
    _is_word,
    _light,
    load_gazetteers,
    normalize_name,
)
from tasks.sequence import Conjunction, Feature, Layer, Row, code_fingerprint, encode
from tasks.sequence.items import Item, sentence_items

FEATURES_VERSION = 1
_LATIN = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"[0-9\u0660-\u0669]")
# about two chunks' vocabulary: larger caches grew each worker by hundreds of MB (issue 14)
TYPES_IN_MEMORY = 40_000

CONJUNCTIONS = (
    Conjunction("w-1|w0=", ((-1, "word", "w"), (0, "word", "w"))),
    Conjunction("c-1|c0=", ((-1, "word", "pair"), (0, "word", "pair"))),
    Conjunction("w0|w+1=", ((0, "word", "w"), (1, "word", "w"))),
    Conjunction("c0|c+1=", ((0, "word", "pair"), (1, "word", "pair"))),
    Conjunction("pos3=", ((-1, "ctx", "pos"), (0, "ctx", "pos"), (1, "ctx", "pos")),
                outside=("BOS", None, "EOS")),
)


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
class TypeFeatures:
    own: tuple[Feature, ...]  # features of the word at position 0
    near: tuple[Feature, ...]  # its features worth seeing from ±1
    far: tuple[Feature, ...]  # and from ±2
    pair: str  # what neighbour conjunctions see: the 256-way cluster, else the shape


@functools.lru_cache(maxsize=1)
def _clusters() -> Any:
    """The shipped word clusters (``tasks.clusters``), or None when they are not there."""
    try:
        from tasks.clusters import load_clusters
    except ImportError:
        return None
    return load_clusters()


class NerFeatures:
    """The NER model's layers; word-type rows depend on the gazetteers and clusters."""

    def __init__(self, use_clusters: bool = True) -> None:
        self.g = load_gazetteers()
        self.clusters = _clusters() if use_clusters else None

    def type_features(self, tok: str) -> TypeFeatures:
        g = self.g
        n = normalize_name(tok)
        own: list[Feature] = ["w=" + n]
        near: list[Feature] = ["w=" + n]
        far: list[Feature] = []
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
        return TypeFeatures(tuple(own), tuple(near), tuple(far), pair)

    def word_row(self, tok: str, aux: Any = None) -> Row:
        """Token i sees the word at i+d through its features prefixed with d (``-1:w=X``)."""
        tf = self.type_features(tok)
        return Row(
            {0: tf.own, -1: _prefixed(-1, tf.near), 1: _prefixed(1, tf.near),
             -2: _prefixed(-2, tf.far), 2: _prefixed(2, tf.far)},
            {"w": tf.own[0], "pair": tf.pair},
        )

    def layers(self) -> tuple[Layer, ...]:
        return (
            Layer("word", self.word_row, (-2, -1, 0, 1, 2), {-1: ("BOS",), 1: ("EOS",)},
                  TYPES_IN_MEMORY, store_key=str),
            Layer("ctx", context_row, (-2, -1, 0, 1, 2), limit=100_000),
        )

    def fingerprint(self) -> str:
        """What the word rows depend on besides the model: this code, the resources."""
        gaz = sorted(_GAZ_DIR.glob("*.txt"))
        sha = self.clusters.sha256 if self.clusters is not None else "none"
        return code_fingerprint(Path(__file__), *gaz, extra=f"v{FEATURES_VERSION}|{sha}")


def _prefixed(d: int, feats: Sequence[Feature]) -> tuple[Feature, ...]:
    return tuple(f"{d}:{f}" if isinstance(f, str) else (f"{d}:{f[0]}", f[1]) for f in feats)


def context_row(ctx: tuple[str, ...], aux: Any = None) -> Row:
    """A token context (see :func:`contexts`) seen from 0 and ±1, its first item from ±2."""
    if not ctx:
        return Row({}, {"pos": None})
    first = ctx[0]
    return Row(
        {0: ctx, -1: _prefixed(-1, ctx), 1: _prefixed(1, ctx),
         -2: (f"-2:{first}",), 2: (f"2:{first}",)},
        {"pos": first if first.startswith("pos=") else None},
    )


def contexts(
    n_tokens: int,
    morph: dict[str, list] | None,
    rule_tags: Sequence[Sequence[str]] | None,
) -> list[tuple[str, ...]]:
    """Token-level features (morphology, the rules' tags) per token, flattened.

    Args:
        n_tokens: Tokens of the sentences, in order.
        morph: ``pos``, ``is_oov``, ``gloss``, ``bw`` flattened over the sentences in
            order (``Morphology.analyze_sentences``), or None.
        rule_tags: BIO tags from the rules per sentence, or None.
    """
    has_morph = morph is not None and morph.get("pos") is not None
    rules = [t for s in rule_tags for t in s] if rule_tags is not None else None
    if not has_morph:
        if rules is None:
            return [()] * n_tokens
        return [("r=" + t,) for t in rules]
    pos = morph["pos"]
    oov = morph.get("is_oov") or [None] * n_tokens
    gloss = morph.get("gloss") or [None] * n_tokens
    bw = morph.get("bw") or [None] * n_tokens
    memo: dict[tuple, tuple[str, ...]] = {}
    out = []
    for k in range(n_tokens):
        key = (pos[k], oov[k], gloss[k], bw[k], rules[k] if rules is not None else None)
        hit = memo.get(key)
        if hit is None:
            f = [f"pos={pos[k]}"]
            if oov[k]:
                f.append("oov")
            if (gloss[k] or "").rsplit("+", 1)[-1][:1].isupper():
                f.append("capgl")  # a proper name's gloss: the+Syrian, Tangier
            if "/DET" in (bw[k] or ""):
                f.append("det")
            if rules is not None:
                f.append("r=" + rules[k])
            hit = memo[key] = tuple(f)
        out.append(hit)
    return out


def encoded_contexts(n_tokens: int, morph: dict[str, list]) -> tuple[np.ndarray, list]:
    """``encode(contexts(n_tokens, morph, None))`` without a tuple per token: each
    morphology column is encoded, its flags computed once per distinct value."""
    pos_code, pos = encode(morph["pos"])
    flags = np.zeros(n_tokens, dtype=np.int64)
    for bit, name, test in (
        (4, "is_oov", bool),
        (2, "gloss", lambda g: (g or "").rsplit("+", 1)[-1][:1].isupper()),
        (1, "bw", lambda b: "/DET" in (b or "")),
    ):
        values = morph.get(name)
        if values:
            code, uniq = encode(values)
            flags |= np.array([bit if test(v) else 0 for v in uniq], dtype=np.int64)[code]
    combined, inv = np.unique(pos_code * 8 + flags, return_inverse=True)
    keys = []
    for c in combined.tolist():
        f = [f"pos={pos[c >> 3]}"]
        if c & 4:
            f.append("oov")
        if c & 2:
            f.append("capgl")
        if c & 1:
            f.append("det")
        keys.append(tuple(f))
    return inv.ravel(), keys


def token_keys(
    sentences: Sequence[Sequence[str]], morph: dict[str, list] | None,
    rule_tags: Sequence[Sequence[str]] | None,
) -> dict[str, list]:
    """Per layer, each token's key (its word, its context), sentences one after another."""
    words = [t for s in sentences for t in s]
    return {"word": words, "ctx": contexts(len(words), morph, rule_tags)}


def training_items(
    features: NerFeatures, sentences: Sequence[Sequence[str]], morph: dict[str, list] | None,
    rule_tags: Sequence[Sequence[str]] | None,
) -> list[list[Item]]:
    """crfsuite items per token per sentence: what the runtime scores, spelled out."""
    keys = token_keys(sentences, morph, rule_tags)
    return sentence_items(features.layers(), CONJUNCTIONS, [len(s) for s in sentences], keys)


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
