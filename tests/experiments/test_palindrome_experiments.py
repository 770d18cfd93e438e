"""Palindrome experiments: registration and handout defaults, the T=5 sanity check, the
resumable sweep, and the dL/dh_t profile."""

import json
import os
import time

import numpy as np
import pytest
import torch

from neuralab.experiments import get_experiment
from neuralab.experiments import palindrome as pal
from neuralab.experiments.runner import find_unfinished, run_experiment
from neuralab.io import read_csv
from neuralab.viz.rnn import plot_accuracy_vs_length, plot_gradient_norms, summarize_by_length


def test_registered_with_targets_and_handout_defaults():
    for name in ("palindrome-rnn", "palindrome-lstm", "palindrome-sweep",
                 "palindrome-sweep-uniform"):
        exp = get_experiment(name)
        assert exp.topic == "rnn" and "UvA DL assignment 2" in exp.handout
        assert exp.target.threshold == 0.99 and exp.target.higher_is_better
        cfg = exp.make_config()
        # the boilerplate train.py: RMSprop 1e-3, batch 128, 128 hidden, clip 10, 10k steps,
        # scalar digit inputs
        assert (cfg.learning_rate, cfg.batch_size, cfg.num_hidden, cfg.max_norm,
                cfg.train_steps, cfg.input_dim) == (1e-3, 128, 128, 10.0, 10_000, 1)
    assert get_experiment("palindrome-rnn").target.metric == "accuracy"
    assert get_experiment("palindrome-rnn").make_config().seq_length == 5
    assert "demo" in get_experiment("palindrome-rnn").tags
    sweep = get_experiment("palindrome-sweep").make_config({"seq_lengths": "5,10"})
    assert sweep.seq_lengths == (5, 10) and sweep.models == ("rnn", "lstm")
    assert get_experiment("palindrome-sweep").make_config().seq_lengths == (
        5, 10, 15, 20, 25, 30, 40)
    # the variant differs from the sweep in its initialisation only
    uniform = get_experiment("palindrome-sweep-uniform").make_config()
    default = get_experiment("palindrome-sweep").make_config()
    assert (default.init, uniform.init) == ("kaiming_normal", "uniform")
    assert {**vars(uniform), "init": "kaiming_normal"} == vars(default)


def test_models_get_t_minus_1_inputs_and_same_data_for_both():
    cfg = pal.PalindromeConfig(seq_length=7)
    a, b = pal._dataset(7, 0, 0, cfg), pal._dataset(7, 0, 0, cfg)
    xa, ya = a.batch(4)
    assert xa.shape == (4, 6, 1) and torch.equal(xa, b.batch(4)[0])
    assert torch.equal(ya, xa[:, 0, 0].long())  # the target is the first digit
    test = pal._dataset(7, 0, 2, cfg).batch(4)[0]
    assert not torch.equal(xa, test)  # the test stream is independent
    assert pal.make_model("lstm", 7, 0, cfg).input_dim == 1
    one_hot = pal.PalindromeConfig(seq_length=7, input_dim=10)
    assert pal._dataset(7, 0, 0, one_hot).batch(2)[0].shape == (2, 6, 10)


def test_rnn_learns_length_5_within_budget(one_thread):
    """The handout's sanity check with the default settings (measured: plateau after ~1,000
    steps, 5-9 s on the shared 2-core machine); the early-exit rule records the step."""
    start = time.perf_counter()
    cell = pal.train_model("rnn", 5, 0, pal.PalindromeConfig(train_steps=3000))
    row = cell.row
    assert row["accuracy"] >= 0.99, row
    assert row["stopped_early"] and row["steps"] < 3000 and row["plateau_step"] <= row["steps"]
    assert time.perf_counter() - start < 30
    assert all(r["val_accuracy"] >= 0.995 for r in cell.history[-3:])
    assert len(cell.history) == row["steps"] // 100


def test_hidden_gradient_norms_one_per_step_and_finite():
    cfg = pal.PalindromeConfig(seq_length=12)
    for name in ("rnn", "lstm"):
        model = pal.make_model(name, 12, 0, cfg)
        x, y = pal._dataset(12, 0, 3, cfg).batch(64)
        norms = pal.hidden_gradient_norms(model, x, y)
        assert norms.shape == (11,) and np.all(np.isfinite(norms)) and np.all(norms > 0)
        assert all(p.grad is None for p in model.parameters())
        if name == "rnn":  # at initialisation the gradient shrinks going back in time
            assert norms[0] < norms[-1]
    profile = pal._gradient_profile({"rnn": pal.make_model("rnn", 12, 0, cfg)}, 12, 0, cfg,
                                    "cpu")
    assert set(profile) == {"rnn trained", "rnn at init"}
    assert np.allclose(profile["rnn trained"], profile["rnn at init"])  # same untrained weights
    fig = plot_gradient_norms(profile)
    assert fig.axes[0].get_yscale() == "log" and len(fig.axes[0].lines) == 2


def _tiny_cell(calls):
    def train_cell(model_name, seq_length, seed, cfg, device, log=None, **kw):
        calls.append((model_name, seq_length, seed))
        model = pal.make_model(model_name, seq_length, seed, cfg, device)
        acc = 1.0 if seq_length <= 5 else 0.5 + 0.1 * (model_name == "lstm") + 0.01 * seed
        row = {"model": model_name, "seq_length": seq_length, "seed": seed, "accuracy": acc,
               "test_loss": 0.1, "steps": 10 * seq_length, "stopped_early": seq_length <= 5,
               "plateau_step": None, "diverged": False, "wall_time_s": 0.01}
        return pal.CellRun(row=row, history=[{"step": 1, "val_accuracy": acc}], model=model)
    return train_cell


class _Stop(Exception):
    pass


def test_sweep_saves_cells_and_resume_skips_them(tmp_path, monkeypatch):
    exp = get_experiment("palindrome-sweep")
    cfg = exp.make_config({"seq_lengths": "5,8", "seeds": "2", "grad_seq_length": "5",
                           "num_hidden": "8", "workers": "1"})  # the tiny hook: in-process
    calls: list = []
    tiny = _tiny_cell(calls)

    def dies_after_three(*args, **kwargs):
        if len(calls) == 3:
            raise _Stop  # the session ends mid-sweep
        return tiny(*args, **kwargs)

    monkeypatch.setattr(pal, "train_cell", dies_after_three)
    with pytest.raises(_Stop):
        run_experiment(exp, cfg, seed=4, device="cpu", out_root=tmp_path,
                       command="neuralab run palindrome-sweep --seed 4")
    run_dir = find_unfinished(tmp_path, "palindrome-sweep")
    saved = sorted(p.name for p in (run_dir / "cells").glob("*.json"))
    # seed by seed, the longest length first within a seed
    assert calls == [("rnn", 8, 4), ("lstm", 8, 4), ("rnn", 5, 4)]
    assert saved == ["lstm-T8-seed4.json", "rnn-T5-seed4.json", "rnn-T8-seed4.json"]
    # the first seed's models at grad_seq_length are kept for the dL/dh_t figure
    assert sorted(p.name for p in (run_dir / "cells").glob("*.safetensors")) == [
        "rnn-T5-seed4.safetensors"]
    assert len(read_csv(run_dir / "cells.csv")) == 3

    calls.clear()
    monkeypatch.setattr(pal, "train_cell", tiny)
    _, doc = run_experiment(exp, cfg, seed=0, device="cpu", out_root=tmp_path,
                            resume_dir=run_dir, command="neuralab run palindrome-sweep --resume")
    # the run keeps the command that started it and lists how it was resumed
    assert doc["command"] == "neuralab run palindrome-sweep --seed 4"
    assert doc["resumed_with"] == ["neuralab run palindrome-sweep --resume"]
    saved_config = json.loads((run_dir / "config.json").read_text())
    assert saved_config["command"] == doc["command"]
    assert saved_config["resumed_with"] == doc["resumed_with"]
    # the saved config and seed are used; only the five unfinished cells are trained
    assert calls == [("lstm", 5, 4), ("rnn", 8, 5), ("lstm", 8, 5), ("rnn", 5, 5),
                     ("lstm", 5, 5)]
    cells = read_csv(run_dir / "tables" / "cells.csv")
    assert len(cells) == 8 and {c["seed"] for c in cells} == {"4", "5"}
    assert doc["metrics"]["cells"] == 8 and doc["value"] == 1.0 and doc["met"] is True
    assert doc["metrics"]["rnn_longest_solved_length"] == 5
    assert doc["metrics"]["lstm_T8_mean_accuracy"] == pytest.approx(0.645)
    assert "LSTM beats the RNN by > 0.01 mean accuracy at T=8;" in doc["notes"]
    assert "the RNN beats the LSTM at T=none" in doc["notes"]
    grads = read_csv(run_dir / "tables" / "grad_norms.csv")
    assert len(grads) == 4 and {"rnn_trained", "lstm_at_init"} <= grads[0].keys()
    for plot in ("accuracy_vs_length", "grad_norms"):
        assert (run_dir / "plots" / f"{plot}.png").stat().st_size > 1000
    assert json.loads((run_dir / "metrics.json").read_text())["value"] == 1.0


def test_summary_and_accuracy_plot():
    rows = [{"model": m, "seq_length": t, "seed": s, "accuracy": a, "steps": 100}
            for m, t, s, a in [("rnn", 5, 0, 1.0), ("rnn", 5, 1, 0.98), ("rnn", 10, 0, 0.3),
                               ("lstm", 5, 0, 1.0), ("lstm", 10, 0, 0.9)]]
    summary = summarize_by_length(rows)
    assert summary["rnn"][5] == {"mean": 0.99, "std": pytest.approx(0.01), "min": 0.98,
                                 "max": 1.0, "n": 2}
    assert summary["lstm"][10]["n"] == 1
    fig = plot_accuracy_vs_length(rows, title="x")
    assert len(fig.axes) == 2 and fig.axes[0].get_ylim()[1] > 1.0


def test_a_sigkilled_palindrome_run_resumes_exactly(tmp_path):
    """Palindromes train through the Trainer: a run killed after its first checkpoint and
    resumed ends with the same steps, history and test figures as an unbroken run."""
    import os
    import signal
    import subprocess
    import sys

    settings = ["--set", "train_steps=1000", "--set", "eval_every=20", "--set",
                "plateau_evals=1000", "--set", "num_hidden=16", "--set", "seq_length=4"]
    exp = get_experiment("palindrome-rnn")
    cfg = exp.make_config(dict(item.split("=") for item in settings[1::2]))
    _, ref = run_experiment(exp, cfg, seed=3, device="cpu", out_root=tmp_path / "ref",
                            command="reference")
    out = tmp_path / "killed"
    env = {**os.environ, "NEURALAB_PROGRESS": "off"}
    proc = subprocess.Popen([sys.executable, "-m", "neuralab", "run", "palindrome-rnn",
                             *settings, "--seed", "3", "--device", "cpu", "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(out.glob("palindrome-rnn/*/checkpoint/state.pt")):
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_dir = find_unfinished(out, "palindrome-rnn")
    assert not (run_dir / "metrics.json").exists()
    _, got = run_experiment(exp, cfg, seed=3, device="cpu", out_root=out, resume_dir=run_dir,
                            command="resume")
    for key in ("accuracy", "test_loss", "steps", "plateau_step"):
        assert got["metrics"][key] == ref["metrics"][key], key
    assert got["metrics"]["steps"] == 1000
    strip = [{k: v for k, v in r.items() if k != "time_s"}
             for r in read_csv(run_dir / "history.csv")]
    ref_dir = next((tmp_path / "ref" / "palindrome-rnn").iterdir())
    assert strip == [{k: v for k, v in r.items() if k != "time_s"}
                     for r in read_csv(ref_dir / "history.csv")]


def test_an_absurd_learning_rate_is_divergence_in_a_single_run_and_a_result_in_a_sweep():
    from neuralab.train import NonFiniteLoss

    cfg = pal.PalindromeConfig(learning_rate=1e6, num_hidden=8, train_steps=300)
    with pytest.raises(NonFiniteLoss, match="training diverged at step"):
        pal.train_model("rnn", 5, 0, cfg, show_progress=False)
    cell = pal.train_cell("rnn", 5, 0, cfg, "cpu")
    assert cell.row["diverged"] and cell.row["steps"] < 300


def test_sweep_cells_trained_in_worker_processes_are_the_cells_trained_in_one(tmp_path):
    """workers=2 trains two cells at a time, each in a process of its own: every cell is its
    own seeded single-threaded training, so the table is the same as with workers=1."""
    exp = get_experiment("palindrome-sweep")
    settings = {"seq_lengths": "4,5", "seeds": "1", "grad_seq_length": "5", "num_hidden": "8",
                "train_steps": "30", "eval_every": "10", "val_size": "64", "batch_size": "32",
                "test_batches": "2", "grad_batch": "32"}
    tables = {}
    for workers in ("1", "2"):
        run_dir, doc = run_experiment(exp, exp.make_config({**settings, "workers": workers}),
                                      seed=0, device="cpu", out_root=tmp_path / workers,
                                      command="neuralab run palindrome-sweep")
        rows = read_csv(run_dir / "tables" / "cells.csv")
        tables[workers] = [{k: v for k, v in r.items() if k != "wall_time_s"} for r in rows]
        assert doc["metrics"]["cells"] == 4 and doc["metrics"]["workers"] == min(
            int(workers), os.cpu_count() or 1)
        assert len(list((run_dir / "cells").glob("*.json"))) == 4
        assert not list((run_dir / "cells").glob("*.checkpoint"))
    assert tables["1"] == tables["2"]


def test_the_palindrome_runs_train_in_the_precision_asked_for(tmp_path, capsys):
    """palindrome-rnn takes ``precision`` like every Trainer experiment and records what its
    steps ran in; bf16 on a CPU without it is one line, exit 2."""
    from neuralab.cli import main
    from neuralab.train.trainer import cpu_has_bf16

    exp = get_experiment("palindrome-rnn")
    cfg = exp.make_config({"precision": "bf16" if cpu_has_bf16() else "fp32",
                           "train_steps": "20", "eval_every": "10", "test_batches": "1"})
    _, doc = run_experiment(exp, cfg, seed=0, device="cpu", out_root=tmp_path)
    assert doc["metrics"]["precision"] == ("bf16" if cpu_has_bf16() else "fp32")
    if not cpu_has_bf16():
        assert main(["run", "palindrome-rnn", "--set", "precision=bf16", "--set",
                     "train_steps=20", "--out", str(tmp_path)]) == 2
        assert "needs a CPU with bfloat16" in capsys.readouterr().err
