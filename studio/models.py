"""The checkpoints the studio samples from: found on disk, loaded once, cached per path.

A checkpoint is a directory with model.safetensors (see trainer.checkpoint). The choices are the model the studio
was started with plus the last/best checkpoints of every run under the runs directory. A cached model is reloaded
when its weights file changes, so a run's `last` checkpoint is always the current one.
"""
from __future__ import annotations

import random
import threading
from pathlib import Path

from trainer.generate import SamplingParams
from trainer.inference import ChatModel
from trainer.rundir import BEST, LAST

WEIGHTS = "model.safetensors"
_cache: dict[Path, tuple[float, ChatModel]] = {}
_lock = threading.Lock()


class ModelUnavailable(ValueError):
    """No usable checkpoint at the path; the message says what to do."""


def is_checkpoint(path) -> bool:
    return (Path(path) / WEIGHTS).is_file()


def load(path, device: str = "auto") -> ChatModel:
    """The model at `path`, loaded on first use and kept; loads are serialized so each happens once."""
    path = Path(path).resolve()
    if not is_checkpoint(path):
        raise ModelUnavailable(f"no checkpoint at {path} (it needs {WEIGHTS}); start the studio with "
                               "--model DIR or pick another checkpoint")
    stamp = (path / WEIGHTS).stat().st_mtime
    with _lock:
        cached = _cache.get(path)
        if cached is None or cached[0] != stamp:
            _cache[path] = (stamp, ChatModel.load(path, device))
        return _cache[path][1]


def choices(default_model, runs_dir) -> list[tuple[str, str]]:
    """(label, path) of every checkpoint to sample from: the default model first, then each run's best and last."""
    found = [("default model", str(default_model))]
    runs = Path(runs_dir)
    for run in sorted(runs.iterdir()) if runs.is_dir() else []:
        for name in (BEST, LAST):
            if is_checkpoint(run / name):
                found.append((f"{run.name} · {Path(name).name}", str(run / name)))
    return found


def sampling(temperature=0.8, top_p=0.95, top_k=40, max_new_tokens=64, seed=None) -> SamplingParams:
    """Sampling parameters from UI values; no seed draws a fresh one, so every click gives new text."""
    return SamplingParams(temperature=float(temperature), top_p=float(top_p), top_k=int(top_k),
                          max_new_tokens=int(max_new_tokens),
                          seed=random.randrange(2**31) if seed is None else int(seed))
