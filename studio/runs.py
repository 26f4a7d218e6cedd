"""Training runs as the studio sees them: prepare, launch, observe, stop and resume, through run directories only.

A run is a directory under the runs folder (the contract in trainer/rundir.py). The studio snapshots the data into
it, writes config.json, and starts `python -m trainer train --run-dir D` as its own process group with its output
going to D/log.txt; from then on it only reads the directory. What the studio itself knows about a run (where the
data came from, when each process was launched, which pid) goes to D/studio.json, a file only the studio writes, so
status.json keeps its single writer. Nothing lives only in memory: a studio started later lists the same runs,
follows one whose process is still alive, and calls one whose process died `crashed`, with its log tail.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from studio.formats import export_file
from studio.store import ExampleFilter, Store
from trainer.atomic import write_json_atomic
from trainer.checkpoint import read_meta, saved
from trainer.config import ConfigError, TrainConfig, steps_for_epochs
from trainer.export import export_model
from trainer.model import ModelError
from trainer.rundir import BEST, CONFIG, LAST, LOG, RunDir, process_alive
from trainer.interchange import load_seed_file
from trainer.spec import canonical

STUDIO = "studio.json"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOG_TAIL_BYTES = 16_000
PACE_BYTES = 64_000  # the end of log.txt the time left is measured on: hundreds of steps
# The trainer's timestamped log lines that time a run: each step, and the first line of every process.
STEP_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?:step (\d+)/\d+ |train pairs: )", re.M)
ACTIVE = ("starting", "running")  # a process is (about to be) at work

# The Train tab's presets, as whole trainer configs. The default settings are the trainer's own: plain DPO at lr
# 2e-5 keeps the default model's samples clean, where 1e-4 for 150 steps of 16 pairs turned every one of them into
# byte soup (measurements in docs/STUDIO.md).
DEFAULTS = asdict(TrainConfig())
# About a minute on two CPU cores: few batches, short samples, few prompts. A higher lr than the default, so that
# the policy visibly moves within 30 steps; its samples stay clean that briefly.
QUICK_DEMO = asdict(TrainConfig(lr=1e-4, warmup_steps=3, max_steps=30, eval_interval=10, sample_max_new_tokens=24,
                                n_sample_prompts=2))


class RunError(ValueError):
    """A request about a run that cannot be done as asked; the message says why."""


# ------------------------------------------------------------------------------------------------- preparing

def claim_run_dir(runs_dir: Path) -> Path:
    """A new, empty run folder named after the time; made here, so two runs started at once never share one."""
    base = time.strftime("run-%Y%m%d-%H%M%S")
    for name in (base, *(f"{base}-{n}" for n in range(2, 1000))):
        try:
            (Path(runs_dir) / name).mkdir()
            return Path(runs_dir) / name
        except FileExistsError:
            continue
    raise RunError(f"{runs_dir} has no free run name left for {base}.")


@contextlib.contextmanager
def trainer_checks():
    """Settings are checked by the trainer's own TrainConfig; what it refuses becomes a RunError in its words."""
    try:
        yield
    except ConfigError as e:
        raise RunError(f"The trainer refuses these settings: {e}.") from None


def create_run(runs_dir, settings: dict, base_model, *, store: Store | None = None,
               filters: ExampleFilter | None = None, data_file=None, data_label: str = "",
               base_label: str = "", started_by: str = "") -> RunDir:
    """A new queued run: the data (the store's examples matching `filters`, or a seed file) snapshotted into it,
    config.json (the whole TrainConfig: `settings` on top of the trainer's defaults, the base model as reference),
    and studio.json. An "epochs" setting becomes max_steps once the data is counted."""
    if (store is None) == (data_file is None):
        raise RunError("Give the data either as the store (with filters) or as a file.")
    settings = dict(settings)
    epochs = settings.pop("epochs", None)
    with trainer_checks():
        config = TrainConfig.from_dict(settings)
    try:
        config = replace(config, model=canonical(base_model))
    except ModelError as e:
        raise RunError(f"Base model: {e}") from None
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=runs_dir, prefix=".snapshot-") as tmp:
        snapshot = Path(tmp) / "data.json"
        if store is not None:
            n = export_file(store, snapshot, "seed-json", filters or ExampleFilter(status="done"))
        else:
            n = len(load_seed_file(data_file))  # validates it: a bad file is refused here, not in the trainer
            snapshot = Path(data_file)
        if n < 2:
            raise RunError(f"The data holds {n} example{'s' * (n != 1)}; a run needs at least 2 (one is held out).")
        if epochs is not None:
            with trainer_checks():
                config = replace(config, max_steps=steps_for_epochs(epochs, n, config.eval_fraction, config.batch_size))
        rd = RunDir(claim_run_dir(runs_dir))
        rd.prepare(asdict(config), snapshot)
    write_json_atomic(rd / STUDIO, {"created_at": time.time(), "examples": n, "epochs": epochs, "data": data_label,
                                    "base": base_label or str(base_model), "started_by": started_by,
                                    "launches": []})
    return rd


# ------------------------------------------------------------------------------------------------- processes

def read_studio(rd: RunDir) -> dict:
    try:
        return json.loads((rd / STUDIO).read_text(encoding="utf-8"))
    except FileNotFoundError:  # a run prepared outside the studio (python -m trainer train ...)
        return {"launches": []}


def launch(run_dir, resume: bool = False) -> int:
    """Start the trainer on a prepared run dir, in its own process group, output appended to log.txt; its pid."""
    rd = RunDir(run_dir)
    if not (rd / CONFIG).exists():
        raise RunError(f"{rd.path} is not a prepared run (no {CONFIG}).")
    cmd = [sys.executable, "-m", "trainer", "train", "--run-dir", str(rd.path), *(["--resume"] if resume else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                                      os.environ.get("PYTHONPATH")]))}
    launched = {"at": time.time(), "resume": resume, "after": rd.read_status().get("updated_at")}
    with open(rd / LOG, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=PROJECT_ROOT, start_new_session=True)
    threading.Thread(target=proc.wait, daemon=True).start()  # reap it: an unreaped dead child still looks alive
    record = read_studio(rd)
    record["launches"] = record.get("launches", []) + [{"pid": proc.pid, **launched}]
    write_json_atomic(rd / STUDIO, record)
    return proc.pid


_resuming = threading.Lock()


def resume(run_dir) -> int:
    """Continue a stopped, failed or crashed run from its last checkpoint (or from the start if it has none)."""
    with _resuming:  # a double click must not start two trainers on one run dir
        state = observe(run_dir).state
        if state in ACTIVE:
            raise RunError(f"{Path(run_dir).name} is {state}: nothing to resume.")
        if state == "completed":
            raise RunError(f"{Path(run_dir).name} completed; start a new run (it can use this one's best as base).")
        return launch(run_dir, resume=True)


def stop(run_dir) -> str:
    """Ask the run's process group to stop (SIGTERM): the trainer saves last/ and ends as 'stopped'."""
    rd = RunDir(run_dir)
    state = state_of(rd, rd.read_status(), read_studio(rd))
    pid = live_pid(rd) if state in ACTIVE else None
    if pid is None:
        raise RunError(f"{rd.path.name} is {state}: there is no process to stop.")
    record = read_studio(rd)
    write_json_atomic(rd / STUDIO, {**record, "stop_requested_at": time.time()})
    # A group only when the run leads its own (the studio's launches do); never a shell's group around a CLI run.
    if os.getpgid(pid) == pid:
        os.killpg(pid, signal.SIGTERM)
    else:
        os.kill(pid, signal.SIGTERM)
    return f"Stopping {rd.path.name}: it saves its last checkpoint, then ends as stopped."


def live_pid(rd: RunDir) -> int | None:
    """The pid of the run's process while it lives: the trainer's own, or the launch not yet reporting."""
    launches = read_studio(rd).get("launches", [])
    for pid in (rd.read_status().get("pid"), launches[-1]["pid"] if launches else None):
        if pid and process_alive(pid):
            return pid
    return None


# ------------------------------------------------------------------------------------------------- observing

@dataclass
class RunView:
    """One run as the UI shows it."""
    id: str
    path: Path
    state: str  # starting | queued | running | completed | stopped | failed | crashed
    step: int
    total_steps: int | None
    best_step: int | None
    examples: int | None
    best_eval_accuracy: float | None
    started_at: float | None
    took_s: float | None
    eta_s: float | None
    error: str | None
    warning: str | None
    base: str
    data: str
    started_by: str
    config: dict = field(repr=False)
    metrics: list[dict] = field(repr=False)
    status: dict = field(repr=False)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def state_of(rd: RunDir, status: dict, record: dict) -> str:
    """The state to show. Beyond status.json: a launch the trainer has not reported on yet is 'starting' while its
    process lives; a process that died without saying so is 'crashed' (or 'stopped', when the studio stopped it
    before the trainer could)."""
    launches = record.get("launches", [])
    last = launches[-1] if launches else None
    if last and (status.get("updated_at") or 0) < last["at"]:
        if process_alive(last["pid"]):
            return "starting"
        return "stopped" if record.get("stop_requested_at", 0) >= last["at"] else "crashed"
    return rd.observed_state()


def took_seconds(record: dict, status: dict, state: str, now: float) -> float | None:
    """Wall time spent by the run's processes: each launch until the next one took over, the last one until its
    final status (or now, while it runs)."""
    launches = record.get("launches", [])
    if not launches:
        return None
    spans = [(nxt["after"] or nxt["at"]) - cur["at"] for cur, nxt in zip(launches, launches[1:])]
    end = now if state in ACTIVE else max(status.get("updated_at") or 0, launches[-1]["at"])
    return sum(max(0.0, s) for s in spans) + max(0.0, end - launches[-1]["at"])


def step_times(run_dir) -> list[tuple[int, float]]:
    """(step, time) of each training step the run's current process logged, from the end of log.txt. Every
    process logs its training pairs first, so the steps before that line were another process's."""
    steps = []
    for stamp, step in STEP_LINE.findall(log_text(run_dir, PACE_BYTES)):
        if step:
            steps.append((int(step), time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S"))))
        else:
            steps = []  # a new process
    return steps


def eta_seconds(run_dir, status: dict, now: float) -> float | None:
    """Seconds left: the current process's pace (seconds a step, its evals included, between its first and last
    logged step; loading and the step-0 eval are no steps) times the steps left, less the time since the last
    step, but at most one step's worth, so an eval in progress never runs the estimate down to 0. From the run
    directory alone: a restarted studio says the same."""
    steps, total = step_times(run_dir), status.get("total_steps")
    if len(steps) < 2 or not total or steps[-1][1] <= steps[0][1]:
        return None
    (first, start), (last, end) = steps[0], steps[-1]
    pace = (end - start) / (last - first)
    return max(0.0, pace * (total - last) - min(max(0.0, now - end), pace))


def best_eval_accuracy(metrics: list[dict]) -> float | None:
    accuracies = [row["eval_rewards/accuracies"] for row in metrics if "eval_rewards/accuracies" in row]
    return max(accuracies) if accuracies else None


def observe(run_dir, now: float | None = None, metrics: list[dict] | None = None) -> RunView:
    """The run now; `metrics`, when given, are its metrics as already read (a follower reads only new lines)."""
    rd, now = RunDir(run_dir), now or time.time()
    status, record, config = rd.read_status(), read_studio(rd), rd.read_config()
    state = state_of(rd, status, record)
    metrics = rd.read_metrics() if metrics is None else metrics
    launches = record.get("launches", [])
    examples = record.get("examples") or sum(c.get("examples", 0) for c in (status.get("data") or {}).values()) or None
    warnings = [row["warning"] for row in metrics if row.get("warning")]
    return RunView(
        id=rd.path.name, path=rd.path, state=state, step=status.get("step") or 0,
        total_steps=status.get("total_steps") or config.get("max_steps"), best_step=status.get("best_step"),
        examples=examples, best_eval_accuracy=best_eval_accuracy(metrics),
        started_at=launches[0]["at"] if launches else None, took_s=took_seconds(record, status, state, now),
        eta_s=eta_seconds(rd.path, status, now) if state == "running" else None,
        error=status.get("error") if state in ("failed", "crashed") else None,
        warning=status.get("warning") or (warnings[-1] if warnings else None),
        base=record.get("base") or config.get("model", ""), data=record.get("data", ""),
        started_by=record.get("started_by", ""), config=config, metrics=metrics, status=status)


def find(runs_dir, run_id: str) -> Path:
    """The folder of the run named run_id (a name from the UI, never a path out of the runs folder)."""
    if not run_id:
        raise RunError("Pick a run first.")
    path = Path(runs_dir) / Path(run_id).name
    if not (path / CONFIG).is_file():
        raise RunError(f"There is no run {run_id!r}.")
    return path


def list_runs(runs_dir) -> list[RunView]:
    """Every run under runs_dir, newest first."""
    runs = Path(runs_dir)
    found = [observe(p) for p in runs.iterdir() if (p / CONFIG).is_file()] if runs.is_dir() else []
    return sorted(found, key=lambda r: (r.started_at or (r.path / CONFIG).stat().st_mtime, r.id), reverse=True)


def log_text(run_dir, nbytes: int) -> str:
    """The last `nbytes` of the run's log.txt ('' before there is one)."""
    path = RunDir(run_dir) / LOG
    if not path.exists():
        return ""
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - nbytes))
        return fh.read().decode("utf-8", errors="replace")


def log_tail(run_dir, lines: int = 40) -> str:
    return "\n".join(log_text(run_dir, LOG_TAIL_BYTES).splitlines()[-lines:])


def checkpoints(run_dir) -> list[tuple[str, str]]:
    """(label, path) of a run's checkpoints to sample from: best and last, with the step each holds."""
    rd, found = RunDir(run_dir), []
    for name in (BEST, LAST):
        if folder := saved(rd / name):  # after a save killed midway: the one before it
            step = read_meta(folder).get("dpo_step")
            found.append((f"{Path(name).name} (step {step})", str(folder)))
    return found


def export_checkpoint(run_dir, which: str, fmt: str, dtype: str = "") -> Path:
    """A run's best or last checkpoint as one file to download: a GGUF file, or a zip of the Hugging Face
    directory. Written to a fresh temporary folder, as the Data tab's exports are."""
    source = RunDir(run_dir) / {"best": BEST, "last": LAST}[which]
    if saved(source) is None:
        raise RunError(f"{Path(run_dir).name} has no {which} checkpoint yet.")
    out = Path(tempfile.mkdtemp(prefix="dpo-studio-model-")) / f"{Path(run_dir).name}-{which}"
    try:
        if fmt == "gguf":
            return export_model(str(source), out.with_suffix(".gguf"), "gguf", dtype)
        return Path(shutil.make_archive(str(out), "zip", export_model(str(source), out, "hf", dtype)))
    except ModelError as e:
        raise RunError(f"Export: {e}") from None


def reference_model(run_dir) -> str:
    """The checkpoint a run trains against: its base model."""
    return RunDir(run_dir).read_config()["model"]


def samples_by_step(run_dir) -> dict[int, list[dict]]:
    """The side-by-side samples of each eval, by step: [{prompt_id, messages, policy, reference}]."""
    by_step: dict[int, list[dict]] = {}
    for row in RunDir(run_dir).read_samples():
        by_step.setdefault(row["step"], []).append(row)
    return by_step
