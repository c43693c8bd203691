"""Spans that read as names (issue 22): ORG pieces joined, a person cut out of an ORG."""

from __future__ import annotations

from tasks.entities.span_repair import merge_org_pieces, repair_spans, split_person_from_org


def test_org_pieces_joined_through_a_genitive_or_conjunction():
    toks = "أعلن المكتب الوطني للكهرباء والماء الصالح للشرب عن".split()
    spans = [(1, 3, "ORG", 0.9), (3, 5, "ORG", 0.7), (5, 7, "ORG", 0.6)]
    assert merge_org_pieces(toks, spans) == [(1, 5, "ORG", 0.7), (5, 7, "ORG", 0.6)]
    assert repair_spans(toks, [(1, 3, "ORG", 0.9), (3, 7, "ORG", 0.7)]) == [(1, 7, "ORG", 0.7)]
    # two names side by side that do not continue each other stay two
    toks2 = "زار البنك الدولي الأمم المتحدة".split()
    spans2 = [(1, 3, "ORG", 0.9), (3, 5, "ORG", 0.9)]
    assert merge_org_pieces(toks2, spans2) == spans2


def test_a_person_after_the_org_is_not_swallowed():
    toks = "وقالت وزارة الاقتصاد والمالية نادية فتاح إن".split()
    assert split_person_from_org(toks, [(1, 6, "ORG", 0.8)]) == [
        (1, 4, "ORG", 0.8), (4, 6, "PER", 0.8)]
    # a given name right after the head is the organisation's own name
    toks2 = "زار جامعة محمد الخامس بالرباط".split()
    assert split_person_from_org(toks2, [(1, 4, "ORG", 0.8)]) == [(1, 4, "ORG", 0.8)]
    # other labels are left alone
    assert split_person_from_org(toks, [(1, 6, "MISC", 0.8)]) == [(1, 6, "MISC", 0.8)]
