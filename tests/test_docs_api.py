"""docs/api.md: every Python example on the page runs, in order, and does what it says."""

import re
from pathlib import Path

import numpy as np
from PIL import Image

PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"
COLORS = {"red": (210, 30, 30), "green": (30, 210, 30), "blue": (30, 30, 210)}


def examples() -> list[tuple[str, str]]:
    """``(section title, code)`` of every ```python block, in page order."""
    text = PAGE.read_text()
    out, title = [], ""
    for block in re.split(r"^(## .*)$", text, flags=re.M):
        if block.startswith("## "):
            title = block[3:].strip()
            continue
        out += [(title, code) for code in re.findall(r"```python\n(.*?)```", block, re.S)]
    return out


def _photos(root: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 24), ("test", 6)):
        for name, color in COLORS.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = np.array(color) + rng.normal(0, 35, (28, 40, 3))
                Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"{i}.png")


def test_the_page_has_the_four_examples_within_their_line_budgets():
    found = examples()
    assert [t[:3] for t, _ in found] == ["(a)", "(b)", "(c)", "(d)", "(d)"]  # (d): torch, NumPy
    budgets = {"(a)": 8, "(b)": 17, "(d)": 4}  # (b): 15 lines of code + 2 wrapped lines
    for title, code in found:
        lines = [line for line in code.splitlines() if line.strip()]
        assert len(lines) <= budgets.get(title[:3], 30), (title, len(lines))


def test_every_example_runs_in_order(tmp_path, monkeypatch, capsys, one_thread):
    _photos(tmp_path / "photos")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    outputs = []
    for title, code in examples():
        exec(compile(code, f"{PAGE}:{title}", "exec"), namespace)  # noqa: S102
        outputs.append(capsys.readouterr().out.strip())
    accuracy = float(re.match(r"test accuracy (\S+), run in ", outputs[0]).group(1))
    assert accuracy >= 0.9
    assert (namespace["run_dir"] / "model.json").is_file()
    val_accuracy, reason = outputs[1].split(" ", 1)
    assert float(val_accuracy) >= 0.95 and reason == "val accuracy >= 0.95"
    assert float(outputs[2]) < 1e-6
    assert outputs[3].startswith("[{'class': 'red', 'probability': ")
    assert outputs[4].startswith("numpy VectorInputs(32x32x3 CHW rows x 1, subtract -> 3072) "
                                 "{'class': 'red', 'probability': ")


def test_the_page_is_linked_from_the_readme():
    readme = (PAGE.parents[1] / "README.md").read_text()
    assert "docs/api.md" in readme

