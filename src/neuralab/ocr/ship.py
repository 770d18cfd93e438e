"""Put a finished classifier run into the package as the shipped OCR model.

    python -m neuralab.ocr.ship RUN_DIR [--dest src/neuralab/ocr/model]

``RUN_DIR`` is a finished run of a classifier experiment (``neuralab run ocr-model``). Into
``dest`` go ``classifier.json`` (the run's, with ``weights`` pointing to the file beside it),
``model.safetensors`` (the trainer's checkpointed weights, byte for byte) and
``PROVENANCE.json``: where the model comes from, copied from the run's ``metrics.json``
(command, config, date, hardware, wall time, versions, every data source with its checksum,
the test metrics, the hw5 photo CERs), the run's ``calibration.json`` when there is one
(the digits' logit offset and the numbers of the calibrated classifier, which is what ships),
plus the weights' sha256 and the date it was shipped.
``neuralab ocr`` loads it when no ``--model`` is given (:data:`~neuralab.ocr.classifier.SHIPPED`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from neuralab.errors import NeuralabError
from neuralab.ocr.classifier import PROVENANCE, SHIPPED_DIR, SPEC_FILE, read_spec

WEIGHTS_FILE = "model.safetensors"
# metrics.json keys copied into PROVENANCE.json's "metrics" (when the run has them)
METRICS = ("test_accuracy", "test_letters_accuracy", "test_mnist_accuracy",
           "test_letters_accuracy_typed", "test_mnist_accuracy_typed",
           "test_accuracy_lookalikes_merged", "test_balanced_accuracy", "val_accuracy",
           "cer_01_list", "cer_02_letters", "cer_01_list_without_word_prior",
           "cer_02_letters_without_word_prior", "hw5_photo_cer", "parameters", "steps",
           "epochs", "train_images_per_s")


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def provenance(run_dir: Path, weights: Path) -> dict[str, Any]:
    """``PROVENANCE.json`` for the run at ``run_dir`` whose weights are ``weights``."""
    path = run_dir / "metrics.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise NeuralabError(f"{run_dir} is not a finished run ({path}: {e})") from None
    metrics = doc.get("metrics", {})
    return {
        "experiment": doc.get("experiment"),
        "run": run_dir.name,
        "command": doc.get("command"),
        "seed": doc.get("seed"),
        "date": doc.get("date"),
        "hardware": doc.get("hardware"),
        "device": doc.get("device"),
        "wall_time_s": doc.get("wall_time_s"),
        "versions": doc.get("versions"),
        "config": doc.get("config"),
        "target": doc.get("target"),
        "met": doc.get("met"),
        "data": doc.get("data"),
        "metrics": {k: metrics[k] for k in METRICS if k in metrics},
        "notes": doc.get("notes"),
        "calibration": _calibration(run_dir),
        "weights": {"file": WEIGHTS_FILE, "sha256": sha256(weights),
                    "bytes": weights.stat().st_size},
        "shipped": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "ship_command": f"python -m neuralab.ocr.ship {run_dir}",
    }


def _calibration(run_dir: Path) -> dict[str, Any] | None:
    """The run's ``calibration.json`` (the digits' logit offset fitted after training, with
    the test accuracies and photo CERs of the calibrated classifier), when it has one."""
    path = run_dir / "calibration.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def ship(run_dir: str | os.PathLike, dest: str | os.PathLike = SHIPPED_DIR) -> Path:
    """Copy the classifier of finished run ``run_dir`` into ``dest``; returns ``dest``."""
    run_dir, dest = Path(run_dir), Path(dest)
    spec = read_spec(run_dir / SPEC_FILE)
    weights = run_dir / spec.weights
    if not weights.is_file():
        raise NeuralabError(f"{run_dir}: its weights {weights} are missing")
    prov = provenance(run_dir, weights)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, dest / WEIGHTS_FILE)
    doc = spec.to_dict()
    doc["weights"] = WEIGHTS_FILE
    doc["notes"] = (f"{doc.get('notes', '')}; shipped with neuralab from run {run_dir.name} "
                    f"(see {PROVENANCE})").lstrip("; ")
    for name, content in ((SPEC_FILE, doc), (PROVENANCE, prov)):
        (dest / name).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--dest", default=str(SHIPPED_DIR))
    args = parser.parse_args(argv)
    try:
        dest = ship(args.run_dir, args.dest)
    except NeuralabError as e:
        print(f"neuralab: error: {e}", file=sys.stderr)
        return 2
    print(dest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
