"""A model out of the project, into the formats people deploy with: a Hugging Face directory or a GGUF file."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from .chat import MarkerChat
from .chat_template import template_chat_of
from .model import ModelError
from .spec import load_model

FORMATS = ("hf", "gguf")
HF_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def export_model(spec: str, out: str | Path, fmt: str, dtype: str = "") -> Path:
    """Write the model `spec` names to out (a directory for hf, a file for gguf). The result appears whole or not
    at all: it is written beside out and renamed into place. dtype defaults to f32 for hf, f16 for gguf."""
    if fmt not in FORMATS:
        raise ModelError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    dtype = dtype or ("f32" if fmt == "hf" else "f16")
    if fmt == "hf" and dtype not in HF_DTYPES:
        raise ModelError(f"Hugging Face weights are {', '.join(HF_DTYPES)}, not {dtype!r}")
    model, chat, _ = load_model(spec)
    if isinstance(chat, MarkerChat):  # the embedded format, as a tokenizer and template other tools read
        chat = template_chat_of(chat)
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    remove(tmp)
    if fmt == "hf":
        from .hf import save_hf
        save_hf(model, chat, tmp, HF_DTYPES[dtype])
    else:
        from .gguf_file import save_gguf
        save_gguf(model, chat, tmp, dtype, name=Path(str(spec)).name)
    remove(out)
    os.replace(tmp, out)
    return out


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
