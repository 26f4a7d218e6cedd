"""Device choice and mixed precision."""
from __future__ import annotations

import contextlib

import torch


def pick_device(override: str | None = None) -> torch.device:
    """The requested device, else the best available: cuda > mps > cpu."""
    if override and override != "auto":
        return torch.device(override)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast(device: torch.device, precision: str = "auto"):
    """bf16 autocast when asked for, and by default where the hardware runs it natively (CUDA with bf16 support);
    fp32 otherwise. Weights stay fp32 either way (master weights)."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
