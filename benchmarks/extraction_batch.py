"""Feature-extraction speed against batch size: the measurement behind
:func:`neuralab.train.features.extraction_batch`.

    python benchmarks/extraction_batch.py [--batches 4,16,64,128] [--images 256] [--write]

cifar10-transfer's frozen part (EfficientNet-Lite0 with its ImageNet weights, stages up to
``blocks.10``, channels-last, float32, inference mode) runs over ``--images`` CIFAR-10 test
images resized to ``--resolution`` px (random images when the data is absent), once per batch
size and allocator mode, each in a fresh Python process: ``plain`` is glibc's malloc as it
comes, ``keep`` calls :func:`neuralab.system.keep_freed_memory` first, as ``neuralab run``
does on a CPU. One warm-up batch, then images/s over the rest, with the process's kernel CPU
time and minor page faults per image (``getrusage``). ``--write`` stores the table in
results/benchmarks/extraction_batch.json with the hardware, versions, date and this command.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from neuralab.io import write_json
from neuralab.system import measured_here

OUT = Path("results/benchmarks/extraction_batch.json")

EXTRACT = r"""
import json, resource, sys, time
import numpy as np, torch
from neuralab.system import keep_freed_memory
batch, mode, n_images, resolution = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                     int(sys.argv[4]))
kept = keep_freed_memory() if mode == "keep" else False
from neuralab.experiments.transfer import LITE0_TAIL
from neuralab.models.transfer import preprocessing, pretrained
model = pretrained("efficientnet_lite0", 10, trainable=LITE0_TAIL).eval()
model = model.to(memory_format=torch.channels_last)
cut = model.first_trainable_stage()
prep = preprocessing("efficientnet_lite0", resolution)
from neuralab.data import load
from neuralab.errors import NeuralabError
try:
    images = load("cifar10").splits["test"].images[:n_images + batch]
    source = "cifar10 test"
except NeuralabError:  # no data here: random images of the same size
    images = np.random.default_rng(0).integers(0, 256, (n_images + batch, 32, 32, 3), np.uint8)
    source = "random uint8"

def run(chunk):
    x = prep(torch.as_tensor(chunk)).contiguous(memory_format=torch.channels_last)
    return model.run_stages(x, 0, cut)

with torch.inference_mode():
    run(images[:batch])  # warm-up
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for start in range(batch, batch + n_images, batch):
        run(images[start:start + batch])
    seconds, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
done = len(range(batch, batch + n_images, batch)) * batch
print(json.dumps({"batch": batch, "mode": mode, "kept": kept, "images": done,
                  "stage": model.STAGES[cut - 1], "data": source,
                  "images_per_s": round(done / seconds, 1),
                  "kernel_cpu_ms_per_image": round((r1.ru_stime - r0.ru_stime) / done * 1e3, 2),
                  "page_faults_per_image": (r1.ru_minflt - r0.ru_minflt) // done,
                  "peak_rss_gb": round(r1.ru_maxrss / 1e6, 2)}))
"""


def measure(batch: int, mode: str, images: int, resolution: int) -> dict:
    out = subprocess.run([sys.executable, "-c", EXTRACT, str(batch), mode, str(images),
                          str(resolution)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="4,16,64,128")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        images = max(args.images // batch, 1) * batch
        for mode in ("plain", "keep"):
            row = measure(batch, mode, images, args.resolution)
            rows.append({"resolution": args.resolution, **row})
            print(" ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
    if args.write:
        write_json(OUT, {"benchmark": "extraction_batch", "rows": rows,
                         **measured_here("benchmarks/extraction_batch.py", argv)})
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
