"""Learning curves: the restored-best weights marked, a single evaluation written as a number."""

from neuralab.viz.curves import best_step, plot_curves

HISTORY = [{"step": s, "train_loss": 2 - s / 100, "val_loss": v, "val_accuracy": a}
           for s, v, a in ((100, 1.5, 0.4), (200, 0.9, 0.6), (300, 0.9, 0.62), (400, 1.2, 0.55))]


def test_best_step_is_the_first_lowest_validation_loss():
    assert best_step(HISTORY) == 200
    assert best_step(HISTORY, monitor="val_accuracy", mode="max") == 300
    assert best_step([{"step": 1}]) is None


def test_restored_weights_are_a_vertical_line_with_each_split_marked_there():
    fig = plot_curves(HISTORY, restored=200)
    loss_ax, acc_ax = fig.axes
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    marker = lines["restored best weights (step 200)"]
    assert list(marker.get_xdata()) == [200, 200]  # axvline
    rings = [line for line in loss_ax.get_lines() if list(line.get_xdata()) == [200]]
    assert sorted(float(line.get_ydata()[0]) for line in rings) == [0.0, 0.9]  # train, val
    assert "restored best weights (step 200)" in [t.get_text()
                                                  for t in acc_ax.get_legend().get_texts()]


def test_a_single_evaluation_is_a_number_not_a_lone_dot():
    history = [{"step": 10, "train_loss": 1.0}, {"step": 20, "train_loss": 0.8,
                                                 "test_loss": 0.7321, "test_accuracy": 0.61}]
    fig = plot_curves(history)
    loss_ax, acc_ax = fig.axes
    assert all(len(line.get_xdata()) > 1 for ax in fig.axes for line in ax.get_lines())
    assert "test: 0.7321 at step 20" in [t.get_text() for t in loss_ax.texts]
    assert "test: 0.61 at step 20" in [t.get_text() for t in acc_ax.texts]
    assert acc_ax.get_legend() is None  # nothing drawn, nothing to name
