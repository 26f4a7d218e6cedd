"""Batched, KV-cached sampling that stops at the chat format's end-of-turn tokens."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .config import setting
from .model import KVCache, Transformer


@dataclass
class SamplingParams:
    temperature: float = setting(0.8, "sampling temperature; 0: greedy")
    top_k: int = setting(40, "sample among the k likeliest tokens only; 0: all")
    top_p: float = setting(0.95, "sample among the likeliest tokens that hold this much probability; 1: all")
    repetition_penalty: float = setting(1.15, "makes tokens already in the reply less likely; 1: off")
    max_new_tokens: int = setting(64, "tokens of reply at most")
    seed: int = setting(0, "the same seed, prompt and settings give the same reply")

    def to_dict(self) -> dict:
        return asdict(self)


def penalise_repeats(logits, seen, penalty: float):
    # logits, seen: (B, V). CTRL-style: make tokens already in the reply less likely whatever their sign. Only the
    # reply counts: penalising the prompt would push a small model away from the words of the question.
    if penalty == 1.0:
        return logits
    return torch.where(seen, torch.where(logits > 0, logits / penalty, logits * penalty), logits)


def filter_top_k_top_p(logits, top_k: int, top_p: float):
    # logits: (B, V) -> the same with everything outside the top-k / nucleus set to -inf
    if 0 < top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop_sorted = cum - sorted_logits.softmax(-1) > top_p  # keep the token that crosses top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def next_token(logits, seen, p: SamplingParams, generator):
    # logits: (B, V) float -> (B,) token ids
    logits = penalise_repeats(logits.float(), seen, p.repetition_penalty)
    if p.temperature <= 0:
        return logits.argmax(-1)
    logits = filter_top_k_top_p(logits / p.temperature, p.top_k, p.top_p)
    return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(-1)


def left_pad(prompts: list[list[int]], pad_id: int, device):
    # -> ids (B, L) and attention mask (B, L) with prompts aligned to the right edge
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(prompts), width), dtype=torch.long, device=device)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
        mask[i, width - len(p):] = 1
    return ids, mask


@torch.inference_mode()
def generate(model: Transformer, prompts: list[list[int]], params: SamplingParams, stop_ids: tuple[int, ...],
             pad_id: int, use_cache: bool = True) -> list[list[int]]:
    """Continue each prompt until a stop id or max_new_tokens; returns the new tokens before the stop.

    Prompts longer than the context allows keep their end. Without the cache every step re-reads the whole
    sequence (slow; kept to prove the cache changes nothing).
    """
    device = next(model.parameters()).device
    room = model.cfg.max_seq_len - params.max_new_tokens
    if room < 1:
        raise ValueError(f"max_new_tokens={params.max_new_tokens} leaves no room in a "
                         f"{model.cfg.max_seq_len}-token context")
    ids, mask = left_pad([p[-room:] for p in prompts], pad_id, device)
    (B, L), N = ids.shape, params.max_new_tokens
    # Keys to skip are the prompts' left padding only (a finished row's later tokens are replaced by pad_id anyway),
    # so the mask is built once, and not at all when no prompt is padded.
    mask = torch.cat([mask, mask.new_ones(B, N)], dim=1) if not mask.all() else None  # (B, L + N)
    generator = torch.Generator(device=device).manual_seed(params.seed)
    seen = torch.zeros(B, model.cfg.vocab_size, dtype=torch.bool, device=device)
    cache = KVCache(model.cfg, B, L + N, device, model.embed.weight.dtype) if use_cache else None
    out = torch.full((B, N), pad_id, dtype=torch.long, device=device)
    done = torch.zeros(B, dtype=torch.bool, device=device)
    stops = torch.tensor(stop_ids, dtype=torch.long, device=device)
    step_ids = ids
    for t in range(N):
        x = step_ids if use_cache else torch.cat([ids, out[:, :t]], dim=1)
        logits = model.lm_head(model.hidden(x, cache=cache, attention_mask=mask)[:, -1])  # (B, V): last position only
        tok = torch.where(done, pad_id, next_token(logits, seen, params, generator))
        out[:, t] = tok
        done |= torch.isin(tok, stops)
        if done.all():
            break
        if params.repetition_penalty != 1.0:
            seen.scatter_(1, tok[:, None], True)
        step_ids = tok[:, None]
    return [until_stop(row, stop_ids) for row in out.tolist()]


def until_stop(tokens: list[int], stop_ids: tuple[int, ...]) -> list[int]:
    """The tokens before the first stop id (a finished row's padding comes after it)."""
    end = next((i for i, t in enumerate(tokens) if t in stop_ids), len(tokens))
    return tokens[:end]
