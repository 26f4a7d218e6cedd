"""A loaded checkpoint ready to answer conversations: what the CLI, the studio and the trainer's samples use."""
from __future__ import annotations

from dataclasses import dataclass

from .chat import render_prompt
from .checkpoint import load_checkpoint
from .device import pick_device
from .generate import SamplingParams, generate
from .model import Transformer
from .tokenizer import Tokenizer


@dataclass
class ChatModel:
    model: Transformer
    tok: Tokenizer
    meta: dict

    @classmethod
    def load(cls, path, device: str = "auto") -> "ChatModel":
        return cls(*load_checkpoint(path, pick_device(device)))

    def replies(self, conversations: list[tuple[str, list[str], list[str]]], params: SamplingParams) -> list[str]:
        """One reply per (template, users, earlier replies), generated as one batch."""
        prompts = [render_prompt(self.tok, t, users, replies) for t, users, replies in conversations]
        outs = generate(self.model, prompts, params, stop_id=self.tok.eoa, pad_id=self.tok.pad)
        return [self.tok.decode(o).strip() for o in outs]

    def reply(self, template: str, users: list[str], replies: list[str], params: SamplingParams) -> str:
        return self.replies([(template, users, replies)], params)[0]

    def candidates(self, template: str, users: list[str], replies: list[str], params: SamplingParams, n: int) -> list[str]:
        """n different samples for the same turn (one batch; distinct because the rows draw in turn from one seed)."""
        return self.replies([(template, users, replies)] * n, params)

