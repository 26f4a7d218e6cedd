"""Generation tokens/s with and without the KV cache, and base-model (SFT) training tokens/s.

    .venv/bin/python bench/bench_generate.py [--model assets/default-model] [--new-tokens 128] [--repeats 3]

Both decoders run side by side in one process on the same prompts, so the ratio holds whatever else the machine
is doing; absolute numbers depend on the machine. Greedy decoding with no stop, so every run decodes the same count.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trainer.checkpoint import load_checkpoint  # noqa: E402
from trainer.generate import SamplingParams, generate  # noqa: E402
from trainer.paths import DEFAULT_MODEL_DIR  # noqa: E402
from trainer.sft import masked_nll  # noqa: E402

PROMPTS = ["Hi, how are you?", "What do you like to do on weekends?", "Can you recommend a good book?",
           "How do I make pancakes?"]


def time_generation(model, prompts, new_tokens, use_cache, repeats, stop_id):
    params = SamplingParams(temperature=0, repetition_penalty=1.0, max_new_tokens=new_tokens)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = generate(model, prompts, params, (stop_id,), pad_id=-1 % model.cfg.vocab_size, use_cache=use_cache)
        best = min(best, time.perf_counter() - t)
    return sum(len(o) for o in out) / best


def time_training(model, batch_size, seq_len, steps):
    ids = torch.randint(10, model.cfg.vocab_size, (batch_size, seq_len + 1))
    mask = torch.ones(batch_size, seq_len)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    masked_nll(model, ids[:, :-1], ids[:, 1:], mask)[0].backward()  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        loss, _ = masked_nll(model, ids[:, :-1], ids[:, 1:], mask)
        loss.backward()
        opt.step()
        opt.zero_grad()
    return batch_size * seq_len * steps / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    model, chat, _ = load_checkpoint(args.model)
    never = model.cfg.vocab_size + 1  # a stop id that never comes: every run decodes exactly new-tokens
    results = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
               "torch": torch.__version__, "params": model.num_params()}
    for batch in (1, 4):
        prompts = [chat.prompt("CUSTOM", [p], []) for p in (PROMPTS * 4)[:batch]]
        cached = time_generation(model, prompts, args.new_tokens, True, args.repeats, never)
        uncached = time_generation(model, prompts, args.new_tokens, False, args.repeats, never)
        results[f"batch{batch}"] = {"cached_tok_s": round(cached, 1), "uncached_tok_s": round(uncached, 1),
                                    "speedup": round(cached / uncached, 2)}
    results["sft_train_tok_s"] = round(time_training(model, batch_size=32, seq_len=128, steps=5), 1)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
