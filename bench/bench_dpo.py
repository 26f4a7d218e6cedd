"""DPO training throughput and peak memory: cached vs live reference, and tokens/s vs batch size.

    .venv/bin/python bench/bench_dpo.py [--model assets/default-model] [--pairs 96] [--steps 12] [--device auto]

Throughput: the configurations being compared train side by side in one process, taking turns step by step
(the trainer's own DPORun.train_step on the same data), so whatever else the machine does hits all of them alike and
their ratios hold. tokens/s is the median over the second half of each one's steps (on CUDA a step with a batch
shape not seen before is several times slower) and counts the real tokens of both sequences of every pair, prompt
included. Peak memory: each configuration once more in a child process of its own, a real `train()` run of one
whole epoch (so its longest batch is in it); CUDA's max_memory_allocated on a GPU, else the peak resident set
above the child's size before training.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from trainer.config import TrainConfig, steps_for_epochs  # noqa: E402
from trainer.device import pick_device  # noqa: E402
from trainer.optim import lr_at  # noqa: E402
from trainer.paths import ASSETS_DIR, DEFAULT_MODEL_DIR  # noqa: E402
from trainer.train import DPORun, World, train  # noqa: E402

def proc_status_mb(field: str) -> float:
    """VmRSS (resident now) or VmHWM (its peak; unlike ru_maxrss not inherited from a forking parent)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":")) / 1024


def throughput(configs: dict[str, TrainConfig], steps: int) -> dict[str, float]:
    """Median tokens/s of each configuration, all trained in turns, one step each per round."""
    device = pick_device(next(iter(configs.values())).device)
    runs = {}
    for name, cfg in configs.items():
        runs[name] = DPORun(cfg, World(), device, threading.Event())
        runs[name].setup(resume=False)
    rates: dict[str, list[float]] = {name: [] for name in configs}
    for step in range(steps):
        for name, run in runs.items():
            cfg = configs[name]
            rates[name].append(run.train_step(lr_at(step, cfg.lr, cfg.warmup_steps, cfg.max_steps))["tokens_per_s"])
    return {name: statistics.median(r[steps // 2:]) for name, r in rates.items()}


def child(cfg_json: str) -> None:
    """Train one configuration and print its peak memory (MiB) as one JSON line."""
    cfg = TrainConfig(**json.loads(cfg_json))
    start_mb = proc_status_mb("VmRSS")
    state = train(cfg)
    cuda = pick_device(cfg.device).type == "cuda"
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else proc_status_mb("VmHWM") - start_mb
    print(json.dumps({"state": state, "peak_mb": peak}))


def peak_memory(cfg: TrainConfig, pairs: int) -> float:
    """Peak of a run over one whole epoch: a few short steps would miss the longest batch (97 tokens of 153)."""
    steps = steps_for_epochs(1, pairs, cfg.eval_fraction, cfg.batch_size)
    cfg = replace(cfg, max_steps=steps, eval_interval=steps, save_interval=steps, run_dir=cfg.run_dir + "-memory")
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(asdict(cfg))], capture_output=True,
                         text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["state"] != "completed":
        raise RuntimeError(f"memory run of {cfg.run_dir} {result['state']}")
    return result["peak_mb"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    ap.add_argument("--data", default=str(ASSETS_DIR / "demo_pairs.json"))
    ap.add_argument("--pairs", type=int, default=96, help="examples of --data to use (the reference pass is per pair)")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=8, help="for the cached vs live comparison")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[2, 4, 8, 16])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "pairs.json"
        data.write_text(json.dumps(json.loads(Path(args.data).read_text())[:args.pairs]))
        base = TrainConfig(data=str(data), model=args.model, eval_prompts="", n_sample_prompts=0,
                           max_steps=args.steps, device=args.device)
        modes = {name: replace(base, batch_size=args.batch_size, ref_cache=name == "cached", run_dir=f"{tmp}/{name}")
                 for name in ("cached", "live")}
        batches = {b: replace(base, batch_size=b, run_dir=f"{tmp}/batch{b}") for b in args.batch_sizes}
        mode_rate = throughput(modes, args.steps)
        batch_rate = throughput({str(b): cfg for b, cfg in batches.items()}, args.steps)
        mode_peak = {name: peak_memory(cfg, args.pairs) for name, cfg in modes.items()}
        batch_peak = {b: peak_memory(cfg, args.pairs) for b, cfg in batches.items()}

    device = pick_device(args.device)
    machine = torch.cuda.get_device_name() if device.type == "cuda" else \
        f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    report = {"device": machine, "torch": torch.__version__, "model": args.model, "pairs": args.pairs,
              "steps": args.steps, "batch_size": args.batch_size,
              "tokens_per_s": mode_rate, "peak_mb": mode_peak,
              "speedup_cached_over_live": mode_rate["cached"] / mode_rate["live"],
              "memory_live_over_cached": mode_peak["live"] / mode_peak["cached"],
              "by_batch_size": {b: {"tokens_per_s": batch_rate[str(b)], "peak_mb": batch_peak[b]} for b in batches}}
    print(json.dumps(report, indent=2))
    print("\n| reference | tokens/s | peak MiB |\n|---|---|---|")
    for name in modes:
        print(f"| {name} | {mode_rate[name]:.0f} | {mode_peak[name]:.0f} |")
    print("\n| batch size (pairs) | tokens/s | peak MiB |\n|---|---|---|")
    for b in batches:
        print(f"| {b} | {batch_rate[str(b)]:.0f} | {batch_peak[b]:.0f} |")


if __name__ == "__main__":
    main()
