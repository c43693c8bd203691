"""Spans that read as names: repairs of a tagger's spans (issue 22).

A sequence tagger decides token by token, so two faults survive decoding:

* a long organisation name comes out in pieces (المكتب الوطني | للكهرباء والماء ...):
  adjacent ORG spans whose second piece continues the first through a conjunction or a
  genitive ل (و..., ل..., لل...) are one name;
* an ORG runs on into the person named after it (وزارة الاقتصاد والمالية نادية فتاح):
  an ORG span holding a given name after two or more of its words is cut there, and the
  rest is the PER. A given name right after the head (جامعة محمد الخامس, مؤسسة محمد
  السادس) is the organisation's own name and stays;
* a place or body named after a titled person comes out as an ORG cut before the name
  and a PER (جامعة الملك | عبدالعزيز, مدينة الملك | فهد): head, title and name are one
  span, labelled as the head says (``gazetteers/named_after.txt``);
* a royal house's name is cut off the person's (سلمان بن عبدالعزيز | آل | سعود): a PER,
  آل and the PER right after it are one name;
* a blessing after a name is taken into it (الملك سلمان حفظه الله, الأمير نايف رحمه
  الله): the span ends before the formula's first word.

Pure functions over ``(start, end, label, confidence)`` tuples of one sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

from tasks.entities.gazetteers import _forms, load_gazetteers, named_after_heads, normalize_name

Span = tuple[int, int, str, float]


def _continues(token: str) -> bool:
    """Starts with a conjunction or a genitive ل that can carry an ORG name on."""
    n = normalize_name(token)
    return len(n) > 3 and (n.startswith("وال") or n.startswith("لل") or n.startswith("ول"))


def _given_name(token: str) -> bool:
    """An unambiguous given name (محمد, نادية), with or without a proclitic."""
    names = load_gazetteers().first_names
    return any(names.get(form) is False for form, _skip in _forms(token))


def _org_head(token: str) -> bool:
    heads = load_gazetteers().org_heads
    return any(form in heads for form, _skip in _forms(token))


# Titles between a place's head and the person it is named after (normalized).
_TITLES = frozenset(normalize_name(t) for t in (
    "الملك", "الأمير", "الأميرة", "الشيخ", "الشيخة", "السلطان", "الإمام"))
_AL = normalize_name("آل")
# First words of the blessings that follow a name (حفظه الله, رحمه الله, طيب الله ثراه).
_FORMULAE = frozenset(normalize_name(t) for t in (
    "حفظه", "حفظها", "حفظهم", "يحفظه", "يحفظها", "رحمه", "رحمها", "رحمهم", "يرحمه",
    "أيده", "أيدها", "رعاه", "رعاها", "طيب", "صلى", "عليه", "عليها", "رضي"))


def _head_label(token: str) -> str | None:
    heads = named_after_heads()
    return next((heads[form] for form, _skip in _forms(token) if form in heads), None)


def join_named_after(tokens: Sequence[str], spans: Sequence[Span]) -> list[Span]:
    """One span for a head, a title and the PER after them (جامعة الملك عبدالعزيز).

    The PER must start right after a title whose previous token is a ``named_after``
    head; a span that ends at the title or at the head (ORG جامعة الملك, ORG جامعة) is
    taken in, and its start is the new span's.
    """
    out: list[Span] = []
    for a, b, lab, conf in spans:
        if lab == "PER" and a >= 2 and normalize_name(tokens[a - 1]) in _TITLES:
            head = _head_label(tokens[a - 2])
            if head is not None:
                start = a - 2
                if out and out[-1][1] in (a - 1, a) and out[-1][0] <= a - 2:
                    start, conf = out[-1][0], min(conf, out[-1][3])
                    out.pop()
                out.append((start, b, head, conf))
                continue
        out.append((a, b, lab, conf))
    return out


def join_family_name(tokens: Sequence[str], spans: Sequence[Span]) -> list[Span]:
    """Join a PER, the word آل after it and the PER right after that (آل سعود)."""
    out: list[Span] = []
    for sp in spans:
        if out:
            a, b, lab, conf = out[-1]
            if (lab == "PER" and sp[2] == "PER" and sp[0] == b + 1
                    and normalize_name(tokens[b]) == _AL):
                out[-1] = (a, sp[1], "PER", min(conf, sp[3]))
                continue
        out.append(sp)
    return out


def trim_formulae(tokens: Sequence[str], spans: Sequence[Span]) -> list[Span]:
    """End a span before a blessing that follows the name in it (حفظه الله)."""
    out: list[Span] = []
    for a, b, lab, conf in spans:
        cut = next((k for k in range(a + 1, b) if normalize_name(tokens[k]) in _FORMULAE), b)
        out.append((a, cut, lab, conf))
    return out


def merge_org_pieces(tokens: Sequence[str], spans: Sequence[Span]) -> list[Span]:
    """Join an ORG span with the ORG span right after it when the second continues it."""
    out: list[Span] = []
    for sp in spans:
        if out:
            a, b, lab, conf = out[-1]
            if lab == "ORG" and sp[2] == "ORG" and sp[0] == b and _continues(tokens[sp[0]]):
                out[-1] = (a, sp[1], "ORG", min(conf, sp[3]))
                continue
        out.append(sp)
    return out


def split_person_from_org(tokens: Sequence[str], spans: Sequence[Span]) -> list[Span]:
    """Cut an ORG span before a given name that follows two or more of its words."""
    out: list[Span] = []
    for a, b, lab, conf in spans:
        if lab == "ORG" and b - a >= 3:
            cut = next((k for k in range(a + 2, b) if _given_name(tokens[k])
                        and not _given_name(tokens[k - 1]) and not _org_head(tokens[k - 1])),
                       None)
            if cut is not None:
                out += [(a, cut, "ORG", conf), (cut, b, "PER", conf)]
                continue
        out.append((a, b, lab, conf))
    return out


def repair_spans(tokens: Sequence[str], spans: Sequence[Span]) -> list[Span]:
    """The repairs, in order: pieces joined, persons cut out of ORGs, the names after a
    titled person and a royal house's joined back, blessings cut off."""
    spans = split_person_from_org(tokens, merge_org_pieces(tokens, spans))
    return trim_formulae(tokens, join_family_name(tokens, join_named_after(tokens, spans)))
