"""The Train tab's presets, timed the way the studio runs them: wall time from Start to a finished run, and what the
run did to the default model.

    .venv/bin/python bench/bench_presets.py [--model assets/default-model] [--data assets/demo_pairs.json]
                                            [--variant '{"lr": 5e-5, "nll_weight": 1.0}' ...]

Each run is prepared and launched through studio.runs (a run dir, a trainer subprocess in its own process group)
and polled like the live view until it ends, one after the other. Prints a Markdown table: wall time, the first
eval step at the best held-out accuracy, the final margin, held-out chosen log-prob first -> last, and how many of
the policy's samples at the last eval are garbled (undecodable bytes). A --variant is the default settings with
the given ones on top.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from dpo_report import garbled  # noqa: E402
from studio import runs  # noqa: E402
from trainer.paths import ASSETS_DIR, DEFAULT_MODEL_DIR  # noqa: E402


def timed_run(runs_dir: Path, settings: dict, model: str, data: str) -> dict:
    start = time.time()
    rd = runs.create_run(runs_dir, settings, model, data_file=data)
    runs.launch(rd.path)
    while (view := runs.observe(rd.path)).state in runs.ACTIVE:
        time.sleep(0.5)
    evals = [m for m in view.metrics if "eval_rewards/accuracies" in m]
    best = max(m["eval_rewards/accuracies"] for m in evals)
    samples = runs.samples_by_step(rd.path)
    return {"state": view.state, "seconds": time.time() - start, "best_accuracy": best,
            "first_step_at_best": next(m["step"] for m in evals if m["eval_rewards/accuracies"] == best),
            "margin": evals[-1]["eval_rewards/margins"], "chosen_logp": (evals[0]["eval_logps/chosen"],
                                                                          evals[-1]["eval_logps/chosen"]),
            "garbled": garbled([s["policy"] for s in samples[max(samples)]]), "samples": len(samples[max(samples)])}


def describe(settings: dict) -> str:
    return f"lr {settings['lr']:g}, {settings['max_steps']} × {settings['batch_size']} pairs" + (
        f", NLL weight {settings['nll_weight']:g}" if settings["nll_weight"] else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    ap.add_argument("--data", default=str(ASSETS_DIR / "demo_pairs.json"))
    ap.add_argument("--variant", action="append", default=[], type=json.loads,
                    help="settings on top of the defaults, as JSON; repeat for more runs")
    ap.add_argument("--preset", action="append", choices=["defaults", "quick demo"],
                    help="only this preset (repeat for more); default: both")
    args = ap.parse_args()
    presets = [(name, settings) for name, settings in (("defaults", runs.DEFAULTS), ("quick demo", runs.QUICK_DEMO))
               if name in (args.preset or ["defaults", "quick demo"])]
    presets += [("variant", {**runs.DEFAULTS, **variant}) for variant in args.variant]
    print("| preset | settings | state | time | best held-out accuracy (first at step) | final margin "
          "| held-out chosen log-prob | garbled samples |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, settings in presets:
            r = timed_run(Path(tmp), settings, args.model, args.data)
            print(f"| {name} | {describe(settings)} | {r['state']} | {r['seconds']:.0f} s | {r['best_accuracy']:.3f} "
                  f"({r['first_step_at_best']}) | {r['margin']:.2f} | {r['chosen_logp'][0]:.2f} → "
                  f"{r['chosen_logp'][1]:.2f} | {r['garbled']} of {r['samples']} |", flush=True)


if __name__ == "__main__":
    main()
