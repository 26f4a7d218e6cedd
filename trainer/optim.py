"""What every training loop here shares: AdamW groups, the LR schedule, and resumable state without pickle."""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .atomic import write_json_atomic

STATE_TENSORS, STATE_JSON = "trainer_state.safetensors", "trainer_state.json"


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    # Decay matrices only; norms' gains and (tied) embeddings' shared tensor appear once.
    params = {id(p): (n, p) for n, p in model.named_parameters() if p.requires_grad}.values()
    decay = [p for n, p in params if p.dim() >= 2 and "embed" not in n]
    rest = [p for n, p in params if not (p.dim() >= 2 and "embed" not in n)]
    # fused: one kernel per tensor for the whole update instead of a dozen elementwise passes (CPU and CUDA)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": rest, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95),
                             fused=all(p.device.type in ("cpu", "cuda") for _, p in params))


def lr_at(step: int, peak: float, warmup: int, total: int, schedule: str = "cosine", floor: float = 0.1) -> float:
    """Linear warmup to peak, then cosine or linear decay to floor * peak at total."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    shape = 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1 - progress
    return peak * (floor + (1 - floor) * shape)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def save_train_state(folder: Path, optimizer: torch.optim.Optimizer, extra: dict) -> None:
    """Optimizer moments and RNG states as safetensors, counters as JSON (extra must be JSON-able)."""
    opt = optimizer.state_dict()
    tensors = {"rng.torch": torch.get_rng_state()}
    scalars = {}
    for idx, slots in opt["state"].items():
        for name, value in slots.items():
            tensors[f"state.{idx}.{name}"] = value.detach().cpu().contiguous()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    scalars["param_groups"] = opt["param_groups"]
    scalars["rng.python"] = _python_rng_to_json(random.getstate())
    scalars["rng.numpy"] = _numpy_rng_to_json(np.random.get_state())
    save_file(tensors, folder / STATE_TENSORS)
    write_json_atomic(folder / STATE_JSON, {"extra": extra, **scalars})


def load_train_state(folder: Path, optimizer: torch.optim.Optimizer) -> dict:
    """Restore what save_train_state wrote; returns its extra dict."""
    tensors = load_file(folder / STATE_TENSORS)
    scalars = json.loads((folder / STATE_JSON).read_text())
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("state."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": scalars["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    random.setstate(_python_rng_from_json(scalars["rng.python"]))
    np.random.set_state(_numpy_rng_from_json(scalars["rng.numpy"]))
    return scalars["extra"]


def _python_rng_to_json(state):
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _python_rng_from_json(state):
    version, internal, gauss = state
    return version, tuple(internal), gauss


def _numpy_rng_to_json(state):
    name, keys, pos, has_gauss, cached = state
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def _numpy_rng_from_json(state):
    name, keys, pos, has_gauss, cached = state
    return name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached
