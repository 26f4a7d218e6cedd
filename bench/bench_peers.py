"""Side by side with transformers and TRL on the same weights and the same token batches.

    .venv/bin/python bench/bench_peers.py generate --model tiny            # greedy decoding vs transformers' generate
    .venv/bin/python bench/bench_peers.py sft --model tiny                 # fwd/bwd/AdamW step vs LlamaForCausalLM
    .venv/bin/python bench/bench_peers.py dpo --model tiny                 # DPO step vs TRL DPOTrainer, + peak memory
    .venv/bin/python bench/bench_peers.py peak                             # matmul FLOP/s and memory bandwidth

Our model is converted with trainer.hf (state_to_hf, config_to_hf), so transformers holds the very same tensors.
Contenders take turns in one process (ours, theirs, ours, ...), so whatever else the machine does hits both alike;
each figure is the median (and best) over the timed repeats, and the load average is printed with the results.
Token equality (generation) and loss equality (DPO, SFT) are checked in the same run. On a shared machine run it
with OMP_NUM_THREADS=1: with two threads each matrix product waits for whichever thread the scheduler parked.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from trainer.generate import SamplingParams, generate  # noqa: E402
from trainer.hf import config_to_hf, state_to_hf  # noqa: E402
from trainer.spec import load_model  # noqa: E402

PROMPTS = ["Hi, how are you?", "What do you like to do on weekends?", "Can you recommend a good book?",
           "How do I make pancakes?"]


def to_transformers(model, chat, dtype=torch.float32):
    """A LlamaForCausalLM holding the same weights (copies in dtype)."""
    import transformers
    named = SimpleNamespace(stop_ids=chat.stop_ids, special={}, tokenizer=None)
    hf_cfg = config_to_hf(model.cfg, named)
    hf_cfg.pop("pad_token_id")  # transformers would turn it into the embedding's padding_idx
    hf_cfg.pop("bos_token_id")
    config = transformers.LlamaConfig(**{k: v for k, v in hf_cfg.items() if k not in ("architectures", "torch_dtype")})
    config._attn_implementation = "sdpa"
    with torch.device("meta"):
        hf = transformers.LlamaForCausalLM(config)
    state = {k: v.detach().clone().to(dtype) for k, v in state_to_hf(model).items()}
    if model.cfg.tie_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    hf.load_state_dict(state, strict=True, assign=True)
    if model.cfg.tie_embeddings:
        hf.tie_weights()
    hf.model.rotary_emb.__init__(config)  # its inv_freq buffer was on meta
    return hf.eval()


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> dict:
    return {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
            "torch": torch.__version__, "load_average_start": load_average()}


def interleave(contenders: dict, repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each contender, called in turns; one untimed warm-up call each first."""
    for fn in contenders.values():
        fn()
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def summary(work: float, seconds: list[float]) -> dict:
    """work units per second: median and best over the repeats."""
    return {"median": round(work / statistics.median(seconds), 1), "best": round(work / min(seconds), 1)}


# ------------------------------------------------------------------------------------------------ generation

def bench_generate(args) -> dict:
    from transformers import GenerationConfig
    results = machine() | {"model": args.model, "new_tokens": args.new_tokens}
    ours32, chat, _ = load_model(args.model)
    ours = {"fp32": ours32}
    for name, dtype in (("bf16", torch.bfloat16),) if args.bf16 else ():
        ours[name] = load_model(args.model, dtype=dtype)[0]
    theirs = to_transformers(ours32, chat)
    never = ours32.cfg.vocab_size + 1  # a stop id that never comes: every run decodes exactly new_tokens
    pad = chat.pad_id
    n = args.new_tokens
    params = SamplingParams(temperature=0, repetition_penalty=1.0, max_new_tokens=n)
    theirs.generation_config.eos_token_id = None  # no stop: both decode exactly n tokens
    gen_cfg = GenerationConfig(do_sample=False, max_new_tokens=n, eos_token_id=None, pad_token_id=pad)
    for batch in args.batches:
        prompts = [chat.prompt("CUSTOM" if args.model == "tiny" else "", [p], []) for p in (PROMPTS * 4)[:batch]]
        width = max(map(len, prompts))
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        out = {}

        def run_ours(model, name):
            out[name] = generate(model, prompts, params, (never,), pad)

        def run_theirs():
            with torch.inference_mode():
                out["transformers"] = theirs.generate(input_ids=ids, attention_mask=mask, generation_config=gen_cfg
                                                      )[:, width:].tolist()

        contenders = {f"ours_{name}": (lambda m=m, name=name: run_ours(m, f"ours_{name}")) for name, m in ours.items()}
        contenders["transformers"] = run_theirs
        times = interleave(contenders, args.repeats)
        row = {name: summary(batch * n, t) for name, t in times.items()}
        row["ratio_fp32_median"] = round(row["ours_fp32"]["median"] / row["transformers"]["median"], 2)
        row["tokens_equal_fp32"] = out["ours_fp32"] == out["transformers"]
        for name in ours:
            if name != "fp32":
                row[f"ratio_{name}_median"] = round(row[f"ours_{name}"]["median"] / row["transformers"]["median"], 2)
                same = sum(a == b for r, s in zip(out[f"ours_{name}"], out["ours_fp32"]) for a, b in zip(r, s))
                row[f"{name}_tokens_same_as_fp32"] = f"{same}/{batch * n}"
                row[f"{name}_sample"] = chat.decode(out[f"ours_{name}"][0])[:120]
        row["fp32_sample"] = chat.decode(out["ours_fp32"][0])[:120]
        results[f"batch{batch}"] = row
    results["bandwidth_limit_batch1"] = bandwidth_limit(ours32, args.new_tokens, len(prompts[0]))
    results["load_average_end"] = load_average()
    return results


def read_bandwidth_gbs(mb: int = 1024, repeats: int = 5) -> float:
    """Bytes/s of a full read (sum) of a tensor far larger than the caches, best of repeats."""
    x = torch.ones(mb * 2**20 // 4)
    best = min(timed(lambda: x.sum()) for _ in range(repeats))
    return x.numel() * 4 / best / 1e9


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bandwidth_limit(model, new_tokens: int, prompt_len: int) -> dict:
    """Batch-1 decode can be no faster than bandwidth / (weights + cache read per token)."""
    cfg = model.cfg
    weight_bytes = sum(p.numel() * p.element_size() for n, p in model.named_parameters()
                       if n != "embed.weight" or cfg.tie_embeddings)  # an untied embedding reads one row
    mean_len = prompt_len + new_tokens / 2
    cache_bytes = 2 * cfg.n_layers * cfg.n_kv_heads * cfg.head_dim * mean_len * 4
    gbs = read_bandwidth_gbs()
    return {"read_bandwidth_GB_s": round(gbs, 1), "bytes_per_token_MB": round((weight_bytes + cache_bytes) / 1e6, 2),
            "limit_tok_s": round(gbs * 1e9 / (weight_bytes + cache_bytes), 1)}


# ------------------------------------------------------------------------------------------------ SFT step

def model_flops_per_token(cfg, seq_len: int) -> float:
    """fwd+bwd: 6 per weight multiply (embedding lookup excluded) + causal attention scores and mixing."""
    d_attn = cfg.n_heads * cfg.head_dim
    weights = cfg.n_layers * (cfg.dim * d_attn + 2 * cfg.dim * cfg.n_kv_heads * cfg.head_dim + d_attn * cfg.dim
                              + 3 * cfg.dim * cfg.hidden_dim) + cfg.dim * cfg.vocab_size
    return 6 * weights + 6 * cfg.n_layers * seq_len * d_attn  # 12·L·T·d halved by the causal mask


def bench_sft(args) -> dict:
    import torch.nn.functional as F
    from trainer.optim import make_optimizer
    from trainer.sft import masked_nll
    results = machine() | {"model": args.model, "batch": args.batch, "seq_len": args.seq_len}
    ours, chat, _ = load_model(args.model)
    theirs = to_transformers(ours, chat)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(10, ours.cfg.vocab_size, (args.batch, args.seq_len + 1), generator=g)
    mask = torch.ones(args.batch, args.seq_len)
    ours.train(), theirs.train()
    opt_ours = make_optimizer(ours, 1e-5, 0.0)
    # what transformers' Trainer builds by default on torch >= 2.8 (optim="adamw_torch_fused")
    opt_theirs = torch.optim.AdamW(theirs.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.0, fused=True)
    losses = {"ours": [], "transformers": []}

    def step_ours():
        loss, _ = masked_nll(ours, ids[:, :-1], ids[:, 1:], mask)
        loss.backward()
        opt_ours.step()
        opt_ours.zero_grad(set_to_none=True)
        losses["ours"].append(loss.item())

    def step_theirs():
        logits = theirs(input_ids=ids[:, :-1], use_cache=False).logits
        loss = F.cross_entropy(logits.float().flatten(0, 1), ids[:, 1:].flatten())
        loss.backward()
        opt_theirs.step()
        opt_theirs.zero_grad(set_to_none=True)
        losses["transformers"].append(loss.item())

    times = interleave({"ours": step_ours, "transformers": step_theirs}, args.repeats)
    tokens = args.batch * args.seq_len
    for name, t in times.items():
        results[name] = summary(tokens, t)
    results["ratio_median"] = round(results["ours"]["median"] / results["transformers"]["median"], 2)
    results["max_loss_difference"] = max(abs(a - b) for a, b in zip(losses["ours"], losses["transformers"]))
    flops = model_flops_per_token(ours.cfg, args.seq_len) * tokens
    peak = matmul_peak()
    results["model_TFLOP_s_median"] = round(flops / statistics.median(times["ours"]) / 1e12, 3)
    results["fraction_of_fp32_peak"] = round(flops / statistics.median(times["ours"]) / peak["fp32"], 3)
    results["matmul_peak_TFLOP_s"] = {k: round(v / 1e12, 3) for k, v in peak.items()}
    results["load_average_end"] = load_average()
    return results


def matmul_peak(n: int = 2048, repeats: int = 5) -> dict:
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b
        out[name] = 2 * n ** 3 / min(timed(lambda: a @ b) for _ in range(repeats))
    return out


# ------------------------------------------------------------------------------------------------ DPO step

def dpo_configs(args, tmp: str):
    from trainer.config import TrainConfig
    data = Path(tmp) / "pairs.json"
    examples = json.loads(Path(args.data).read_text())
    # TRL's collator has one prompt per pair: use pairs whose two sides share it (all of the demo pairs do)
    examples = [e for e in examples if e["Accepted"][:-1] == e["Rejected"][:-1]][:args.pairs]
    data.write_text(json.dumps(examples))
    return TrainConfig(data=str(data), eval_data=str(data), model=args.model, eval_prompts="", n_sample_prompts=0,
                       max_steps=10_000, batch_size=args.batch_size, lr=args.lr, warmup_steps=0, beta=0.5,
                       device="cpu", run_dir=f"{tmp}/ours")


class PreTokenized:
    """Mix-in for TRL's DPOTrainer: take rows already holding prompt_ids/chosen_ids/rejected_ids as they are."""

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        return dataset


def id_tokenizer(vocab: int, pad: int, eos: int):
    """A tokenizer whose tokens are the ids themselves: the data is pre-tokenized, TRL only reads pad and eos."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast
    vocab_map = {str(i): i for i in range(vocab)}
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab_map, unk_token=str(pad))),
                                   pad_token=str(pad), eos_token=str(eos))


def trl_trainer(model, chat, pairs, cfg, tmp: str):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    class Trainer(PreTokenized, DPOTrainer):
        """TRL's DPOTrainer, fed our token ids as they are (PreTokenized's _prepare_dataset)."""

    rows = [{"prompt_ids": list(p.chosen_prompt), "chosen_ids": list(p.chosen), "rejected_ids": list(p.rejected)}
            for p in pairs]
    hf = to_transformers(model, chat).train()
    dpo_args = DPOConfig(output_dir=f"{tmp}/trl", loss_type=["sigmoid_norm"], beta=cfg.beta,
                         precompute_ref_log_probs=True, per_device_train_batch_size=cfg.batch_size,
                         precompute_ref_batch_size=cfg.batch_size, max_length=None, activation_checkpointing=False,
                         report_to=[], use_cpu=True, adam_beta2=0.95, weight_decay=cfg.weight_decay, bf16=False,
                         learning_rate=cfg.lr, max_grad_norm=cfg.grad_clip,
                         dataset_num_proc=None, disable_tqdm=True, logging_steps=1_000_000)
    processing = id_tokenizer(model.cfg.vocab_size, chat.pad_id, chat.stop_ids[0])
    trainer = Trainer(model=hf, args=dpo_args, train_dataset=Dataset.from_list(rows), processing_class=processing)
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(), whose loop we drive step by step
    return trainer


def bench_dpo(args) -> dict:
    from trainer.train import DPORun, World
    results = machine() | {"model": args.model, "pairs": args.pairs, "batch_size": args.batch_size}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dpo_configs(args, tmp)
        ours = DPORun(cfg, World(), torch.device("cpu"), threading.Event())
        ours.setup(resume=False)
        pairs = ours.pairs["train"]
        bf16 = None
        if args.bf16:  # the same run under bf16 autocast: it draws the same batches from the same seed
            bf16 = DPORun(replace(cfg, precision="bf16", run_dir=f"{tmp}/bf16"), World(), torch.device("cpu"),
                          threading.Event())
            bf16.setup(resume=False)
        trainer = trl_trainer(ours.policy, ours.chat, pairs, cfg, tmp)
        hf = trainer.model
        opt = trainer.create_optimizer()  # TRL's own default (fused AdamW), with our betas and decay
        steps = []  # each step's pair indices, as ours drew them
        draw = ours.next_step_pairs
        ours.next_step_pairs = lambda: steps.append(draw()) or steps[-1]
        ref_rows = trainer.train_dataset
        losses = {"ours": [], "trl": [], "ours_bf16": []}
        tokens = []

        def step_ours():
            row = ours.train_step(cfg.lr)
            losses["ours"].append(row["loss"])
            tokens.append(ours.progress["tokens"])

        def step_trl():
            batch = trainer.data_collator([ref_rows[i] for i in steps[-1]])
            loss = trainer.training_step(hf, batch)
            torch.nn.utils.clip_grad_norm_(hf.parameters(), cfg.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses["trl"].append(loss.item())

        contenders = {"ours": step_ours, "trl": step_trl}
        if bf16:
            contenders["ours_bf16"] = lambda: losses["ours_bf16"].append(bf16.train_step(cfg.lr)["loss"])
        times = interleave(contenders, args.repeats)
        step_tokens = [b - a for a, b in zip(tokens, tokens[1:])]
        for name, t in times.items():  # tokens/s per step: the same batches went through both
            rates = [n / s for n, s in zip(step_tokens, t)]
            results[name] = {"median_tok_s": round(statistics.median(rates), 1), "best_tok_s": round(max(rates), 1)}
        results["ratio_median"] = round(results["ours"]["median_tok_s"] / results["trl"]["median_tok_s"], 2)
        if bf16:
            results["ratio_bf16_median"] = round(results["ours_bf16"]["median_tok_s"] / results["trl"]["median_tok_s"],
                                                 2)
            results["max_loss_difference_bf16"] = max(abs(a - b) for a, b in zip(losses["ours"], losses["ours_bf16"]))
        results["losses"] = losses
        results["max_loss_difference"] = max(abs(a - b) for a, b in zip(losses["ours"], losses["trl"]))
        results["load_average_end"] = load_average()
        longest = max(range(len(pairs)), key=lambda i: pairs[i].length)
        results["longest_pair_tokens"] = pairs[longest].length
    if args.memory:
        results["peak_mb"] = {who: peak_memory(who, args) for who in ("ours", "trl")}
        results["memory_ratio"] = round(results["peak_mb"]["ours"] / results["peak_mb"]["trl"], 2)
    return results


def proc_status_mb(field: str) -> float:
    """VmRSS (resident now) or VmHWM (its peak; unlike ru_maxrss not inherited from a forking parent)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":")) / 1024


def peak_memory(who: str, args) -> float:
    """Peak resident set above the start of a child that trains one whole epoch (so its longest batch too)."""
    cmd = [sys.executable, __file__, "dpo-child", who, "--model", args.model, "--pairs", str(args.pairs),
           "--batch-size", str(args.batch_size), "--data", args.data]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


def dpo_child(args) -> None:
    from trainer.train import DPORun, World
    start = proc_status_mb("VmRSS")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dpo_configs(args, tmp)
        run = DPORun(cfg, World(), torch.device("cpu"), threading.Event())
        run.setup(resume=False)
        epoch = list(run.order)
        if args.who == "ours":
            for _ in epoch:
                run.train_step(cfg.lr)
        else:
            trainer = trl_trainer(run.policy, run.chat, run.pairs["train"], cfg, tmp)
            del run  # only TRL's copy stays (the same weights)
            opt = trainer.create_optimizer()
            for idx in epoch:
                trainer.training_step(trainer.model, trainer.data_collator([trainer.train_dataset[i] for i in idx]))
                opt.step()
                opt.zero_grad(set_to_none=True)
    print(json.dumps({"peak_mb": proc_status_mb("VmHWM") - start}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--new-tokens", type=int, default=128)
    g.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    g.add_argument("--repeats", type=int, default=5)
    g.add_argument("--bf16", action="store_true", help="also our decoding with bf16 weights")
    s = sub.add_parser("sft")
    s.add_argument("--batch", type=int, default=16)
    s.add_argument("--seq-len", type=int, default=128)
    s.add_argument("--repeats", type=int, default=5)
    d = sub.add_parser("dpo")
    d.add_argument("--pairs", type=int, default=64)
    d.add_argument("--batch-size", type=int, default=8)
    d.add_argument("--repeats", type=int, default=8)
    d.add_argument("--lr", type=float, default=2e-5)
    d.add_argument("--memory", action="store_true", help="also peak memory over one epoch, each in a child")
    d.add_argument("--bf16", action="store_true", help="also our step under bf16 autocast")
    c = sub.add_parser("dpo-child")
    c.add_argument("who", choices=["ours", "trl"])
    c.add_argument("--pairs", type=int, default=64)
    c.add_argument("--batch-size", type=int, default=8)
    c.add_argument("--lr", type=float, default=2e-5)
    sub.add_parser("peak")
    for p in (g, s, d, c):
        p.add_argument("--model", default="tiny")
    for p in (d, c):
        p.add_argument("--data", default=str(ROOT / "assets" / "demo_pairs.json"))
    args = ap.parse_args()
    if args.what == "dpo-child":
        return dpo_child(args)
    if args.what == "peak":
        out = machine() | {"matmul_TFLOP_s": {k: round(v / 1e12, 3) for k, v in matmul_peak().items()},
                           "read_bandwidth_GB_s": round(read_bandwidth_gbs(), 1)}
    else:
        out = {"generate": bench_generate, "sft": bench_sft, "dpo": bench_dpo}[args.what](args)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
