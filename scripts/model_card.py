"""Write MODEL_CARD.md for a checkpoint built by build_default_model.py, with sampled replies to everyday prompts.

    .venv/bin/python scripts/model_card.py [--model assets/default-model] [--run work/default-model/run]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trainer.generate import SamplingParams  # noqa: E402
from trainer.inference import ChatModel  # noqa: E402

PROMPTS = ["Hi, how are you?", "What do you like to do on weekends?", "Can you recommend a good book?",
           "What's your favourite food?", "I feel a bit tired today.", "Do you like music?",
           "How can I sleep better?", "My car is locked and the keys are inside. What should I do?",
           "Who will win the next election?", "Thanks for chatting, bye!"]
SEEDS = (0, 1)


def sample_rows(chat: ChatModel) -> list[tuple[str, list[str]]]:
    rows = []
    for prompt in PROMPTS:
        replies = [chat.reply("CUSTOM", [prompt], [], SamplingParams(seed=s, max_new_tokens=60)) for s in SEEDS]
        rows.append((prompt, replies))
    return rows


def validation_curve(run: Path) -> list[tuple[int, float]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "assets/default-model"))
    ap.add_argument("--run", default=str(ROOT / "work/default-model/run"))
    args = ap.parse_args()
    model_dir, run = Path(args.model), Path(args.run)
    chat = ChatModel.load(model_dir, "cpu")
    meta, cfg = chat.meta, chat.model.cfg
    mix = json.loads((model_dir / "mix.json").read_text())
    sft = json.loads((model_dir / "sft_config.json").read_text())
    defaults = SamplingParams()
    lines = [
        "# Default model card",
        "",
        "The chat model DPO Studio ships and starts on: a small LLaMA-style decoder trained from scratch on CPU. It is",
        "the reference (SFT) model for DPO runs and the default candidate generator for annotation. It is a toy: it",
        "makes small talk in short English sentences and knows almost nothing.",
        "",
        "| | |",
        "| --- | --- |",
        f"| architecture | {cfg.n_layers} layers, dim {cfg.dim}, {cfg.n_heads} query / {cfg.n_kv_heads} key-value heads, "
        f"SwiGLU {cfg.hidden_dim}, RoPE, RMSNorm, tied embeddings |",
        f"| parameters | {chat.model.num_params():,} |",
        f"| context | {cfg.max_seq_len} tokens |",
        f"| tokenizer | sentencepiece BPE, {cfg.vocab_size} pieces, byte fallback, role markers as control symbols |",
        f"| training | {meta['steps']} steps of {sft['batch_size']} conversations, AdamW lr {sft['lr']} "
        f"(warmup {sft['warmup_steps']}, cosine), weight decay {sft['weight_decay']}, seed {sft['seed']}, CPU, fp32 |",
        f"| tokens seen | {meta['tokens_seen']:,} (non-padding input tokens) |",
        f"| best validation loss | {meta['best_val_loss']:.3f} (per assistant token, {meta['val_conversations']} "
        f"held-out conversations; saved at step {meta['sft_step']}) |",
        "| weights | fp16 safetensors |",
        "",
        "## Data",
        "",
        "| source | licence | conversations | repeated |",
        "| --- | --- | --- | --- |",
        f"| chitchat-dataset 0.9.0, both speakers in turn as the user, windows of ≤3 exchanges | MIT | "
        f"{mix['chitchat']['conversations']:,} | ×{mix['chitchat']['repeat']} |",
        f"| chatterbot-corpus 1.3.3 minus tech_support and coding | BSD-3-Clause | "
        f"{mix['chatterbot']['conversations']:,} | ×{mix['chatterbot']['repeat']} |",
        f"| project-written assistant exchanges (assets/data/assistant_sft.jsonl) | MIT | "
        f"{mix['assistant']['conversations']:,} | ×{mix['assistant']['repeat']} |",
        "",
        "Licence notices: [LICENSES.md](LICENSES.md). Loss is on assistant tokens only; the system prompt is the",
        "default one (template \"CUSTOM\").",
        "",
        "## Reproduce",
        "",
        "```bash",
        ".venv/bin/pip install -e '.[build-default]'",
        ".venv/bin/python scripts/build_default_model.py   # corpus, tokenizer, SFT, fp16 export to assets/default-model",
        ".venv/bin/python scripts/model_card.py            # this card",
        "```",
        "",
        "## Validation loss",
        "",
        "| step | " + " | ".join(str(s) for s, _ in validation_curve(run)) + " |",
        "| --- | " + " | ".join("---" for _ in validation_curve(run)) + " |",
        "| loss | " + " | ".join(f"{v:.3f}" for _, v in validation_curve(run)) + " |",
        "",
        "## Sample replies",
        "",
        f"Sampled with the studio's defaults (temperature {defaults.temperature}, top-k {defaults.top_k}, top-p "
        f"{defaults.top_p}, repetition penalty {defaults.repetition_penalty}), seeds {SEEDS[0]} and {SEEDS[1]}, "
        "not cherry-picked; regenerate them with the command above.",
        "",
        "| prompt | " + " | ".join(f"seed {s}" for s in SEEDS) + " |",
        "| --- | " + " | ".join("---" for _ in SEEDS) + " |",
    ]
    lines += [f"| {cell(p)} | " + " | ".join(cell(r) for r in replies) + " |" for p, replies in sample_rows(chat)]
    lines += [
        "",
        "## Limitations",
        "",
        "Replies are short English sentences in a friendly assistant voice, and greetings and small talk are usually",
        "answered in kind; on other prompts the model often drifts to a stock phrase from its assistant data or to an",
        "unrelated topic, and it can produce made-up words. It was trained for about 5.6M tokens (roughly one pass)",
        "and is under-fitted: this is the starting point that DPO runs in the studio improve on, not an assistant.",
    ]
    (model_dir / "MODEL_CARD.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print((model_dir / "MODEL_CARD.md").read_text())


if __name__ == "__main__":
    main()
