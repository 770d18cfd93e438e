"""A misspelt setting stops a run with one line naming it and its valid values, before any data
is read (the data root here does not exist, so reading it would fail differently)."""

import numpy as np
import pytest

from neuralab.errors import NeuralabError
from neuralab.experiments import get_experiment
from neuralab.experiments.chars_scratch import pick_examples
from neuralab.experiments.runner import RunContext


@pytest.mark.parametrize("name, overrides, message", [
    ("cifar10-simple-cnn", {"normalization": "imagenet"},
     "unknown normalization 'imagenet'; use cifar10 or tdt4265"),
    ("cifar10-mlp-scratch", {"preprocessing": "whiten"},
     "unknown preprocessing 'whiten'; use mean_image, standardize or pca_whiten"),
    ("cifar10-mlp-scratch", {"lr_schedule": "cosin"}, "unknown lr schedule 'cosin'"),
    ("cifar10-mlp-scratch", {"lr_schedule": "cosin", "warmup_steps": "10"},
     "unknown lr schedule 'cosin'"),
    ("cifar10-cnn-a", {"optimizer": "adamm"}, "unknown optimizer 'adamm'"),
    ("cifar10-cnn-a", {"schedule": "one-cycle"}, "unknown schedule 'one-cycle'"),
    ("cifar10-cnn-a", {"model": "vgg16"}, "unknown model 'vgg16'"),
    ("flowers17-finetune", {"schedule": "step"}, "unknown schedule 'step'; use none, onecycle"),
    ("cifar10-transfer", {"extract_precision": "fp16"},
     "unknown extract_precision 'fp16'; use fp32, bf16 or auto"),
])
def test_unknown_names_fail_before_the_data_is_read(tmp_path, name, overrides, message):
    exp = get_experiment(name)
    ctx = RunContext(name=name, out_dir=tmp_path / "run", data_dir=tmp_path / "no-data")
    with pytest.raises(NeuralabError, match=message) as err:
        exp.run(exp.make_config(overrides), ctx)
    assert "\n" not in str(err.value)


def test_examples_to_show_must_be_classes():
    classes = list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    labels = np.repeat(np.arange(36), 3)
    splits = {"val": (np.zeros((len(labels), 4)), labels)}
    picked = pick_examples(splits, classes, "A7")
    assert list(labels[picked]) == [10, 10, 7, 7]
    assert list(labels[pick_examples(splits, classes, "")]) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    with pytest.raises(NeuralabError, match="show_classes='Ab': no class 'b'; classes are 0123"):
        pick_examples(splits, classes, "Ab")


def test_a_photo_that_is_not_an_image_is_one_line(tmp_path):
    text = tmp_path / "zebra.jpg"
    text.write_text("not a picture")
    exp = get_experiment("zebra-filters")
    ctx = RunContext(name="zebra-filters", out_dir=tmp_path / "run")
    with pytest.raises(NeuralabError, match=f"cannot read {text} as an image"):
        exp.run(exp.make_config({"image": str(text)}), ctx)
