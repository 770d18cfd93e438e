"""Fixtures for the data tests: an isolated cache per test, a local HTTP server, real data."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

# Read before the autouse fixture hides it: the real copies live there (read-only).
REAL_DATA = os.environ.get("NEURALAB_DATA")
# The real-data tests share one persistent cache per machine so that CIFAR-10's 60,000 JPEGs
# are decoded once, not on every test run.
REAL_CACHE = Path(os.environ.get("NEURALAB_TEST_CACHE", f"/tmp/neuralab-test-cache-{os.getuid()}"))


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own empty cache dir and no ``NEURALAB_DATA``."""
    monkeypatch.setenv("NEURALAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NEURALAB_DATA", raising=False)


@pytest.fixture
def real_sizes():
    """Ask for it to keep the real datasets' expected sizes (see fixture_sized_datasets)."""


@pytest.fixture(autouse=True)
def fixture_sized_datasets(request, monkeypatch):
    """The generated copies are tiny: MNIST-format loaders and EMNIST expect no fixed split
    sizes here (every class must still be in every split). Tests of the size checks set the
    sizes they expect (``data_builders.expect_sizes``); the real-data tests keep the real ones.
    """
    if "real_root" in request.fixturenames or "real_sizes" in request.fixturenames:
        return
    from data_builders import expect_sizes

    from neuralab.data import emnist, mnist

    expect_sizes(monkeypatch, mnist.MNIST)
    expect_sizes(monkeypatch, mnist.FASHION_MNIST)
    monkeypatch.setattr(emnist, "COUNTS", {})
    monkeypatch.setattr(emnist, "PER_CLASS", {})


@pytest.fixture
def real_root(monkeypatch) -> Path:
    """The real data root (``$NEURALAB_DATA``) with the shared persistent cache; else skip."""
    if not REAL_DATA or not Path(REAL_DATA).is_dir():
        pytest.skip("NEURALAB_DATA is not set: no real data to test")
    monkeypatch.setenv("NEURALAB_CACHE", str(REAL_CACHE))
    return Path(REAL_DATA)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    """``(folder, base_url)``: files put in ``folder`` are served at ``base_url`` (127.0.0.1)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
