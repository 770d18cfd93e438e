"""Numbers at 4 significant digits; no machine paths or full hashes in report text."""

import pytest

from neuralab.report.format import clean, fmt_cell, fmt_number


@pytest.mark.parametrize("value, text", [
    (0.02857142857142857, "0.02857"), (0.7101, "0.7101"), (0.51, "0.5100"), (1.0, "1.000"),
    (0.0, "0"), (7.0, "7"), (219.74, "219.7"), (2162.0, "2,162"), (12345.6, "12,350"),
    (390410, "390,410"), (1.37e-22, "1.370×10⁻²²"), (-0.5, "-0.5000"), (None, "—"),
    (True, "yes"),
])
def test_numbers_have_four_significant_digits(value, text):
    assert fmt_number(value) == text


def test_settings_keep_the_value_as_typed():
    assert fmt_number(0.001, pad=False) == "0.001"
    assert fmt_cell([1024, 512, 0.5], pad=False) == "1024, 512, 0.5"


def test_csv_cells_are_numbers_too():
    assert fmt_cell("0.5744853085941739") == "0.5745"
    assert fmt_cell("183") == "183"
    assert fmt_cell("True") == "yes" and fmt_cell("cat") == "cat"


def test_absolute_paths_and_full_hashes_are_removed():
    text = ("read /work/shared/data/cifar10/train/ and /tmp/pytest-of-root/x/runs/exp/a.png, "
            "C:\\Users\\me\\data\\mnist.npz; sha256:6fc2e4a51696acfdff463fbd974e681327e6c5d8 "
            "commit 3f9a7c21be5d0a1b2c3d")
    out = clean(text)
    assert "/work" not in out and "/tmp" not in out and "Users" not in out
    assert "train" in out and "a.png" in out and "mnist.npz" in out
    assert "sha256:6fc2e4a5…" in out and "6fc2e4a51696" not in out
    assert "3f9a7c21…" in out
    assert clean("neuralab 0.1.0+g3f9a7c21be5d") == "neuralab 0.1.0+g3f9a7c21"
    # relative paths, URLs and numbers stay
    assert clean("results/benchmarks/a.json") == "results/benchmarks/a.json"
    assert clean("see https://example.org/a/b") == "see https://example.org/a/b"
    assert clean("390410123456789") == "390410123456789"
