"""Rule-based NER (the offline default): gazetteers plus a left-to-right sequence layer.

The gazetteers (``tasks/entities/gazetteers.py``) are facts written for this project; a
sequence layer tries these at each token, in this order:

1. verb of saying + proper noun or given name (وقال فيرغسون) -> PER;
2. work/product/event cue + «short quote» or proper noun (فيلم « ... », الإعصار كاترينا)
   -> MISC;
3. longest gazetteer phrase (clitics stripped on its first token); entries marked
   ambiguous (صور 'pictures', الأهلي) need support: a proper-noun analysis, a cue
   before them, or, for clubs, a sports sentence; in a sports sentence a city that is
   also a club (ليفربول) is ORG;
4. title or role (+ adjectives) + name (الرئيس السوري بشار الأسد) -> PER;
5. organisation head + genitive phrase (وزارة الخارجية المغربية) -> ORG; a head before
   a known organisation (حركة حماس) or a company word before a brand (شركة «نوكيا»)
   gives just the name;
6. place cue + name (مدينة إيلات) -> LOC;
7. given name + family name, name links (بن, أبو, عبد) and regnal ordinals -> PER;
8. nationality adjective + proper noun (الأرجنتيني ليونيل ميسي) -> PER;
9. with morphology only: a proper noun BAMA knows, or two unknown words in a row -> PER.

A person's name continues over given names, known family names, links and proper
nouns; right after a given name one more plain word may be the family name (مازن
حسان, جعفر الموسوي), never a role noun (كوفي أنان الأمين العام). Finally a family name
found with evidence is recalled when it stands alone within the next 30 sentences
(نجيب محفوظ ... قال محفوظ).

Morphology columns, when given, add evidence: BAMA ``noun_prop`` readings and
``is_oov`` backoff words are proper nouns; ``bw`` tells clitics (a family name is a
bare stem) and the article; ``gloss`` capitalisation tells nationality adjectives
(السوري 'the+Syrian').
"""

from __future__ import annotations

from tasks.entities.gazetteers import (
    _LOC_CUE,
    _MISC_CUE,
    _SPEECH,
    _STOP,
    _TRIGGER,
    _flags,
    _forms,
    _Gazetteers,
    _is_word,
    _light,
    _surface_skip,
    load_gazetteers,
)
from tasks.entities.spans import EntitySpan

_SCORE = {"gazetteer": 0.9, "title": 0.85, "head": 0.8, "cue": 0.75, "name": 0.8,
          "morph": 0.6, "memory": 0.7, "speech": 0.65}
_OPEN_QUOTES = frozenset('«"“')
_CLOSE_QUOTES = frozenset('»"”')
# بن/ابن/أبو/عبد/آل link the parts of an Arabic name (أسامة بن لادن, عبد الله).
_NAME_LINKS = frozenset({"بن", "ابن", "بنت", "ابو", "ابي", "ابا", "عبد", "ال", "ام", "ولد"})
# Regnal ordinals continue a name (محمد السادس, عبدالله الثاني).
_ORDINALS = frozenset({"الاول", "الثاني", "الثالث", "الرابع", "الخامس", "السادس", "السابع",
                       "الثامن", "التاسع", "العاشر", "عشر", "الابن", "الاب"})
# Modifiers that may sit between a title and the name (الرئيس الأمريكي السابق بيل كلينتون).
_TITLE_MODS = frozenset({"السابق", "السابقه", "الراحل", "الراحله", "الجديد", "الجديده",
                         "الاسبق", "الحالي", "الاعلي", "العام", "المستقيل", "المنتخب",
                         "المخلوع", "المكلف", "الاول", "المساعد", "الدائم"})
_HONORIFICS = frozenset({"الامام", "الشيخ", "السيد", "الحاج", "سيدنا", "الخليفه", "الفقيه",
                         "العلامه", "المرجع", "الاب", "القديس"})
_MAX_PERSON = 8
_MAX_ORG_TAIL = 4
# A remembered name is recalled this many sentences on (about one article), no further.
_MEMORY_SENTENCES = 30


class _Sentence:
    """Per-sentence view with the lookups the rules need, computed lazily per token."""

    __slots__ = ("toks", "g", "pos", "oov", "gloss", "bw", "n", "_sports")

    def __init__(self, toks: list[str], g: _Gazetteers, pos: list | None, oov: list | None,
                 gloss: list | None, bw: list | None) -> None:
        self.toks = toks
        self.g = g
        self.pos = pos
        self.oov = oov
        self.gloss = gloss
        self.bw = bw
        self.n = len(toks)
        self._sports: bool | None = None

    def sports(self) -> bool:
        """The sentence talks about a match (ليفربول is then the club, not the city)."""
        if self._sports is None:
            sp = self.g.sports
            self._sports = any(_forms(t)[0][0] in sp for t in self.toks)
        return self._sports

    def stop(self, i: int) -> bool:
        return bool(_flags(self.toks[i]) & _STOP)

    def norm(self, i: int) -> str:
        return _forms(self.toks[i])[0][0]

    def proper(self, i: int) -> bool:
        """Morphology calls the token a proper noun (BAMA noun_prop, or OOV backoff)."""
        if self.pos is None:
            return False
        return self.pos[i] == "noun_prop" or bool(self.oov[i])

    def known_proper(self, i: int) -> bool:
        """BAMA lists the token as a proper noun (not a backoff guess)."""
        return self.pos is not None and self.pos[i] == "noun_prop" and not self.oov[i]

    def conj(self, i: int) -> bool:
        """The token starts with the conjunction و/ف (ومحمد), not a name letter (فالتر)."""
        tok = self.toks[i]
        if tok[0] not in "وف" or len(tok) < 3:
            return False
        if self.bw is not None:
            # BAMA writes وَ/CONJ+..., calima wa/CONJ+...: look at the first segment's tag
            head, plus, _ = (self.bw[i] or "").partition("+")
            return bool(plus) and head.endswith(("/CONJ", "/CONNEC_PART", "/RC_PART"))
        forms = _forms(tok)
        n = forms[0][0]
        return n not in self.g.first_names and (n[1:] in self.g.first_names or (
            n[1:],) in self.g.phrases)

    def affixed(self, i: int) -> bool:
        """The chosen analysis has any clitic or affix (لتدريبات, برنامجا, نفسه, ترك+َ):
        a family name standing after a given name is a bare stem."""
        return self.bw is not None and "+" in (self.bw[i] or "")

    def determined(self, i: int) -> bool:
        """The chosen analysis carries the article (ال/DET)."""
        return self.bw is not None and "/DET" in (self.bw[i] or "")

    def demonym(self, i: int) -> bool:
        """A nationality adjective: listed, or an adjective with a capitalised gloss
        (السوري 'the+Syrian')."""
        if self.norm(i) in self.g.demonyms:
            return True
        if self.pos is None or self.pos[i] != "adj":
            return False
        gl = self.gloss[i] or ""
        last = gl.rsplit("+", 1)[-1]
        return bool(last) and last[0].isupper()

    def phrase(self, i: int, first_only: bool = False) -> tuple[int, str, bool, int] | None:
        """Longest gazetteer phrase at ``i``: (end, label, ambiguous, skip letters)."""
        g = self.g
        best = None
        for form, skip in _forms(self.toks[i]):
            m = g.longest.get(form)
            if m is None:
                continue
            for length in range(min(m, self.n - i), 0, -1):
                key = (form,) + tuple(self.norm(k) for k in range(i + 1, i + length))
                hit = g.phrases.get(key)
                if hit is not None:
                    if best is None or i + length > best[0]:
                        best = (i + length, hit[0], hit[1], skip)
                    break
            if first_only and best:
                break
        return best

    def first_name(self, i: int) -> tuple[bool, int] | None:
        """(ambiguous, skip letters) when the token is a given name, clitics allowed."""
        fn = self.g.first_names
        tok = self.toks[i]
        for form, skip in _forms(tok):
            amb = fn.get(form)
            if amb is not None:
                # وعلى is و + على 'on', not و + علي: check the stripped surface against stop
                if _light(tok)[skip:] in self.g.stop:
                    return None
                return amb, skip
        return None

    def title(self, i: int) -> tuple[int, int] | None:
        """(end, skip letters) of a title or role starting at ``i``."""
        g = self.g
        for form, skip in _forms(self.toks[i]):
            m = g.title_longest.get(form)
            if m is None:
                continue
            for length in range(min(m, self.n - i), 0, -1):
                key = (form,) + tuple(self.norm(k) for k in range(i + 1, i + length))
                if key in g.titles:
                    return i + length, skip
        return None

    def head(self, i: int) -> tuple[str, int] | None:
        for form, skip in _forms(self.toks[i]):
            kind = self.g.org_heads.get(form)
            if kind is not None:
                return kind, skip
        return None

    def cue(self, i: int) -> bool:
        return bool(_flags(self.toks[i]) & _LOC_CUE)

    def namelike(self, i: int, after_name: bool) -> bool:
        """Could token ``i`` be (part of) a person's name?"""
        if i >= self.n or self.stop(i):
            return False
        n = self.norm(i)
        if n in self.g.first_names or (n in _ORDINALS and after_name):
            return True
        hit = self.g.phrases.get((n,))
        if hit is not None:
            return hit[0] == "PER"
        if self.pos is not None:
            if self.proper(i):
                return True
            # Family names in ال-...ي that BAMA reads as a common adjective (البرادعي).
            return (after_name and n.startswith("ال") and n.endswith("ي") and len(n) > 5
                    and not self.demonym(i))
        if self.head(i) or self.title(i) or self.cue(i):
            return False
        return not n.startswith("ال") or (after_name and n.endswith("ي"))


def _extend_person(s: _Sentence, j: int, free_steps: int = 1) -> int:
    """End (exclusive) of a person's name that starts at ``j``.

    Given names, known family names, name links (بن, أبو, عبد) and proper nouns always
    continue a name. Right after a given name, ``free_steps`` further words with no such
    evidence may too when they could be a family name (مازن حسان, جعفر الموسوي); after a
    family name nothing but name evidence continues (بوتين ضابط stops at بوتين).
    """
    k = j + 1
    free = free_steps
    after_given = s.first_name(j) is not None
    while k < s.n and k - j < _MAX_PERSON:
        n = s.norm(k)
        if s.stop(k) or s.conj(k):
            break  # ومحمد starts the next name
        if n in _NAME_LINKS and k + 1 < s.n and _is_word(s.toks[k + 1]):
            # بن أبي طالب: a link takes the next word whatever it is, links chain
            while k + 1 < s.n and s.norm(k) in _NAME_LINKS and _is_word(s.toks[k + 1]):
                k += 1
            k += 1
            after_given = True
            continue
        hit = s.g.phrases.get((n,))
        if hit is not None and hit[0] in ("LOC", "ORG") and not hit[1]:
            break  # علي لبنان (على misspelt): a known place or body ends the name
        if n in s.g.first_names or n == "الله":  # عطاء الله, حسب الله: theophoric names
            k += 1
            after_given = True
            continue
        if n in _ORDINALS or s.g.phrases.get((n,), ("",))[0] == "PER" or (
                s.pos is not None and s.proper(k) and not s.determined(k)):
            k += 1
            after_given = False
            continue
        if free > 0 and after_given and _free_name_word(s, k):
            free -= 1
            k += 1
            after_given = False
            continue
        break
    return k


_NAME_POS = frozenset({"noun", "adj", "noun_prop", "adj_comp", None})


def _free_name_word(s: _Sentence, k: int) -> bool:
    """A word with no name evidence that may still be a family name after a given name."""
    n = s.norm(k)
    if s.head(k) or s.title(k) or s.cue(k) or ("ال" + n,) in s.g.titles:
        return False  # كوفي أنان الأمين العام, جلال محمود عضو ...
    hit = s.g.phrases.get((n,))
    if hit is not None and not hit[1] and hit[0] != "PER":
        return False
    if n.startswith("ال"):
        # Family names with the article (البرادعي, المنيع) right after a given name.
        if s.pos is None:
            return n.endswith("ي") and len(n) > 5
        return s.pos[k] in _NAME_POS and len(n) > 4
    if s.pos is None:
        return True
    # فهمي reads as فهم+ي 'my understanding' but is a family name after مصطفى
    return s.pos[k] in _NAME_POS and (
        not s.affixed(k) or (s.bw[k] or "").endswith("POSS_PRON_1S"))


def _org_tail(s: _Sentence, j: int) -> int:
    """End of the genitive phrase after an organisation head (وزارة الخارجية المغربية)."""
    k = j
    while k < s.n and k - j < _MAX_ORG_TAIL:
        t = s.toks[k]
        if s.stop(k) and not s.phrase(k, first_only=True):
            break
        n = s.norm(k)
        if n.startswith("ال") or n.startswith("لل"):
            k += 1
            continue
        if n.startswith("وال") and k > j:
            k += 1
            continue
        hit = s.phrase(k, first_only=True)
        if hit is not None and hit[3] == 0:
            k = hit[0]
            continue
        if s.proper(k) and not t.startswith("و"):
            k += 1
            continue
        break
    return k


def _quoted(s: _Sentence, j: int, longest: int = 6) -> tuple[int, int] | None:
    """(start, end) of a «quoted» name of at most ``longest`` tokens opening at ``j``."""
    if j >= s.n or s.toks[j] not in _OPEN_QUOTES:
        return None
    for k in range(j + 1, min(s.n, j + longest + 2)):
        if s.toks[k] in _CLOSE_QUOTES:
            return (j + 1, k) if k > j + 1 else None
    return None


def _support(s: _Sentence, i: int, label: str) -> bool:
    """Context that licenses an ambiguous gazetteer entry at ``i``."""
    if s.known_proper(i):
        return True
    if i > 0:
        prev = s.norm(i - 1)
        if label == "LOC" and s.cue(i - 1):
            return True
        if label == "PER" and (s.title(i - 1) or prev in s.g.first_names):
            return True
        if label == "ORG" and s.head(i - 1):
            return True
    if label == "ORG" and s.sports():
        return True
    return label == "PER" and i + 1 < s.n and s.proper(i + 1) and not s.stop(i + 1)


def _sentence_spans(si: int, s: _Sentence, method: str) -> list[EntitySpan]:
    spans: list[EntitySpan] = []

    def emit(a: int, b: int, label: str, rule: str, skip: int = 0) -> None:
        if skip == 0 and s.conj(a):
            skip = 1  # وإيمرسون: the span starts after the conjunction
        spans.append(EntitySpan(si, a, b, label, _SCORE[rule], method,
                                _surface_skip(s.toks[a], skip)))

    i = 0
    n = s.n
    pos = s.pos
    while i < n:
        # Fast path: most tokens trigger nothing (a plain word with no proper-noun reading).
        if not _flags(s.toks[i]) & _TRIGGER and (
                pos is None or (pos[i] not in ("noun_prop", "adj") and not s.oov[i])):
            i += 1
            continue
        # Verb of saying + proper noun or given name: وقال فيرغسون إن ...
        if i + 1 < n and _flags(s.toks[i]) & _SPEECH:
            j = i + 1
            ph = s.phrase(j)
            # a known family name counts even when it is also a word (وقال المالكي)
            if not s.stop(j) and (ph is None or ph[1] == "PER") and s.title(j) is None and \
                    s.head(j) is None and (s.proper(j) or s.first_name(j) or ph is not None) and \
                    (not s.determined(j) or ph is not None):
                end = _extend_person(s, j)
                emit(j, end, "PER", "speech")
                i = end
                continue
        # Work, product or event cue + «short quoted title» or proper noun (الإعصار كاترينا).
        if i + 1 < n and _flags(s.toks[i]) & _MISC_CUE:
            q = _quoted(s, i + 1, 5)
            if q is not None and not s.stop(q[0]):
                emit(q[0], q[1], "MISC", "cue")
                i = q[1] + 1
                continue
            j = i + 1
            if s.proper(j) and not s.stop(j) and not s.determined(j) and s.phrase(j) is None \
                    and s.first_name(j) is None:
                end = j + 1
                while end < n and end - j < 3 and s.proper(end) and not s.stop(end):
                    end += 1
                emit(j, end, "MISC", "cue")
                i = end
                continue
        if s.stop(i) and s.title(i) is None:
            i += 1
            continue
        # Gazetteer phrases (longest match, clitics stripped on the first token).
        hit = s.phrase(i)
        head = s.head(i)
        if hit is not None and hit[1] != "ORG" and s.sports():
            # ليفربول in a match report is the club: the city's key is also a club's
            rest = tuple(s.norm(k) for k in range(i + 1, hit[0]))
            if any((f,) + rest in s.g.clubs for f, _ in _forms(s.toks[i])):
                hit = (hit[0], "ORG", False, hit[3])
        if hit is not None and (not hit[2] or _support(s, i, hit[1])):
            end, label, _amb, skip = hit
            if label == "PER":
                end = _extend_person(s, end - 1)
            emit(i, end, label, "gazetteer", skip)
            i = end
            continue
        # Title or role, then modifiers, then the name (الرئيس السوري بشار الأسد).
        t = s.title(i)
        if t is not None:
            j = t[0]
            # الإمام الرضا, الشيخ القرضاوي: after an honorific a definite noun is the name
            if j < n and s.norm(t[0] - 1) in _HONORIFICS and s.pos is not None \
                    and s.norm(j).startswith("ال") and not s.stop(j) \
                    and s.pos[j] in ("noun", "noun_prop") and not s.demonym(j) \
                    and s.norm(j) not in _TITLE_MODS and s.phrase(j) is None \
                    and s.title(j) is None and s.head(j) is None:
                end = _extend_person(s, j, free_steps=0)
                emit(j, end, "PER", "title")
                i = end
                continue
            while j < n and j - t[0] < 4 and not s.stop(j) and s.norm(j).startswith("ال") \
                    and (s.norm(j) in _TITLE_MODS or not s.namelike(j, after_name=False)
                         or s.demonym(j)):
                j += 1
            ph = s.phrase(j) if j < n else None
            if ph is not None and ph[1] in ("LOC", "ORG") and not ph[2]:
                # وزير خارجية فرنسا: skip the country, the name may follow it
                j2 = ph[0]
                if j2 < n and s.namelike(j2, after_name=False) and s.phrase(j2) is None:
                    j = j2
            if j < n and s.namelike(j, after_name=False) and (s.phrase(j) is None or
                                                             s.phrase(j)[1] == "PER"):
                end = _extend_person(s, j, free_steps=2)
                emit(j, end, "PER", "title", s.first_name(j)[1] if s.first_name(j) else 0)
                i = end
                continue
            i = t[0] if t[0] > i + 1 else i + 1
            continue
        # Organisation head + genitive phrase, or head + «brand».
        if head is not None:
            kind, skip = head
            nxt = s.phrase(i + 1) if i + 1 < n else None
            if nxt is not None and nxt[1] == "ORG" and nxt[3] == 0 and (
                    not nxt[2] or _support(s, i + 1, "ORG")):
                # حركة حماس, وكالة رويترز: the head only describes a name we know
                emit(i + 1, nxt[0], "ORG", "gazetteer")
                i = nxt[0]
                continue
            q = _quoted(s, i + 1)
            if q is not None:
                emit(q[0], q[1], "ORG", "head")
                i = q[1] + 1
                continue
            if kind == "firm":
                j = i + 1
                if nxt is not None and nxt[1] == "LOC" and not nxt[2] and nxt[3] == 0:
                    emit(j, nxt[0], "ORG", "head")  # نادي برشلونة, فريق خريبكة: the club
                    i = nxt[0]
                    continue
                k = j
                while k < n and k - j < 3 and s.proper(k) and not s.stop(k):
                    k += 1
                if k > j:
                    emit(j, k, "ORG", "head")
                    i = k
                    continue
            else:
                end = _org_tail(s, i + 1)
                if kind == "weak" and not any(
                        s.proper(k) or s.phrase(k, first_only=True) or s.demonym(k)
                        for k in range(i + 1, end)):
                    end = i + 1
                if end > i + 1:
                    emit(i, end, "ORG", "head", skip)
                    i = end
                    continue
            i += 1
            continue
        # Place cue + name (مدينة إيلات).
        if s.cue(i) and i + 1 < n and not s.stop(i + 1):
            j = i + 1
            ph = s.phrase(j)
            if ph is not None and ph[1] == "LOC":
                emit(j, ph[0], "LOC", "gazetteer", ph[3])
                i = ph[0]
                continue
            if ph is None and (s.proper(j) or (s.pos is None and s.namelike(j, False))) \
                    and s.head(j) is None and s.title(j) is None and not s.cue(j):
                emit(j, j + 1, "LOC", "cue")
                i = j + 1
                continue
        # Given name (+ family name).
        fn = s.first_name(i)
        if fn is not None:
            amb, skip = fn
            # an ambiguous name (علي, often على misspelt) needs real name evidence after it
            end = _extend_person(s, i, free_steps=0 if amb else 1)
            if not amb or end > i + 1:
                emit(i, end, "PER", "name", skip)
                i = end
                continue
        # Nationality adjective + proper noun: الأرجنتيني ليونيل ميسي.
        if s.demonym(i) and i + 1 < n and (s.proper(i + 1) or s.first_name(i + 1)) \
                and not s.stop(i + 1) \
                and s.phrase(i + 1) is None and s.head(i + 1) is None:
            end = _extend_person(s, i + 1)
            emit(i + 1, end, "PER", "title")
            i = end
            continue
        # عبد + any word is a name (عبد الله يوسف); أبو needs a name-like word (أبو مازن).
        link = next(((f, k) for f, k in _forms(s.toks[i]) if f in ("عبد", "ابو")), None)
        if i + 1 < n and link is not None and (link[0] == "عبد" and _is_word(s.toks[i + 1]) or (
                s.namelike(i + 1, after_name=True))):
            end = _extend_person(s, i + 1)
            emit(i, end, "PER", "name", link[1])
            i = end
            continue
        # A proper noun the morphology knows, or two unknown words in a row (دودو سيلفا).
        # BAMA's proper nouns with the article are peoples (اليهود 'the+Jews'), not persons.
        if s.proper(i) and not s.stop(i) and not s.determined(i) and not s.cue(i) and (
                s.known_proper(i) or (i + 1 < n and s.proper(i + 1) and not s.stop(i + 1))):
            # A place would be in the gazetteer or after a cue; a lone one is most often a
            # person, and when it looks like a place (ـستان, ـيا) it is left out.
            if _guess_label(s, i) == "PER":
                end = _extend_person(s, i, free_steps=0)
                emit(i, end, "PER", "morph")
                i = end
                continue
        i += 1
    return spans


# Place-name endings: ألمانيا, أفغانستان, فنلندا, روسيا ...
_LOC_ENDINGS = ("يا", "ستان", "لندا", "لاند", "سيا")


def _guess_label(s: _Sentence, i: int) -> str:
    """Label for a lone proper noun: PER unless its shape or context says place."""
    for form, _ in _forms(s.toks[i]):
        if form.endswith(_LOC_ENDINGS):
            return "LOC"
    if i > 0 and s.norm(i - 1) in ("في", "الي", "من", "بين", "عاصمه", "مدينه"):
        return "LOC"
    return "PER"


def recognize_rules(
    sentences: list[list[str]],
    morph: dict[str, list] | None = None,
    documents: list | None = None,
) -> list[EntitySpan]:
    """Find entity spans with the rules; arguments as in ``recognize_entities``."""
    g = load_gazetteers()
    pos = oov = gloss = bw = None
    if morph is not None and morph.get("pos") is not None:
        pos = morph["pos"]
        oov = morph.get("is_oov") or [False] * len(pos)
        gloss = morph.get("gloss") or [None] * len(pos)
        bw = morph.get("bw") or [None] * len(pos)
    out: list[EntitySpan] = []
    views: list[_Sentence] = []
    offset = 0
    for si, toks in enumerate(sentences):
        m = len(toks)
        if pos is not None:
            s = _Sentence(toks, g, pos[offset:offset + m], oov[offset:offset + m],
                          gloss[offset:offset + m], bw[offset:offset + m])
        else:
            s = _Sentence(toks, g, None, None, None, None)
        views.append(s)
        out.extend(_sentence_spans(si, s, "rules"))
        offset += m
    return _recall_names(out, views, documents)


def _recall_names(
    spans: list[EntitySpan], views: list[_Sentence], documents: list | None = None
) -> list[EntitySpan]:
    """Label later bare mentions of names found with evidence earlier in the batch.

    A family name seen in a full name (نجيب محفوظ) or after a title (الرئيس شيراك) is a
    person again when it stands alone (قال محفوظ); a place found after a cue (مدينة بنها)
    is a place again. One name, one sense per batch of articles.
    """
    doc = documents if documents is not None else [0] * len(views)
    memory: dict[tuple, tuple[str, int]] = {}  # (document, form) -> (label, sentence first seen)
    for sp in spans:
        if sp.score == _SCORE["gazetteer"] or sp.score == _SCORE["morph"]:
            continue
        v = views[sp.sentence]
        if sp.label == "PER":
            last = v.norm(sp.token_end - 1)
            multi = sp.token_end - sp.token_start > 1
            if (multi or sp.score == _SCORE["title"]) and \
                    last not in v.g.first_names and last not in _ORDINALS and len(last) > 2 \
                    and not v.stop(sp.token_end - 1) and not (multi and last.startswith("ال")):
                memory.setdefault((doc[sp.sentence], last), ("PER", sp.sentence))
        elif sp.label == "LOC" and sp.token_end - sp.token_start == 1 and v.proper(sp.token_start):
            memory.setdefault((doc[sp.sentence], v.norm(sp.token_start)), ("LOC", sp.sentence))
    if not memory:
        return spans
    covered: dict[int, set[int]] = {}
    for sp in spans:
        covered.setdefault(sp.sentence, set()).update(range(sp.token_start, sp.token_end))
    extra = []
    first_seen = min(h[1] for h in memory.values())
    for si in range(first_seen, len(views)):
        v = views[si]
        cov = covered.get(si, ())
        for k, tok in enumerate(v.toks):
            for form, skip in _forms(tok):
                hit = memory.get((doc[si], form))
                if hit is not None and 0 <= si - hit[1] <= _MEMORY_SENTENCES \
                        and k not in cov and not v.stop(k):
                    extra.append(EntitySpan(si, k, k + 1, hit[0], _SCORE["memory"], "rules",
                                            _surface_skip(v.toks[k], skip)))
                    break
    if not extra:
        return spans
    return sorted(spans + extra, key=lambda e: (e.sentence, e.token_start))
