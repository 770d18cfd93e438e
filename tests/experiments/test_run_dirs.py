"""Run folders with real processes: two runs started in the same second never share a folder,
and a run folder in use by one process cannot be resumed by another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from neuralab.cli import main
from neuralab.errors import NeuralabError
from neuralab.experiments.runner import LOCK_FILE, RunLock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _spawn(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


MAKE_DIRS = """
    import sys, time
    from pathlib import Path
    from neuralab.experiments.runner import new_run_dir
    out, me = Path(sys.argv[1]), sys.argv[2]
    (out / f"ready-{me}").touch()
    while not (out / "go").exists():
        time.sleep(0.0005)
    for _ in range(3):
        print(new_run_dir(out, "race"))
"""


def test_processes_starting_runs_in_the_same_second_get_different_folders(tmp_path):
    procs = [_spawn(MAKE_DIRS, str(tmp_path), str(i)) for i in range(2)]
    _wait_for(lambda: all((tmp_path / f"ready-{i}").exists() for i in range(2)),
              "both processes to start")
    _wait_for(lambda: time.time() % 1 < 0.2, "the start of a second")  # one stamp for all
    (tmp_path / "go").touch()
    made = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        made += out.split()
    assert len(made) == 6 and len(set(made)) == 6
    on_disk = sorted(str(d) for d in (tmp_path / "race").iterdir())
    assert on_disk == sorted(made)
    assert all(not any(Path(d).iterdir()) for d in made)  # created empty, nothing shared
    stamps = {Path(d).name.split("-")[0] + "-" + Path(d).name.split("-")[1] for d in made}
    assert len(stamps) <= 2 and any(Path(d).name.count("-") == 2 for d in made)


HOLD_A_RUN = """
    import sys, time
    from dataclasses import dataclass
    from pathlib import Path
    from neuralab.experiments.registry import Experiment, RunResult, Target, register
    from neuralab.experiments.runner import run_experiment

    @dataclass
    class Cfg:
        value: float = 0.5

    def run(cfg, ctx):
        print(ctx.out_dir, flush=True)
        release = Path(sys.argv[1]) / "release"
        while not release.exists():
            time.sleep(0.01)
        return RunResult(metrics={"score": cfg.value})

    exp = register(Experiment(name="held", topic="test", handout="none", config_cls=Cfg,
                              target=Target("score", 0.5, "made up"), run=run))
    run_experiment(exp, Cfg(), device="cpu", out_root=sys.argv[1], command="held")
"""


def test_a_run_in_use_cannot_be_locked_by_another_process(tmp_path):
    holder = _spawn(HOLD_A_RUN, str(tmp_path))
    try:
        run_dir = Path(holder.stdout.readline().strip())
        assert run_dir.parent == tmp_path / "held", holder.stderr.read()
        assert (run_dir / LOCK_FILE).read_text().strip() == str(holder.pid)
        with pytest.raises(NeuralabError) as err:
            RunLock(run_dir).acquire()
        assert str(err.value) == (f"run {run_dir} is in use by another process "
                                  f"(pid {holder.pid})")
        (tmp_path / "release").touch()
        holder.wait(timeout=120)
        assert holder.returncode == 0, holder.stderr.read()
    finally:
        holder.kill()
        holder.wait()
    assert json.loads((run_dir / "metrics.json").read_text())["value"] == 0.5
    with RunLock(run_dir):  # free again once the process has gone
        assert (run_dir / LOCK_FILE).read_text().strip() == str(os.getpid())


HOLD_A_LOCK = """
    import sys, time
    from pathlib import Path
    from neuralab.experiments.runner import RunLock
    lock = RunLock(Path(sys.argv[1])).acquire()
    print("locked", flush=True)
    time.sleep(600)  # until the test kills it
"""


def test_a_second_resume_of_a_run_in_use_is_one_line_naming_the_pid(tmp_path, capsys):
    from neuralab.experiments import get_experiment
    from neuralab.experiments.config import config_to_dict

    run_dir = tmp_path / "digits-mlp-torch" / "20260101-000000"
    (run_dir / "checkpoint").mkdir(parents=True)
    (run_dir / "checkpoint" / "model.safetensors").write_bytes(b"")
    config = config_to_dict(get_experiment("digits-mlp-torch").make_config())
    (run_dir / "config.json").write_text(json.dumps(
        {"experiment": "digits-mlp-torch", "config": config, "seed": 0}))
    saved = (run_dir / "config.json").read_bytes()
    holder = _spawn(HOLD_A_LOCK, str(run_dir))
    try:
        assert holder.stdout.readline().strip() == "locked"
        for resume in (["--resume"], ["--resume", str(run_dir)]):
            assert main(["run", "digits-mlp-torch", *resume, "--out", str(tmp_path),
                         "--device", "cpu"]) == 2
            err = capsys.readouterr().err
            assert err == (f"neuralab: error: run {run_dir} is in use by another process "
                           f"(pid {holder.pid})\n")
    finally:
        holder.kill()
        holder.wait()
    assert not (run_dir / "metrics.json").exists()
    assert (run_dir / "config.json").read_bytes() == saved  # untouched


def test_resume_removes_what_a_killed_write_left_behind(tmp_path):
    from neuralab.experiments.runner import remove_leftovers

    run = tmp_path / "run"
    (run / "plots").mkdir(parents=True)
    (run / "checkpoint.tmp").mkdir()
    (run / "checkpoint.tmp" / "state.pt").write_bytes(b"half")
    (run / "plots" / ".curves.png.k3j2.tmp").write_bytes(b"half a png")
    (run / "plots" / "curves.png").write_bytes(b"a png")
    (run / "config.json").write_text("{}")
    removed = remove_leftovers(run)
    assert sorted(p.name for p in removed) == [".curves.png.k3j2.tmp", "checkpoint.tmp"]
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*")) == [
        "config.json", "plots", "plots/curves.png"]
