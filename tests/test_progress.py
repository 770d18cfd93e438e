import io

from neuralab.progress import LineProgress


def test_line_progress_prints_plain_lines_at_most_every_interval(monkeypatch):
    clock = iter([0.0, 0.0, 1.0, 5.0, 11.0, 12.0, 25.0, 26.0])
    monkeypatch.setattr("neuralab.progress.time.monotonic", lambda: next(clock))
    out = io.StringIO()
    bar = LineProgress(total=6, desc="train", unit="step", every_s=10, stream=out)
    for _ in range(5):
        bar.update(1)
    bar.set_postfix(loss=0.51234)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # one after 11 s, one at close; nothing redraws
    assert lines[0].startswith("train: 4/6 (67%) 11s elapsed, ETA 6s")
    assert lines[1].startswith("train: 5/6 (83%)") and lines[1].endswith("loss=0.5123")
    assert "\r" not in out.getvalue()


def test_disabled_progress_is_silent():
    out = io.StringIO()
    bar = LineProgress(range(3), stream=out, every_s=0, enabled=False)
    assert list(bar) == [0, 1, 2]
    assert out.getvalue() == ""


def test_a_resumed_loop_counts_rate_and_eta_from_where_it_started(monkeypatch):
    import io

    from neuralab import progress as progress_module

    clock = iter([0.0, 10.0])
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    bar = progress_module.LineProgress(total=100, desc="train", unit="step", every_s=5,
                                       stream=out, initial=60)
    bar.update(20)  # 20 steps in 10 s: 2 step/s, 20 to go
    assert out.getvalue().strip() == "train: 80/100 (80%) 10s elapsed, ETA 10s, 2.0 step/s"


def test_epoch_based_training_shows_one_progress_line_per_epoch(monkeypatch):
    import numpy as np
    import torch

    from neuralab.train import TensorLoader, Trainer, TrainSettings

    out = io.StringIO()
    made = []

    def lines_every_step(**kw):
        bar = LineProgress(stream=out, every_s=0, **kw)
        made.append(bar)
        return bar

    monkeypatch.setattr("neuralab.train.trainer.progress", lines_every_step)
    x = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = torch.nn.Linear(2, 2)
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1),
                      TensorLoader(x, y, 10, shuffle=True), settings=TrainSettings(max_epochs=3),
                      log=lambda msg: None)
    trainer.fit()
    lines = out.getvalue().splitlines()
    assert [line.split(" ")[0:2] for line in lines if line.endswith("step/s") or "ETA" in line
            ][:1] == [["epoch", "1/3:"]]
    assert any(line.startswith("epoch 3/3: 4/4 (100%)") for line in lines)
