"""read_text end to end with an oracle classifier; draw_boxes; failure examples."""

import numpy as np
import pytest
from PIL import Image

from neuralab.errors import NeuralabError
from neuralab.ocr import (
    ALPHANUMERIC_UPPER,
    EMNIST,
    CropSpec,
    FontGlyphs,
    character_error_rate,
    draw_boxes,
    failure_examples,
    find_letters,
    read_text,
    render_page,
)

from .ocr_helpers import CropOracle

PAGES = [
    ("THE QUICK BROWN FOX\nJUMPS OVER 13 LAZY\nDOGS AT 4PM", dict(seed=0)),
    ("HELLO WORLD\n2024 IS HERE\nA B C", dict(seed=1, rotate=3.0, gradient=0.5)),
    ("MAKE A TO DO LIST\nCHECK OFF THE FIRST", dict(seed=2, rotate=-2.0, char_px=32)),
]


def oracle_for(page, spec=EMNIST):
    _, bw = find_letters(page.image)
    return CropOracle(bw, page.boxes, page.chars, spec)


@pytest.mark.parametrize("text,kw", PAGES, ids=["pangram", "skewed", "small"])
def test_perfect_classifier_reads_the_page_exactly(text, kw):
    page = render_page(text, glyphs=FontGlyphs(thicken=1), **kw)
    oracle = oracle_for(page)
    result = read_text(page.image, oracle)
    # characters, order, word gaps and line breaks all right
    assert character_error_rate(result.text, page.text, whitespace="collapse") == 0.0
    assert result.text.split("\n") == page.lines
    assert oracle.calls == 1
    assert len(result.chars) == len(result.boxes) == result.crops.shape[0]
    assert [len(ln) for ln in result.lines] == page.line_lengths
    assert np.concatenate(result.lines).tolist() == list(range(len(result.boxes)))


def test_other_crop_specs_reach_the_classifier():
    page = render_page("AB 12", seed=3)
    seen = {}

    def classify(crops):
        seen["shape"] = crops.shape
        seen["corner"] = float(crops[:, 0, 0].mean())
        return ["X"] * len(crops)

    result = read_text(page.image, classify, CropSpec(size=32, polarity="black_on_white"))
    assert seen["shape"] == (4, 32, 32) and seen["corner"] > 0.95  # white background
    assert result.text == "XX XX"


def test_blank_page_reads_as_empty_text_without_calling_the_classifier():
    def classify(crops):
        raise AssertionError("called on a blank page")

    blank = np.full((400, 600, 3), 235, np.uint8)
    result = read_text(blank, classify)
    assert result.text == "" and result.boxes.shape == (0, 4) and result.lines == []
    assert result.crops.shape == (0, 28, 28)


def test_classifier_must_answer_once_per_crop():
    page = render_page("ABC", seed=4)
    with pytest.raises(NeuralabError, match="one string per crop"):
        read_text(page.image, lambda crops: ["A"])
    # numpy arrays of labels are fine
    result = read_text(page.image, lambda crops: np.array(["Z"] * len(crops)))
    assert result.text == "ZZZ"


def test_cer_with_a_noisy_classifier_counts_its_mistakes():
    page = render_page("HELLO WORLD", seed=5)
    oracle = oracle_for(page)

    def one_wrong(crops):
        out = oracle(crops)
        out[0] = "J"
        return out

    result = read_text(page.image, one_wrong)
    assert character_error_rate(result.text, page.text, ALPHANUMERIC_UPPER) == pytest.approx(0.1)


def test_draw_boxes_writes_a_png(tmp_path):
    page = render_page("OCR 42", seed=6)
    boxes, _ = find_letters(page.image)
    path = draw_boxes(page.image, boxes, tmp_path / "sub" / "boxes.png", labels=list("OCR42"))
    im = Image.open(path)
    assert im.format == "PNG" and im.size == page.image.shape[1::-1]
    drawn = np.asarray(im)
    y1, x1, y2, x2 = boxes[0]
    assert tuple(drawn[y1, (x1 + x2) // 2]) == (230, 20, 20)  # red outline on the top edge
    small = draw_boxes(page.image, boxes, tmp_path / "small.png", max_side=200)
    assert max(Image.open(small).size) == 200
    gray = draw_boxes(page.image[:, :, 0], boxes, tmp_path / "gray.png")
    assert Image.open(gray).mode == "RGB"


def test_draw_boxes_unwritable_path_is_a_neuralab_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NeuralabError):
        draw_boxes(np.zeros((10, 10), np.uint8), np.zeros((0, 4)), blocker / "out.png")


def test_failure_examples_fail_as_documented(tmp_path):
    examples = {ex.name: ex for ex in failure_examples(tmp_path)}
    assert set(examples) == {"touching", "broken", "cursive"}
    for ex in examples.values():
        assert ex.path.is_file() and Image.open(ex.path).format == "PNG"
    assert examples["touching"].found < examples["touching"].expected  # merged
    assert examples["cursive"].found < examples["cursive"].expected  # one blob per word
    assert examples["broken"].found > examples["broken"].expected  # split in two


def test_docs_images_regenerate(tmp_path, capsys):
    from neuralab.ocr.docs import main

    assert main([str(tmp_path), "--data-dir", str(tmp_path / "no-data")]) == 0
    out = capsys.readouterr().out
    assert "01_list.jpg: not found" in out
    assert {p.name for p in tmp_path.iterdir()} == {"touching.png", "broken.png", "cursive.png"}
