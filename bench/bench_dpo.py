"""DPO training throughput and peak memory: cached vs live reference, and tokens/s vs batch size.

    .venv/bin/python bench/bench_dpo.py [--model assets/default-model] [--pairs 96] [--steps 6] [--device auto]

Every configuration is a real `trainer.train.train()` run (no samples) in its own child process, so each peak is
its own: CUDA's max_memory_allocated on a GPU, else the peak resident set over the child's size before training.
Cached and live runs alternate (--repeats pairs of them) and their ratio is reported from the best of each, so
whatever else the machine does hits both alike. tokens/s is the median over the second half of the steps (on CUDA
a step with a batch shape not seen before is several times slower); it counts the real tokens of both sequences of
every pair, prompt included.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from trainer.paths import ASSETS_DIR, DEFAULT_MODEL_DIR  # noqa: E402
from trainer.rundir import RunDir  # noqa: E402
from trainer.train import TrainConfig, train  # noqa: E402


def resident_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(cfg_json: str) -> None:
    """Train one configuration and print one JSON line: tokens/s, peak memory, wall time."""
    cfg = TrainConfig(**json.loads(cfg_json))
    cuda = torch.cuda.is_available() and cfg.device in ("auto", "cuda")
    start_mb, t0 = resident_mb(), time.perf_counter()
    state = train(cfg)
    rows = [r["tokens_per_s"] for r in RunDir(cfg.run_dir).read_metrics() if "tokens_per_s" in r]
    peak = (torch.cuda.max_memory_allocated() / 2**20 if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - start_mb)
    print(json.dumps({"state": state, "tokens_per_s": statistics.median(rows[len(rows) // 2:]), "peak_mb": peak,
                      "wall_s": time.perf_counter() - t0}))


def measure(base: TrainConfig, tmp: Path, **overrides) -> dict:
    cfg = asdict(base) | overrides | {"run_dir": str(tmp / f"run{len(list(tmp.iterdir()))}")}
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)], capture_output=True, text=True,
                         check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["state"] != "completed":
        raise RuntimeError(RunDir(cfg["run_dir"]).read_status().get("error"))
    return result


def best(runs: list[dict]) -> dict:
    return {"tokens_per_s": max(r["tokens_per_s"] for r in runs), "peak_mb": min(r["peak_mb"] for r in runs),
            "wall_s": min(r["wall_s"] for r in runs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    ap.add_argument("--data", default=str(ASSETS_DIR / "demo_pairs.json"))
    ap.add_argument("--pairs", type=int, default=96, help="examples of --data to use (the reference pass is per pair)")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=16, help="for the cached vs live comparison")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 8, 16, 32])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "pairs.json"
        data.write_text(json.dumps(json.loads(Path(args.data).read_text())[:args.pairs]))
        (tmp / "runs").mkdir()
        base = TrainConfig(data=str(data), model=args.model, eval_prompts="", n_sample_prompts=0,
                           max_steps=args.steps, eval_interval=args.steps, save_interval=args.steps,
                           device=args.device)
        runs: dict[bool, list[dict]] = {True: [], False: []}
        for _ in range(args.repeats):
            for cached in (True, False):
                runs[cached].append(measure(base, tmp / "runs", batch_size=args.batch_size, ref_cache=cached))
        cached, live = best(runs[True]), best(runs[False])
        by_batch = {b: measure(base, tmp / "runs", batch_size=b) for b in args.batch_sizes}

    device = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device in ("auto", "cuda") else \
        f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    report = {"device": device, "torch": torch.__version__, "model": args.model, "pairs": args.pairs,
              "steps": args.steps, "batch_size": args.batch_size, "cached": cached, "live": live,
              "speedup_cached_over_live": cached["tokens_per_s"] / live["tokens_per_s"],
              "memory_live_over_cached": live["peak_mb"] / cached["peak_mb"], "by_batch_size": by_batch}
    print(json.dumps(report, indent=2))
    print(f"\n| reference | tokens/s | peak MiB | run wall s |\n|---|---|---|---|")
    for name, r in (("cached", cached), ("live", live)):
        print(f"| {name} | {r['tokens_per_s']:.0f} | {r['peak_mb']:.0f} | {r['wall_s']:.1f} |")
    print(f"\n| batch size (pairs) | tokens/s | peak MiB |\n|---|---|---|")
    for b, r in by_batch.items():
        print(f"| {b} | {r['tokens_per_s']:.0f} | {r['peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
