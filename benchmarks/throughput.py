"""Training throughput of every registered CIFAR-10 CNN per precision, as a fraction of this
machine's GEMM peak, and the Trainer's overhead.

    python benchmarks/throughput.py [--device cpu] [--precisions auto] [--seconds 6]
                                    [--batch 128] [--channels-last on] [--eval] [--write]

For each model and each precision (``fp32``; ``bf16`` autocast on a CPU with bfloat16
instructions, see :func:`neuralab.train.trainer.cpu_has_bf16`; ``bf16``/``fp16`` AMP on CUDA):

- training images/s: forward + backward + SGD step (momentum 0.9), batch 128, the same four
  pre-made batches cycled, two warm-up steps. The precisions of one model are *interleaved*
  (fp32, bf16, fp32, bf16, ... for ``--rounds`` rounds of ``--seconds / rounds`` each) so a
  change in machine load hits both alike; the best round is reported (all rounds are kept).
- FLOPs per image of forward + backward, counted once with
  :class:`torch.utils.flop_counter.FlopCounterMode` (it counts convolutions and matrix
  products, i.e. the work a GEMM peak is about; BatchNorm, ReLU, pooling and the SGD step are
  not counted, so they show up as a lower fraction of peak).
- achieved GFLOP/s = images/s x FLOPs per image, and its fraction of the GEMM peak in the same
  precision: the best of several square ``--gemm-size`` matmuls (2048 by default) in that
  dtype with torch's thread count as used for training, measured in the same run before and
  after the models (best of both).

Then the Trainer's overhead: the same model and the same pre-made batches through
``Trainer.fit`` and through a bare PyTorch loop, alternated, median step times compared
(target <= 1.05x). On a CPU, freed memory is kept in the process first
(:func:`neuralab.system.keep_freed_memory`), as in every neuralab run. ``--write`` stores
everything in results/benchmarks/throughput.json with the hardware, date, versions, thread
count and this command.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from neuralab.io import write_json
from neuralab.models import build_model
from neuralab.system import keep_freed_memory, measured_here, resolve_device
from neuralab.train import Trainer, TrainSettings
from neuralab.train.trainer import cpu_has_bf16

CNNS = ["simple_cnn", "cnn_a", "cnn_b", "cnn_best", "airbench", "vgg", "preact_vgg13"]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def default_precisions(device: torch.device) -> list[str]:
    """fp32 everywhere; bf16 autocast on a CPU that has bf16 instructions; bf16 and fp16 AMP
    on CUDA (bf16 only where the GPU supports it)."""
    if device.type == "cuda":
        return ["fp32", *(["bf16"] if torch.cuda.is_bf16_supported() else []), "fp16"]
    if device.type == "cpu" and cpu_has_bf16():
        return ["fp32", "bf16"]
    return ["fp32"]


def autocast(device: torch.device, precision: str):
    """The autocast context a training step of ``precision`` runs in (none for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


def _batches(n: int, batch: int, device, channels_last: bool):
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        x = torch.randn(batch, 3, 32, 32, generator=g).to(device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out.append((x, torch.randint(0, 10, (batch,), generator=g).to(device)))
    return out


# ----------------------------------------------------------------------------- GEMM peak
def gemm_gflops(device, precision: str, n: int = 2048, seconds: float = 1.0,
                min_reps: int = 3) -> float:
    """Best GFLOP/s (2 n^3 per product) of ``n x n @ n x n`` in ``precision`` over at least
    ``min_reps`` products and about ``seconds`` of them."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=DTYPES[precision])
    b = torch.randn(n, n, generator=g).to(device=device, dtype=DTYPES[precision])
    out = torch.empty(n, n, device=device, dtype=DTYPES[precision])
    torch.matmul(a, b, out=out)  # warm-up: packs, picks the kernel
    _sync(device)
    best, reps, started = float("inf"), 0, time.perf_counter()
    while reps < min_reps or time.perf_counter() - started < seconds:
        t = time.perf_counter()
        torch.matmul(a, b, out=out)
        _sync(device)
        best = min(best, time.perf_counter() - t)
        reps += 1
    return 2 * n**3 / best / 1e9


def gemm_peaks(device, precisions: list[str], n: int, seconds: float) -> dict[str, float]:
    """GEMM GFLOP/s in each precision; on CUDA the fp32 row uses cuDNN's/cuBLAS's settings as
    training does (TF32 for convolutions when ``torch.backends.cudnn.allow_tf32``)."""
    out = {}
    for precision in precisions:
        if device.type == "cuda" and precision == "fp32" and torch.backends.cudnn.allow_tf32:
            # convolutions train in TF32 by default: compare them to the TF32 GEMM peak
            old = torch.backends.cuda.matmul.allow_tf32
            torch.backends.cuda.matmul.allow_tf32 = True
            try:
                out[precision] = gemm_gflops(device, precision, n, seconds)
            finally:
                torch.backends.cuda.matmul.allow_tf32 = old
        else:
            out[precision] = gemm_gflops(device, precision, n, seconds)
    return out


# ----------------------------------------------------------------------------- models
def flops_per_image(name: str, device, batch: int = 8) -> int:
    """Forward + backward FLOPs of one image (convolutions and matrix products), counted on
    a small batch in fp32 (the count does not depend on the precision)."""
    torch.manual_seed(0)
    model = build_model(name).to(device).train()
    (x, y), = _batches(1, batch, device, channels_last=False)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() // batch


class Stepper:
    """One model, its optimizer and batches in one precision: ``run(seconds)`` -> images/s."""

    def __init__(self, name: str, device, batch: int, precision: str, channels_last: bool):
        torch.manual_seed(0)
        self.device, self.batch, self.precision = device, batch, precision
        self.model = build_model(name).to(device).train()
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
        self.data = _batches(4, batch, device, channels_last)
        self.i = 0
        self.step()  # two warm-up steps (kernels, caches, oneDNN primitives)
        self.step()
        _sync(device)

    def step(self) -> None:
        x, y = self.data[self.i % len(self.data)]
        self.i += 1
        self.opt.zero_grad(set_to_none=True)
        with autocast(self.device, self.precision):
            loss = F.cross_entropy(self.model(x), y)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()

    def run(self, seconds: float, min_steps: int = 2) -> float:
        done, start = 0, time.perf_counter()
        while done < min_steps * self.batch or time.perf_counter() - start < seconds:
            self.step()
            done += self.batch
            if self.device.type == "cuda" and done % (20 * self.batch) == 0:
                _sync(self.device)
        _sync(self.device)
        return done / (time.perf_counter() - start)


def measure_model(name: str, device, batch: int, precisions: list[str], seconds: float,
                  rounds: int, channels_last: bool) -> dict[str, list[float]]:
    """Images/s of each precision's rounds, the precisions interleaved round by round."""
    steppers = {p: Stepper(name, device, batch, p, channels_last) for p in precisions}
    rates: dict[str, list[float]] = {p: [] for p in precisions}
    for _ in range(rounds):
        for p in precisions:
            rates[p].append(steppers[p].run(seconds / rounds))
    return rates


@torch.no_grad()
def eval_rate(name: str, device, seconds: float, precision: str, channels_last: bool) -> float:
    model = build_model(name).to(device).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    (x, _), = _batches(1, 500, device, channels_last)
    with autocast(device, precision):
        model(x)
        _sync(device)
        done, start = 0, time.perf_counter()
        while done == 0 or time.perf_counter() - start < seconds:
            model(x)
            done += 500
    _sync(device)
    return done / (time.perf_counter() - start)


def profile_ops(name: str, device, batch: int, precisions: list[str], channels_last: bool,
                top: int = 12) -> None:
    """Print the costliest ops of one training step per precision, by op and input shapes
    (torch.profiler, record_shapes): where a precision loses time (``--profile MODEL``)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda"
                                           else [])
    for prec in precisions:
        stepper = Stepper(name, device, batch, prec, channels_last)
        with profile(activities=activities, record_shapes=True) as prof:
            stepper.step()
            _sync(device)
        events = prof.key_averages(group_by_input_shape=True)
        attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
        total = sum(getattr(e, attr) for e in events)
        print(f"\n{name} {prec} (channels_last={channels_last}): one step, self time "
              f"{total / 1e3:.1f} ms")
        for e in sorted(events, key=lambda e: -getattr(e, attr))[:top]:
            shapes = str([s for s in e.input_shapes if s])[:90]
            print(f"  {getattr(e, attr) / 1e3:9.1f} ms x{e.count:<3d} {e.key:34s} {shapes}")


# ----------------------------------------------------------------------------- Trainer overhead
def bare_loop(model, opt, batches) -> float:
    start = time.perf_counter()
    for x, y in batches:
        model.train()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    _sync(next(model.parameters()).device)
    return (time.perf_counter() - start) / len(batches)


def trainer_loop(model, opt, batches, device) -> float:
    trainer = Trainer(model, opt, batches, device=device,
                      settings=TrainSettings(max_epochs=1, show_progress=False))
    start = time.perf_counter()
    trainer.fit()
    _sync(device)
    return (time.perf_counter() - start) / len(batches)


def trainer_overhead(device, batch: int, rounds: int = 5, steps: int = 30) -> dict:
    """Median per-step time of Trainer.fit vs a bare loop on the same model and batches."""
    torch.manual_seed(0)
    model = build_model("simple_cnn").to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batches = _batches(steps, batch, device, channels_last=True)
    bare_loop(model, opt, batches[:3])  # warm-up
    bare, trained = [], []
    for _ in range(rounds):  # alternate so drifts in machine load hit both alike
        bare.append(bare_loop(model, opt, batches))
        trained.append(trainer_loop(model, opt, batches, device))
    b, t = statistics.median(bare), statistics.median(trained)
    return {"model": "simple_cnn", "batch": batch, "steps_per_round": steps, "rounds": rounds,
            "bare_step_ms": round(1e3 * b, 3), "trainer_step_ms": round(1e3 * t, 3),
            "ratio": round(t / b, 4), "target_ratio": 1.05}


# ----------------------------------------------------------------------------- main
def parse_precisions(text: str, device: torch.device) -> list[str]:
    if text == "auto":
        return default_precisions(device)
    out = [p.strip() for p in text.split(",") if p.strip()]
    for p in out:
        if p not in DTYPES:
            raise SystemExit(f"--precisions: unknown precision {p!r} (fp32, bf16, fp16)")
        if device.type == "cpu" and p == "bf16" and not cpu_has_bf16():
            raise SystemExit("--precisions bf16: this CPU has no bfloat16 instructions")
        if device.type == "cpu" and p == "fp16":
            raise SystemExit("--precisions fp16: fp16 autocast is measured on CUDA only")
    return out


def summary(rows: list[dict], precisions: list[str]) -> dict:
    """Per model: the faster precision, its fraction of peak and whether it reaches 60%."""
    out = {}
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name]
        best = max(mine, key=lambda r: r["images_per_s"])
        base = next((r for r in mine if r["precision"] == "fp32"), None)
        out[name] = {"faster_precision": best["precision"],
                     "fraction_of_peak": best["fraction_of_peak"],
                     "meets_60pct": best["fraction_of_peak"] >= 0.6}
        if base is not None and len(precisions) > 1:
            out[name]["speedup_vs_fp32"] = {
                r["precision"]: round(r["images_per_s"] / base["images_per_s"], 3)
                for r in mine if r["precision"] != "fp32"}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--precisions", default="auto",
                   help="comma-separated fp32,bf16,fp16; auto: what this device supports")
    p.add_argument("--seconds", type=float, default=6.0,
                   help="training seconds per model and precision (split over --rounds)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per precision")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--models", default=",".join(CNNS))
    p.add_argument("--channels-last", choices=["on", "off", "both"], default="on",
                   help="memory format of models and batches (on: it helps every CNN here)")
    p.add_argument("--gemm-size", type=int, default=2048)
    p.add_argument("--gemm-seconds", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--eval", action="store_true", help="also evaluation images/s (batch 500)")
    p.add_argument("--no-overhead", action="store_true", help="skip the Trainer-overhead part")
    p.add_argument("--overhead-rounds", type=int, default=5)
    p.add_argument("--overhead-steps", type=int, default=30, help="steps per overhead round")
    p.add_argument("--profile", metavar="MODEL", default=None,
                   help="only profile one training step of MODEL per precision, per op")
    p.add_argument("--write", action="store_true")
    p.add_argument("--out", default="results/benchmarks/throughput.json")
    args = p.parse_args(argv)
    device = torch.device(resolve_device(args.device))
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    freed_memory_kept = device.type == "cpu" and keep_freed_memory()  # as neuralab runs do
    precisions = parse_precisions(args.precisions, device)
    layouts = {"on": [True], "off": [False], "both": [False, True]}[args.channels_last]
    print(f"device {device}, threads {torch.get_num_threads()}, precisions {precisions}",
          flush=True)
    if args.profile:
        for cl in layouts:
            profile_ops(args.profile, device, args.batch, precisions, cl)
        return 0

    peaks_before = gemm_peaks(device, precisions, args.gemm_size, args.gemm_seconds)
    print("GEMM peak " + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in peaks_before.items()),
          flush=True)
    measured: list[dict] = []
    for name in args.models.split(","):
        flops = flops_per_image(name, device)
        for cl in layouts:
            rates = measure_model(name, device, args.batch, precisions, args.seconds,
                                  args.rounds, cl)
            for prec in precisions:
                row = {"model": name, "precision": prec, "channels_last": cl,
                       "images_per_s": max(rates[prec]), "flops_per_image": flops,
                       "rounds_images_per_s": [round(r, 1) for r in rates[prec]]}
                if args.eval:
                    row["eval_images_per_s"] = round(
                        eval_rate(name, device, args.seconds / 4, prec, cl), 1)
                measured.append(row)
    peaks_after = gemm_peaks(device, precisions, args.gemm_size, args.gemm_seconds)
    peaks = {k: max(peaks_before[k], peaks_after[k]) for k in precisions}

    rows = []
    for m in measured:
        achieved = m["images_per_s"] * m["flops_per_image"] / 1e9
        row = {"model": m["model"], "precision": m["precision"],
               "images_per_s": round(m["images_per_s"], 1),
               "flops_per_image": m["flops_per_image"],
               "achieved_gflops": round(achieved, 2),
               "peak_gflops": round(peaks[m["precision"]], 1),
               "fraction_of_peak": round(achieved / peaks[m["precision"]], 4),
               "channels_last": m["channels_last"],
               "rounds_images_per_s": m["rounds_images_per_s"]}
        if "eval_images_per_s" in m:
            row["eval_images_per_s"] = m["eval_images_per_s"]
        rows.append(row)
    print(f"\n{'model':14s} {'prec':5s} {'cl':3s} {'img/s':>8s} {'MFLOP/img':>10s} "
          f"{'GFLOP/s':>8s} {'peak':>8s} {'of peak':>8s}")
    for r in rows:
        print(f"{r['model']:14s} {r['precision']:5s} {'y' if r['channels_last'] else 'n':3s} "
              f"{r['images_per_s']:8.1f} {r['flops_per_image'] / 1e6:10.1f} "
              f"{r['achieved_gflops']:8.1f} {r['peak_gflops']:8.1f} "
              f"{100 * r['fraction_of_peak']:7.1f}%")
    tf32 = device.type == "cuda" and torch.backends.cudnn.allow_tf32
    peak_table = [{"precision": k, "gemm_size": args.gemm_size,
                   "gflops": round(peaks[k], 1), "before_models_gflops": round(peaks_before[k], 1),
                   "after_models_gflops": round(peaks_after[k], 1),
                   "tf32": bool(tf32 and k == "fp32")} for k in precisions]
    print("GEMM peak (best of before/after): "
          + ", ".join(f"{k} {v:.1f}" for k, v in peaks.items()) + " GFLOP/s")
    goal = summary(rows, precisions)
    for name, s in goal.items():
        print(f"  {name:14s} faster in {s['faster_precision']}: "
              f"{100 * s['fraction_of_peak']:.1f}% of peak "
              f"({'meets' if s['meets_60pct'] else 'below'} the 60% goal)"
              + (f", speed-up vs fp32 {s['speedup_vs_fp32']}" if "speedup_vs_fp32" in s else ""))

    overhead = None if args.no_overhead else trainer_overhead(
        device, args.batch, rounds=args.overhead_rounds, steps=args.overhead_steps)
    if overhead:
        print(f"trainer overhead: bare {overhead['bare_step_ms']} ms/step, trainer "
              f"{overhead['trainer_step_ms']} ms/step, ratio {overhead['ratio']} "
              "(target <= 1.05)")
    result = {
        "benchmark": "throughput", "device": str(device), "batch": args.batch,
        "threads": torch.get_num_threads(), "precisions": precisions,
        "keep_freed_memory": freed_memory_kept,
        "seconds_per_model_and_precision": args.seconds, "rounds": args.rounds,
        "flops_counted": "torch.utils.flop_counter.FlopCounterMode, forward + backward "
                         "(convolutions and matrix products only)",
        "gemm_peak": peak_table, "models": rows, "goal_60pct_of_peak": goal,
        "trainer_overhead": overhead,
        "cpu_has_bf16": cpu_has_bf16(),
        **measured_here("benchmarks/throughput.py", argv, str(device)),
    }
    if args.write:
        write_json(Path(args.out), result)
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
