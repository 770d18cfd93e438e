"""Levenshtein distance and character error rate."""

from hypothesis import given, settings
from hypothesis import strategies as st

from neuralab.ocr import ALPHANUMERIC_UPPER, character_error_rate, levenshtein
from neuralab.ocr.cer import normalize_text

texts = st.text(alphabet="AB01 ", max_size=12)


def test_levenshtein_known_values():
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "ABC") == 3
    assert levenshtein("ABC", "") == 3
    assert levenshtein("FLAW", "LAWN") == 2
    assert levenshtein("SAME", "SAME") == 0


@settings(max_examples=200, deadline=None)
@given(texts, texts, texts)
def test_levenshtein_is_a_metric(a, b, c):
    assert levenshtein(a, b) == levenshtein(b, a)
    assert (levenshtein(a, b) == 0) == (a == b)
    assert levenshtein(a, c) <= levenshtein(a, b) + levenshtein(b, c)
    assert abs(len(a) - len(b)) <= levenshtein(a, b) <= max(len(a), len(b))


def test_cer_is_case_sensitive_and_relative_to_truth():
    assert character_error_rate("HELLO", "HELLO") == 0.0
    assert character_error_rate("HELLo", "HELLO") == 0.2
    assert character_error_rate("HELL", "HELLO") == 0.2
    assert character_error_rate("XHELLOX", "HELLO") == 0.4


def test_cer_drops_characters_outside_the_alphabet_from_both_sides():
    truth = "1. MAKE A LIST!"
    assert character_error_rate("1 MAKE A LIST", truth, ALPHANUMERIC_UPPER) == 0.0
    assert character_error_rate("1,MAKE-A LIST", truth, ALPHANUMERIC_UPPER) == 0.0
    assert character_error_rate("1 MAKE A LIST", truth) > 0  # no alphabet: '.' and '!' count


def test_whitespace_ignored_by_default_and_collapsed_on_request():
    truth = "TO DO\nLIST"
    assert character_error_rate("TODOLIST", truth) == 0.0
    assert character_error_rate("TO  DO LIST", truth, whitespace="collapse") == 0.0
    # one missing word gap = one edit over the 10 characters of "TO DO LIST"
    assert character_error_rate("TODO LIST", truth, whitespace="collapse") == 0.1
    assert normalize_text(" A \n\n B ", whitespace="collapse") == "A B"


def test_empty_truth():
    assert character_error_rate("", "") == 0.0
    assert character_error_rate("   ", "\n") == 0.0
    assert character_error_rate("A", "") == 1.0
