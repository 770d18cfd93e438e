"""benchmarks/recurrent_step.py: the batched models it times compute what the seeds' own models
compute (logits, and one clipped RMSprop step), and the written table holds every variant."""

import json

import pytest
import torch
import torch.nn.functional as F
from torch.func import stack_module_state


@pytest.fixture(scope="module")
def rs(load_benchmark):
    return load_benchmark("recurrent_step")


def _members(rs, name, seq_length, seeds):
    out = []
    for s in range(seeds):
        torch.manual_seed(s)
        out.append(rs.MODELS[name](seq_length - 1, 1, rs.HIDDEN, rs.CLASSES))
    return out


@pytest.mark.parametrize("name", ["rnn", "lstm"])
def test_stacked_logits_are_each_seeds_own_models_logits(rs, name):
    members = _members(rs, name, 7, 3)
    params, _ = stack_module_state(members)
    x = torch.stack([rs._batch(7, s)[0] for s in range(3)])
    got = rs.stacked_logits(name, params, x)
    want = torch.stack([m(x[s]) for s, m in enumerate(members)])
    assert got.shape == (3, rs.BATCH, rs.CLASSES)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["rnn", "lstm"])
@pytest.mark.parametrize("how", ["vmap", "bmm"])
def test_batched_step_is_each_seed_clipped_and_stepped_alone(rs, how, name, monkeypatch):
    monkeypatch.setattr(rs, "MAX_NORM", 0.05)  # small enough that every seed is clipped
    seeds, seq_length = 2, 6
    step, stacked = rs.batched_step(name, seq_length, seeds, how)
    step()
    for s, model in enumerate(_members(rs, name, seq_length, seeds)):  # as the sweep trains
        opt = torch.optim.RMSprop(model.parameters(), lr=rs.LR)
        x, y = rs._batch(seq_length, s)
        F.cross_entropy(model(x), y).backward()
        assert torch.nn.utils.clip_grad_norm_(model.parameters(), 0.05) > 0.05
        opt.step()
        for key, weight in model.named_parameters():  # the clipped gradient, then the update
            torch.testing.assert_close(stacked[key].grad[s], weight.grad, rtol=1e-4, atol=1e-7)
            torch.testing.assert_close(stacked[key][s], weight, rtol=1e-5, atol=1e-6)


def test_write_has_every_variant_per_model_and_length(rs, tmp_path, monkeypatch):
    monkeypatch.setattr(rs, "OUT", tmp_path / "recurrent_step.json")
    monkeypatch.setattr(rs, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr(rs, "BATCH", 8)
    monkeypatch.setattr(rs, "HIDDEN", 8)
    threads = torch.get_num_threads()
    assert rs.main(["--lengths", "4,6", "--seeds", "2", "--repeats", "1", "--write"]) == 0
    assert torch.get_num_threads() == threads  # restored
    doc = json.loads((tmp_path / "recurrent_step.json").read_text())
    assert [(r["model"], r["seq_length"]) for r in doc["rows"]] == [
        ("rnn", 4), ("lstm", 4), ("rnn", 6), ("lstm", 6)]
    for row in doc["rows"]:
        for variant in ("fp32_ms", "bf16_ms", "vmap_ms_per_seed", "bmm_ms_per_seed"):
            assert row[variant] > 0
        assert row["bmm_speedup"] == pytest.approx(row["fp32_ms"] / row["bmm_ms_per_seed"],
                                                   rel=0.05)
    assert doc["seeds_batched"] == 2 and doc["threads"] == 1
    assert doc["command"] == ("python benchmarks/recurrent_step.py --lengths 4,6 --seeds 2 "
                              "--repeats 1 --write")
