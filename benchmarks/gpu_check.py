"""Helpers of benchmarks/gpu_check.sh (see there): synthetic CIFAR-shaped data, a DDP smoke
step, and the summary that turns every step's record into results/benchmarks/gpu_check.json.

    python benchmarks/gpu_check.py make-data DIR [--train 50000] [--test 10000]
    python -m torch.distributed.run --standalone --nproc_per_node 1 \\
        benchmarks/gpu_check.py ddp-smoke [--backend nccl]
    python benchmarks/gpu_check.py summarize --steps DIR --out FILE [--mode gpu|cpu]

``summarize`` uses the standard library only, so it writes the JSON even where torch or the
package failed to import.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck"]
TAIL_LINES = 25
#: steps whose failure is an answer, not an error (no genuine CIFAR-10: synthetic data is used)
OPTIONAL = {"data_genuine"}


# ----------------------------------------------------------------------------- make-data
def make_data(root: Path, n_train: int, n_test: int, seed: int = 0) -> dict:
    """``root/{train,test}/<class>/*.png``: 32x32 RGB images, one colour pattern per class
    (a class-dependent mean colour and stripe frequency) plus noise, so training learns
    something; CIFAR-10's class names and shapes, nothing of its content."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32) / 31.0
    counts = {}
    for split, n in (("train", n_train), ("test", n_test)):
        for c, name in enumerate(CIFAR_CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            k = n // len(CIFAR_CLASSES) + (c < n % len(CIFAR_CLASSES))
            base_rgb = np.array([(c * 37) % 256, (c * 91) % 256, (c * 53) % 256], np.float32)
            stripes = np.sin((c + 1) * np.pi * (xx + yy))[..., None] * 40
            noise = rng.normal(0, 40, (k, 32, 32, 3)).astype(np.float32)
            images = np.clip(0.5 * base_rgb + 64 + stripes + noise, 0, 255).astype(np.uint8)
            for i, img in enumerate(images):
                Image.fromarray(img).save(folder / f"{i:05d}.png", compress_level=1)
            counts[f"{split}/{name}"] = k
    return {"root": str(root), "train": n_train, "test": n_test, "classes": CIFAR_CLASSES}


# ----------------------------------------------------------------------------- ddp-smoke
def ddp_smoke(backend: str, steps: int = 20) -> dict:
    """Under torchrun: join the process group (``backend``), all-reduce a tensor, train a small
    MLP wrapped in DistributedDataParallel for ``steps`` steps; one JSON line on stdout."""
    import torch
    import torch.distributed as dist

    started = time.perf_counter()
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device(f"cuda:{local}" if backend == "nccl" else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, timeout=dt.timedelta(seconds=60))
    t = torch.ones(4, device=device) * (dist.get_rank() + 1)
    dist.all_reduce(t)
    expect = sum(r + 1 for r in range(dist.get_world_size()))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10)).to(device)
    ddp = torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[local] if device.type == "cuda" else None)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    x, y = torch.randn(256, 64, device=device), torch.randint(0, 10, (256,), device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(ddp(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out = {"backend": backend, "world_size": dist.get_world_size(), "rank": dist.get_rank(),
           "device": str(device), "all_reduce_ok": bool(torch.all(t == expect).item()),
           "first_loss": round(losses[0], 4), "last_loss": round(losses[-1], 4),
           "loss_fell": losses[-1] < losses[0], "seconds": round(time.perf_counter() - started, 2)}
    dist.barrier()
    dist.destroy_process_group()
    print("DDP_SMOKE " + json.dumps(out), flush=True)
    return out


# ----------------------------------------------------------------------------- summarize
def _tail(path: Path, n: int = TAIL_LINES) -> list[str]:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line[:300] for line in lines[-n:]]


def _json_or_none(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _run_metrics(runs: Path, name: str, started: float, ended: float) -> dict | None:
    """metrics.json of the newest run folder of experiment ``name`` written while the step ran
    (between ``started`` and ``ended``, in seconds since the epoch)."""
    found = [p for p in (runs / name).glob("*/metrics.json")
             if started - 1 <= p.stat().st_mtime <= ended + 1]
    return _json_or_none(max(found, key=lambda p: p.stat().st_mtime)) if found else None


KEEP_TOP = ("experiment", "metric", "value", "met", "wall_time_s", "device", "world_size")
KEEP_METRICS = ("test_accuracy", "test_accuracy_tta", "precision", "steps", "epochs",
                "wall_time_s", "train_steps_time_s", "train_time_s", "images_per_s",
                "whiten_time_s", "tta_time_s", "parameters")
KEEP_CONFIG = ("dataset", "compile", "epochs", "batch_size", "channels_last", "precision")


def _run_figures(doc: dict) -> dict:
    out = {k: doc[k] for k in KEEP_TOP if k in doc}
    out["metrics"] = {k: v for k, v in (doc.get("metrics") or {}).items() if k in KEEP_METRICS}
    out["config"] = {k: v for k, v in (doc.get("config") or {}).items() if k in KEEP_CONFIG}
    out["hardware"] = doc.get("hardware")
    out["data"] = [{k: d.get(k) for k in ("name", "path", "format")}
                   for d in doc.get("data") or [] if isinstance(d, dict)]
    return out


def figures(step: dict, runs: Path) -> dict | None:
    """What a finished step measured, from the files it wrote."""
    kind, started = step.get("kind"), float(step.get("started", 0))
    if kind == "run" and step.get("experiment"):
        ended = float(step.get("ended") or started + (step.get("seconds") or 0))
        m = _run_metrics(runs, step["experiment"], started, ended)
        return None if m is None else _run_figures(m)
    if kind == "file" and step.get("file"):
        return _json_or_none(Path(step["file"]))
    if kind == "ddp":
        for line in reversed(_tail(Path(step["log"]), 200)):
            if line.startswith("DDP_SMOKE "):
                return json.loads(line[len("DDP_SMOKE "):])
    if kind == "json-line":
        for line in reversed(_tail(Path(step["log"]), 200)):
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    return None
    return None


def summarize(steps_dir: Path, out: Path, mode: str, runs: Path) -> dict:
    steps = []
    for path in sorted(steps_dir.glob("*.step.json")):
        step = _json_or_none(path)
        if step is None:
            continue
        rc = step.get("rc")
        status = ("running" if rc is None else "ok" if rc == 0
                  else "timeout" if rc in (124, 137) else "failed")
        row = {"step": step.get("name"), "status": status, "rc": rc,
               "optional": step.get("name") in OPTIONAL,
               "seconds": step.get("seconds"), "timeout_s": step.get("timeout_s"),
               "command": step.get("command"), "log_tail": _tail(Path(step.get("log", "")))}
        if status == "ok":
            try:
                row["figures"] = figures(step, runs)
            except (OSError, ValueError, KeyError) as err:  # a summary never fails on a step
                row["figures"] = {"error": f"{type(err).__name__}: {err}"}
        steps.append(row)
    doc = {"benchmark": "gpu_check", "mode": mode,
           "ok": bool(steps) and all(s["status"] == "ok" for s in steps if not s["optional"]),
           "steps_ok": sum(s["status"] == "ok" for s in steps), "steps": steps,
           "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
           "command": os.environ.get("GPU_CHECK_COMMAND", "benchmarks/gpu_check.sh")}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(out)
    return doc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-data")
    m.add_argument("root", type=Path)
    m.add_argument("--train", type=int, default=50000)
    m.add_argument("--test", type=int, default=10000)
    d = sub.add_parser("ddp-smoke")
    d.add_argument("--backend", default="nccl", choices=["nccl", "gloo"])
    d.add_argument("--steps", type=int, default=20)
    s = sub.add_parser("summarize")
    s.add_argument("--steps", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--runs", type=Path, default=Path("runs"))
    s.add_argument("--mode", default="gpu")
    args = p.parse_args(argv)
    if args.cmd == "make-data":
        print(json.dumps(make_data(args.root, args.train, args.test)))
    elif args.cmd == "ddp-smoke":
        ddp_smoke(args.backend, args.steps)
    else:
        doc = summarize(args.steps, args.out, args.mode, args.runs)
        print(f"gpu_check: {doc['steps_ok']}/{len(doc['steps'])} steps ok -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
