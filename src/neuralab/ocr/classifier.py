"""A trained character classifier as a ``classify(crops) -> labels`` callable for ``read_text``.

Every classifier experiment (``emnist-cnn``, ``chars-cnn``, ``chars-fc-torch``, ``mnist-cnn``)
leaves in its run folder the weights the trainer checkpointed and a small JSON beside them::

    runs/emnist-cnn/<timestamp>/
        classifier.json               model name + kwargs, classes, preprocessing, CropSpec
        checkpoint/model.safetensors  the weights (written by the Trainer)
        metrics.json                  present once the run finished

The package ships one trained classifier (``neuralab/ocr/model/``: ``classifier.json``,
``model.safetensors`` and ``PROVENANCE.json``, made by the ``ocr-model`` experiment), the
model ``neuralab ocr`` uses when no ``--model`` is given (the name :data:`SHIPPED`), so the
OCR works right after installation, without a ``runs/`` folder.

``classifier.json`` (:class:`ClassifierSpec`) says everything needed to feed the model:
the registry name and constructor arguments of the network (:func:`neuralab.models.build_model`),
the class names in label order, the input it expects (side in px, polarity, normalisation
mean/std) and the :class:`~neuralab.ocr.crops.CropSpec` that makes photo crops look like its
training images. :func:`find_classifier` turns a name or a path into that JSON file;
:func:`load_classifier` builds the network and loads its weights: in NumPy for the character
networks (:mod:`neuralab.ocr.npnet`, no torch import, the fast start of ``neuralab ocr``),
in PyTorch for any other registered model.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuralab.errors import NeuralabError
from neuralab.ocr.crops import CropSpec

SPEC_FILE = "classifier.json"
WEIGHTS = "checkpoint/model.safetensors"
FORMAT = "neuralab-classifier/1"
SHIPPED = "shipped"  # --model name of the classifier inside the package
SHIPPED_DIR = Path(__file__).resolve().parent / "model"
PROVENANCE = "PROVENANCE.json"
ENGINES = ("auto", "numpy", "torch")


@dataclass
class ClassifierSpec:
    """What ``classifier.json`` holds.

    ``model``/``kwargs``: :func:`neuralab.models.build_model` arguments. ``classes``: label
    names in label order. ``input_size``: side of the square input in px. ``polarity``:
    ``"white_on_black"`` (ink = 1, EMNIST) or ``"black_on_white"``. ``mean``/``std``: the
    normalisation applied to [0, 1] pixels. ``crop``: :class:`CropSpec` fields for photo crops
    (its ``size`` and ``polarity`` equal the input's). ``weights``: safetensors file, relative
    to the JSON's folder. ``logit_bias``: optional per-class offsets added to the logits
    (e.g. ``-log prior`` for a class-balanced decision). ``experiment``/``notes``: provenance.
    """

    model: str
    kwargs: dict[str, Any]
    classes: list[str]
    input_size: int
    polarity: str = "white_on_black"
    mean: float = 0.0
    std: float = 1.0
    crop: dict[str, Any] = field(default_factory=dict)
    weights: str = WEIGHTS
    logit_bias: list[float] | None = None
    experiment: str = ""
    notes: str = ""
    format: str = FORMAT

    def crop_spec(self) -> CropSpec:
        crop = {**self.crop, "size": self.input_size, "polarity": self.polarity}
        return CropSpec(**crop)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any], where: str = "classifier.json") -> ClassifierSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [k for k in ("model", "kwargs", "classes", "input_size") if k not in doc]
        if missing or not isinstance(doc, dict):
            raise NeuralabError(f"{where} is not a classifier description (missing "
                                f"{', '.join(missing) or 'fields'}); rerun its experiment")
        return cls(**{k: v for k, v in doc.items() if k in names})


def write_spec(run_dir: str | os.PathLike, spec: ClassifierSpec) -> Path:
    """Write ``run_dir/classifier.json`` (atomically); returns its path."""
    from neuralab.io import write_json

    return write_json(Path(run_dir) / SPEC_FILE, spec.to_dict())


def _finished_runs(folder: Path) -> list[Path]:
    """Run folders under ``folder`` (``folder/<timestamp>/``) that finished and kept a
    classifier, oldest first."""
    return sorted(p.parent for p in folder.glob(f"*/{SPEC_FILE}")
                  if (p.parent / "metrics.json").exists())


def find_classifier(name_or_path: str | os.PathLike, runs_dir: str | os.PathLike = "runs") -> Path:
    """The ``classifier.json`` that ``name_or_path`` means.

    * a JSON file: itself;
    * a run folder (``runs/emnist-cnn/20260101-120000``): its ``classifier.json``;
    * an experiment's folder of runs (``runs/emnist-cnn``): its newest finished run;
    * an experiment name (``emnist-cnn``): the newest finished run in ``runs_dir/NAME/``.

    * ``shipped`` (:data:`SHIPPED`): the classifier inside the package;

    Anything else: a one-line :class:`NeuralabError` saying how to get a classifier.
    """
    text = os.fspath(name_or_path)
    if text == SHIPPED:
        if not (SHIPPED_DIR / SPEC_FILE).is_file():
            raise NeuralabError(f"the shipped OCR model is missing ({SHIPPED_DIR / SPEC_FILE}); "
                                "reinstall neuralab or pass --model RUN_DIR")
        return SHIPPED_DIR / SPEC_FILE
    path = Path(text)
    if path.is_file():
        return path
    if path.is_dir():
        if (path / SPEC_FILE).is_file():
            return path / SPEC_FILE
        runs = _finished_runs(path)
        if runs:
            return runs[-1] / SPEC_FILE
        raise NeuralabError(f"{path} holds no trained classifier (no {SPEC_FILE} of a finished "
                            "run); give a run folder of a classifier experiment, e.g. "
                            "runs/emnist-cnn/<timestamp>")
    runs = _finished_runs(Path(runs_dir) / text) if "/" not in text else []
    if runs:
        return runs[-1] / SPEC_FILE
    if "/" in text or text.endswith(".json"):
        raise NeuralabError(f"classifier not found: {text} (no such file or folder)")
    raise NeuralabError(f"no trained classifier {text!r}: no finished run under "
                        f"{Path(runs_dir) / text}; run `neuralab run {text}` first (or pass "
                        f"--model RUN_DIR, or leave --model out for the shipped model)")


class Classifier:
    """A loaded network: ``classifier(crops float [N, S, S] in [0, 1]) -> N label strings``.

    ``crops`` must already look like the training images (``crop_spec``: size and polarity);
    they are normalised with the spec's mean/std and classified in batches. ``model`` is
    either a NumPy network (``engine == "numpy"``, :mod:`neuralab.ocr.npnet`) or a torch
    module on ``device`` (``engine == "torch"``). ``predict_proba`` gives the class
    probabilities ``[N, classes]``.
    """

    def __init__(self, spec: ClassifierSpec, model, path: Path, device: str = "cpu",
                 engine: str = "torch") -> None:
        self.spec, self.model, self.path, self.device = spec, model, path, device
        self.engine = engine
        self.classes = list(spec.classes)
        self.crop_spec = spec.crop_spec()

    def logits(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        x = np.asarray(crops, dtype=np.float32)
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        s = self.spec.input_size
        if x.ndim != 3 or x.shape[1:] != (s, s):
            raise NeuralabError(f"classifier {self.path} takes crops [N, {s}, {s}], got "
                                f"{tuple(x.shape)}")
        x = (x - np.float32(self.spec.mean)) / np.float32(self.spec.std)
        if self.engine == "numpy":  # batches of 64 bound the im2col buffers (npnet)
            step = min(batch_size, 64)
            outs = [self.model(x[i : i + step, None]) for i in range(0, len(x), step)]
            out = (np.concatenate(outs) if outs else np.zeros((0, len(self.classes))))
        else:
            out = self._torch_logits(x, batch_size)
        out = out.astype(np.float32)
        if self.spec.logit_bias is not None:
            out = out + np.asarray(self.spec.logit_bias, dtype=np.float32)
        return out

    def _torch_logits(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        import torch

        outs = []
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size]))[:, None]
                outs.append(self.model(xb.to(self.device)).float().cpu().numpy())
        return np.concatenate(outs) if outs else np.zeros((0, len(self.classes)), np.float32)

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        z = self.logits(crops).astype(np.float64)
        z = z - z.max(axis=1, keepdims=True) if len(z) else z
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def __call__(self, crops: np.ndarray) -> list[str]:
        if len(crops) == 0:
            return []
        return [self.classes[i] for i in self.logits(crops).argmax(axis=1)]


def char_type(label: str) -> str:
    """``"digit"`` for 0-9, ``"letter"`` for anything else (the two kinds a word keeps)."""
    return "digit" if label.isdigit() else "letter"


def decode_words(log_probs: np.ndarray, classes: list[str], words: list[np.ndarray],
                 switch_cost: float = 3.0) -> list[str]:
    """Labels for every crop with a character-type prior inside words.

    ``log_probs``: ``[N, classes]`` per-crop log probabilities. ``words``: index arrays into
    the N crops, one per word. Inside a word, switching between letters and digits costs
    ``switch_cost`` nats: each character gets the best label of its type, and the types are
    the best-scoring sequence under that penalty (Viterbi over two states). So an O that the
    classifier finds as likely as a 0 reads as O in ``TODO`` and as 0 in ``1990``, while a
    character whose own evidence beats the penalty (by a factor ``exp(switch_cost)``, 20 by
    default) keeps its type (``B2B``). One-character words are left as the classifier says.
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    labels = [classes[i] for i in lp.argmax(axis=1)] if len(lp) else []
    kinds = ("letter", "digit")
    member = np.array([[char_type(c) == k for c in classes] for k in kinds])  # [2, C]
    if not member.all(axis=1).any() and member.any(axis=1).all():
        for word in words:
            word = np.asarray(word, dtype=np.int64)
            if len(word) < 2:
                continue
            best = np.where(member[None], lp[word][:, None, :], -np.inf)  # [n, 2, C]
            score, arg = best.max(axis=2), best.argmax(axis=2)  # [n, 2]
            total, back = score[0].copy(), []
            for i in range(1, len(word)):
                stay, switch = total, total[::-1] - switch_cost
                back.append(np.where(stay >= switch, [0, 1], [1, 0]))
                total = np.maximum(stay, switch) + score[i]
            state = int(total.argmax())
            for i in range(len(word) - 1, -1, -1):
                labels[int(word[i])] = classes[int(arg[i, state])]
                if i:
                    state = int(back[i - 1][state])
    return labels


def read_spec(path: str | os.PathLike) -> ClassifierSpec:
    """The :class:`ClassifierSpec` in the ``classifier.json`` at ``path`` (one-line errors)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise NeuralabError(f"cannot read {path} as a classifier description ({e})") from None
    if not isinstance(doc, dict):
        raise NeuralabError(f"{path} is not a classifier description; rerun its experiment")
    spec = ClassifierSpec.from_dict(doc, str(path))
    if len(spec.classes) < 2:
        raise NeuralabError(f"{path}: a classifier needs at least two classes")
    return spec


def load_classifier(name_or_path: str | os.PathLike = SHIPPED,
                    runs_dir: str | os.PathLike = "runs", device: str = "cpu",
                    engine: str = "auto") -> Classifier:
    """Find (see :func:`find_classifier`), build and load a trained classifier.

    ``engine``: ``"numpy"`` runs the network in NumPy (:mod:`neuralab.ocr.npnet`; char_cnn and
    char_fc only), ``"torch"`` in PyTorch on ``device``, ``"auto"`` NumPy when it can and
    ``device`` is the CPU, else PyTorch. The default model is the shipped one.
    """
    if engine not in ENGINES:
        raise NeuralabError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    path = find_classifier(name_or_path, runs_dir)
    spec = read_spec(path)
    weights = path.parent / spec.weights
    if not weights.is_file():
        raise NeuralabError(f"{path}: its weights {weights} are missing; rerun "
                            f"`neuralab run {spec.experiment or 'ocr-model'}`")
    if engine in ("auto", "numpy"):
        from neuralab.ocr import npnet

        if spec.model in npnet.SUPPORTED and (engine == "numpy" or device == "cpu"):
            try:
                net = npnet.build(spec.model, spec.kwargs, npnet.load_state(weights))
            except NeuralabError as e:
                raise NeuralabError(f"cannot load {weights} into {spec.model} ({e})") from None
            except Exception as e:  # safetensors raises its own error type for a corrupt file
                raise NeuralabError(f"cannot load {weights} into {spec.model} "
                                    f"({_first_line(e)})") from None
            if net is not None:
                return Classifier(spec, net, path, "cpu", engine="numpy")
        if engine == "numpy":
            raise NeuralabError(f"{path}: model {spec.model} has no NumPy engine (it has: "
                                f"{', '.join(npnet.SUPPORTED)}); use engine='torch'")
    model = _torch_model(spec, weights, device)
    return Classifier(spec, model, path, device, engine="torch")


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _torch_model(spec: ClassifierSpec, weights: Path, device: str):
    """``spec``'s network built in PyTorch with ``weights`` (imports the model zoo, and with
    it torch and torchvision: the slow path, for models without a NumPy engine)."""
    from neuralab.models import build_model
    from neuralab.train.checkpoint import load_weights

    model = build_model(spec.model, **spec.kwargs).to(device).eval()
    try:
        load_weights(model, weights)
    except Exception as e:  # safetensors raises its own error type for a corrupt file
        raise NeuralabError(f"cannot load {weights} into {spec.model} ({_first_line(e)})"
                            ) from None
    return model
