"""A loaded checkpoint ready to answer conversations: what the CLI, the studio and the trainer's samples use."""
from __future__ import annotations

from dataclasses import dataclass

from .chat import Chat
from .device import pick_device
from .generate import SamplingParams, generate
from .model import Transformer
from .spec import load_model


@dataclass
class ChatModel:
    model: Transformer
    chat: Chat
    meta: dict

    @classmethod
    def load(cls, spec, device: str = "auto") -> "ChatModel":
        """Any model spec (trainer.spec): a short name, a checkpoint or HF directory, a .gguf file."""
        return cls(*load_model(spec, pick_device(device)))

    def replies(self, conversations: list[tuple[str, list[str], list[str]]], params: SamplingParams) -> list[str]:
        """One reply per (template, users, earlier replies), generated as one batch."""
        prompts = [self.chat.prompt(t, users, replies) for t, users, replies in conversations]
        outs = generate(self.model, prompts, params, self.chat.stop_ids, self.chat.pad_id)
        return [self.chat.decode(o).strip() for o in outs]

    def reply(self, template: str, users: list[str], replies: list[str], params: SamplingParams) -> str:
        return self.replies([(template, users, replies)], params)[0]

    def candidates(self, template: str, users: list[str], replies: list[str], params: SamplingParams,
                   n: int) -> list[str]:
        """n different samples for the same turn (one batch; distinct because the rows draw in turn from one seed)."""
        return self.replies([(template, users, replies)] * n, params)

