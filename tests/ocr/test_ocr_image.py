"""Image loading and grayscale conversion."""

import numpy as np
import pytest
from PIL import Image

from neuralab.errors import NeuralabError
from neuralab.ocr import load_image, to_gray


def test_to_gray_accepts_every_layout_and_dtype():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., :] = (255, 255, 255)
    rgb[1, 2] = (0, 0, 0)
    for img in (
        rgb,
        rgb.astype(np.float32) / 255,
        rgb.astype(np.float64),
        rgb[..., :1],
        rgb[..., 0],
        rgb[..., 0].astype(np.uint16) * 257,
    ):
        g = to_gray(img)
        assert g.shape == (4, 5) and g.dtype == np.float32
        assert g[1, 2] == pytest.approx(0.0, abs=1e-6) and g[0, 0] == pytest.approx(1.0)


def test_transparent_pixels_become_paper():
    rgba = np.zeros((3, 3, 4), np.uint8)  # black but fully transparent ...
    rgba[1, 1] = (0, 0, 0, 255)  # ... except one opaque black pixel
    g = to_gray(rgba)
    assert g[0, 0] == pytest.approx(1.0) and g[1, 1] == pytest.approx(0.0)
    assert to_gray(np.dstack([np.zeros((3, 3)), np.zeros((3, 3))]))[0, 0] == pytest.approx(1.0)


def test_to_gray_rejects_bad_shapes():
    with pytest.raises(NeuralabError):
        to_gray(np.zeros((4, 4, 5)))
    with pytest.raises(NeuralabError):
        to_gray(np.zeros(10))


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P"])
def test_load_image_png_round_trip(tmp_path, mode):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    im = Image.fromarray(arr).convert(mode)
    path = tmp_path / f"page_{mode}.png"
    im.save(path)
    out = load_image(path)
    expected = {"L": (20, 30), "RGB": (20, 30, 3), "RGBA": (20, 30, 4), "P": (20, 30, 3)}
    assert out.dtype == np.uint8 and out.shape == expected[mode]
    if mode == "RGB":
        np.testing.assert_array_equal(out, arr)


def test_load_image_jpeg(tmp_path):
    path = tmp_path / "page.jpg"
    Image.fromarray(np.full((10, 12, 3), 200, np.uint8)).save(path)
    out = load_image(path)
    assert out.shape == (10, 12, 3) and abs(int(out.mean()) - 200) <= 2


def test_not_an_image_is_a_one_line_error(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n")
    with pytest.raises(NeuralabError) as e:
        load_image(path)
    msg = str(e.value)
    assert "\n" not in msg and "notes.png" in msg


def test_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(NeuralabError, match="not found"):
        load_image(tmp_path / "nope.jpg")


def test_truncated_image_is_a_one_line_error(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(NeuralabError) as e:
        load_image(path)
    assert "\n" not in str(e.value)
