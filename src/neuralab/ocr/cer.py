"""Character error rate: edit distance between the OCR text and the truth.

``CER = levenshtein(pred, truth) / len(truth)`` after both strings are normalised:

* case is kept (``"a"`` vs ``"A"`` is an error);
* characters outside ``alphabet`` (when given) are removed from both strings, so
  punctuation the classifier cannot emit (``"1."``) costs nothing;
* ``whitespace="ignore"`` (default) removes all whitespace: spaces and line breaks do not
  count, only the characters and their order do. ``whitespace="collapse"`` turns every run
  of whitespace, line breaks included, into one space (and strips the ends), so a missing or
  extra word gap costs one edit and a line break counts the same as a space.

An empty truth gives 0.0 when the prediction is empty too and 1.0 otherwise.
"""

from __future__ import annotations

import re
import string

ALPHANUMERIC_UPPER = string.digits + string.ascii_uppercase
"""The 36 classes of NIST36 / EMNIST digits + uppercase: ``0-9A-Z``."""


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions all cost 1); O(len(a) len(b))."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def normalize_text(text: str, alphabet: str | None = None, whitespace: str = "ignore") -> str:
    """``text`` as :func:`character_error_rate` compares it (see the module doc)."""
    if whitespace not in ("ignore", "collapse"):
        raise ValueError(f"whitespace must be 'ignore' or 'collapse', got {whitespace!r}")
    if alphabet is not None:
        allowed = set(alphabet)
        text = "".join(c for c in text if c in allowed or c.isspace())
    if whitespace == "ignore":
        return re.sub(r"\s+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def character_error_rate(
    predicted: str, truth: str, alphabet: str | None = None, whitespace: str = "ignore"
) -> float:
    """Levenshtein distance / length of the (normalised) truth; see the module doc."""
    p = normalize_text(predicted, alphabet, whitespace)
    t = normalize_text(truth, alphabet, whitespace)
    if not t:
        return 0.0 if not p else 1.0
    return levenshtein(p, t) / len(t)
