"""Inside a network: Grad-CAM on a synthetic example whose informative region is known,
first/last conv lookup, activation capture, the figures, and ``neuralab viz`` on run folders."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from neuralab.cli import main
from neuralab.errors import NeuralabError
from neuralab.models.cnn import SimpleCNN
from neuralab.models.transfer import pretrained
from neuralab.train.checkpoint import save_checkpoint
from neuralab.viz import inside


def bright_square_detector() -> nn.Sequential:
    """Class 0's score is the mean brightness (1x1 conv channel 0, max-pooled to 8x8), class
    1's its negative; channel 1 sees the negated image. Grad-CAM hooks the pooled maps."""
    conv = nn.Conv2d(3, 4, 1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0] = 1.0 / 3
        conv.weight[1] = -1.0 / 3
    fc = nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor([[1.0, 0.5, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0]]))
    return nn.Sequential(conv, nn.MaxPool2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), fc)


def square_image(top=8, left=20, size=8) -> torch.Tensor:
    x = torch.zeros(1, 3, 32, 32)
    x[..., top:top + size, left:left + size] = 1.0
    return x


def far_from(top, left, size=8, margin=4) -> torch.Tensor:
    """Pixels more than ``margin`` (the bilinear upsampling's reach) away from the square."""
    mask = torch.ones(32, 32, dtype=torch.bool)
    mask[max(top - margin, 0):top + size + margin, max(left - margin, 0):left + size + margin] = 0
    return mask


def test_grad_cam_highlights_the_informative_region():
    model = bright_square_detector()
    cam, logits = inside.grad_cam(model, square_image(), model[1], target=0)  # 8x8 maps
    assert cam.shape == (1, 32, 32)  # the input's spatial size
    assert float(cam.min()) >= 0.0 and float(cam.max()) == pytest.approx(1.0)
    assert cam[0, 8:16, 20:28].mean() > 0.75 and cam[0][far_from(8, 20)].max() == 0.0
    assert logits.shape == (1, 2) and int(logits.argmax()) == 0
    # the map moves with the square
    moved, _ = inside.grad_cam(model, square_image(top=20, left=0), model[1], target=0)
    assert moved[0, 20:28, 0:8].mean() > 0.75 and moved[0][far_from(20, 0)].max() == 0.0


def test_grad_cam_without_evidence_is_all_zeros_not_nan():
    model = bright_square_detector()
    cam, _ = inside.grad_cam(model, square_image(), model[1], target=1)
    assert torch.isfinite(cam).all() and float(cam.max()) == 0.0


def test_grad_cam_through_a_frozen_network_defaults_to_the_predicted_class():
    torch.manual_seed(0)
    model = pretrained("resnet18", 3, trainable="none", load=False).eval()
    x = torch.rand(2, 3, 64, 64)
    cam, logits = inside.grad_cam(model, x, model.layer4)
    assert cam.shape == (2, 64, 64) and 0 <= float(cam.min()) and float(cam.max()) <= 1
    assert all(p.grad is None for p in model.parameters())
    assert not model.training  # left as it was


def test_first_and_last_conv_lookup():
    lite = pretrained("efficientnet_lite0", 10, load=False)
    assert inside.first_conv(lite)[0] == "stem.conv"
    assert inside.first_conv(lite)[1].out_channels == 32
    assert inside.last_conv(lite)[0] == "head"
    simple = SimpleCNN()
    assert inside.first_conv(simple)[0] == "features.0"
    assert inside.last_conv(simple)[0] == "features.6"
    with pytest.raises(NeuralabError, match="no layer 'nope'.*features.0"):
        inside.layer(simple, "nope")
    with pytest.raises(NeuralabError, match="no convolution"):
        inside.first_conv(nn.Linear(2, 2))


def test_activations_capture_a_layer_output():
    model = SimpleCNN().train()
    x = torch.rand(2, 3, 32, 32)
    maps = inside.activations(model, x, model.features[0])
    torch.testing.assert_close(maps, model.features[0](x))
    assert maps.shape == (2, 32, 32, 32) and model.training


def test_activations_stop_at_the_layer_so_any_photo_size_works():
    model = SimpleCNN().train()  # its classifier takes 32x32 images only
    photo = torch.rand(1, 3, 96, 80)
    with pytest.raises(RuntimeError):
        model(photo)
    maps = inside.activations(model, photo, model.features[0])
    assert maps.shape == (1, 32, 96, 80) and model.training
    assert not model.features[0]._forward_hooks  # the hook is gone
    assert inside.activations(model, torch.rand(2, 3, 32, 32), model.features[0]).shape == (
        2, 32, 32, 32)


def test_figures_draw():
    import matplotlib.pyplot as plt

    w = torch.randn(8, 3, 5, 5)
    fig = inside.plot_filters_and_activations(w, torch.rand(8, 16, 16), [0, 3, 7], title="t")
    assert len(fig.axes) == 6
    plt.close(fig)
    img = inside.filter_image(w[0])
    assert img.shape == (5, 5, 3) and img.min() == 0 and img.max() == 1
    fig = inside.plot_activation_maps(torch.rand(20, 7, 7), n=10)
    assert sum(ax.has_data() for ax in fig.axes) == 10
    plt.close(fig)
    fig = inside.plot_gradcam(np.zeros((3, 32, 32, 3), np.uint8), np.random.rand(3, 8, 8),
                              ["a", "b", "c"])
    assert sum(ax.has_data() for ax in fig.axes) == 3
    plt.close(fig)


def _fake_run(tmp_path, experiment: str, config: dict, model: nn.Module):
    run = tmp_path / experiment / "20260101-000000"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"experiment": experiment, "config": config,
                                                 "seed": 0}))
    save_checkpoint(run / "checkpoint", model, {"step": 0})
    return run


def test_viz_cli_on_a_cifar_checkpoint_and_a_transfer_checkpoint(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)).save(photo)
    torch.manual_seed(0)
    cnn = SimpleCNN()
    run = _fake_run(tmp_path, "cifar10-simple-cnn", {"model": "simple_cnn",
                                                     "normalization": "tdt4265"}, cnn)
    out = tmp_path / "filters.png"
    assert main(["viz", "filters", str(run), "--image", str(photo), "--indices", "0,5,31",
                 "--out", str(out)]) == 0
    assert out.stat().st_size > 1000 and str(out) in capsys.readouterr().out
    assert main(["viz", "activations", str(run), "--image", str(photo), "--n", "4"]) == 0
    assert (run / "plots" / "viz-activations.png").exists()
    assert main(["viz", "filters", str(run), "--image", str(photo), "--indices", "40"]) == 2
    assert "filter indices [40] do not exist" in capsys.readouterr().err
    assert main(["viz", "filters", str(run), "--image", str(photo), "--indices", "a,b"]) == 2
    assert "--indices 'a,b': expected integers" in capsys.readouterr().err
    big = tmp_path / "big.png"  # a photo larger than CIFAR's 32x32: filters still show
    Image.fromarray(np.zeros((120, 90, 3), np.uint8)).save(big)
    assert main(["viz", "filters", str(run), "--image", str(big)]) == 0
    text = tmp_path / "text.png"
    text.write_text("not an image")
    assert main(["viz", "activations", str(run), "--image", str(text)]) == 2
    assert f"cannot read {text} as an image" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["viz", "gradcam", str(run), "--images", "0"])
    assert stop.value.code == 2
    assert "--images: 0 is out of range: it must be in [1, 64]" in capsys.readouterr().err
    lite = pretrained("efficientnet_lite0", 17, load=False)
    run2 = _fake_run(tmp_path, "flowers17-finetune", {"dataset": "flowers17",
                                                      "resolution": 64}, lite)
    assert main(["viz", "activations", str(run2), "--image", str(photo), "--layer",
                 "blocks.2", "--n", "3"]) == 0


def test_viz_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["viz", "gradcam", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    run = _fake_run(tmp_path, "cifar10-simple-cnn", {"model": "simple_cnn"}, SimpleCNN())
    for f in (run / "checkpoint").iterdir():
        f.unlink()
    assert main(["viz", "gradcam", str(run)]) == 2
    assert "has no checkpoint" in capsys.readouterr().err


def test_importing_viz_leaves_matplotlibs_backend_alone():
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('pdf'); import neuralab.viz, neuralab.viz.curves; "
            "from neuralab.viz.common import new_figure; fig, ax = new_figure(); "
            "ax.plot([0, 1]); print(matplotlib.get_backend(), 'matplotlib.pyplot' in "
            "sys.modules)")
    out = subprocess.run([sys.executable, "-c", "import sys; " + code], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["pdf", "False"]
