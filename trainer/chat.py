"""Chat formats: conversations -> token ids plus a loss mask. This module owns the embedded model's format,

    <SOT>{system}<EOT>  then per exchange  <SOU>{user}<EOU> <SOA>{assistant}<EOA>

where template "CUSTOM" stands for the default system prompt shipped in assets/system_prompt.txt. A prompt for
generation ends with <SOA>; the model answers until it emits <EOA>. Real models bring their own format
(trainer.chat_template.TemplateChat); both keep the contract of `Chat`, so SFT, DPO, sampling and the studio never
ask which one they have.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from .conversation import CUSTOM
from .paths import SYSTEM_PROMPT_FILE
from .tokenizer import Tokenizer


@lru_cache(maxsize=1)
def default_system_prompt() -> str:
    return SYSTEM_PROMPT_FILE.read_text(encoding="utf-8").strip()


def system_text(template: str) -> str:
    return default_system_prompt() if template == CUSTOM else template


SCORED = ("last", "all", "turns")


def render(tok: Tokenizer, template: str, users: list[str], assistants: list[str],
           scored: str = "last") -> tuple[list[int], list[int]]:
    """Token ids and a loss mask (1 = predict this token) for a conversation.

    With as many assistant replies as user messages, the mask covers the reply tokens and <EOA> of the scored turns
    (scored="last": the final reply, "all": every reply, "turns": every reply and every user message with its <EOU>,
    base-model style). With one reply fewer, the ids are an inference prompt that ends with <SOA> and the mask is
    all zeros.
    """
    if len(assistants) not in (len(users), len(users) - 1) or not users:
        raise ValueError(f"{len(users)} user messages need {len(users)} or {len(users) - 1} assistant replies")
    if scored not in SCORED:
        raise ValueError(f"scored must be one of {', '.join(SCORED)}, not {scored!r}")
    ids = [tok.sot, *tok.encode(system_text(template)), tok.eot]
    mask = [0] * len(ids)
    for i, user in enumerate(users):
        text = [*tok.encode(user), tok.eou]
        ids += [tok.sou, *text, tok.soa]
        mask += [0, *[int(scored == "turns")] * len(text), 0]
        if i < len(assistants):
            reply = [*tok.encode(assistants[i]), tok.eoa]
            is_scored = scored != "last" or i == len(users) - 1
            ids += reply
            mask += [int(is_scored)] * len(reply)
    return ids, mask


def render_prompt(tok: Tokenizer, template: str, users: list[str], assistants: list[str]) -> list[int]:
    """Prompt ids ending with <SOA>: the model's reply to users[-1] comes next."""
    return render(tok, template, users, assistants[:len(users) - 1])[0]


class Chat(Protocol):
    """What the trainer needs of a model's tokenizer and chat format."""
    stop_ids: tuple[int, ...]  # generation ends at any of these

    @property
    def pad_id(self) -> int: ...
    @property
    def vocab_size(self) -> int: ...
    def render(self, template: str, users: list[str], assistants: list[str],
               scored: str = "last") -> tuple[list[int], list[int]]: ...
    def prompt(self, template: str, users: list[str], replies: list[str]) -> list[int]: ...
    def decode(self, ids) -> str: ...
    def save(self, folder: Path) -> None: ...


@dataclass
class MarkerChat:
    """The embedded model's format (above) over its sentencepiece tokenizer."""
    tok: Tokenizer
    FILE = "tokenizer.model"

    @property
    def stop_ids(self) -> tuple[int, ...]:
        return (self.tok.eoa,)

    @property
    def pad_id(self) -> int:
        return self.tok.pad

    @property
    def vocab_size(self) -> int:
        return self.tok.vocab_size

    def render(self, template, users, assistants, scored="last"):
        return render(self.tok, template, users, assistants, scored)

    def prompt(self, template, users, replies):
        return render_prompt(self.tok, template, users, replies)

    def decode(self, ids) -> str:
        return self.tok.decode(ids)

    def save(self, folder: Path) -> None:
        self.tok.save(Path(folder) / self.FILE)
