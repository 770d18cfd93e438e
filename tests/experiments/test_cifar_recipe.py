"""The shared CIFAR-10 recipe (:func:`train_cifar`) end to end on synthetic CIFAR-shaped data:
it learns, reports every split, and draws its pictures (Grad-CAM for convnets only)."""

import json

import pytest
from PIL import Image

from neuralab.experiments import get_experiment
from neuralab.experiments.runner import run_experiment


def _run(tmp_path, name: str, **overrides):
    exp = get_experiment(name)
    # fp32: what auto picks depends on the CPU and its load, and a 20-step run's accuracy on
    # bf16 differs (0.61-0.76 against 0.90-0.93 in fp32 here; both 1.0 after 10 epochs)
    overrides = {"precision": "fp32", **overrides}
    cfg = exp.make_config({k: str(v) for k, v in overrides.items()})
    run_dir, _ = run_experiment(exp, cfg, seed=0, device="cpu", out_root=tmp_path,
                                command=f"neuralab run {name}")
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.usefixtures("cifar_blobs", "one_thread")
def test_convnet_run_learns_and_draws_gradcam(tmp_path):
    run_dir, doc = _run(tmp_path, "cifar10-simple-cnn", val_size=100, epochs=4,
                        optimizer="adam", learning_rate=1e-3, patience="none", gradcam_images=6)
    m = doc["metrics"]
    assert m["test_accuracy"] >= 0.9, m
    assert {"train_accuracy", "val_accuracy", "test_accuracy"} <= set(m)
    assert m["steps"] == 4 * 5  # 300 training images (400 - 100 val) / 64 -> 5 batches
    plots = run_dir / "plots"
    for name in ("curves", "confusion", "gradcam"):
        assert (plots / f"{name}.png").exists(), name
    with Image.open(plots / "gradcam.png") as im:  # 6 panels, 4 to a row
        assert im.width > im.height > 300


@pytest.mark.usefixtures("cifar_blobs", "one_thread")
@pytest.mark.parametrize("name, overrides", [
    ("cifar10-simple-cnn", {"gradcam_images": 0}),
    ("cifar10-mlp-torch", {}),  # no convolution to look at
])
def test_no_gradcam_when_not_asked_or_no_convolution(tmp_path, name, overrides):
    run_dir, _ = _run(tmp_path, name, val_size=100, epochs=1, max_steps=2, **overrides)
    assert (run_dir / "plots" / "curves.png").exists()
    assert not (run_dir / "plots" / "gradcam.png").exists()
