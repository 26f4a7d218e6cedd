"""Write MODEL_CARD.md for a checkpoint built by build_default_model.py, with sampled replies to everyday prompts.

    .venv/bin/python scripts/model_card.py [--model assets/default-model]
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
from trainer.sft import read_conversations  # noqa: E402

PROMPTS = ["Hi, how are you?", "What do you like to do on weekends?", "Can you recommend a good book?",
           "What's your favourite food?", "I feel a bit tired today.", "Do you like music?",
           "How can I sleep better?", "My car is locked and the keys are inside. What should I do?",
           "Who will win the next election?", "Thanks for chatting, bye!", "I just got a new job!",
           "Any ideas for dinner tonight?"]
SEEDS = (0, 1)


def seen_prompts() -> set[str]:
    """User messages of the project's assistant exchanges: a prompt among them was trained on verbatim."""
    conversations = read_conversations([str(ROOT / "assets/data/assistant_sft.jsonl")])
    return {user for _, users, _ in conversations for user in users}


def sample_rows(chat: ChatModel) -> list[tuple[str, list[str]]]:
    rows = []
    for prompt in PROMPTS:
        replies = [chat.reply("CUSTOM", [prompt], [], SamplingParams(seed=s, max_new_tokens=60)) for s in SEEDS]
        rows.append((prompt, replies))
    return rows


def stage_row(name: str, stage: dict) -> str:
    cfg, summary = stage["config"], stage["summary"]
    scored = {"turns": "every turn", "all": "assistant replies"}[cfg["scored"]]
    start = "from the chat stage" if cfg["init"] else "from scratch"
    return (f"| {name} | {start}; {summary['steps']} steps of {cfg['batch_size']} conversations, AdamW lr {cfg['lr']} "
            f"(warmup {cfg['warmup_steps']}, cosine); loss on {scored} | {summary['tokens_seen']:,} | "
            f"{summary['best_val_loss']:.3f} |")


def curve_table(curve: list[list]) -> list[str]:
    return ["| step | " + " | ".join(str(s) for s, _ in curve) + " |",
            "| --- | " + " | ".join("---" for _ in curve) + " |",
            "| loss | " + " | ".join(f"{v:.3f}" for _, v in curve) + " |"]


def mix_cell(mix: dict, source: str) -> str:
    return f"{mix[source]['conversations']:,} × {mix[source]['repeat']}"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "assets/default-model"))
    args = ap.parse_args()
    model_dir = Path(args.model)
    chat = ChatModel.load(model_dir, "cpu")
    cfg = chat.model.cfg
    build = json.loads((model_dir / "build.json").read_text())
    chat_mix, assistant_mix = build["chat"]["mix"], build["assistant"]["mix"]
    seed = build["chat"]["config"]["seed"]
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
        f"| architecture | {cfg.n_layers} layers, dim {cfg.dim}, {cfg.n_heads} query / {cfg.n_kv_heads} key-value "
        f"heads, SwiGLU {cfg.hidden_dim}, RoPE, RMSNorm, tied embeddings |",
        f"| parameters | {chat.model.num_params():,} |",
        f"| context | {cfg.max_seq_len} tokens |",
        f"| tokenizer | sentencepiece BPE, {cfg.vocab_size} pieces, byte fallback, role markers as control symbols |",
        f"| training | two stages (below), weight decay 0.1, seed {seed}, CPU, fp32; "
        f"{sum(b['summary']['tokens_seen'] for b in build.values()):,} non-padding input tokens in all |",
        "| weights | fp16 safetensors |",
        "",
        "## Training",
        "",
        "| stage | what | tokens seen | best validation loss |",
        "| --- | --- | --- | --- |",
        stage_row("chat", build["chat"]),
        stage_row("assistant", build["assistant"]),
        "",
        "The chat stage teaches conversational English: a fresh model and tokenizer, loss on every user and",
        "assistant turn, so each human chat is read once and both speakers count. The assistant stage starts from",
        "its best checkpoint and puts the loss on assistant replies only, on a mix led by the project's assistant",
        "exchanges; it is what makes replies answer the question in the assistant's voice. Validation losses are",
        "per scored token on each stage's own held-out conversations, so the two are not comparable.",
        "",
        "## Data",
        "",
        "| source | licence | chat stage | assistant stage |",
        "| --- | --- | --- | --- |",
        f"| chitchat-dataset 0.9.0, windows of ≤3 exchanges | MIT | {mix_cell(chat_mix, 'chitchat')} | "
        f"{mix_cell(assistant_mix, 'chitchat')} (a sample, the second speaker as the assistant) |",
        f"| chatterbot-corpus 1.3.3 minus tech_support and coding | BSD-3-Clause | {mix_cell(chat_mix, 'chatterbot')} "
        f"| {mix_cell(assistant_mix, 'chatterbot')} |",
        f"| project-written assistant exchanges (assets/data/assistant_sft.jsonl) | MIT | "
        f"{mix_cell(chat_mix, 'assistant')} | {mix_cell(assistant_mix, 'assistant')} |",
        "",
        "Licence notices: [LICENSES.md](LICENSES.md). The system prompt is the default one (template \"CUSTOM\").",
        "",
        "## Reproduce",
        "",
        "```bash",
        ".venv/bin/pip install -e '.[build-default]'",
        ".venv/bin/python scripts/build_default_model.py   # corpus, tokenizer, SFT, fp16 export to "
        "assets/default-model",
        ".venv/bin/python scripts/model_card.py            # this card",
        "```",
        "",
        "## Validation loss",
        "",
        "Chat stage:",
        "",
        *curve_table(build["chat"]["validation"]),
        "",
        "Assistant stage:",
        "",
        *curve_table(build["assistant"]["validation"]),
        "",
        "## Sample replies",
        "",
        f"Sampled with the studio's defaults (temperature {defaults.temperature}, top-k {defaults.top_k}, top-p "
        f"{defaults.top_p}, repetition penalty {defaults.repetition_penalty}), seeds {SEEDS[0]} and {SEEDS[1]}, "
        "not cherry-picked; regenerate them with the command above.",
        "",
        "\"Trained on\" says whether the prompt is, word for word, a user message in the assistant exchanges.",
        "",
        "| prompt | trained on | " + " | ".join(f"seed {s}" for s in SEEDS) + " |",
        "| --- | --- | " + " | ".join("---" for _ in SEEDS) + " |",
    ]
    seen = seen_prompts()
    lines += [f"| {cell(p)} | {'yes' if p in seen else 'no'} | " + " | ".join(cell(r) for r in replies) + " |"
              for p, replies in sample_rows(chat)]
    lines += [
        "",
        "## Limitations",
        "",
        "Replies are short, fluent English sentences in a friendly assistant voice. Prompts like those in the",
        "assistant exchanges (greetings, small talk, questions about the assistant, everyday advice, things it",
        "cannot know) get on-topic answers, often close to the exchanges' own wording, and a confident model samples",
        "the same reply under several seeds. Prompts outside them (a new job, dinner ideas, a locked car) get a",
        "well-formed but loosely related stock answer. It knows almost nothing and is not an assistant: it is the",
        "reference that DPO runs in the studio start from.",
        "",
        "A run of the build command from scratch took 30 minutes on 2 CPU cores (chat stage 16.5, assistant stage",
        "13.5) and gave these weights again, bit for bit.",
    ]
    (model_dir / "MODEL_CARD.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print((model_dir / "MODEL_CARD.md").read_text())


if __name__ == "__main__":
    main()
