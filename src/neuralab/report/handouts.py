"""Which handout an experiment answers, read from its ``handout`` string.

Every experiment records the handout it reproduces as free text, e.g. ``"TDT4265 assignment 3
task 2 (Table 2)"`` or ``"UvA DL practical 1 §2 / VISUM §1: MLP in PyTorch"``. The report
groups experiments by course and orders them by the handout's own task numbers; an experiment
that names two handouts goes under the first one named.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Course(NamedTuple):
    key: str  # short id, also the HTML anchor
    title: str  # section heading
    pattern: str  # regex that names the course in a handout string
    strip: str  # regex of the course's own name, removed before reading task numbers


#: The courses in the report's order; anything else goes to ``OTHER`` at the end.
COURSES = (
    Course("visum", "VISUM summer school practicals", r"\bVISUM\b", r"\bVISUM\b"),
    Course("uva", "UvA Deep Learning practicals and assignments", r"\bUvA\b",
           r"\bUvA\b|\bDL\b"),
    Course("hlcv", "HLCV (High-Level Computer Vision) exercises", r"\bHLCV\b", r"\bHLCV\b"),
    Course("tdt4265", "TDT4265 Computer Vision and Deep Learning", r"\bTDT4265\b",
           r"\bTDT4265\b"),
    Course("hw5", "16-720 / COMP5421 homework 5: neural networks for recognition",
           r"\b16-720\b|\bCOMP5421\b|\bhw5\b", r"\b16-720\b|\bCOMP5421\b|\bhw5\b"),
)
OTHER = Course("other", "Other experiments (no handout task)", "", "")

_COURSE_BY_KEY = {c.key: c for c in (*COURSES, OTHER)}


class Placement(NamedTuple):
    course: str  # a Course.key
    task: tuple  # sort key from the task numbers, e.g. ((3, ""), (4, "b"))
    label: str  # the task as the handout names it, e.g. "assignment 3 task 2"


def course(key: str) -> Course:
    return _COURSE_BY_KEY[key]


def course_order(key: str) -> int:
    return [c.key for c in (*COURSES, OTHER)].index(key)


def _label(c: Course, handout: str, start: int) -> str:
    """The task as the handout names it: the text after the course's name up to the next
    handout (`` / X``), the description (``:``), a comma or the words after the last task
    number (``"task 4a recipe on ..."`` -> ``"task 4a"``). ``"COMP5421 / 16-720 hw5 Q7"``
    names one course twice: the first segment with a task in it is used."""
    head = re.split(r":", handout[start:], maxsplit=1)[0]
    for segment in re.split(r"\s/\s", head):
        label = re.sub(c.strip, " ", segment, flags=re.IGNORECASE)
        label = re.sub(r"\s+", " ", label).split(",")[0].strip(" /")
        if label:
            break
    words = label.split(" ")
    for i in range(1, len(words) - 1):
        if (any(ch.isdigit() for ch in words[i - 1]) and not words[i].startswith("(")
                and not any(ch.isdigit() for ch in words[i] + words[i + 1])):
            words = words[:i]
            break
    return " ".join(words)


def _numbers(text: str) -> tuple:
    """Task numbers in reading order, each with its letter: ``"assignment 3 task 4b/4c"`` ->
    ``((3, ""), (4, "b"), (4, "c"))``;
    text in parentheses and after a comma (``"(Table 2)"``, ``", Table 1"``) is not a task."""
    text = re.sub(r"\([^)]*\)?", " ", text).split(",")[0]
    key: list = []
    for number, letter in re.findall(r"(?<![A-PR-Za-z])(\d+)([a-z]?)(?![\d])", text):
        key.append((int(number), letter))
    return tuple(key)


def place(handout: str | None) -> Placement:
    """``(course key, task sort key, task label)`` for a ``handout`` string.

    >>> place("TDT4265 assignment 3 task 2 (Table 2)")
    Placement(course='tdt4265', task=((3, ''), (2, '')), label='assignment 3 task 2 (Table 2)')
    >>> place("UvA DL practical 1 §2 / VISUM §1: MLP in PyTorch").course
    'uva'
    """
    handout = handout or ""
    first = None
    for c in COURSES:
        m = re.search(c.pattern, handout, flags=re.IGNORECASE)
        if m and (first is None or m.start() < first[1]):
            first = (c, m.start())
    if first is None:
        return Placement(OTHER.key, (), "")
    c, start = first
    label = _label(c, handout, start)
    return Placement(c.key, _numbers(label), label)
