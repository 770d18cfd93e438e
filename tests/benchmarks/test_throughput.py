"""benchmarks/throughput.py: FLOPs counted, GEMM peak, precisions, and the JSON's columns."""

import json

import pytest
import torch


@pytest.fixture(scope="module")
def tp(load_benchmark):
    return load_benchmark("throughput")


def test_flops_per_image_counts_forward_and_backward(tp):
    # SimpleCNN forward: three 5x5 convs and two linears, 2 FLOPs per multiply-add
    fwd = 2 * (32 * 32 * 32 * 3 * 25 + 16 * 16 * 64 * 32 * 25 + 8 * 8 * 128 * 64 * 25
               + 2048 * 64 + 64 * 10)
    flops = tp.flops_per_image("simple_cnn", torch.device("cpu"), batch=2)
    # backward: weight gradients of every layer, input gradients of all but the first conv
    first_conv = 2 * 32 * 32 * 32 * 3 * 25
    assert flops == 3 * fwd - first_conv


def test_gemm_gflops_positive(tp):
    assert tp.gemm_gflops(torch.device("cpu"), "fp32", n=64, seconds=0.0, min_reps=2) > 0


def test_precisions(tp):
    cpu = torch.device("cpu")
    assert tp.parse_precisions("fp32", cpu) == ["fp32"]
    assert tp.default_precisions(cpu)[0] == "fp32"
    with pytest.raises(SystemExit):
        tp.parse_precisions("fp32,int8", cpu)
    with pytest.raises(SystemExit):
        tp.parse_precisions("fp16", cpu)


def test_main_writes_the_table(tp, tmp_path):
    out = tmp_path / "t.json"
    tp.main(["--device", "cpu", "--models", "simple_cnn", "--precisions", "fp32",
             "--seconds", "0.05", "--rounds", "2", "--batch", "8", "--gemm-size", "64",
             "--gemm-seconds", "0", "--overhead-rounds", "1", "--overhead-steps", "2",
             "--write", "--out", str(out)])
    doc = json.loads(out.read_text())
    row, = doc["models"]
    for key in ("model", "precision", "images_per_s", "flops_per_image", "achieved_gflops",
                "peak_gflops", "fraction_of_peak", "channels_last"):
        assert key in row
    assert row["precision"] == "fp32" and row["channels_last"] is True
    assert len(row["rounds_images_per_s"]) == 2
    assert row["achieved_gflops"] == pytest.approx(
        row["images_per_s"] * row["flops_per_image"] / 1e9, rel=1e-2)
    assert doc["gemm_peak"][0]["precision"] == "fp32" and doc["threads"] >= 1
    assert doc["trainer_overhead"]["ratio"] > 0
    for key in ("hardware", "versions", "date", "command"):
        assert doc[key]
    assert doc["goal_60pct_of_peak"]["simple_cnn"]["faster_precision"] == "fp32"
