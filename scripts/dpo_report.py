"""Summarise a DPO run directory as Markdown (for docs/DPO.md) and plot its curves.

    .venv/bin/python scripts/dpo_report.py RUN_DIR [--png docs/img/dpo_demo.png] [--step N]

Prints the held-out metrics at step 0, the best step and the last one, distinct-2 of the policy's and the
reference's samples, and a reference-vs-policy table at --step (default: the best step). The plot needs matplotlib
(`pip install matplotlib`).
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trainer.rundir import RunDir  # noqa: E402

EVAL_COLUMNS = ("eval_loss", "eval_rewards/accuracies", "eval_rewards/margins", "eval_logps/chosen",
                "eval_logps/rejected")


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Unique word n-grams over all n-grams of all texts: near 0 when every reply repeats the same phrase."""
    grams = Counter(g for t in texts for g in zip(*(t.lower().split()[i:] for i in range(n))))
    return len(grams) / max(1, sum(grams.values()))


def garbled(texts: list[str]) -> int:
    """Replies with undecodable bytes (U+FFFD): what a policy pushed off its language produces first."""
    return sum("\ufffd" in t for t in texts)


def plot(rows: list[dict], png: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in rows if "loss" in r]
    evals = [r for r in rows if "eval_loss" in r]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    panels = (("loss", "DPO loss"), ("rewards/accuracies", "reward accuracy"), ("rewards/margins", "reward margin"))
    for ax, (key, title) in zip(axes, panels):
        ax.plot([r["step"] for r in train], [r[key] for r in train], lw=0.8, alpha=0.6, label="train (batch)")
        ax.plot([r["step"] for r in evals], [r["eval_" + key] for r in evals], "o-", label="held-out")
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].axhline(0.6931, color="grey", ls=":", lw=0.8)
    axes[0].legend()
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--png", help="write the curves here")
    ap.add_argument("--step", type=int, help="samples from this step (default: the best)")
    args = ap.parse_args()
    rd = RunDir(args.run_dir)
    rows, samples, status = rd.read_metrics(), rd.read_samples(), rd.read_status()
    evals = {r["step"]: r for r in rows if "eval_loss" in r}
    best, last = status["best_step"], max(evals)
    step = args.step if args.step is not None else best

    print(f"state {status['state']}, {status['step']} steps, best step {best}\n")
    print("| step | " + " | ".join(EVAL_COLUMNS) + " |\n|" + "---|" * (len(EVAL_COLUMNS) + 1))
    for s in sorted({0, best, last}):
        print(f"| {s} | " + " | ".join(f"{evals[s][c]:.3f}" for c in EVAL_COLUMNS) + " |")

    at_step = [s for s in samples if s["step"] == step]
    policy, reference = [s["policy"] for s in at_step], [s["reference"] for s in at_step]
    print(f"\nAt step {step}, over {len(policy)} prompts: distinct-2 policy {distinct_n(policy):.3f}, reference "
          f"{distinct_n(reference):.3f}; different replies: policy {len(set(policy))}, "
          f"reference {len(set(reference))}; "
          f"garbled replies: policy {garbled(policy)}, reference {garbled(reference)}\n")
    print(f"| prompt | reference | policy (step {step}) |\n|---|---|---|")
    for s in at_step:
        print(f"| {cell(s['messages'][-1]['content'])} | {cell(s['reference'])} | {cell(s['policy'])} |")
    if args.png:
        plot(rows, Path(args.png))
        print(f"\nplot: {args.png}")


if __name__ == "__main__":
    main()
