"""The models the studio samples from: named by a model spec (trainer.spec), loaded once, cached per spec.

The choices are the model the studio was started with, the other shipped models (the embedded tiny one, and
SmolLM2-135M-Instruct when its package is installed), and the best/last checkpoints of every run under the runs
directory. A cached model is reloaded when one of its files changes, so a run's `last` checkpoint is always the
current one.
"""
from __future__ import annotations

import random
import threading
from dataclasses import replace
from pathlib import Path

from trainer.checkpoint import saved
from trainer.generate import SamplingParams
from trainer.inference import ChatModel
from trainer.model import ModelError
from trainer.rundir import BEST, LAST
from trainer.spec import NAMES, SMOLLM2, canonical, model_files, smollm2_file

LABELS = {"tiny": "tiny (embedded, 5.5M)", SMOLLM2: "SmolLM2-135M-Instruct"}
# Where the sampling controls start: the trainer's defaults, with room for a reply of a few sentences (a candidate
# cut off mid-sentence is hard to rank).
DEFAULT_SAMPLING = replace(SamplingParams(), max_new_tokens=96)
_cache: dict[str, tuple[float, ChatModel]] = {}
_lock = threading.Lock()


class ModelUnavailable(ValueError):
    """No usable model for the spec; the message says what to do."""


def load(spec, device: str = "auto") -> ChatModel:
    """The model `spec` names, loaded on first use and kept; loads are serialized so each happens once."""
    try:
        key = canonical(spec)
        stamp = max(f.stat().st_mtime for f in model_files(key))
        with _lock:
            cached = _cache.get(key)
            if cached is None or cached[0] != stamp:
                _cache[key] = (stamp, ChatModel.load(key, device))
            return _cache[key][1]
    except (ModelError, OSError) as e:
        raise ModelUnavailable(f"{e}. Start the studio with --model SPEC or pick another model.") from None


def label(spec: str) -> str:
    return LABELS.get(spec) or Path(spec).name


def shipped() -> list[str]:
    """The short names that can be loaded here."""
    return [name for name in NAMES if name != SMOLLM2 or smollm2_file()]


def choices(default_model, runs_dir) -> list[tuple[str, str]]:
    """(label, spec) of every model to sample from: the studio's model first, the shipped ones, then each run's
    best and last checkpoints."""
    first = str(default_model)
    found = [(f"default · {label(first)}", first)] + [(label(n), n) for n in shipped() if n != first]
    runs = Path(runs_dir)
    for run in sorted(runs.iterdir()) if runs.is_dir() else []:
        for name in (BEST, LAST):
            if saved(run / name):  # written at least once (after a save killed midway: the one before it)
                found.append((f"{run.name} · {Path(name).name}", str(run / name)))
    return found


def sampling(temperature=DEFAULT_SAMPLING.temperature, top_p=DEFAULT_SAMPLING.top_p, top_k=DEFAULT_SAMPLING.top_k,
             max_new_tokens=DEFAULT_SAMPLING.max_new_tokens, seed=None) -> SamplingParams:
    """Sampling parameters from UI values; no seed draws a fresh one, so every click gives new text."""
    return SamplingParams(temperature=float(temperature), top_p=float(top_p), top_k=int(top_k),
                          max_new_tokens=int(max_new_tokens),
                          seed=random.randrange(2**31) if seed is None else int(seed))
