"""Shared fixtures: a tiny real sentencepiece tokenizer and a tiny real checkpoint, built once per session."""
import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest  # noqa: E402
import torch  # noqa: E402

from trainer.chat import MarkerChat  # noqa: E402
from trainer.checkpoint import save_checkpoint  # noqa: E402
from trainer.model import ModelConfig, Transformer  # noqa: E402
from trainer.tokenizer import train_tokenizer  # noqa: E402

TINY_TEXTS = [
    f"{greeting} How are you doing today? I like {food} and {n} walks in the {place}."
    for n, (greeting, food, place) in enumerate(
        (g, f, p)
        for g in ("Hello!", "Hi there.", "Good morning.", "Hey,", "Welcome back.")
        for f in ("apples", "pizza", "green tea", "soup", "bread", "café au lait")
        for p in ("park", "city", "forest", "hills", "garden")
    )
] + ["Sorry, I can't help with that. Please call a locksmith.", "I am not sure, but I think so.", "Thanks! Bye."]


def tiny_config(vocab_size: int, **overrides) -> ModelConfig:
    return ModelConfig(**{"vocab_size": vocab_size, "dim": 32, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2,
                          "max_seq_len": 128, **overrides})


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory):
    return train_tokenizer(TINY_TEXTS, 400, tmp_path_factory.mktemp("tok") / "tokenizer.model")


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_tokenizer, tmp_path_factory):
    """A 2-layer, 32-dim model with random weights, saved as a real checkpoint directory."""
    torch.manual_seed(0)
    model = Transformer(tiny_config(tiny_tokenizer.vocab_size))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", model, MarkerChat(tiny_tokenizer),
                           {"note": "test"})
