"""The run directory: the contract between the studio and a training process. Standard library only.

    config.json      resolved TrainConfig, written before step 0 (relative paths in it are relative to the run dir)
    data.json        the seed-format examples the run trains on (sha256 in config.json); eval_data.json likewise
    status.json      {state, step, total_steps, best_step, error, pid, updated_at, ...}, replaced atomically
    metrics.jsonl    one JSON object per log step (train metrics) or eval (eval_* metrics), each with "step"
    samples.jsonl    {step, prompt_id, messages, policy, reference}
    log.txt          the process's log lines
    ref_logps.json   reference log-probs cache, keyed by reference checkpoint hash, then by example hash
    checkpoints/     last/ (checkpoint + optimizer state, to resume) and best/

The studio may import this module; the trainer's loop writes through it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from .atomic import atomic_file, write_json_atomic

CONFIG, DATA, EVAL_DATA = "config.json", "data.json", "eval_data.json"
STATUS, METRICS, SAMPLES, LOG = "status.json", "metrics.jsonl", "samples.jsonl", "log.txt"
REF_CACHE, REF_SAMPLES = "ref_logps.json", "reference_samples.json"
LAST, BEST = "checkpoints/last", "checkpoints/best"
STATES = ("queued", "running", "completed", "stopped", "failed")
FINAL_STATES = ("completed", "stopped", "failed")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_jsonl(path: Path) -> list[dict]:
    """All complete lines; a last line still being written (no newline yet) is left out."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n") and line.strip()]


def read_jsonl_from(path: Path, offset: int) -> tuple[list[dict], int, bool]:
    """(the complete lines after byte `offset`, the offset after them, whether reading started over at 0): a
    follower reads only what was appended since it last looked. A file now shorter than `offset` was rewritten
    (truncate_after, on a resume), so it is read from its start."""
    try:
        with open(path, "rb") as fh:
            restart = os.fstat(fh.fileno()).st_size < offset
            fh.seek(0 if restart else offset)
            data = fh.read()
    except FileNotFoundError:
        return [], 0, offset > 0
    complete = data[:data.rfind(b"\n") + 1]  # a last line still being written waits for the next look
    rows = [json.loads(line) for line in complete.decode("utf-8").splitlines() if line.strip()]
    return rows, (0 if restart else offset) + len(complete), restart


def process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # ---------------------------------------------------------------------------------------------- preparing

    def prepare(self, config: dict, data_file: str | Path, eval_file: str | Path | None = None) -> dict:
        """Snapshot the data into the run dir, write config.json (with sha256s) and a queued status."""
        if (self / CONFIG).exists():
            raise FileExistsError(f"{self.path} already holds a run ({CONFIG}); resume it or pick a new run dir")
        self.path.mkdir(parents=True, exist_ok=True)
        config = dict(config, run_dir=str(self.path))
        for key, src, name in (("data", data_file, DATA), ("eval_data", eval_file, EVAL_DATA)):
            if src:
                shutil.copyfile(src, self / name)
                config[key], config[f"{key}_sha256"] = name, sha256_file(self / name)
        write_json_atomic(self / CONFIG, config)
        self.write_status(state="queued", step=0, total_steps=config.get("max_steps"))
        return config

    def read_config(self) -> dict:
        return json.loads((self / CONFIG).read_text(encoding="utf-8"))

    def resolve(self, path: str) -> Path:
        """A path from config.json: relative ones live in the run dir."""
        return Path(path) if os.path.isabs(path) else self.path / path

    # ------------------------------------------------------------------------------------------------- status

    def read_status(self) -> dict:
        try:
            return json.loads((self / STATUS).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def write_status(self, **fields) -> dict:
        """Merge fields into status.json (one writer: the training process, or the studio before it starts)."""
        if "state" in fields and fields["state"] not in STATES:
            raise ValueError(f"unknown state {fields['state']!r}; expected one of {STATES}")
        status = {"state": "queued", "step": 0, "total_steps": None, "best_step": None, "error": None, "pid": None,
                  **self.read_status(), **fields, "updated_at": time.time()}
        write_json_atomic(self / STATUS, status)
        return status

    def observed_state(self) -> str:
        """The state as an observer should show it: 'crashed' when it says running but its process is gone."""
        status = self.read_status()
        state = status.get("state", "queued")
        return "crashed" if state == "running" and not process_alive(status.get("pid")) else state

    # ------------------------------------------------------------------------------------------ metrics, samples

    def append(self, name: str, rows: list[dict]) -> None:
        with open(self / name, "a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
            fh.flush()

    def read_metrics(self) -> list[dict]:
        return read_jsonl(self / METRICS)

    def read_metrics_from(self, offset: int) -> tuple[list[dict], int, bool]:
        return read_jsonl_from(self / METRICS, offset)

    def read_samples(self) -> list[dict]:
        return read_jsonl(self / SAMPLES)

    def truncate_after(self, step: int) -> None:
        """Drop metrics and samples logged after `step` (a resume from a checkpoint at `step` writes them again)."""
        for name in (METRICS, SAMPLES):
            if (self / name).exists():  # rewritten even when nothing is dropped: that also removes a torn last line
                kept = [row for row in read_jsonl(self / name) if row["step"] <= step]
                with atomic_file(self / name) as fh:
                    fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in kept)

    # ---------------------------------------------------------------------------------------------------- log

    def log(self, message: str) -> None:
        """A timestamped line to stdout and log.txt (once: when stdout already is log.txt, only there)."""
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n"
        sys.stdout.write(line)
        sys.stdout.flush()
        if not self._stdout_is_log():
            with open(self / LOG, "a", encoding="utf-8") as fh:
                fh.write(line)

    def _stdout_is_log(self) -> bool:
        try:
            out, log = os.fstat(sys.stdout.fileno()), os.stat(self / LOG)
        except (OSError, ValueError, AttributeError):
            return False
        return (out.st_dev, out.st_ino) == (log.st_dev, log.st_ino)
