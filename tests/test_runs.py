"""Run management as plain functions: real trainer processes on the tiny checkpoint, watched through the run dir."""
import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from studio import runs
from studio.formats import export_file
from studio.store import ExampleFilter, Store
from test_train import preference_examples
from trainer.config import ConfigError, TrainConfig
from trainer.rundir import BEST, DATA, LAST, LOG, METRICS, RunDir

# A tiny run: batches of 4, an eval every 4 steps, short samples of the held-out prompts only.
TINY = {"max_steps": 2000, "batch_size": 4, "eval_interval": 4, "save_interval": 4, "lr": 1e-2, "warmup_steps": 2,
        "eval_prompts": "", "n_sample_prompts": 2, "sample_max_new_tokens": 8, "device": "cpu"}
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # trainer processes inherit it: the tiny model gains nothing from more


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(preference_examples(24)))
    return path


def wait_for(condition, timeout=90.0, every=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s")


def state(rd):
    return runs.observe(rd.path).state


def train_steps(rd) -> list[int]:
    return [row["step"] for row in rd.read_metrics() if "loss" in row]


def killed_group(rd):
    os.killpg(runs.live_pid(rd), signal.SIGKILL)


def test_the_studio_trains_only_through_a_run_dir_and_a_process():
    """No studio module imports the training loop, even inside a function."""
    for path in (REPO / "studio").rglob("*.py"):
        nodes = [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {f"{getattr(n, 'module', None) or ''}.{alias.name}".lstrip(".") for n in nodes for alias in n.names}
        assert not [n for n in names if n == "trainer.train" or n.startswith("trainer.train.")], path


# ------------------------------------------------------------------------------------------------- preparing

def test_a_run_snapshots_the_filtered_store_with_its_settings(tmp_path, tiny_checkpoint):
    store = Store(tmp_path / "studio.db")
    for i, example in enumerate(preference_examples(10)):
        store.add_example(example, annotator="ann" if i % 2 else "bob")
    rd = runs.create_run(tmp_path / "runs", {"beta": 0.3, "max_steps": 7}, tiny_checkpoint, store=store,
                         filters=ExampleFilter(annotator="ann"), data_label="store: annotator ann",
                         base_label="default model")
    expected = tmp_path / "expected.json"
    assert export_file(store, expected, "seed-json", ExampleFilter(annotator="ann")) == 5
    assert (rd / DATA).read_bytes() == expected.read_bytes()
    config = rd.read_config()
    assert config["beta"] == 0.3 and config["max_steps"] == 7 and config["loss_type"] == "sigmoid"
    assert config["model"] == str(Path(tiny_checkpoint).resolve())
    [view] = runs.list_runs(tmp_path / "runs")
    assert (view.id, view.state, view.active, view.examples) == (rd.path.name, "queued", False, 5)
    assert (view.data, view.base, view.total_steps, view.took_s) == ("store: annotator ann", "default model", 7, None)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [rd.path.name]  # no snapshot left behind


def test_bad_requests_are_refused_before_anything_is_written(tmp_path, tiny_checkpoint, data_file):
    store = Store(tmp_path / "studio.db")
    with pytest.raises(runs.RunError, match="beta must be above 0.*batch_size must be at least 1"):
        runs.create_run(tmp_path / "runs", {"beta": 0, "batch_size": 0}, tiny_checkpoint, data_file=data_file)
    with pytest.raises(runs.RunError, match="epochs must be above 0"):
        runs.create_run(tmp_path / "runs", {"epochs": 0}, tiny_checkpoint, data_file=data_file)
    with pytest.raises(runs.RunError, match="Base model: .*not a model directory"):
        runs.create_run(tmp_path / "runs", {}, tmp_path, data_file=data_file)
    with pytest.raises(runs.RunError, match="holds 0 examples"):
        runs.create_run(tmp_path / "runs", {}, tiny_checkpoint, store=store)
    with pytest.raises(runs.RunError, match="either"):
        runs.create_run(tmp_path / "runs", {}, tiny_checkpoint, store=store, data_file=data_file)
    assert runs.list_runs(tmp_path / "runs") == []


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, tiny_checkpoint, data_file, monkeypatch):
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "run-20260101-000000")
    made = [runs.create_run(tmp_path / "runs", {}, tiny_checkpoint, data_file=data_file) for _ in range(2)]
    assert [rd.path.name for rd in made] == ["run-20260101-000000", "run-20260101-000000-2"]


def test_the_presets_are_trainer_configs_and_the_quick_demo_is_brief():
    assert runs.DEFAULTS == asdict(TrainConfig())
    assert TrainConfig.from_dict(runs.QUICK_DEMO)
    pairs_seen = {name: p["max_steps"] * p["batch_size"] for name, p in (("quick", runs.QUICK_DEMO),
                                                                           ("default", runs.DEFAULTS))}
    assert pairs_seen["quick"] < pairs_seen["default"] / 2


def test_a_run_not_told_otherwise_gets_the_trainers_defaults_in_full(tmp_path, tiny_checkpoint, data_file):
    rd = runs.create_run(tmp_path / "runs", {}, tiny_checkpoint, data_file=data_file)
    config = rd.read_config()
    assert config["model"] == str(tiny_checkpoint) and config["data"] == DATA
    untouched = {k: v for k, v in runs.DEFAULTS.items() if k not in ("model", "data", "run_dir")}
    assert {k: config[k] for k in untouched} == untouched


@pytest.mark.parametrize("settings", [{"lr": "fast"}, {"eval_fraction": 1.0}, {"grad_clip": 0.0},
                                      {"batch_size": 6, "grad_accum": 4}, {"learning_rate": 1e-4}])
def test_the_studio_refuses_what_the_trainer_refuses_in_its_words(tmp_path, tiny_checkpoint, data_file, settings):
    with pytest.raises(ConfigError) as trainer_says:
        TrainConfig.from_dict(settings)
    with pytest.raises(runs.RunError, match=re.escape(str(trainer_says.value))):
        runs.create_run(tmp_path / "runs", settings, tiny_checkpoint, data_file=data_file)
    assert runs.list_runs(tmp_path / "runs") == []


def log_lines(rd, *timed):
    """Write log.txt as the trainer does: a timestamped line for each (seconds after noon, text)."""
    noon = time.mktime((2026, 1, 1, 12, 0, 0, 0, 0, -1))
    (rd / LOG).write_text("".join(time.strftime("%Y-%m-%d %H:%M:%S ", time.localtime(noon + t)) + f"{text}\n"
                                  for t, text in timed), encoding="utf-8")
    return noon


def test_the_time_left_is_the_logged_pace_of_the_current_process(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.path.mkdir()
    status = {"step": 8, "total_steps": 10}
    noon = log_lines(rd, (0, "train pairs: {}"), (30, "step 1/10 loss 1.0"), (60, "step 2/10 loss 1.0"),
                     (3600, "train pairs: {}"), (3610, "resumed from checkpoints/last at step 2"),  # slower, stopped
                     *((3640 + 2 * s, f"step {s}/10 loss 1.0") for s in (3, 4, 5, 6)),
                     (3662, "eval step 6: loss 0.5"),  # 20 s of eval between steps 6 and 7
                     *((3660 + 2 * s, f"step {s}/10 loss 1.0") for s in (7, 8)))
    last = noon + 3676
    assert runs.eta_seconds(rd.path, status, last) == 2 * (3676 - 3646) / 5  # 6 s a step over steps 3 to 8
    assert runs.eta_seconds(rd.path, status, last + 1) == 11.0  # the clock runs on between steps
    assert runs.eta_seconds(rd.path, status, last + 30) == 6.0  # a long eval: one step's worth off, never 0:00
    log_lines(rd, (0, "train pairs: {}"), (30, "step 1/10 loss 1.0"))
    assert runs.eta_seconds(rd.path, status, noon + 31) is None  # one step is no pace yet


# ------------------------------------------------------------------------------------------------- processes

def test_start_watch_stop_resume_and_a_killed_process_shows_crashed(tmp_path, tiny_checkpoint, data_file):
    rd = runs.create_run(tmp_path / "runs", TINY, tiny_checkpoint, data_file=data_file)
    runs.launch(rd.path)
    assert state(rd) in ("starting", "running")
    wait_for(lambda: len(train_steps(rd)) >= 3)
    view = wait_for(lambda: (v := runs.observe(rd.path)).eta_s is not None and v)
    assert view.state == "running" and view.active and 0 < view.step <= view.total_steps == 2000
    assert view.eta_s > 0 and view.took_s > 0 and view.best_eval_accuracy is not None  # the step-0 eval
    assert re.search(r"step \d+/2000 loss", runs.log_tail(rd.path))  # the log as the trainer writes it

    assert "Stopping" in runs.stop(rd.path)
    assert wait_for(lambda: state(rd) in ("stopped", "crashed", "failed") and state(rd)) == "stopped"
    stopped_at = rd.read_status()["step"]
    assert (rd / LAST).is_dir() and f"stopped at step {stopped_at}" in runs.log_tail(rd.path)
    assert [label for label, _ in runs.checkpoints(rd.path)] == [f"best (step {rd.read_status()['best_step']})",
                                                                 f"last (step {stopped_at})"]
    with pytest.raises(runs.RunError, match="is stopped: there is no process to stop"):
        runs.stop(rd.path)

    runs.resume(rd.path)
    with pytest.raises(runs.RunError, match="nothing to resume"):
        runs.resume(rd.path)
    wait_for(lambda: train_steps(rd)[-1] > stopped_at + 2)
    steps = train_steps(rd)  # read once: the run goes on meanwhile
    assert steps == list(range(1, steps[-1] + 1))  # picked up where it stopped
    assert "resumed from checkpoints/last" in runs.log_tail(rd.path)

    killed_group(rd)
    view = wait_for(lambda: (v := runs.observe(rd.path)).state == "crashed" and v)
    assert view.status["state"] == "running" and not view.active  # the trainer never got to say so
    assert view.took_s > 0 and len(runs.read_studio(rd)["launches"]) == 2


def test_a_restarted_studio_reattaches_to_a_running_run(tmp_path, tiny_checkpoint, data_file):
    launcher = (f"from studio import runs; rd = runs.create_run({str(tmp_path / 'runs')!r}, {TINY!r}, "
                f"{str(tiny_checkpoint)!r}, data_file={str(data_file)!r}); runs.launch(rd.path)")
    subprocess.run([sys.executable, "-c", launcher], cwd=REPO, check=True, timeout=60,
                   env={**os.environ, "PYTHONPATH": str(REPO)})  # that studio is gone; its run is not
    [view] = runs.list_runs(tmp_path / "runs")
    rd = RunDir(view.path)
    wait_for(lambda: len(train_steps(rd)) >= 2)
    view = runs.list_runs(tmp_path / "runs")[0]
    assert view.state == "running" and runs.live_pid(rd) == view.status["pid"]
    runs.stop(rd.path)  # this studio never launched it, and can still stop it
    assert wait_for(lambda: state(rd) in ("stopped", "crashed") and state(rd)) == "stopped"


def test_a_process_that_dies_before_reporting_is_crashed_unless_the_studio_stopped_it(tmp_path, tiny_checkpoint,
                                                                                      data_file):
    crashed = runs.create_run(tmp_path / "runs", TINY, tiny_checkpoint, data_file=data_file)
    runs.launch(crashed.path)
    assert state(crashed) == "starting"  # still importing torch: status.json says nothing yet
    killed_group(crashed)
    assert wait_for(lambda: state(crashed) != "starting" and state(crashed)) == "crashed"

    stopped = runs.create_run(tmp_path / "runs", TINY, tiny_checkpoint, data_file=data_file)
    runs.launch(stopped.path)
    runs.stop(stopped.path)
    assert wait_for(lambda: state(stopped) != "starting" and state(stopped)) == "stopped"


def test_a_run_the_trainer_refuses_shows_failed_with_the_reason(tmp_path, tiny_checkpoint, data_file):
    rd = runs.create_run(tmp_path / "runs", {**TINY, "max_steps": 4}, tiny_checkpoint, data_file=data_file)
    (rd / DATA).write_text("[]")  # no longer the snapshot config.json vouches for
    runs.launch(rd.path)
    view = wait_for(lambda: (v := runs.observe(rd.path)).state in ("failed", "crashed") and v)
    assert view.state == "failed" and "does not match the sha256" in view.error
    assert not (rd / METRICS).exists() and not (rd / BEST).exists()
