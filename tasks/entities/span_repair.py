"""Spans that read as names: repairs of a tagger's spans (issue 22).

A sequence tagger decides token by token, so two faults survive decoding:

* a long organisation name comes out in pieces (المكتب الوطني | للكهرباء والماء ...):
  adjacent ORG spans whose second piece continues the first through a conjunction or a
  genitive ل (و..., ل..., لل...) are one name;
* an ORG runs on into the person named after it (وزارة الاقتصاد والمالية نادية فتاح):
  an ORG span holding a given name after two or more of its words is cut there, and the
  rest is the PER. A given name right after the head (جامعة محمد الخامس, مؤسسة محمد
  السادس) is the organisation's own name and stays.

Pure functions over ``(start, end, label, confidence)`` tuples of one sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

from tasks.entities.gazetteers import _forms, load_gazetteers, normalize_name

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
    """Both repairs, in order: pieces joined first, then persons cut out of ORGs."""
    return split_person_from_org(tokens, merge_org_pieces(tokens, spans))
