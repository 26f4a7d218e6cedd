"""Seed-format preference examples -> token ids -> length-bucketed batches of [chosen rows; rejected rows].

The scored response is the final assistant turn with its end-of-turn token, as the model's chat format renders it
(trainer.chat); its prompt is everything before it, each side with its own history (Accepted[:-1] for the chosen
side, Rejected[:-1] for the rejected one).
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import torch

from .chat import Chat
from .config import held_out_count
from .sft import batch_order, collate as sft_collate


@dataclass(frozen=True)
class Pair:
    chosen_prompt: tuple[int, ...]
    chosen: tuple[int, ...]  # response ids, the end-of-turn token included unless capped away
    rejected_prompt: tuple[int, ...]
    rejected: tuple[int, ...]

    @property
    def length(self) -> int:
        return max(len(self.chosen_prompt) + len(self.chosen), len(self.rejected_prompt) + len(self.rejected))

    @cached_property
    def key(self) -> str:
        """sha256 of the ids as scored: the example hash of the reference cache (a new truncation is a new key)."""
        ids = [self.chosen_prompt, self.chosen, self.rejected_prompt, self.rejected]
        return hashlib.sha256(json.dumps(ids).encode()).hexdigest()


def split_examples(examples: list[dict], eval_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """A seeded shuffle, then (train, held-out), with held_out_count(n, eval_fraction) examples held out."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_eval = held_out_count(len(examples), eval_fraction)
    return [examples[i] for i in order[n_eval:]], [examples[i] for i in order[:n_eval]]


def fit(prompt: list[int], response: list[int], max_len: int, max_response_len: int):
    """Cap the response at max_response_len, then keep the end of the prompt so both fit in max_len."""
    response_cut = len(response) > max_response_len
    response = response[:max_response_len]
    room = max_len - len(response)
    prompt_cut = len(prompt) > room
    return tuple(prompt[-room:]), tuple(response), prompt_cut, response_cut


def prompt_and_response(chat: Chat, template: str, users: list[str], replies: list[str]):
    """The conversation's ids split where the scored final reply begins; anything the template puts after the
    reply's end-of-turn token (a newline, say) is not part of either."""
    ids, mask = chat.render(template, users, replies)
    first, last = mask.index(1), len(mask) - mask[::-1].index(1)
    return ids[:first], ids[first:last]


def encode_example(chat: Chat, example: dict, max_len: int, max_response_len: int):
    """-> (Pair, prompt truncated?, response truncated?)"""
    template, users = example["Template"][0], example["User"]
    sides = [fit(*prompt_and_response(chat, template, users, replies), max_len, max_response_len)
             for replies in (example["Accepted"], example["Rejected"])]
    (cp, c, cp_cut, c_cut), (rp, r, rp_cut, r_cut) = sides
    return Pair(cp, c, rp, r), cp_cut or rp_cut, c_cut or r_cut


def encode_examples(chat: Chat, examples: list[dict], max_len: int, max_response_len: int):
    """-> (pairs, the examples they came from, counts). Pairs with nothing left to prefer (identical after
    truncation) are dropped; every truncation and drop is counted."""
    if not 0 < max_response_len < max_len:
        raise ValueError(f"need 0 < max_response_len ({max_response_len}) < max_len ({max_len})")
    pairs, kept = [], []
    counts = {"examples": len(examples), "used": 0, "prompt_truncated": 0, "response_truncated": 0,
              "dropped_identical": 0}
    for example in examples:
        pair, prompt_cut, response_cut = encode_example(chat, example, max_len, max_response_len)
        counts["prompt_truncated"] += prompt_cut
        counts["response_truncated"] += response_cut
        if (pair.chosen_prompt + pair.chosen) == (pair.rejected_prompt + pair.rejected):
            counts["dropped_identical"] += 1
            continue
        pairs.append(pair)
        kept.append(example)
    counts["used"] = len(pairs)
    return pairs, kept, counts


class Batch(NamedTuple):
    inputs: torch.Tensor  # (2B, T) chosen rows then rejected rows, right-padded
    targets: torch.Tensor  # (2B, T) the next token at each position
    mask: torch.Tensor  # (2B, T) 1 where the target is a response token
    tokens: int  # real (non-pad) input tokens

    @property
    def counts(self) -> torch.Tensor:  # (2B,) response tokens per row
        return self.mask.sum(-1)


def collate(pairs: list[Pair], pad_id: int, device) -> Batch:
    """The plain layout, every row whole (what collate_shared is tested against); right padding cannot affect real
    tokens under a causal mask."""
    rows = [(p.chosen_prompt, p.chosen) for p in pairs] + [(p.rejected_prompt, p.rejected) for p in pairs]
    examples = [(prompt + response, [0] * len(prompt) + [1] * len(response)) for prompt, response in rows]
    return Batch(*sft_collate(examples, pad_id, device), tokens=sum(len(ids) - 1 for ids, _ in examples))


class SharedBatch(NamedTuple):
    prefix: torch.Tensor  # (B, P) the tokens both sides of a pair start with, right-padded
    inputs: torch.Tensor  # (2B, C) the rest of each row, chosen rows then rejected rows, right-padded
    targets: torch.Tensor  # (2B, C) the next token at each position
    mask: torch.Tensor  # (2B, C) 1 where the target is a response token
    positions: torch.Tensor  # (2B, C) each input's position in its whole sequence
    keys: torch.Tensor  # (2B, P + C) 1 for the real prefix and input tokens a row may attend to
    tokens: int  # real input tokens of the whole rows, as Batch counts them

    @property
    def counts(self) -> torch.Tensor:  # (2B,) response tokens per row
        return self.mask.sum(-1)


def shared_length(pair: Pair) -> int:
    """How many tokens both sides start with, the last prompt token left out (its logit predicts the response)."""
    limit, n = min(len(pair.chosen_prompt), len(pair.rejected_prompt)) - 1, 0
    while n < limit and pair.chosen_prompt[n] == pair.rejected_prompt[n]:
        n += 1
    return n


def collate_shared(pairs: list[Pair], pad_id: int, device) -> SharedBatch:
    """A batch whose shared prompt goes through the model once per pair instead of once per side: the model runs
    the prefixes (B rows), then both sides' continuations (2B rows) attend to their pair's cached prefix."""
    shared = [shared_length(p) for p in pairs]
    rows = [(p.chosen_prompt, p.chosen, n) for p, n in zip(pairs, shared)] + \
        [(p.rejected_prompt, p.rejected, n) for p, n in zip(pairs, shared)]
    B, P = len(pairs), max(shared)
    C = max(len(prompt) + len(response) - n for prompt, response, n in rows) - 1
    prefix = torch.full((B, P), pad_id, dtype=torch.long)
    inputs = torch.full((2 * B, C), pad_id, dtype=torch.long)
    targets = torch.full((2 * B, C), pad_id, dtype=torch.long)
    mask = torch.zeros((2 * B, C), dtype=torch.float)
    positions = torch.zeros((2 * B, C), dtype=torch.long)
    keys = torch.zeros((2 * B, P + C), dtype=torch.long)
    for i, (pair, n) in enumerate(zip(pairs, shared)):
        prefix[i, :n] = torch.tensor(pair.chosen_prompt[:n], dtype=torch.long)
        keys[i, :n] = keys[B + i, :n] = 1
    for r, (prompt, response, n) in enumerate(rows):
        rest = (prompt + response)[n:]
        m = len(rest) - 1
        inputs[r, :m], targets[r, :m] = torch.tensor(rest[:-1]), torch.tensor(rest[1:])
        mask[r, len(prompt) - n - 1:m] = 1
        positions[r, :m] = torch.arange(n, n + m)
        keys[r, P:P + m] = 1
    tokens = sum(len(prompt) + len(response) - 1 for prompt, response, _ in rows)
    return SharedBatch(*(t.to(device) for t in (prefix, inputs, targets, mask, positions, keys)), tokens=tokens)


def step_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Index lists of exactly batch_size pairs, one per optimizer step, similar lengths together; reproducible from
    (seed, epoch). The few pairs left over in an epoch come round again in the next, differently shuffled one."""
    if len(lengths) < batch_size:
        raise ValueError(f"{len(lengths)} training pairs cannot fill one batch of {batch_size}")
    return [b for b in batch_order(len(lengths), batch_size, seed, epoch, lengths) if len(b) == batch_size]


def micro_batches(step: list[int], grad_accum: int, rank: int, world: int) -> list[list[int]]:
    """This process's share of a step: grad_accum consecutive slices, each dealt out across the world's ranks."""
    size = len(step) // grad_accum
    return [step[i * size:(i + 1) * size][rank::world] for i in range(grad_accum)]


def eval_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Every index once, sorted by length so each batch pads little."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
