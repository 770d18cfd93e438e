"""The NumPy-engine experiments of issue 3: registration, handout defaults, and tiny runs that
must learn.

The runs use small synthetic stand-ins for CIFAR-10 and chars36 (``neuralab.data.load`` is
patched), so they take seconds and need no data; the digits demo runs on the real embedded
data. Tests marked ``needs_*`` use the real copies under ``NEURALAB_DATA`` and skip without it.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path

import numpy as np
import pytest
import torch

import neuralab.data
from neuralab.data import Dataset, DataSource, Split
from neuralab.experiments import all_experiments, get_experiment
from neuralab.experiments.runner import run_experiment
from neuralab.experiments.scratch_cifar import TwoLayerConfig, Whitening, _TorchTwin
from neuralab.experiments.scratch_common import compute_threads
from neuralab.io import read_csv
from neuralab.scratch import MLP, SGD, BinaryCrossEntropy, batch_stream, lr_at
from neuralab.viz.reconstructions import psnr
from neuralab.viz.weights import weight_images

DATA = os.environ.get("NEURALAB_DATA")
needs_cifar = pytest.mark.skipif(not DATA or not (Path(DATA) / "cifar10").is_dir(),
                                 reason="NEURALAB_DATA has no cifar10")
needs_emnist = pytest.mark.skipif(not DATA or not (Path(DATA) / "emnist").is_dir(),
                                  reason="NEURALAB_DATA has no emnist (chars36)")

NAMES = ("cifar10-mlp-scratch", "cifar10-mlp-scratch-tuned", "cifar10-twolayer-scratch",
         "chars-fc-scratch", "chars-fc-lr-sweep", "chars-autoencoder-scratch", "chars-pca",
         "digits-mlp-scratch")


# --------------------------------------------------------------------------- synthetic data


def _templates_dataset(name: str, classes: list[str], shape: tuple[int, int, int],
                       counts: dict[str, int], seed: int) -> Dataset:
    """Each class is a fixed random picture; a sample is 60% its class picture, 40% noise."""
    rng = np.random.default_rng(seed)
    templates = rng.uniform(0, 255, (len(classes), *shape))
    splits = {}
    for split, per_class in counts.items():
        labels = np.repeat(np.arange(len(classes)), per_class)
        noise = rng.uniform(0, 255, (len(labels), *shape))
        images = np.rint(0.6 * templates[labels] + 0.4 * noise).astype(np.uint8)
        order = rng.permutation(len(labels))
        splits[split] = Split(images[order], labels[order])
    source = DataSource(name, "synthetic", "test", "sha256:0", False, f"{name}: synthetic")
    return Dataset(name, splits, list(classes), source)


CLASSES_36 = list(string.digits + string.ascii_uppercase)
FAKE = {
    "cifar10": lambda: _templates_dataset("cifar10", [f"c{i}" for i in range(10)], (32, 32, 3),
                                          {"train": 60, "test": 20}, seed=1),
    "chars36": lambda: _templates_dataset("chars36", CLASSES_36, (32, 32, 1),
                                          {"train": 12, "val": 5, "test": 5}, seed=2),
}


@pytest.fixture
def fake_data(monkeypatch):
    real_load = neuralab.data.load

    def load(name, data_dir=None, **options):
        return FAKE[name]() if name in FAKE else real_load(name, data_dir=data_dir, **options)

    monkeypatch.setattr(neuralab.data, "load", load)


def _run(name: str, tmp_path: Path, **overrides) -> tuple[Path, dict]:
    exp = get_experiment(name)
    cfg = exp.make_config({k: str(v) for k, v in overrides.items()})
    return run_experiment(exp, cfg, seed=0, device="cpu", out_root=tmp_path,
                          command=f"neuralab run {name}")


def _plots(run_dir: Path) -> set[str]:
    return {p.stem for p in (run_dir / "plots").glob("*.png")}


# --------------------------------------------------------------------------- registry


def test_experiments_are_registered_with_their_targets():
    targets = {e.name: e.target for e in all_experiments()}
    expected = {
        "cifar10-mlp-scratch": ("test_accuracy", 0.48),
        "cifar10-mlp-scratch-tuned": ("test_accuracy", 0.55),
        "cifar10-twolayer-scratch": ("test_accuracy", 0.48),
        "chars-fc-scratch": ("val_accuracy", 0.75),
        "chars-fc-lr-sweep": ("test_accuracy", 0.75),
        "chars-autoencoder-scratch": ("val_psnr", 19.4),
        "chars-pca": ("val_psnr", 15.1),
        "digits-mlp-scratch": ("test_accuracy", 0.95),
    }
    for name, (metric, threshold) in expected.items():
        assert (targets[name].metric, targets[name].threshold) == (metric, threshold), name
        assert targets[name].source and targets[name].higher_is_better
    assert "digits-mlp-scratch" in {e.name for e in all_experiments("demo")}
    assert all(get_experiment(n).topic in ("scratch", "demo") for n in NAMES)


def test_config_defaults_follow_the_handouts():
    uva = get_experiment("cifar10-mlp-scratch").make_config()
    assert (uva.dnn_hidden_units, uva.activation, uva.learning_rate, uva.max_steps,
            uva.batch_size, uva.eval_freq) == ((100,), "elu", 1e-3, 1400, 200, 100)
    assert (uva.init, uva.init_std, uva.momentum, uva.preprocessing) == (
        "normal", 1e-4, 0.0, "mean_image")
    # handout flag names work on the command line (as --set or --learning_rate 1e-3)
    assert get_experiment("cifar10-mlp-scratch").make_config(
        {"dnn_hidden_units": "200,100"}).dnn_hidden_units == (200, 100)
    tuned = get_experiment("cifar10-mlp-scratch-tuned").make_config()
    assert tuned.flip and tuned.momentum == 0.9 and tuned.preprocessing == "pca_whiten"
    hlcv = get_experiment("cifar10-twolayer-scratch").make_config()
    assert (hlcv.loss, hlcv.std, hlcv.batch_size, hlcv.learning_rate_decay,
            hlcv.num_validation, hlcv.twin) == ("bce", 1e-4, 200, 0.95, 1000, True)
    fc = get_experiment("chars-fc-scratch").make_config()
    assert (fc.dataset, fc.hidden_size, fc.max_iters) == ("chars36", 64, 50)
    sweep = get_experiment("chars-fc-lr-sweep").make_config()
    assert sweep.factors == (1.0, 10.0, 0.1) and sweep.learning_rate == fc.learning_rate
    ae = get_experiment("chars-autoencoder-scratch").make_config()
    assert (ae.hidden_units, ae.max_iters, ae.batch_size, ae.learning_rate, ae.momentum,
            ae.lr_decay_every, ae.lr_decay) == ((32, 32, 32), 100, 36, 3e-5, 0.9, 20, 0.9)
    assert get_experiment("chars-pca").make_config().n_components == 32
    assert get_experiment("chars-fc-scratch").make_config({"dataset": "nist36"}).dataset == \
        "nist36"


# --------------------------------------------------------------------------- helpers


def test_batch_stream_visits_every_sample_once_per_epoch():
    stream = batch_stream(10, 4, np.random.default_rng(0))
    first = [next(stream) for _ in range(3)]
    assert [e for e, _ in first] == [0, 0, 0] and [len(i) for _, i in first] == [4, 4, 2]
    assert sorted(np.concatenate([i for _, i in first]).tolist()) == list(range(10))
    assert next(stream)[0] == 1


def test_lr_schedules():
    assert lr_at("none", 0.1, 50, 100) == 0.1
    assert lr_at("cosine", 0.1, 0, 100) == pytest.approx(0.1)
    assert lr_at("cosine", 0.1, 100, 100) == pytest.approx(0.0)
    assert lr_at("cosine", 0.1, 4, 100, warmup=10) == pytest.approx(0.05)
    assert lr_at("step", 1.0, 80, 100) == pytest.approx(0.01)


def test_psnr_and_weight_images():
    a = np.zeros((2, 4, 4))
    b = a + np.array([0.1, 0.01])[:, None, None]
    np.testing.assert_allclose(psnr(a, b), [20.0, 40.0])
    w = np.arange(2 * 3 * 4 * 4).reshape(2, 48)
    imgs = weight_images(w, (3, 4, 4), channels_first=True)
    assert imgs.shape == (2, 4, 4, 3) and imgs[0, 0, 1, 2] == w[0, 2 * 16 + 1]
    assert weight_images(w[:, :16], (4, 4)).shape == (2, 4, 4)


def test_whitening_gives_decorrelated_unit_variance_features():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2000, 20)) @ rng.standard_normal((20, 20))).astype(np.float32)
    w = Whitening.fit(x, k=8, eps=0.0, n_fit=0)
    cov = np.cov(w(x), rowvar=False)
    np.testing.assert_allclose(cov, np.eye(8), atol=1e-3)
    assert 0 < w.explained < 1
    # fewer images than inputs: the Gram-matrix route finds the same subspace
    few = x[:15]
    a = Whitening.fit(few, k=5, eps=0.0, n_fit=0)
    np.testing.assert_allclose(np.cov(a(few), rowvar=False), np.eye(5), atol=1e-3)
    spectrum = np.linalg.eigvalsh(np.cov(few.astype(np.float64), rowvar=False))[::-1]
    np.testing.assert_allclose(a.eigenvalues, spectrum[:5], rtol=1e-4)
    assert a.explained == pytest.approx(spectrum[:5].sum() / spectrum.sum(), rel=1e-4)


def test_torch_twin_matches_numpy_on_the_first_steps():
    """The HLCV twin: same initial weights, same batches -> same losses and parameters."""
    rng = np.random.default_rng(0)
    x = (50 * rng.standard_normal((64, 48))).astype(np.float32)
    y = rng.integers(0, 10, 64)
    model = MLP(48, [16], 10, activation="relu", init="normal", init_std=1e-2, rng=rng)
    cfg = TwoLayerConfig(learning_rate=1e-3, reg=0.05)
    with compute_threads(1):
        twin = _TorchTwin(model, cfg)
        loss_fn = BinaryCrossEntropy()
        opt = SGD(model, lr=cfg.learning_rate, weight_decay=2 * cfg.reg)
        assert twin.max_rel_diff() == 0.0
        for step in range(5):
            idx = np.arange(step * 12, step * 12 + 12)
            loss = loss_fn.forward(model.forward(x[idx]), y[idx])
            model.backward(loss_fn.backward(), need_input_grad=False)
            opt.step()
            tloss = twin.step(x[idx], y[idx], cfg.learning_rate)
            assert tloss == pytest.approx(loss, rel=1e-5), step
            assert twin.max_rel_diff() < 1e-5, step
    assert torch.get_num_threads() >= 1


# --------------------------------------------------------------------------- tiny runs


def test_uva_mlp_tiny_run_learns_and_writes_everything(tmp_path, fake_data):
    run_dir, doc = _run("cifar10-mlp-scratch", tmp_path, max_steps=60, eval_freq=20,
                        batch_size=50, seeds=2)
    m = doc["metrics"]
    assert doc["value"] == m["test_accuracy"] > 0.5, m  # chance is 0.1
    assert m["seeds"] == 2 and m["test_accuracy_min"] <= m["test_accuracy_mean"] <= \
        m["test_accuracy_max"]
    assert m["parameters"] == 3072 * 100 + 100 + 100 * 10 + 10
    assert {"curves", "confusion", "weights", "seeds"} <= _plots(run_dir)
    history = read_csv(run_dir / "history.csv")
    assert [int(r["step"]) for r in history] == [0, 20, 40, 60]
    assert len(read_csv(run_dir / "tables" / "seeds.csv")) == 2
    assert len(read_csv(run_dir / "tables" / "per_class_accuracy.csv")) == 10
    assert "JPEG copy" in doc["notes"] and "2 seeds" in doc["notes"]
    assert "100 ELU, N(0, 0.0001^2) weights" in doc["notes"]  # the notes say what ran
    assert "SGD lr 0.001, 60 steps of 50" in doc["notes"]
    # the same seed reproduces the run exactly
    _, again = _run("cifar10-mlp-scratch", tmp_path, max_steps=60, eval_freq=20,
                    batch_size=50, seeds=1)
    assert again["metrics"]["test_accuracy"] == m["test_accuracy"]


def test_tuned_mlp_with_whitening_and_flips_learns(tmp_path, fake_data):
    run_dir, doc = _run("cifar10-mlp-scratch-tuned", tmp_path, dnn_hidden_units="64,32",
                        max_steps=60, eval_freq=30, batch_size=50, warmup_steps=5,
                        pca_components=32, pca_fit_samples=0)
    assert doc["value"] > 0.5, doc["metrics"]
    assert 0 < doc["metrics"]["pca_explained_variance"] < 1
    assert "PCA whitening" in doc["notes"] and "weights" in _plots(run_dir)


def test_twolayer_with_torch_twin_tiny_run(tmp_path, fake_data):
    run_dir, doc = _run("cifar10-twolayer-scratch", tmp_path, num_iters=40, batch_size=50,
                        num_validation=100, hidden_size=32)
    m = doc["metrics"]
    assert m["test_accuracy"] > 0.5, m
    assert m["twin_first10_loss_max_diff"] < 1e-4
    assert m["twin_accuracy_gap"] <= 0.02 and m["twin_prediction_agreement"] >= 0.97
    assert m["twin_param_rel_diff"] < 1e-3
    final = read_csv(run_dir / "tables" / "final.csv")
    assert [r["framework"] for r in final] == ["numpy", "torch"]
    history = read_csv(run_dir / "history.csv")
    assert "twin_val_accuracy" in history[0] and float(history[0]["epoch"]) == 0
    assert {"curves", "confusion", "weights", "twin_drift"} <= _plots(run_dir)


def test_chars_fc_tiny_run(tmp_path, fake_data):
    run_dir, doc = _run("chars-fc-scratch", tmp_path, max_iters=4)
    m = doc["metrics"]
    assert m["val_accuracy"] > 0.5 and m["test_accuracy"] > 0.5, m  # chance is 1/36
    assert m["parameters"] == 1024 * 64 + 64 + 64 * 36 + 36
    assert {"curves", "weights_init", "weights_trained", "confusion"} <= _plots(run_dir)
    assert len(read_csv(run_dir / "history.csv")) == 4
    per_class = read_csv(run_dir / "tables" / "per_class_accuracy.csv")
    assert [r["class"] for r in per_class] == CLASSES_36
    assert (run_dir / "tables" / "top_confusions.csv").exists()
    assert "chars36" in doc["notes"] and "NIST36" in doc["notes"]


def test_chars_lr_sweep_trains_three_models(tmp_path, fake_data):
    run_dir, doc = _run("chars-fc-lr-sweep", tmp_path, max_iters=2, learning_rate=3e-3)
    rows = read_csv(run_dir / "tables" / "sweep.csv")
    assert [float(r["lr"]) for r in rows] == pytest.approx([3e-3, 3e-2, 3e-4])
    assert doc["metrics"]["best_lr"] in [float(r["lr"]) for r in rows]
    assert doc["value"] == doc["metrics"]["test_accuracy"] > 0.2
    assert {"sweep", "curves_lr_0.003", "curves_lr_0.03", "curves_lr_0.0003"} <= \
        _plots(run_dir)


def test_autoencoder_and_pca_tiny_runs(tmp_path, fake_data):
    run_dir, doc = _run("chars-autoencoder-scratch", tmp_path, max_iters=6, eval_every=2,
                        learning_rate=1e-4)
    history = read_csv(run_dir / "history.csv")
    assert float(history[-1]["train_loss"]) < float(history[0]["train_loss"])
    assert doc["metrics"]["parameters"] == 68_704 and np.isfinite(doc["value"])
    examples = read_csv(run_dir / "tables" / "examples.csv")
    assert [r["class"] for r in examples] == list("AAGGKKQQ77")
    assert {"loss", "reconstructions"} <= _plots(run_dir)

    run_dir, doc = _run("chars-pca", tmp_path)
    m = doc["metrics"]
    assert (m["projection_rows"], m["projection_cols"], m["projection_rank"]) == (1024, 32, 32)
    assert m["projector_rank"] == 32
    assert m["pca_parameters"] == 32 * 1024 + 1024 and m["autoencoder_parameters"] == 68_704
    assert m["val_psnr"] > m["val_psnr_mean_image"]
    assert {"reconstructions", "components"} <= _plots(run_dir)


def test_digits_demo_reaches_its_target(tmp_path):
    run_dir, doc = _run("digits-mlp-scratch", tmp_path)
    assert doc["met"] is True and doc["value"] >= 0.95
    assert doc["data"][0]["name"] == "digits"
    assert {"curves", "confusion", "weights"} <= _plots(run_dir)


# --------------------------------------------------------------------------- real data


@needs_cifar
def test_uva_mlp_on_real_cifar_subset(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALAB_DATA", DATA)
    _, doc = _run("cifar10-mlp-scratch", tmp_path, train_subset=5000, test_subset=1000,
                  max_steps=100, eval_freq=50)
    assert doc["value"] > 0.25, doc["metrics"]
    assert doc["data"][0]["note"].startswith("CIFAR-10 (JPEG copy)")


@needs_emnist
def test_chars_fc_on_real_chars36_subset(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALAB_DATA", DATA)
    run_dir, doc = _run("chars-fc-scratch", tmp_path, train_subset=5000, max_iters=2,
                        learning_rate=1e-2)
    assert doc["value"] > 0.4, doc["metrics"]
    assert json.loads((run_dir / "metrics.json").read_text())["data"][0]["name"] == "chars36"


# --------------------------------------------------------------------------- resume


def test_numpy_runs_checkpoint_and_resume_to_the_same_result(tmp_path):
    run_dir, doc = _run("digits-mlp-scratch", tmp_path)
    assert (run_dir / "checkpoint" / "fit.npz").exists()
    (run_dir / "metrics.json").unlink()  # as if the run had stopped before the end
    exp = get_experiment("digits-mlp-scratch")
    again_dir, again = run_experiment(exp, exp.make_config(), seed=0, device="cpu",
                                      out_root=tmp_path, resume_dir=run_dir,
                                      command="neuralab run digits-mlp-scratch --resume")
    assert again_dir == run_dir
    for key in ("test_accuracy", "test_loss", "val_accuracy", "train_loss"):
        assert again["metrics"][key] == doc["metrics"][key], key
    assert len(read_csv(run_dir / "history.csv")) == 40


def test_uva_seeds_keep_only_the_headline_checkpoint(tmp_path, fake_data):
    run_dir, _ = _run("cifar10-mlp-scratch", tmp_path, max_steps=4, eval_freq=2,
                      batch_size=50, seeds=3)
    # the headline seed's fit checkpoint, and its network and input statistics for load_run
    assert sorted(p.name for p in (run_dir / "checkpoint").iterdir()) == [
        "fit_seed_0.npz", "inputs.npz", "model.npz"]


def test_twolayer_with_its_twin_refuses_resume_in_one_line(tmp_path, fake_data):
    from neuralab.errors import NeuralabError
    from neuralab.experiments.runner import RunContext

    exp = get_experiment("cifar10-twolayer-scratch")
    ctx = RunContext(name=exp.name, out_dir=tmp_path, resume=True)
    with pytest.raises(NeuralabError) as info:
        exp.run(exp.make_config(), ctx)
    assert str(info.value) == (
        "--resume cannot continue cifar10-twolayer-scratch: its PyTorch twin (twin=true) is "
        "not checkpointed; run it again without --resume")
