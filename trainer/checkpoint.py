"""A checkpoint is a directory: config.json, model.safetensors and the tokenizer's files (the embedded format's
tokenizer.model, or a real model's tokenizer.json + tokenizer_config.json + generation_config.json). Nothing is
unpickled."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .chat import Chat, MarkerChat
from .chat_template import TOKENIZER_JSON, TemplateChat
from .model import ModelConfig, ModelError, Transformer
from .tokenizer import Tokenizer

CONFIG, WEIGHTS = "config.json", "model.safetensors"
TOKENIZER_FILES = (MarkerChat.FILE, TOKENIZER_JSON)  # one of them, by format


def save_checkpoint(path: str | Path, model: Transformer, chat: Chat, meta: dict | None = None,
                    dtype: torch.dtype | None = None, add_files: Callable[[Path], None] | None = None) -> Path:
    """Write the checkpoint to a temporary sibling, then swap it in: a crash leaves the old one intact.

    add_files(folder) may write more files (optimizer state, say) that must be swapped in together with it.
    """
    path = Path(path)
    tmp, old = path.with_name(path.name + ".tmp"), path.with_name(path.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {k: v.detach().to("cpu", dtype or v.dtype).contiguous() for k, v in model.state_dict().items()}
    if model.cfg.tie_embeddings:
        state.pop("lm_head.weight")  # the same tensor as embed.weight
    save_file(state, tmp / WEIGHTS)
    chat.save(tmp)
    (tmp / CONFIG).write_text(json.dumps({"model": model.cfg.to_dict(), "meta": meta or {}}, indent=2))
    if add_files is not None:
        add_files(tmp)
    for f in tmp.iterdir():
        _fsync(f)
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def _fsync(file: Path) -> None:
    with open(file, "rb") as fh:
        os.fsync(fh.fileno())


def saved(path: str | Path) -> Path | None:
    """Where the last completed save to `path` is: the folder itself, or the copy that a save killed between its two
    renames left beside it (`.old`); None when no save there ever completed."""
    path = Path(path)
    for folder in (path, path.with_name(path.name + ".old")):
        if (folder / CONFIG).is_file() and (folder / WEIGHTS).is_file():
            return folder
    return None


def clear_interrupted_save(path: str | Path) -> None:
    """Remove what a killed save to `path` left half-written. Only the process that saves there may call this."""
    path = Path(path)
    shutil.rmtree(path.with_name(path.name + ".tmp"), ignore_errors=True)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu",
                    dtype: torch.dtype = torch.float32) -> tuple[Transformer, Chat, dict]:
    found = saved(path)
    if found is None:
        raise FileNotFoundError(f"{path} is not a checkpoint directory (no {CONFIG} and {WEIGHTS})")
    path = found
    try:
        config = json.loads((path / CONFIG).read_text())
        cfg = ModelConfig.from_dict(config["model"])
    except (ValueError, KeyError, TypeError) as e:
        raise ModelError(f"{path / CONFIG}: not a checkpoint config ({e})") from None
    state = {k: v.to(dtype) for k, v in read_safetensors(path / WEIGHTS).items()}
    model = Transformer.from_state(cfg, state, where=str(path / WEIGHTS)).to(device).eval()
    return model, load_chat(path), config.get("meta", {})


def read_safetensors(file: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(file)
    except FileNotFoundError:
        raise ModelError(f"{file}: missing") from None
    except SafetensorError as e:
        raise ModelError(f"{file}: not a complete safetensors file ({e}); it was cut short or corrupted") from None


def load_chat(folder: Path) -> Chat:
    if (folder / MarkerChat.FILE).is_file():
        return MarkerChat(Tokenizer.load(folder / MarkerChat.FILE))
    return TemplateChat.from_files(folder)


def read_meta(path: str | Path) -> dict:
    return json.loads((Path(path) / CONFIG).read_text()).get("meta", {})
