"""Where a convnet's training step loses its distance to the GEMM peak: each 3x3 convolution of
``cnn_b`` timed forward, input gradient and weight gradient apart, per precision.

    python benchmarks/conv_backward.py [--batch 128] [--repeats 20] [--write]

A convolution ``[N, C, H, W] -> [N, K, H/s, W/s]`` with a 3x3 kernel does the same
``2 N K C 9 (H/s)(W/s)`` FLOPs in its forward pass, in its input gradient (a transposed
convolution of the output gradient) and in its weight gradient (the output gradient
correlated with the input over N and the positions). So on a machine whose kernels ran all
three at the GEMM peak the three times would be equal; ``w_over_fwd`` says how many times
longer the weight gradient takes. Each shape runs in channels-last (as the Trainer trains) and
contiguous layout, in float32 and, where the CPU has bfloat16 instructions, in bfloat16,
through ``torch.ops.aten.convolution_backward`` with an output-gradient mask, best of three
rounds of ``--repeats`` calls after three warm-up calls. ``--write`` stores the table in
results/benchmarks/conv_backward.json with the hardware, versions, date and this command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from neuralab.io import write_json
from neuralab.system import best_ms, keep_freed_memory, measured_here
from neuralab.train.trainer import cpu_has_bf16

OUT = Path("results/benchmarks/conv_backward.json")

#: cnn_b's 3x3 convolutions: (in channels, out channels, input size, stride)
CNN_B_CONVS = [(32, 64, 32, 2), (64, 64, 16, 1), (64, 128, 16, 2), (128, 128, 8, 1),
               (128, 256, 8, 2), (256, 256, 4, 1)]


def time_conv(c_in: int, c_out: int, size: int, stride: int, dtype: torch.dtype,
              channels_last: bool, batch: int, repeats: int) -> dict:
    """Forward, input-gradient and weight-gradient ms of one 3x3, padding-1 convolution."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, c_in, size, size, generator=g).to(dtype)
    w = torch.randn(c_out, c_in, 3, 3, generator=g).to(dtype)
    if channels_last:
        x, w = (t.contiguous(memory_format=torch.channels_last) for t in (x, w))
    grad_out = torch.randn_like(F.conv2d(x, w, stride=stride, padding=1))

    def backward(mask):
        return torch.ops.aten.convolution_backward(
            grad_out, x, w, None, [stride, stride], [1, 1], [1, 1], False, [0, 0], 1, mask)

    fwd = best_ms(lambda: F.conv2d(x, w, stride=stride, padding=1), repeats)
    grad_in = best_ms(lambda: backward((True, False, False)), repeats)
    grad_w = best_ms(lambda: backward((False, True, False)), repeats)
    out_size = grad_out.shape[-1]
    flops = 2 * batch * c_out * c_in * 9 * out_size * out_size
    return {"conv": f"{c_in}->{c_out} at {size}x{size}, stride {stride}",
            "dtype": str(dtype).removeprefix("torch."), "channels_last": channels_last,
            "flops": flops, "fwd_ms": round(fwd, 3),
            "grad_input_ms": round(grad_in, 3), "grad_weight_ms": round(grad_w, 3),
            "w_over_fwd": round(grad_w / fwd, 2),
            "gflops": {"fwd": round(flops / fwd / 1e6, 1),
                       "grad_input": round(flops / grad_in / 1e6, 1),
                       "grad_weight": round(flops / grad_w / 1e6, 1)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    keep_freed_memory()
    dtypes = [torch.float32] + ([torch.bfloat16] if cpu_has_bf16() else [])
    rows = []
    for c_in, c_out, size, stride in CNN_B_CONVS:
        for dtype in dtypes:
            for channels_last in (True, False):
                row = time_conv(c_in, c_out, size, stride, dtype, channels_last, args.batch,
                                args.repeats)
                rows.append(row)
                print(f"{row['conv']:28s} {row['dtype']:8s} cl={int(channels_last)} "
                      f"fwd {row['fwd_ms']:7.2f}  grad_in {row['grad_input_ms']:7.2f}  "
                      f"grad_w {row['grad_weight_ms']:7.2f} ms  ({row['w_over_fwd']}x)",
                      flush=True)
    if args.write:
        write_json(OUT, {"benchmark": "conv_backward", "model": "cnn_b", "batch": args.batch,
                         "threads": torch.get_num_threads(), "rows": rows,
                         **measured_here("benchmarks/conv_backward.py", argv)})
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
