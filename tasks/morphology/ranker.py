"""Rank analyses of a sentence's words into one reading each (the ``Morphology`` object).

Ranking (BAMA has no frequencies, so every analysis would tie). Each distinct word
gets its analyses grouped into readings (one per lemma+POS) and scored:

1. *Shape priors*: an analysis whose undiacritized form spells the word exactly is
   preferred over one that needs a hamza/alef-maqsura/teh-marbuta variant
   (camel-tools marks those ``source=spvar``); every clitic (و+, ب+, +ها ...) costs a
   little and ال+ less, so the plain reading wins unless evidence says otherwise; a
   closed-class reading (preposition, conjunction, pronoun, particle) of a word
   without proclitics gets a bonus because function words are the most frequent
   tokens (من is مِن, not مَن); adverb readings beat same-spelled nouns (الآن);
   1st/2nd-person verb forms and construct duals without a following noun are
   penalized (news is 3rd person); coarse POS priors (noun > adj > verb > proper
   noun) break the remaining ties.
2. *Corpus priors*, learnt without supervision: every occurrence of a word form
   whose analyses all share one (lemma, POS) is counted in the chunk being annotated
   (so results never depend on what a worker processed before), and an ambiguous
   word then adds
   ``min(1, 0.5 * log(1 + count))`` to each open-class reading (a hard-count EM
   step), e.g. علم as the noun "flag" once أعلام/العلم have been seen. Readings that
   the shape priors made a function word or adverb are never overruled.
3. *Light context* for words still within 2 points: after a bare preposition a noun
   and not a verb; after لم/لن/قد/سوف a verb; after أن a verb; an adjective agreeing
   in definiteness with the preceding nominal; a sentence-initial verb (VSO).
   Two deterministic rules follow: أن is أَنْ before a verb and أَنَّ otherwise, and
   an adjective-shaped noun (nisba -يّ, participle مُ-/فاعِل, فَعِيل) right after a
   nominal of the same definiteness is tagged ADJ (BAMA lists many adjectives as
   nouns only).

A backoff (out-of-vocabulary) word is analyzed as a proper noun by camel-tools'
``NOAN_PROP`` backoff (a definite one, الفيسبوك, as a common noun); a proclitic split
is kept only when the rest of the word is itself seen as a word in the corpus
(لأوباما -> ل+أوباما once أوباما was seen).

``upos`` maps camel-tools POS tags to the 17 Universal Dependencies tags with
:data:`UPOS_MAP` (documented there).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from typing import Any

from tasks.morphology.tags import (
    _NORM_TABLE,
    _PRONOUN_SUFFIX_RE,
    _SPLIT_PROCLITICS,
    _SUFFIX_TAG_RE,
    _ar,
    to_upos,
)
from tasks.morphology.type_cache import TypeCache

COLUMNS = ("lemma", "pos", "upos", "diac", "gloss", "bw", "d3tok", "is_oov", "analysis_count")
# Word types whose readings a process keeps in memory: a few chunks' vocabulary (a chunk
# of 250 articles has ~20k types). At 500k a 13-day run grew each worker to 900 MB; a
# type evicted costs a read from the persistent cache, not a new analysis (issue 14).
TYPES_IN_MEMORY = 40_000


# Shape priors (added to a score; see the module docstring).
_SPVAR_PENALTY = 1.5  # needs a hamza/yaa/teh-marbuta spelling variant
_CLITIC_PENALTY = 0.8  # per proclitic (و+ ب+ ل+ ...) or pronominal enclitic
_DET_PENALTY = 0.3  # ال+ is so common that it costs less
_FUNCTION_BONUS = 1.2  # bare closed-class reading: من as a preposition, not مَن
_POS_PRIOR = {
    "noun": 0.4, "adj": 0.25, "verb": 0.2, "noun_num": 0.2, "adv": 0.0,
    "noun_prop": -0.4, "abbrev": -3.0, "interj": -1.5, "part": -0.2,
}
_CLOSED = frozenset(
    {"prep", "conj", "conj_sub", "pron", "pron_dem", "pron_rel", "part_neg", "part",
     "part_interrog", "part_fut", "part_verb", "verb_pseudo", "adv_rel", "adv_interrog"}
)
_EVIDENCE_WEIGHT = 0.5  # times log1p(count of unambiguous sightings of a lemma+POS)
_EVIDENCE_CAP = 1.0  # evidence never outweighs a function-word reading (لكن is not كان)
_BACKOFF_SPLIT_BONUS = 2.0  # لأوباما -> ل+أوباما when أوباما is seen on its own
_CONTEXT_MARGIN = 2.0  # a reading this far ahead is not reconsidered in context

_CONSTRUCT_DUAL_PENALTY = 1.0
_ADV_PRIOR = 0.5  # الآن، أيضاً: adverb readings over same-spelled nouns
_NISBA_END_RE = re.compile("(?:ي|ية|يون|يين|يات)$")
_PERSON_PENALTY = 1.0  # news is 3rd person: أكتب/كتبتُ/اكتبْ are rarer than يكتب/كتب
_PERSON_RE = re.compile(r"^(IV[12]|PVSUFF_SUBJ:[12]|CVSUFF_SUBJ)")
_PROTECTED = _CLOSED | {"adv", "noun_quant"}
_NOUNS = frozenset({"noun", "noun_prop", "noun_num", "noun_quant"})
_NOMINAL = frozenset({"noun", "noun_prop", "noun_num", "adj", "adj_comp", "noun_quant"})
_PROCLITIC_TAGS = _SPLIT_PROCLITICS
# Words after which a verb is expected: لم يكتب، لن يكتب، قد كتب، سوف يكتب.
_VERB_TRIGGERS = frozenset({"لم", "لن", "قد", "سوف", "لما"})
_NON_WORD_POS = frozenset({"punc", "digit", "latin", "foreign"})

# BAMA tags these function words FUNC_WORD or CONJ; UD needs finer classes (Buckwalter keys).
_FUNC_WORD_POS_BW = {
    ">an": "conj_sub", ">an~a": "conj_sub", ">an~": "conj_sub", "<in": "conj_sub",
    "kay": "conj_sub", "<in~a": "verb_pseudo", "<in~": "verb_pseudo",
    "la`kin~a": "verb_pseudo", "laEal~a": "verb_pseudo", "layota": "verb_pseudo",
    "qad": "part_verb", "laqad": "part_verb", "sawofa": "part_fut",
}
# Coordinating conjunctions; BAMA's other CONJ stems (عندما، حيث، إذا) subordinate.
_COORD_BW = frozenset({"wa", "fa", ">aw", "vum~a", ">am", "bal", "la`kin", "la`kin~a", "<im~A"})
# Quantifiers (كل، بعض، جميع، عدة، أحد، إحدى، معظم، أي).
_QUANT_BW = frozenset(
    {"kul~", "baEoD", "jamiyE", "Eid~ap", ">aHad", "<iHodaY", "muEoZam", ">ay~", "kilA"}
)
# Copulas, AUX in UD Arabic (كان، ليس).
_AUX_BW = frozenset({"kAn", "laysa", "lays"})
# Among bare function words, the news reading: إنّ (not إن "if"), أنّ, مِن (not مَن).
_LEX_PRIOR_BW = {"<in~a": 0.3, ">an~a": 0.2, "min": 0.3}
# ما is far more often the negation/particle than the relative pronoun in news.
_POS_LEX_PRIOR = {("ما", "part_neg"): 2.2}
_SUBORD_SCONJ_BW = frozenset({">an", ">an~a", ">an~", "<in", "kay"})


@functools.cache
def _lex_tables() -> tuple[dict, frozenset, frozenset, frozenset, dict, frozenset]:
    # Keys go through bw2ar like the DB's lex values, so diacritic order matches.
    def conv(keys):
        return frozenset(_ar(k) for k in keys)

    return (
        {_ar(k): v for k, v in _FUNC_WORD_POS_BW.items()},
        conv(_COORD_BW),
        conv(_QUANT_BW),
        conv(_AUX_BW),
        {_ar(k): v for k, v in _LEX_PRIOR_BW.items()},
        conv(_SUBORD_SCONJ_BW),
    )


@functools.cache
def _an_lexes() -> tuple[str, str]:
    """Lemmas of أَنْ (before a verb; UD Arabic tags it ADP) and أَنَّ (before a nominal)."""
    return _ar(">an"), _ar(">an~a")


# أَكْبَر، أَقَلّ، أَقْصَى: elatives are adjectives in UD.
_ELATIVE_RE = re.compile("^أَ[ء-ي]ْ[ء-ي]َ[ء-ي]$|^أَ[ء-ي]َ[ء-ي]ّ$|^أَ[ء-ي]ْ[ء-ي]َى$")
# Adjective-shaped nominal lemmas: nisba عَرَبِيّ، participles مُتَّحِد/واقِع، فَعِيل كَبِير.
_ADJ_SHAPE_RE = re.compile("^(?:.+يّ|مُ.{3,}|مَ.ْ.ُو.|.َ.ِي.|.ا.ِ.)$")


def _shape(bw: str) -> tuple[int, int, int, int]:
    """Count proclitics, ال+, pronominal enclitics and 1st/2nd-person verb markers in a bw tag.

    ``وَ/CONJ+بِ/PREP+ال/DET+أَطْفال/NOUN`` -> (2, 1, 0, 0). The head is the last segment
    that is not a suffix, so a bare لَم/NEG_PART is a word, not a clitic.
    """
    return _shape_of_tags(tuple(seg.rpartition("/")[2] for seg in bw.split("+")))


@functools.lru_cache(maxsize=65536)
def _shape_of_tags(tags: tuple[str, ...]) -> tuple[int, int, int, int]:
    # Tag sequences repeat across words (a few thousand kinds): the regexes run once each.
    head = 0
    for i, t in enumerate(tags):
        if t == "DET" or _SUFFIX_TAG_RE.match(t) or (i > 0 and _PRONOUN_SUFFIX_RE.match(t)):
            continue
        head = i
    n_pro = sum(1 for t in tags[:head] if t in _PROCLITIC_TAGS)
    n_det = sum(1 for t in tags[: head + 1] if t == "DET")
    n_enc = sum(1 for t in tags[head + 1 :] if _PRONOUN_SUFFIX_RE.match(t))
    n_person = sum(1 for t in tags if _PERSON_RE.match(t))
    return n_pro, n_det, n_enc, n_person


def _reading_from_analysis(word_dediac: str, a: dict[str, Any], word_tanween: str = "") -> tuple:
    from camel_tools.utils.dediac import dediac_ar

    pos = a.get("pos") or "noun"
    lex = a.get("lex")
    diac = a.get("diac")
    bw = a.get("bw") or ""
    d3tok = a.get("d3tok")
    source = a.get("source")
    func_pos, coord, quant, aux, lex_prior, sconj = _lex_tables()
    an_subj = _an_lexes()[0]
    if pos in {"part", "conj"} and lex in func_pos:
        pos = func_pos[lex]
    elif pos == "conj" and lex not in coord:
        pos = "conj_sub"
    elif pos == "noun" and lex in quant:
        pos = "noun_quant"
    elif pos == "noun" and lex and _ELATIVE_RE.match(lex):
        pos = "adj_comp"
    n_pro, n_det, n_enc, n_person = _shape(bw)
    score: float
    if source == "backoff" and lex:
        # The backoff stem is the *normalized* word; restore its spelling (لأوباما -> أوباما).
        original = word_dediac.replace("ـ", "")[-len(lex):]
        diac = diac[: len(diac) - len(lex)] + original if diac and diac.endswith(lex) else original
        if d3tok and d3tok.endswith(lex):
            d3tok = d3tok[: len(d3tok) - len(lex)] + original
        bw = bw.replace(lex + "/", original + "/")
        lex = original
        if lex.startswith("ال") and len(lex) > 4:
            # الفيسبوك: camel-tools' proper-noun backoff takes no ال+, so split it here;
            # a definite unknown word is a common noun, or an adjective if nisba (-ي/-ية).
            lex = lex[2:]
            pos = "adj" if _NISBA_END_RE.search(lex) else "noun"
            if d3tok:
                d3tok = d3tok[: len(d3tok) - len(lex) - 2] + "ال+" + lex
            bw = bw.replace("ال" + lex + "/NOUN_PROP", "ال/DET+" + lex + "/NOUN")
            n_det = 1
    logprob = a.get("pos_lex_logprob")
    if isinstance(logprob, float) and logprob > -99.0:
        score = logprob  # official data: a real frequency prior
    else:
        score = _POS_PRIOR.get(pos, 0.0)
        if pos in _CLOSED and n_pro + n_det == 0:
            score += _FUNCTION_BONUS + lex_prior.get(lex, 0.0) + _POS_LEX_PRIOR.get((lex, pos), 0)
        score -= _PERSON_PENALTY * n_person
        if "_DU_" in bw and "_POSS" in bw and n_enc == 0:
            # أستراليا is not the construct dual أسترالِيّا: that form needs a following noun.
            score -= _CONSTRUCT_DUAL_PENALTY
    score -= _CLITIC_PENALTY * (n_pro + n_enc) + _DET_PENALTY * n_det
    if source == "spvar":
        score -= _SPVAR_PENALTY
    if pos == "adv":
        score += _ADV_PRIOR
        if "ً" in word_tanween and diac and "ً" in diac:
            score += _ADV_PRIOR  # أيضاً written with its tanween
    d3 = dediac_ar(d3tok) if d3tok and d3tok != "NOAN" else word_dediac
    upos = to_upos(pos)
    if pos == "verb" and lex in aux:
        upos = "AUX"
    elif pos == "conj_sub" and (lex not in sconj or lex == an_subj):
        upos = "ADP"
    return (lex, pos, upos, diac, _stem_gloss(a), bw or None, d3, score,
            n_det > 0, source, n_pro)


def _stem_gloss(a: dict[str, Any]) -> str | None:
    """The gloss of the stem alone: "president;head", not "the+president;head".

    A few BAMA stems carry their own clitics (لَهُ "to/for_+_it/him", الاِثْنانِ
    "the_+_two"): their gloss keeps the head's part, the preposition's or the word's.
    """
    gloss = a.get("stemgloss") or a.get("gloss")
    if not gloss or "_+_" not in gloss:
        return gloss
    parts = [p for p in gloss.split("_+_") if p != "the"]
    if len(parts) > 1 and _PRONOUN_SUFFIX_RE.match((a.get("bw") or "").rpartition("/")[2]):
        return parts[0]  # لَهُ: "to/for", not "it/him"
    return parts[-1]


class Morphology:
    """Analyzer + ranker producing the token morphology columns.

    Built by :func:`load_morphology`; holds per-process caches (word type ->
    candidate readings) and the unsupervised lemma evidence of the batches seen.
    """

    def __init__(
        self,
        analyzer: Any,
        source: str,
        disambiguator: Any = None,
        cache_size: int = TYPES_IN_MEMORY,
        type_cache: TypeCache | None = None,
    ) -> None:
        self.source = source
        self.type_cache = type_cache
        self._analyzer = analyzer
        self._mle = disambiguator
        self._cache_size = max(cache_size, 1)
        # word -> (readings sorted by shape score, is_oov, analysis_count)
        self._types: dict[str, tuple[list[tuple], bool, int]] = {}
        self._evidence: Counter[tuple[str, str]] = Counter()
        self._seen: set[str] = set()
        self._ev_total = 0
        self._ranked: dict[str, list[tuple]] = {}
        self._ranked_at = 0
        self._oov_keys: list[str] = []

    def _candidates(self, word: str) -> tuple[list[tuple], bool, int]:
        hit = self._types.get(word)
        if hit is not None:
            return hit
        from camel_tools.utils.dediac import dediac_ar

        analyses = self._analyzer.analyze(word)  # shared lists with caching: never mutate
        wd = dediac_ar(word)
        if self._mle is not None and analyses:
            scored = self._mle.disambiguate([word])[0].analyses
            best = [_reading_from_analysis(wd, scored[0].analysis)] if scored else []
            readings = best + [_reading_from_analysis(wd, a) for a in analyses]
            readings = [r[:7] + (100.0 if i == 0 else r[7] - 100.0,) + r[8:]
                        for i, r in enumerate(readings)]
        else:
            readings = [_reading_from_analysis(wd, a, word) for a in analyses]
        # One reading per (lemma, POS): the best-scoring analysis represents it.
        best: dict[tuple, tuple] = {}
        for r in sorted(readings, key=lambda r: (-r[7], r[3] or "")):
            best.setdefault((r[0], r[1]), r)
        ranked = list(best.values())
        is_oov = bool(analyses) and all(a.get("source") == "backoff" for a in analyses)
        if not analyses and not (ranked and ranked[0][1] in _NON_WORD_POS):
            is_oov = True
        entry = (ranked, is_oov, len(analyses))
        self._types[word] = entry
        return entry

    def _fill_types(self, words: Counter[str], persistent: bool) -> None:
        """Readings of every word type of the batch: this process's cache, then the
        persistent one (with ``persistent``), then analysis (whose results are added to
        the persistent cache)."""
        missing = [w for w in words if w not in self._types]
        if not missing:
            return
        if len(self._types) + len(missing) > self._cache_size:
            # Bounded: keep only the batch's own held types rather than track recency
            # per token (a batch bigger than the bound only while it runs); dropping them
            # too made every overflow read the whole batch back (issue 21).
            self._types = {w: self._types[w] for w in words if w in self._types}
        cache = self.type_cache if persistent else None
        found = cache.get_many(missing) if cache is not None else {}
        self._types.update(found)
        new = {w: self._candidates(w) for w in missing if w not in found}
        if cache is not None:
            cache.put_many(new)

    def _rank_batch(self, words: Counter[str], persistent: bool = True) -> dict[str, list[tuple]]:
        """Count corpus evidence in this batch, then order each type's readings.

        Evidence comes from this batch only, so a chunk's analyses never depend on
        which chunks the same worker process happened to annotate before it: a re-run,
        a resumed run or another worker count gives the same tokens table.
        """
        self._evidence.clear()
        self._seen.clear()
        self._ranked.clear()
        self._oov_keys.clear()
        self._ev_total = self._ranked_at = 0
        self._fill_types(words, persistent)
        ev = self._evidence
        seen = self._seen
        cache = self._ranked
        for w in self._oov_keys:
            cache.pop(w, None)
        self._oov_keys.clear()
        for w, n in words.items():
            readings, is_oov, _ = self._candidates(w)
            if not readings:
                continue
            if len(readings) == 1 and not is_oov:
                ev[(readings[0][0], readings[0][1])] += n
                self._ev_total += n
            if readings[0][1] not in _NON_WORD_POS:
                seen.add(w.translate(_NORM_TABLE))
        if self._ev_total > 1.2 * self._ranked_at + 1000 or len(cache) > self._cache_size:
            cache.clear()
            self._ranked_at = self._ev_total
        for w in words:
            if w not in cache:
                self._score(w)
        return cache

    def _score(self, w: str) -> None:
        readings, is_oov, _ = self._types[w]
        if len(readings) <= 1 or readings[0][1] in _PROTECTED:
            # Evidence counts open-class lemmas only, so it must not outvote the
            # function-word or adverb reading a shape prior chose (بَيْنَ، جِدّاً).
            self._ranked[w] = readings
            return
        ev = self._evidence
        scored = []
        for r in readings:
            s = r[7] + min(_EVIDENCE_CAP, _EVIDENCE_WEIGHT * math.log1p(ev.get((r[0], r[1]), 0)))
            if r[9] == "backoff" and r[10] and r[0].translate(_NORM_TABLE) in self._seen:
                s += _BACKOFF_SPLIT_BONUS
            scored.append((s, r))
        scored.sort(key=lambda x: -x[0])
        ranked = [r[:7] + (s,) + r[8:] for s, r in scored]
        self._ranked[w] = ranked
        if is_oov:  # an OOV split depends on words seen later: re-rank it next batch
            self._oov_keys.append(w)

    def readings(self, word: str) -> list[tuple]:
        """``word``'s readings, best first, as ranked for the last analyzed batch."""
        hit = self._ranked.get(word)
        return hit if hit is not None else self._candidates(word)[0]

    def analyze_sentences(
        self, sentences: list[list[str]], persistent: bool = True
    ) -> dict[str, list]:
        """Analyze tokenized sentences; return one value per token for each column.

        With ``persistent`` (and a ``type_cache``), the readings of word types new to
        this process are read from and added to the persistent cache; the result is
        the same either way.

        Columns: ``lemma, pos, upos, diac, gloss, bw, d3tok, is_oov, analysis_count``,
        flattened in token order. Non-word tokens get pos punc/digit/foreign with
        upos PUNCT/NUM/X (SYM for symbols) and None elsewhere.
        """
        counts: Counter[str] = Counter()
        for sent in sentences:
            counts.update(sent)
        ranked = self._rank_batch(counts, persistent)
        types = self._types
        # Per word type: its candidates, the reading when context cannot change it, and
        # the columns that do not depend on the reading (is_oov, analysis_count).
        per_type: dict[str, tuple] = {}
        for w in counts:
            cands = ranked[w]
            info = types.get(w) or self._candidates(w)
            fixed = None
            if cands and (len(cands) == 1 or cands[0][7] - cands[1][7] > _CONTEXT_MARGIN):
                fixed = cands[0]
            per_type[w] = (cands, fixed, info[1], info[2])
        rows: list[tuple] = []  # each token's reading; its first 7 fields are columns
        flags: list[tuple] = []  # each token's per_type entry (is_oov, analysis_count)
        add_row, add_flags = rows.append, flags.append
        no_row = (None,) * 11
        non_word_rows: dict[tuple[str, str], tuple] = {}
        an_lexes = _an_lexes()
        nominal, non_word = _NOMINAL, _NON_WORD_POS
        for sent in sentences:
            prev_pos = None
            prev_def = False
            prev_word = ""
            last = len(sent) - 1
            for i, word in enumerate(sent):
                info = per_type[word]
                cands, r = info[0], info[1]
                if r is None and cands:
                    r = _pick_in_context(cands, i, prev_pos, prev_def, prev_word)
                if r is not None and r[0] in an_lexes and i < last:
                    # أن يكتب (أَنْ + verb) vs أن الوزير (أَنَّ + noun).
                    nxt = ranked[sent[i + 1]]
                    want = an_lexes[0] if nxt and nxt[0][1] == "verb" else an_lexes[1]
                    r = next((c for c in cands if c[0] == want and c[10] == r[10]), r)
                if (
                    r is not None
                    and r[1] == "noun"
                    and prev_pos in nominal
                    and r[8] == prev_def
                    and r[10] == 0
                    and _ADJ_SHAPE_RE.match(r[0] or "")
                    and "POSS_PRON" not in (r[5] or "")
                ):
                    # المدينة الصغيرة: BAMA lists many adjectives as nouns only; an
                    # adjective-shaped nominal agreeing in definiteness is read as ADJ.
                    r = r[:1] + ("adj", "ADJ") + r[3:]
                # Rows are existing tuples (readings, cached per type): no per-token objects.
                if r is None:
                    add_row(no_row)
                    prev_pos, prev_def = None, False
                elif r[1] in non_word:
                    key = (word, r[1])
                    row = non_word_rows.get(key)
                    if row is None:
                        row = non_word_rows[key] = (None, r[1], to_upos(r[1], word)) + (None,) * 8
                    add_row(row)
                    prev_pos, prev_def = r[1], False
                else:
                    add_row(r)
                    prev_pos, prev_def = r[1], r[8]
                add_flags(info)
                prev_word = word
        out: dict[str, list] = {c: [] for c in COLUMNS}
        if rows:
            for name, values in zip(COLUMNS[:7], zip(*rows, strict=True), strict=False):
                out[name] = list(values)
            out["is_oov"] = [f[2] for f in flags]
            out["analysis_count"] = [f[3] for f in flags]
        return out


def _pick_in_context(
    cands: list[tuple], i: int, prev_pos: str | None, prev_def: bool, prev_word: str
) -> tuple:
    """Re-score the close candidates of an ambiguous word with light sentence context."""
    best, best_s = cands[0], -1e9
    top = cands[0][7]
    for r in cands[:6]:
        if top - r[7] > _CONTEXT_MARGIN:
            break
        s = r[7]
        p = r[1]
        if prev_pos == "prep":
            # في بيت: a bare preposition governs a noun, not a verb.
            # من الممكن: the object of a preposition is a noun rather than an adjective.
            s += 0.5 if p in _NOUNS else -1.0 if p == "verb" else 0.0
        elif prev_word in _VERB_TRIGGERS:
            # لم يكتب / قد كتب: these particles precede verbs.
            s += 1.5 if p == "verb" else 0.0
        elif prev_pos == "conj_sub" and p == "verb":
            s += 0.6  # أن يكتب
        elif prev_pos in _NOMINAL and p in {"adj", "adj_comp"} and r[8] == prev_def:
            s += 0.6  # الوزارة الخاصة: an adjective agrees in definiteness with its noun
        if i == 0 and p == "verb":
            s += 0.3  # news sentences often open with a verb (VSO)
        if s > best_s:
            best, best_s = r, s
    return best
