"""neuralab: neural networks for visual recognition, from first principles to fast training.

The public API (docs/api.md shows each in use)::

    import neuralab
    run_dir, metrics = neuralab.run("cifar10-simple-cnn", dataset="photos/", epochs=2)
    run = neuralab.load_run(run_dir)          # model (eval mode), classes, preprocess
    neuralab.predict(run, ["cat.jpg"])        # top-k classes with probabilities

Everything else lives in the layers: :mod:`neuralab.data` (datasets, ``info``, ``Preprocess``),
:mod:`neuralab.scratch` (the NumPy engine), :mod:`neuralab.models` (``build_model``,
``register_model``), :mod:`neuralab.train` (``Trainer`` and its callbacks),
:mod:`neuralab.experiments` (the registered handout experiments). The names below are
imported on first use, so ``import neuralab`` stays light.
"""

from neuralab._version import __version__
from neuralab.errors import NeuralabError

__all__ = ["NeuralabError", "__version__", "load_run", "predict", "run"]


def __getattr__(name: str):
    if name == "load_run":
        from neuralab.experiments.runs import load_run

        return load_run
    if name == "run":
        from neuralab.experiments.api import run

        return run
    if name == "predict":
        from neuralab.commands.predict import predict

        return predict
    raise AttributeError(f"module 'neuralab' has no attribute {name!r}")
