"""What a run folder records about its model, so it can be used without the experiment's code.

``model.json`` beside ``config.json``::

    {"model": "simple_cnn", "args": {"num_classes": 10, "in_channels": 3},
     "classes": ["airplane", ...], "dataset": "cifar10", "dataset_options": {},
     "preprocess": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "size": 32,
                    "channels": 3},
     "weights": "checkpoint/model.safetensors"}

``model`` and ``args`` rebuild the network with :func:`neuralab.models.build_model`;
``preprocess`` (:class:`neuralab.data.preprocess.Preprocess`) turns uint8 images into its input;
``classes[i]`` names output ``i``.

A NumPy-engine run says ``"engine": "numpy"``: ``model``/``args`` then go to
:func:`neuralab.scratch.models.build`, ``weights`` is an ``.npz`` and ``preprocess`` holds the
settings of a :class:`neuralab.scratch.inputs.VectorInputs` whose fitted statistics (e.g. the
training mean image) are in the ``.npz`` named by its ``"arrays"`` entry.

An experiment fills the record in from its config with the ``describe`` function it is
registered with, and the runner writes it when the run starts; the NumPy experiments write
theirs when they finish (:func:`neuralab.experiments.scratch_common.save_model`), since the
statistics are fitted on the training images.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MODEL_FILE = "model.json"


@dataclass(frozen=True)
class ModelRecord:
    """How to rebuild a run's model and feed it: see the module docstring."""

    model: str
    args: dict[str, Any]
    classes: list[str]
    preprocess: dict[str, Any]
    dataset: str | None = None
    dataset_options: dict[str, Any] = field(default_factory=dict)  # of neuralab.data.load
    weights: str = "checkpoint/model.safetensors"
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the OCR crop settings
    engine: str = "torch"  # or "numpy" (neuralab.scratch)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ModelRecord:
        known = {k: doc[k] for k in ("model", "args", "classes", "preprocess", "dataset",
                                     "dataset_options", "weights", "extra", "engine") if k in doc}
        return cls(**known)
