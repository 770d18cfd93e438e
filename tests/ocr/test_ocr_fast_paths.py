"""The OCR's replacements for library calls that cost more to import or run than the work
they do (scipy.spatial, scipy.sparse.csgraph, skimage.morphology, a slow median filter):
each gives exactly the library's answer, and the OCR imports none of those modules."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage as ndi

from neuralab.ocr import crops
from neuralab.ocr.detect import close_pairs, graph_components, median_filter


@pytest.mark.parametrize("seed", range(6))
def test_close_pairs_and_graph_components_match_scipy(seed):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 600))
    pts = rng.random((n, 2)) * 1500
    r = float(rng.uniform(5, 150))
    want = cKDTree(pts).query_pairs(r=r, output_type="ndarray").reshape(-1, 2)
    want = want[np.lexsort((want[:, 1], want[:, 0]))]
    got = close_pairs(pts, r, block=int(rng.integers(5, 400)))
    np.testing.assert_array_equal(got, want)
    keep = rng.random(len(got)) < 0.4
    i, j = got[keep, 0], got[keep, 1]
    n_want, lab_want = connected_components(
        coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)
    n_got, lab_got = graph_components(n, i, j)
    assert n_got == n_want
    np.testing.assert_array_equal(lab_got, lab_want)


def test_graph_components_of_a_long_chain_and_no_edges():
    n = 300
    order = np.random.default_rng(0).permutation(n)  # one path visiting nodes in random order
    count, labels = graph_components(n, order[:-1], order[1:])
    assert count == 1 and not labels.any()
    count, labels = graph_components(4, np.zeros(0, int), np.zeros(0, int))
    assert count == 4 and labels.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("shape,size", [((266, 191), 9), ((9, 9), 9), ((5, 7), 5),
                                        ((40, 3), 3), ((4, 6), 4), ((1, 1), 1)])
def test_median_filter_matches_ndimage(shape, size):
    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    np.testing.assert_array_equal(median_filter(x, size),
                                  ndi.median_filter(x, size=size, mode="nearest"))


def test_skeletonize_and_disk_match_scikit_image():
    from skimage.morphology import disk, skeletonize

    rng = np.random.default_rng(2)
    for _ in range(60):
        shape = tuple(int(v) for v in rng.integers(3, 130, 2))
        mask = ndi.gaussian_filter(rng.random(shape), float(rng.uniform(1, 4))) > 0.5
        np.testing.assert_array_equal(crops.skeletonize(mask), skeletonize(mask))
    assert crops.skeletonize(np.zeros((5, 5), bool)).dtype == bool
    for r in range(12):
        np.testing.assert_array_equal(crops.disk(r), disk(r))


def test_the_ocr_pipeline_imports_no_heavy_module():
    code = ("import sys; import neuralab.ocr.pipeline, neuralab.ocr.classifier, "
            "neuralab.ocr.npnet, neuralab.ocr.cli; from neuralab.ocr.crops import skeletonize; "
            "import numpy as np; skeletonize(np.ones((9, 9), bool)); "
            "print(' '.join(m for m in ('torch', 'torchvision', 'matplotlib', 'sklearn', "
            "'scipy.spatial', 'scipy.sparse', 'skimage.morphology', 'neuralab.models', "
            "'neuralab.experiments') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == ""
