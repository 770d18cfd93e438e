"""PCA by SVD."""

from __future__ import annotations

import numpy as np
import pytest

from neuralab.errors import NeuralabError
from neuralab.scratch import PCA


def data(n=60, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + rng.standard_normal(d)


def test_full_rank_reconstruction_is_exact():
    x = data()
    pca = PCA(8).fit(x)
    np.testing.assert_allclose(pca.reconstruct(pca.project(x)), x, atol=1e-10)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_projection_has_rank_k_and_components_are_orthonormal(k):
    x = data(seed=k)
    pca = PCA(k).fit(x)
    z = pca.project(x)
    assert pca.components_.shape == (k, 8) and z.shape == (60, k)
    assert np.linalg.matrix_rank(z) == k
    assert np.linalg.matrix_rank(pca.reconstruct(z) - pca.mean_) == k
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(k), atol=1e-12)
    # The variances along the components are the top-k eigenvalues of the covariance.
    eig = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1][:k]
    np.testing.assert_allclose(pca.explained_variance_, eig, rtol=1e-10)
    np.testing.assert_allclose(z.var(axis=0, ddof=1), eig, rtol=1e-10)


def test_reconstruction_error_shrinks_with_k_and_errors():
    x = data()
    errors = [np.sum((PCA(k).fit(x).reconstruct(PCA(k).fit(x).project(x)) - x) ** 2)
              for k in range(1, 9)]
    assert all(a > b for a, b in zip(errors, errors[1:], strict=False))
    with pytest.raises(NeuralabError):
        PCA(9).fit(x)
    with pytest.raises(NeuralabError):
        PCA(2).project(x)
