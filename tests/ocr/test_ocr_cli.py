"""``neuralab ocr --model RUN``: finding a trained classifier, the CLI path with a stand-in
classifier in the checkpoint format, the NumPy engine against PyTorch, the word-level
letter/digit prior, one-line errors, and (when a trained ``emnist-cnn`` run exists) the
character error rate on the hw5 photos. The shipped model: test_ocr_shipped.py."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from neuralab.cli import main
from neuralab.errors import NeuralabError
from neuralab.models import build_model
from neuralab.ocr import character_error_rate, render_page
from neuralab.ocr.classifier import (
    ClassifierSpec,
    decode_words,
    find_classifier,
    load_classifier,
    write_spec,
)
from neuralab.ocr.cli import run_ocr
from neuralab.train import save_weights

from .ocr_ground_truth import ALPHABET, PHOTOS

REPO = Path(__file__).resolve().parents[2]
RUNS = Path(os.environ.get("NEURALAB_RUNS", REPO / "runs"))
PAGE = ["AB CD", "EFG 12", "XYZ"]


def stand_in_run(folder: Path, finished: bool = True, bias: list[float] | None = None) -> Path:
    """A run folder as a classifier experiment leaves it: a small CharCNN with random weights
    in ``checkpoint/model.safetensors`` and its ``classifier.json``."""
    torch.manual_seed(0)
    kwargs = {"in_channels": 1, "n_classes": 36, "widths": [4, 8, 8], "dropout": 0.0}
    (folder / "checkpoint").mkdir(parents=True)
    save_weights(build_model("char_cnn", **kwargs), folder / "checkpoint" / "model.safetensors")
    write_spec(folder, ClassifierSpec(model="char_cnn", kwargs=kwargs, classes=list(ALPHABET),
                                      input_size=28, mean=0.17, std=0.33, crop={"margin": 2},
                                      logit_bias=bias, experiment="emnist-cnn"))
    if finished:
        (folder / "metrics.json").write_text("{}")
    return folder


@pytest.fixture(scope="module")
def page_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("page") / "page.png"
    Image.fromarray(render_page(PAGE, char_px=40, seed=1).image).save(path)
    return path


def test_cli_reads_a_page_and_writes_boxes(tmp_path, page_png, capsys):
    runs = tmp_path / "runs"
    stand_in_run(runs / "emnist-cnn" / "20260101-000000")
    boxes = tmp_path / "out" / "boxes.png"
    assert main(["ocr", str(page_png), "--model", "emnist-cnn", "--runs", str(runs), "--boxes",
                 str(boxes)]) == 0
    lines = capsys.readouterr().out.rstrip("\n").split("\n")
    # the stand-in's labels are arbitrary, but the layout is the page's: 3 lines, its words
    assert [[len(w) for w in line.split(" ")] for line in lines] == [[2, 2], [3, 2], [3]]
    assert set("".join(lines).replace(" ", "")) <= set(ALPHABET)
    with Image.open(boxes) as im:
        assert im.format == "PNG" and im.size == Image.open(page_png).size  # small: kept


def test_a_blank_page_says_no_characters_were_found(tmp_path, capsys):
    runs = tmp_path / "runs"
    stand_in_run(runs / "emnist-cnn" / "20260101-000000")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((300, 400, 3), 255, np.uint8)).save(blank)
    assert main(["ocr", str(blank), "--model", "emnist-cnn", "--runs", str(runs)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == f"neuralab ocr: no characters found in {blank}\n"


def test_boxes_picture_is_shrunk_to_max_side(tmp_path, page_png):
    run = stand_in_run(tmp_path / "run")
    out = tmp_path / "b.png"
    text = run_ocr(page_png, model=run, boxes_out=out, boxes_max_side=200)
    assert text.count("\n") == 2
    with Image.open(out) as im:
        assert max(im.size) == 200


def test_find_classifier_by_name_folder_and_file(tmp_path):
    runs = tmp_path / "runs"
    old = stand_in_run(runs / "emnist-cnn" / "20260101-000000")
    new = stand_in_run(runs / "emnist-cnn" / "20260102-000000")
    stand_in_run(runs / "emnist-cnn" / "20260103-000000", finished=False)  # still training
    assert find_classifier("emnist-cnn", runs) == new / "classifier.json"
    assert find_classifier(runs / "emnist-cnn") == new / "classifier.json"
    assert find_classifier(old) == old / "classifier.json"
    assert find_classifier(old / "classifier.json") == old / "classifier.json"
    clf = load_classifier(old)
    assert clf.crop_spec.size == 28 and clf.crop_spec.margin == 2
    assert clf.crop_spec.polarity == "white_on_black" and clf.classes == list(ALPHABET)


def test_classifier_normalises_and_adds_the_logit_bias(tmp_path):
    bias = list(np.linspace(-1, 1, 36))
    run = stand_in_run(tmp_path / "run", bias=bias)
    clf = load_classifier(run, engine="torch")
    assert clf.engine == "torch"
    crops = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32)
    with torch.no_grad():
        expect = clf.model((torch.from_numpy(crops)[:, None] - 0.17) / 0.33).numpy() + bias
    np.testing.assert_allclose(clf.logits(crops), expect, rtol=1e-5, atol=1e-5)
    assert clf(crops) == [ALPHABET[i] for i in expect.argmax(1)]
    np.testing.assert_allclose(clf.predict_proba(crops).sum(1), 1.0, rtol=1e-6)
    with pytest.raises(NeuralabError, match=r"crops \[N, 28, 28\]"):
        clf(np.zeros((2, 32, 32), np.float32))
    fast = load_classifier(run)  # the default engine on the CPU: NumPy, same numbers
    assert fast.engine == "numpy"
    np.testing.assert_allclose(fast.logits(crops), expect, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("widths", [(4, 8, 8), (32, 64, 128)])
def test_numpy_engine_matches_torch_on_a_trained_looking_net(tmp_path, widths):
    """BatchNorm statistics far from (0, 1), odd widths and a batch above the engine's
    chunk of 64: the NumPy CharCNN gives torch's logits."""
    torch.manual_seed(1)
    kwargs = {"in_channels": 1, "n_classes": 36, "widths": list(widths), "dropout": 0.3}
    model = build_model("char_cnn", **kwargs)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.2, 3.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    (tmp_path / "checkpoint").mkdir()
    save_weights(model, tmp_path / "checkpoint" / "model.safetensors")
    write_spec(tmp_path, ClassifierSpec(model="char_cnn", kwargs=kwargs, classes=list(ALPHABET),
                                        input_size=28, mean=0.17, std=0.33))
    crops = np.random.default_rng(2).random((70, 28, 28), dtype=np.float32)
    a, b = load_classifier(tmp_path, engine="numpy"), load_classifier(tmp_path, engine="torch")
    za, zb = a.logits(crops), b.logits(crops)
    assert za.shape == (70, 36) and np.abs(zb).max() > 0.1
    np.testing.assert_allclose(za, zb, rtol=1e-4, atol=1e-4 * np.abs(zb).max())
    assert a(crops) == b(crops)


def test_decode_words_prefers_one_character_type_per_word():
    classes = list("01OIB")
    p = np.full((6, 5), 1e-4)
    p[0, [2, 0]] = 0.45, 0.55  # O or 0, slightly 0
    p[1, 3] = 0.9  # I
    p[2, [0, 2]] = 0.6, 0.4  # 0 or O, in a number
    p[3, 1] = 0.9  # 1
    p[4, 4] = 0.999  # a clear B
    p[5, 1] = 0.999  # a clear 1
    lp = np.log(p / p.sum(1, keepdims=True))
    words = [np.array([0, 1]), np.array([3, 2]), np.array([4, 5])]
    assert decode_words(lp, classes, words) == ["O", "I", "0", "1", "B", "1"]
    assert decode_words(lp, classes, words, switch_cost=0.0) == ["0", "I", "0", "1", "B", "1"]
    # one-character words and crops outside any word keep the classifier's answer
    assert decode_words(lp, classes, [np.array([0])]) == ["0", "I", "0", "1", "B", "1"]


def _one_line_error(capsys, *phrases):
    err = capsys.readouterr().err
    assert err.startswith("neuralab: error: ") and err.count("\n") == 1, err
    for phrase in phrases:
        assert phrase in err, err


def test_non_image_exits_2_with_one_line(tmp_path, capsys):
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a photo\n")
    stand_in_run(tmp_path / "runs" / "emnist-cnn" / "1")
    assert main(["ocr", str(notes), "--runs", str(tmp_path / "runs")]) == 2
    _one_line_error(capsys, "cannot read", "as an image")
    assert main(["ocr", str(tmp_path / "missing.png")]) == 2
    _one_line_error(capsys, "image file not found")


def test_missing_model_exits_2_and_says_what_to_run(tmp_path, page_png, capsys):
    empty = str(tmp_path / "empty")
    assert main(["ocr", str(page_png), "--model", "emnist-cnn", "--runs", empty]) == 2
    _one_line_error(capsys, "no trained classifier 'emnist-cnn'", "neuralab run emnist-cnn")
    assert main(["ocr", str(page_png), "--model", "chars-cnn", "--runs", str(tmp_path)]) == 2
    _one_line_error(capsys, "`neuralab run chars-cnn` first", "shipped model")
    assert main(["ocr", str(page_png), "--model", str(tmp_path / "nope" / "x.json")]) == 2
    _one_line_error(capsys, "classifier not found")
    run = stand_in_run(tmp_path / "gone")
    (run / "checkpoint" / "model.safetensors").unlink()
    assert main(["ocr", str(page_png), "--model", str(run)]) == 2
    _one_line_error(capsys, "weights", "are missing")
    bad = stand_in_run(tmp_path / "bad")
    (bad / "classifier.json").write_text(json.dumps({"model": "char_cnn"}))
    assert main(["ocr", str(page_png), "--model", str(bad)]) == 2
    _one_line_error(capsys, "not a classifier description")


# --------------------------------------------------------------------------- trained model
def trained_run() -> Path:
    """The newest finished emnist-cnn run in the repository's runs/ (or $NEURALAB_RUNS)."""
    try:
        return find_classifier("emnist-cnn", RUNS).parent
    except NeuralabError:
        pytest.skip(f"no finished emnist-cnn run under {RUNS} (neuralab run emnist-cnn)")


@pytest.mark.parametrize("name", ["01_list.jpg", "02_letters.jpg"])
def test_hw5_photo_cer_with_the_trained_classifier(hw5_dir, name):
    run = trained_run()
    text = run_ocr(hw5_dir / name, model=run)
    truth = PHOTOS[name]
    assert text.count("\n") == truth.count("\n")
    cer = character_error_rate(text, truth, ALPHABET)
    assert cer <= 0.10, (cer, text)  # issue 6 target (aim 3%)
    raw = character_error_rate(run_ocr(hw5_dir / name, model=run, word_context=False), truth,
                               ALPHABET)
    assert cer <= raw  # the letter/digit prior never makes these pages worse


def test_the_boxes_picture_is_written_in_the_format_its_name_says(tmp_path, page_png):
    import pytest

    from neuralab.errors import NeuralabError

    run = stand_in_run(tmp_path / "run")
    for name, fmt in (("b.jpg", "JPEG"), ("b.JPEG", "JPEG"), ("b.webp", "WEBP"),
                      ("b.png", "PNG")):
        run_ocr(page_png, model=run, boxes_out=tmp_path / name)
        with Image.open(tmp_path / name) as im:
            assert im.format == fmt, name
    with pytest.raises(NeuralabError, match=r"give a \.png, \.jpg or \.webp file name"):
        run_ocr(page_png, model=run, boxes_out=tmp_path / "b.gif")
