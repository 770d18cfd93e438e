"""Principal component analysis by singular value decomposition (hw5's linear baseline for
the autoencoder)."""

from __future__ import annotations

import numpy as np

from neuralab.errors import NeuralabError


class PCA:
    """Project ``D``-dimensional rows onto their top-``k`` principal directions.

    ``fit(X [N, D])``: ``mean_ = mean of the rows``; the centred data factorises as
    ``X - mean_ = U S V^T``; ``components_ = V^T[:k]`` ``[k, D]`` (orthonormal rows, by
    decreasing singular value); ``explained_variance_ = S[:k]^2 / (N - 1)``.

    ``project(X) = (X - mean_) components_^T`` ``[N, k]``;
    ``reconstruct(Z) = Z components_ + mean_`` ``[N, D]``. With ``k = rank(X - mean_)`` (e.g.
    ``k = D`` for ``N > D`` generic points) the reconstruction is exact.
    """

    def __init__(self, n_components: int) -> None:
        if n_components < 1:
            raise NeuralabError(f"n_components must be >= 1, got {n_components}")
        self.n_components = int(n_components)
        self.components_: np.ndarray | None = None
        self.mean_: np.ndarray | None = None
        self.explained_variance_: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> PCA:
        x = np.asarray(x)
        if x.ndim != 2:
            raise NeuralabError(f"PCA.fit expects [N, D] data, got shape {x.shape}")
        n, d = x.shape
        k = self.n_components
        if k > min(n, d):
            raise NeuralabError(f"n_components={k} exceeds min(N, D) = {min(n, d)}")
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        self.mean_ = x.mean(axis=0).astype(dtype)
        _, s, vt = np.linalg.svd(x - self.mean_, full_matrices=False)
        self.components_ = np.ascontiguousarray(vt[:k], dtype=dtype)
        self.singular_values_ = s[:k]
        self.explained_variance_ = s[:k] ** 2 / max(n - 1, 1)
        return self

    def _check(self) -> None:
        if self.components_ is None:
            raise NeuralabError("PCA is not fitted yet: call fit(X) first")

    def project(self, x: np.ndarray) -> np.ndarray:
        self._check()
        return (np.asarray(x) - self.mean_) @ self.components_.T

    def reconstruct(self, z: np.ndarray) -> np.ndarray:
        self._check()
        return np.asarray(z) @ self.components_ + self.mean_

    def __repr__(self) -> str:
        return f"PCA(n_components={self.n_components})"
