"""Which handout and task an experiment's ``handout`` string names."""

import pytest

from neuralab.report.handouts import COURSES, place


@pytest.mark.parametrize("handout, course, label", [
    ("TDT4265 assignment 3 task 2 (Table 2)", "tdt4265", "assignment 3 task 2 (Table 2)"),
    ("UvA DL practical 1 §2 / VISUM §1: MLP in PyTorch", "uva", "practical 1 §2"),
    ("VISUM practical §3 / UvA DL assignment 2", "visum", "practical §3"),
    ("HLCV exercise 2", "hlcv", "exercise 2"),
    ("HLCV exercise 2 Q3-Q4: two-layer net in NumPy and in PyTorch", "hlcv", "exercise 2 Q3-Q4"),
    ("16-720 hw5 Q3.2: the chosen learning rate, 10x and 0.1x", "hw5", "Q3.2"),
    ("COMP5421 / 16-720 hw5 Q7.1.3: a CNN on NIST36", "hw5", "Q7.1.3"),
    ("TDT4265 assignment 3 task 4a recipe on EfficientNet-Lite0", "tdt4265",
     "assignment 3 task 4a"),
    ("VISUM practical §2, Table 1 ConvNet (= UvA practical 1 §4)", "visum", "practical §2"),
    ("issue 10: CIFAR-10 speed flagship", "other", ""),
    (None, "other", ""),
])
def test_handout_string_names_course_and_task(handout, course, label):
    p = place(handout)
    assert (p.course, p.label) == (course, label)


def test_an_experiment_under_two_handouts_goes_under_the_first_named():
    assert place("UvA DL practical 1 §2 / VISUM §1").course == "uva"
    assert place("VISUM §1 / UvA DL practical 1 §2").course == "visum"


def test_tasks_sort_by_the_handouts_own_numbers_not_as_text():
    handouts = ["TDT4265 assignment 3 task 10", "TDT4265 assignment 3 task 4b/4c",
                "TDT4265 assignment 3 task 2 (Table 2)", "TDT4265 assignment 3 task 4a",
                "TDT4265 assignment 3 task 3"]
    ordered = sorted(handouts, key=lambda h: place(h).task)
    assert [place(h).label for h in ordered] == [
        "assignment 3 task 2 (Table 2)", "assignment 3 task 3", "assignment 3 task 4a",
        "assignment 3 task 4b/4c", "assignment 3 task 10"]
    assert place("16-720 hw5 Q7.1.3").task < place("16-720 hw5 §7.2").task
    assert place("16-720 hw5 Q3.1").task < place("16-720 hw5 Q3.2").task < \
        place("16-720 hw5 Q5").task


def test_courses_come_in_the_order_of_the_issue():
    assert [c.key for c in COURSES] == ["visum", "uva", "hlcv", "tdt4265", "hw5"]
