"""Handwriting experiments (hw5 Q7.1): registration, the batched augmentation, the crop
frame shared with the OCR, a tiny end-to-end run whose saved classifier reproduces its own
test accuracy, and the PyTorch FC network against the NumPy one."""

import dataclasses
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuralab.data import Dataset, DataSource, Split
from neuralab.data.splits import stratified_subset
from neuralab.experiments import get_experiment
from neuralab.experiments import handwriting as hw
from neuralab.experiments.runner import run_experiment
from neuralab.models import build_model
from neuralab.ocr import EMNIST
from neuralab.ocr.classifier import load_classifier

REPO = Path(__file__).resolve().parents[2]
NAMES = ("chars-fc-torch", "mnist-cnn", "chars-cnn", "emnist-cnn")


def data_dir() -> Path:
    root = os.environ.get("NEURALAB_DATA")
    if not root or not (Path(root) / "emnist").is_dir():
        pytest.skip("NEURALAB_DATA is unset or has no EMNIST files")
    return Path(root)


def test_registered_with_handout_targets_and_defaults():
    for name, q in zip(NAMES, ("7.1.1", "7.1.2", "7.1.3", "7.1.4"), strict=True):
        exp = get_experiment(name)
        assert exp.topic == "handwriting" and f"hw5 Q{q}" in exp.handout
        if name != "emnist-cnn":
            assert exp.target.metric == "test_accuracy" and exp.target.higher_is_better
    assert get_experiment("mnist-cnn").target.threshold == 0.993
    ocr_target = get_experiment("emnist-cnn").target
    assert ocr_target.metric == "hw5_photo_cer" and ocr_target.threshold == 0.10
    assert not ocr_target.higher_is_better
    mnist = get_experiment("mnist-cnn").make_config()
    assert mnist.dataset == "mnist" and mnist.input_size == 28 and mnist.shift > 0
    chars = get_experiment("chars-cnn").make_config()
    assert chars.dataset == "chars36" and chars.input_size == 32
    ocr = get_experiment("emnist-cnn").make_config()
    assert ocr.dataset == "chars36" and ocr.input_size == 28
    assert ocr.thicken > 0 and ocr.thin > 0 and ocr.rotate > 0 and ocr.scale > 0
    fc = get_experiment("chars-fc-torch").make_config({"hidden": "32"})
    assert fc.hidden == 32 and fc.summed_loss


def test_photo_ground_truth_is_the_ocr_tests_one():
    path = REPO / "tests" / "ocr" / "ocr_ground_truth.py"
    spec = importlib.util.spec_from_file_location("ocr_ground_truth_copy", path)
    truth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(truth)
    for name, text in hw.HW5_PHOTOS.items():
        assert truth.PHOTOS[name] == text
    assert truth.ALPHABET == hw.OCR_ALPHABET


def test_fc_hyper_parameters_match_the_numpy_experiment():
    try:
        scratch = get_experiment("chars-fc-scratch").make_config()
    except Exception:
        pytest.skip("chars-fc-scratch is not registered")
    torch_cfg = get_experiment("chars-fc-torch").make_config()
    for ours, theirs in hw.SCRATCH_FIELDS.items():
        assert getattr(torch_cfg, ours) == getattr(scratch, theirs), ours


def test_fc_within_one_point_of_numpy_in_committed_results():
    paths = [REPO / "results" / f"{n}.json" for n in ("chars-fc-scratch", "chars-fc-torch")]
    if not all(p.exists() for p in paths):
        pytest.skip("results/chars-fc-{scratch,torch}.json are not both committed")
    numpy_acc, torch_acc = (json.loads(p.read_text())["metrics"]["test_accuracy"] for p in paths)
    assert abs(torch_acc - numpy_acc) <= 0.01, (torch_acc, numpy_acc)


def test_hw5_loss_steps_like_the_summed_loss_even_for_a_short_last_batch():
    """hw5 updates with lr * (summed gradient); the trainer's loss/lr pair does the same for
    a full batch and for the epoch's shorter last one, and evaluates the per-image mean."""
    loss_fn = hw._hw5_loss(8)
    for n in (8, 5):
        x, y = torch.rand(n, 1024), torch.randint(0, 36, (n,))
        models = []
        for fn, lr in ((lambda o, t: F.cross_entropy(o, t, reduction="sum"), 0.01),
                       (loss_fn, 0.01 * 8)):
            torch.manual_seed(0)
            model = build_model("char_fc")
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            fn(model(x), y).backward()
            opt.step()
            models.append(model)
        for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
            torch.testing.assert_close(a, b)
        with torch.no_grad():
            out = models[0](x)
            torch.testing.assert_close(loss_fn(out, y), F.cross_entropy(out, y))


def test_char_fc_is_xavier_initialised():
    model = build_model("char_fc")
    bound = (6 / (1024 + 64)) ** 0.5
    w = model.hidden.weight
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound
    assert float(model.hidden.bias.detach().abs().max()) == 0.0
    assert model(torch.rand(3, 1, 32, 32)).shape == (3, 36)


def test_char_cnn_takes_28_and_32_pixel_characters():
    model = build_model("char_cnn", n_classes=36).eval()
    for size in (28, 32):
        assert model(torch.rand(2, 1, size, size)).shape == (2, 36)


# --------------------------------------------------------------------------- transforms
def test_transform_crops_to_the_emnist_frame_and_normalises():
    x = torch.randint(0, 256, (4, 32, 32, 1), dtype=torch.uint8)
    out = hw.char_transform(0.2, 0.5, crop=2)(x, None)
    assert out.shape == (4, 1, 28, 28) and out.dtype == torch.float32
    expect = (x[:, 2:30, 2:30, 0].float() / 255 - 0.2) / 0.5
    torch.testing.assert_close(out[:, 0], expect)


def test_window_dilation_and_erosion_match_pooling():
    x = torch.rand(3, 1, 9, 11)
    torch.testing.assert_close(hw._window3(x, torch.maximum), F.max_pool2d(x, 3, 1, 1))
    padded = F.pad(x, (1, 1, 1, 1))  # zero outside the image
    torch.testing.assert_close(hw._window3(x, torch.minimum), -F.max_pool2d(-padded, 3, 1, 0))


def _stroke_images(n: int) -> torch.Tensor:
    x = torch.zeros(n, 1, 28, 28)
    x[:, :, 6:22, 12:15] = 1.0  # a 3-px vertical bar, like a "1"
    x[:, :, 6:9, 8:19] = 1.0
    return x


def test_thickness_changes_ink_per_image_and_is_reproducible():
    x = _stroke_images(64)
    g = torch.Generator().manual_seed(3)
    thick = hw.random_thickness(x, 1.0, 0.0, g)
    thin = hw.random_thickness(x, 0.0, 1.0, torch.Generator().manual_seed(3))
    ink, t_ink, n_ink = x.sum((1, 2, 3)), thick.sum((1, 2, 3)), thin.sum((1, 2, 3))
    assert (t_ink >= ink - 1e-4).all() and (n_ink <= ink + 1e-4).all()
    assert t_ink.std() > 1 and n_ink.std() > 1  # every image gets its own amount
    both = hw.random_thickness(x, 1.0, 1.0, torch.Generator().manual_seed(5))
    changed = both.sum((1, 2, 3)) - ink
    assert (changed > 1).any() and (changed < -1).any()  # half thicker, half thinner
    again = hw.random_thickness(x, 1.0, 1.0, torch.Generator().manual_seed(5))
    torch.testing.assert_close(both, again)
    assert float(both.min()) >= 0 and float(both.max()) <= 1


def test_affine_identity_shift_and_rotation():
    x = _stroke_images(32)
    torch.testing.assert_close(hw.random_affine(x, 0, 0, 0), x, atol=1e-5, rtol=0)
    shifted = hw.random_affine(x, 2.0, 0, 0, torch.Generator().manual_seed(0))
    ys = torch.arange(28.0).view(1, 1, 28, 1)

    def centre_y(t):
        return (t * ys).sum((1, 2, 3)) / t.sum((1, 2, 3))

    dy = centre_y(shifted) - centre_y(x)
    assert dy.abs().max() <= 2.05 and dy.std() > 0.3  # random, at most 2 px
    turned = hw.random_affine(x, 0, 10.0, 0, torch.Generator().manual_seed(0))
    mass = turned.sum((1, 2, 3)) / x.sum((1, 2, 3))
    assert ((mass - 1).abs() < 0.03).all()  # rotating keeps the ink
    assert not torch.allclose(turned[0], turned[1])
    aug = hw.char_transform(0.0, 1.0, augment=hw.Augment(2, 10, 0.1, 0.5, 0.3))
    out = aug(torch.zeros(5, 28, 28, 1, dtype=torch.uint8), torch.Generator().manual_seed(0))
    assert float(out.abs().max()) == 0.0  # the background stays background


# --------------------------------------------------------------------------- crops and data
def test_crop_specs_share_the_emnist_character_frame():
    assert hw.crop_spec_for("chars36", 28) == EMNIST
    big = hw.crop_spec_for("chars36", 32)
    assert big.size == 32 and big.inner == EMNIST.inner == 24
    assert hw.crop_spec_for("mnist", 28).inner == 20  # MNIST's 20-px box


def _long_side(images: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """Longer side in px of each image's ink box (ink: value > threshold)."""
    ink = images > threshold

    def extent(m):
        return m.shape[1] - m[:, ::-1].argmax(1) - m.argmax(1)

    return np.maximum(extent(ink.any(2)), extent(ink.any(1)))


def test_ocr_crops_and_chars36_share_the_24_px_frame():
    """The OCR's crops (EMNIST spec) look like the 28x28 centre of chars36: the longer side of
    the ink box is 24 px in both, with the same ink mass per image."""
    from neuralab import data
    from neuralab.ocr import find_letters, normalize_crops, render_page

    train = data.load("chars36", data_dir=data_dir()).splits["train"].images[:3000, :, :, 0]
    assert not train[:, :2].any() and not train[:, :, -2:].any()  # the 2-px padding
    centre = train[:, 2:30, 2:30] / 255.0
    page = render_page("ABCDEFGHIJKLM NOPQRSTUVWXYZ 0123456789", seed=0, char_px=60)
    boxes, bw = find_letters(page.image)
    crops = normalize_crops(bw, boxes, hw.crop_spec_for("chars36", 28))
    assert len(crops) == 36
    assert np.median(_long_side(centre)) == np.median(_long_side(crops)) == EMNIST.inner
    assert abs(crops.mean() - centre.mean()) < 0.05


def test_mnist_validation_holdout_is_stratified():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 50)
    images = rng.integers(0, 255, (500, 28, 28, 1), dtype=np.uint8)
    dataset = Dataset("mnist", {"train": Split(images, labels), "test": Split(images[:40],
                                                                               labels[:40])},
                      [str(i) for i in range(10)], DataSource("mnist", "", "idx", "", False))

    class Ctx:
        def load_data(self, name):
            return dataset

    splits, classes = hw.character_splits(Ctx(), "mnist", val_size=100)
    assert len(splits["val"].labels) == 100 and len(splits["train"].labels) == 400
    assert (np.bincount(splits["val"].labels) == 10).all() and classes[3] == "3"
    no_val, _ = hw.character_splits(Ctx(), "mnist", val_size=0, train_subset=50)
    assert "val" not in no_val and len(no_val["train"].labels) == 50


# --------------------------------------------------------------------------- end to end
def test_tiny_emnist_run_saves_a_classifier_that_reproduces_its_accuracy(tmp_path, one_thread):
    """A few seconds of training on 1,800 chars36 images: the run folder has everything
    ``neuralab ocr`` needs, and the classifier loaded from it (its JSON preprocessing, not the
    training transform) gets exactly the test accuracy the run measured."""
    root = data_dir()
    exp = get_experiment("emnist-cnn")
    cfg = dataclasses.replace(exp.make_config(), train_subset=3600, test_subset=360, epochs=3,
                              widths=(8, 16, 16), batch_size=64)
    run_dir, doc = run_experiment(exp, cfg, device="cpu", data_dir=root, out_root=tmp_path)
    assert (run_dir / "checkpoint" / "model.safetensors").exists()
    assert {"curves.png", "confusion.png"} <= {p.name for p in (run_dir / "plots").iterdir()}
    assert (run_dir / "tables" / "top_confusions.csv").exists()
    spec = json.loads((run_dir / "classifier.json").read_text())
    assert spec["input_size"] == 28 and spec["polarity"] == "white_on_black"
    assert spec["crop"]["margin"] == 2 and spec["model"] == "char_cnn"
    acc = doc["metrics"]["test_accuracy"]
    assert acc > 0.3  # 36 classes: chance is 0.03
    merged = doc["metrics"]["test_accuracy_lookalikes_merged"]
    assert acc <= merged <= 1.0
    if (root / "hw5" / "01_list.jpg").is_file():  # read as `neuralab ocr --model run_dir` does
        assert 0.0 <= doc["value"] == doc["metrics"]["hw5_photo_cer"] <= 1.0
        assert (run_dir / "tables" / "hw5_photos.csv").exists()
        assert any(d["name"] == "hw5-photos" and d["verified"] for d in doc["data"])

    from neuralab import data

    test = stratified_subset(data.load("chars36", data_dir=root).splits["test"], 360)
    clf = load_classifier(run_dir)
    assert clf.crop_spec == EMNIST
    crops = test.images[:, 2:30, 2:30, 0].astype(np.float32) / 255
    pred = np.array([clf.classes.index(c) for c in clf(crops)])
    assert abs((pred == test.labels).mean() - acc) <= 1 / 360  # a near-tie may flip


def test_tiny_fc_run_writes_a_flat_32px_classifier(tmp_path, one_thread):
    root = data_dir()
    exp = get_experiment("chars-fc-torch")
    cfg = dataclasses.replace(exp.make_config(), train_subset=1800, test_subset=360, epochs=2)
    run_dir, doc = run_experiment(exp, cfg, device="cpu", data_dir=root, out_root=tmp_path)
    assert doc["metrics"]["test_accuracy"] > 0.1
    clf = load_classifier(run_dir)
    assert clf.spec.model == "char_fc" and clf.crop_spec.size == 32
    assert clf.crop_spec.inner == 24


# --------------------------------------------------------------------------- ocr-model
def test_ocr_model_is_registered_on_real_training_splits():
    exp = get_experiment("ocr-model")
    assert exp.topic == "handwriting" and "shipped" in exp.handout
    assert exp.target.metric == "hw5_photo_cer" and not exp.target.higher_is_better
    assert exp.target.threshold == 0.05
    cfg = exp.make_config()
    assert cfg.dataset == hw.OCR36 and cfg.input_size == 28 and cfg.val_size > 0
    assert cfg.read_photos and not cfg.eval_train and cfg.calibrate_digits
    assert cfg.thicken > 0 and cfg.rotate > 0 and cfg.train_subset is None
    assert hw.crop_spec_for(hw.OCR36, 28) == EMNIST
    assert hw._normalization(hw.OCR36, 28) == hw._normalization("chars36", 28)


def _digit_image(top: int, left: int, h: int, w: int) -> np.ndarray:
    im = np.zeros((28, 28), np.uint8)
    im[top : top + h, left : left + w] = 255
    return im


def test_emnist_frame_scales_mnist_digits_to_the_emnist_box_and_centres_them():
    images = np.stack([_digit_image(4, 9, 20, 6),  # a "1": tall and thin, off-centre
                       _digit_image(5, 3, 14, 18),  # wide
                       np.zeros((28, 28), np.uint8)])[..., None]  # blank stays blank
    out = hw.emnist_frame(images)
    assert out.shape == images.shape and out.dtype == np.uint8
    assert not out[2].any()
    for im in out[:2, ..., 0]:
        ys, xs = np.nonzero(im > 0)
        side = max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
        assert hw.EMNIST_BOX <= side <= hw.EMNIST_BOX + 2
        assert abs((ys.min() + ys.max()) / 2 - 13.5) <= 0.5
        assert abs((xs.min() + xs.max()) / 2 - 13.5) <= 0.5
    ys, xs = np.nonzero(out[0, ..., 0] > 127)
    assert 24 <= ys.max() - ys.min() + 1 <= 25 and 6 <= xs.max() - xs.min() + 1 <= 9  # aspect


def _fake(name: str, classes: list[str], n_per: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    splits = {}
    for part, k in (("train", n_per), ("test", n_per // 2)):
        labels = np.repeat(np.arange(len(classes)), k)
        images = np.zeros((len(labels), 28, 28, 1), np.uint8)
        for i, lab in enumerate(labels):  # a box whose size says the class
            images[i, 6 : 6 + 2 + lab % 15, 8:18, 0] = rng.integers(100, 255)
        splits[part] = Split(images, labels)
    return Dataset(name, splits, classes, DataSource(name, "", "idx", "sha256:x", True))


def test_ocr36_splits_join_emnist_letters_and_mnist_in_chars36_order():
    letters = _fake("emnist", [c + c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"], 10, 0)
    mnist = _fake("mnist", [str(d) for d in range(10)], 10, 1)
    asked = []

    class Ctx:
        def load_data(self, name, **options):
            asked.append((name, options))
            return letters if name == "emnist" else mnist

    splits, classes = hw.character_splits(Ctx(), hw.OCR36, val_size=36)
    assert asked == [("emnist", {"split": "letters"}), ("mnist", {})]
    assert classes == list(hw.OCR_ALPHABET)
    assert set(splits) == {"train", "val", "test", "test_letters", "test_mnist"}
    assert len(splits["train"]) + len(splits["val"]) == 360 and len(splits["val"]) == 36
    assert (np.bincount(splits["val"].labels, minlength=36) == 1).all()  # stratified
    assert set(splits["test_letters"].labels) == set(range(10, 36))
    assert set(splits["test_mnist"].labels) == set(range(10))
    assert len(splits["test"]) == len(splits["test_letters"]) + len(splits["test_mnist"]) == 180
    # the letters' images are kept as they are; the digits are re-framed like EMNIST
    a = letters.splits["test"]
    np.testing.assert_array_equal(splits["test_letters"].images, a.images)
    np.testing.assert_array_equal(splits["test_letters"].labels, a.labels + 10)
    np.testing.assert_array_equal(splits["test_mnist"].images,
                                  hw.emnist_frame(mnist.splits["test"].images))


def test_tiny_ocr_model_run_measures_both_test_sets(tmp_path, one_thread):
    """Seconds of training on 1,800 images of EMNIST Letters + MNIST: the run measures the
    two test splits apart (36-way and type-restricted), records both data sources with
    their checksums and leaves a classifier in EMNIST's crop frame."""
    root = data_dir()
    if not (root / "emnist" / "gzip" / "emnist-letters-train-labels-idx1-ubyte.gz").is_file():
        pytest.skip("no EMNIST Letters files")
    exp = get_experiment("ocr-model")
    cfg = dataclasses.replace(exp.make_config(), train_subset=1800, test_subset=720, epochs=2,
                              widths=(8, 16, 16), batch_size=64, val_size=360,
                              read_photos=False, calibrate_digits=False)
    run_dir, doc = run_experiment(exp, cfg, device="cpu", data_dir=root, out_root=tmp_path)
    m = doc["metrics"]
    for key in ("test_letters", "test_mnist"):
        assert 0.0 <= m[f"{key}_accuracy"] <= m[f"{key}_accuracy_typed"] <= 1.0
    assert m["test_accuracy"] > 0.1 and "train_accuracy" not in m  # eval_train off
    both = sorted((m["test_letters_accuracy"], m["test_mnist_accuracy"]))
    assert both[0] <= m["test_accuracy"] <= both[1]  # "test" is the two subsets together
    sources = {d["name"]: d for d in doc["data"]}
    assert "letters" in sources["emnist"]["format"] and sources["mnist"]["verified"]
    assert all(d["checksum"].startswith("sha256:") for d in sources.values())
    clf = load_classifier(run_dir)
    assert clf.crop_spec == EMNIST and clf.classes == list(hw.OCR_ALPHABET)
