"""Spans that read as names (issue 22): ORG pieces joined, a person cut out of an ORG,
a place named after a titled person and a royal house's name kept whole."""

from __future__ import annotations

from tasks.entities.span_repair import (
    join_family_name,
    join_named_after,
    merge_org_pieces,
    repair_spans,
    split_person_from_org,
    trim_formulae,
)


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


def test_a_place_named_after_a_titled_person_is_one_span():
    toks = "درس في بجامعة الملك عبدالعزيز بجدة".split()
    # the tagger's ORG cut before the name, and a PER after it
    assert join_named_after(toks, [(2, 4, "ORG", 0.9), (4, 5, "PER", 0.6), (5, 6, "LOC", 0.9)]) \
        == [(2, 5, "ORG", 0.6), (5, 6, "LOC", 0.9)]
    # no span on the head: the head and the title are taken in, labelled as the head says
    toks2 = "افتتح طريق الملك فهد أمس".split()
    assert join_named_after(toks2, [(3, 4, "PER", 0.8)]) == [(1, 4, "LOC", 0.8)]
    # an ORG that runs on into the name is cut, then joined back
    toks3 = "أعلنت جامعة الملك خالد اليوم".split()
    assert repair_spans(toks3, [(1, 4, "ORG", 0.7)]) == [(1, 4, "ORG", 0.7)]
    # a titled person after a word that heads nothing stays a person
    toks4 = "خادم الحرمين الشريفين الملك سلمان".split()
    assert join_named_after(toks4, [(4, 5, "PER", 0.9)]) == [(4, 5, "PER", 0.9)]
    toks5 = "استقبل الأمير فيصل الوفد".split()
    assert join_named_after(toks5, [(2, 3, "PER", 0.9)]) == [(2, 3, "PER", 0.9)]


def test_a_royal_house_is_part_of_the_name():
    toks = "الملك سلمان بن عبدالعزيز آل سعود حفظه الله".split()
    assert join_family_name(toks, [(1, 4, "PER", 0.9), (5, 6, "PER", 0.7)]) == [(1, 6, "PER", 0.7)]
    # two persons with another word between them stay two
    toks2 = "سلمان بن عبدالعزيز و محمد".split()
    assert join_family_name(toks2, [(0, 3, "PER", 0.9), (4, 5, "PER", 0.9)]) == [
        (0, 3, "PER", 0.9), (4, 5, "PER", 0.9)]


def test_a_blessing_after_a_name_is_left_out_of_it():
    toks = "الملك سلمان بن عبدالعزيز آل سعود حفظه الله".split()
    assert repair_spans(toks, [(1, 4, "PER", 0.9), (5, 8, "PER", 0.7)]) == [(1, 6, "PER", 0.7)]
    # a name that ends in الله keeps it
    toks2 = "قال عبد الله بن زايد".split()
    assert trim_formulae(toks2, [(1, 5, "PER", 0.9)]) == [(1, 5, "PER", 0.9)]
