"""The one place that knows the prompt format.

    <SOT>{system}<EOT>  then per exchange  <SOU>{user}<EOU> <SOA>{assistant}<EOA>

Template "CUSTOM" stands for the default system prompt shipped in assets/system_prompt.txt.
A prompt for generation ends with <SOA>; the model answers until it emits <EOA>.
"""
from __future__ import annotations

from functools import lru_cache

from .paths import SYSTEM_PROMPT_FILE
from .tokenizer import Tokenizer

CUSTOM = "CUSTOM"


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


def render_reply(tok: Tokenizer, text: str) -> list[int]:
    """The tokens a reply contributes after <SOA>, <EOA> included (what DPO scores)."""
    return [*tok.encode(text), tok.eoa]
