"""Build the embedded default model from scratch, reproducibly, in two stages.

    pip install -e '.[build-default]'   # chitchat-dataset (MIT) and chatterbot-corpus (BSD-3) from the registry
    python scripts/build_default_model.py [--chat-steps N] [--assistant-steps N] [--out assets/default-model]

1. chat: a fresh model and tokenizer learn conversational English from human chit-chat (chitchat-dataset), with
   chatterbot-corpus question/answer pairs (minus tech_support and coding) and the project's own assistant exchanges
   (assets/data/assistant_sft.jsonl) mixed in. Every turn is scored, so each chat is read once and both speakers
   teach the model; this stage is most of the compute.
2. assistant: from the chat stage's best checkpoint, loss on assistant replies only, on a mix led by the assistant
   exchanges, with some chit-chat kept so the model does not forget it. This is what makes replies answer the
   question in the assistant's voice.

Everything is seeded; the same command on the same library versions gives the same model.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trainer.rundir import read_jsonl  # noqa: E402
from trainer.sft import SFTConfig, train_sft  # noqa: E402

ASSISTANT_DATA = ROOT / "assets/data/assistant_sft.jsonl"
SKIPPED_CHATTERBOT = {"tech_support", "coding"}
MAX_CHARS = 700  # keeps a window inside the 256-token context
CHITCHAT_KEPT = 250  # chats whose replies stay in the assistant stage
SEED = 1337


def conversation(users: list[str], replies: list[str]) -> dict:
    return {"Template": ["CUSTOM"], "User": users, "Assistant": replies}


def windows(turns: list[str]) -> list[dict]:
    """Alternating turns -> conversations of up to 3 exchanges and MAX_CHARS characters."""
    out, users, replies, size = [], [], [], 0
    for user, reply in zip(turns[0::2], turns[1::2]):
        if users and (len(users) == 3 or size + len(user) + len(reply) > MAX_CHARS):
            out.append(conversation(users, replies))
            users, replies, size = [], [], 0
        users.append(user)
        replies.append(reply)
        size += len(user) + len(reply)
    if users:
        out.append(conversation(users, replies))
    return out


def chitchat() -> list[list[str]]:
    """Each chat as its list of turns (consecutive messages of one speaker joined)."""
    import chitchat_dataset

    chats = []
    for chat in chitchat_dataset.Dataset().values():
        turns = [" ".join(m["text"].strip() for m in group if m["text"].strip()) for group in chat["messages"]]
        chats.append([t for t in turns if t])
    return chats


def chatterbot() -> list[dict]:
    import chatterbot_corpus

    folder = Path(chatterbot_corpus.__file__).parent / "data" / "english"
    out = []
    for path in sorted(folder.glob("*.yml")):
        if path.stem in SKIPPED_CHATTERBOT:
            continue
        for conv in yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]:
            turns = [str(t).strip() for t in conv if str(t).strip()]
            out += windows(turns)
    return out


def stage_corpora(chats: list[list[str]]) -> dict[str, dict[str, tuple[list[dict], int]]]:
    """Per stage, per source: (conversations, times repeated)."""
    rng = random.Random(SEED)
    # The assistant stage keeps a sample of chit-chat, read with the second speaker as the assistant.
    answered = [w for chat in rng.sample(chats, CHITCHAT_KEPT) for w in windows(chat[1:])]
    bot, own = chatterbot(), read_jsonl(ASSISTANT_DATA)
    return {"chat": {"chitchat": ([w for chat in chats for w in windows(chat)], 1), "chatterbot": (bot, 1),
                     "assistant": (own, 1)},
            "assistant": {"chitchat": (answered, 1), "chatterbot": (bot, 1), "assistant": (own, 3)}}


def write_corpus(path: Path, parts: dict[str, tuple[list[dict], int]]) -> dict:
    rows = [row for convs, repeat in parts.values() for row in convs * repeat]
    random.Random(SEED).shuffle(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {name: {"conversations": len(convs), "repeat": repeat} for name, (convs, repeat) in parts.items()}


def stage_configs(work: Path, out: str, chat_steps: int, assistant_steps: int, resume: bool) -> dict[str, SFTConfig]:
    common = dict(max_seq_len=256, batch_size=32, weight_decay=0.1, seed=SEED, device="cpu", resume=resume)
    return {
        "chat": SFTConfig(data=[str(work / "chat.jsonl")], run_dir=str(work / "chat"), scored="turns",
                          vocab_size=4096, dim=256, n_layers=6, n_heads=8, n_kv_heads=4, lr=2e-3, warmup_steps=100,
                          max_steps=chat_steps, eval_interval=100, save_interval=100, **common),
        "assistant": SFTConfig(data=[str(work / "assistant.jsonl")], run_dir=str(work / "assistant"), scored="all",
                               init=str(work / "chat" / "best"), lr=1e-3, warmup_steps=20,
                               max_steps=assistant_steps, eval_interval=50, save_interval=50, export=out,
                               **common),
    }


def validation_curve(run: Path) -> list[list]:
    return [[r["step"], r["val_loss"]] for r in read_jsonl(run / "metrics.jsonl") if "val_loss" in r]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(ROOT / "work/default-model"), help="corpora, tokenizer and run state")
    ap.add_argument("--out", default=str(ROOT / "assets/default-model"))
    ap.add_argument("--chat-steps", type=int, default=500)
    ap.add_argument("--assistant-steps", type=int, default=800)
    ap.add_argument("--resume", action="store_true", help="continue an interrupted build from its last checkpoints")
    args = ap.parse_args()
    work = Path(args.work)
    corpora = stage_corpora(chitchat())
    configs = stage_configs(work, args.out, args.chat_steps, args.assistant_steps, args.resume)
    build = {}
    for stage, cfg in configs.items():
        if not args.resume:  # a run dir left over would lend its tokenizer and metrics to a fresh build
            shutil.rmtree(cfg.run_dir, ignore_errors=True)
        mix = write_corpus(Path(cfg.data[0]), corpora[stage])
        print(stage, json.dumps(mix), flush=True)
        build[stage] = {"mix": mix, "config": asdict(cfg), "summary": train_sft(cfg),
                        "validation": validation_curve(Path(cfg.run_dir))}
    (Path(args.out) / "build.json").write_text(json.dumps(build, indent=2) + "\n")
    print(json.dumps({stage: b["summary"] for stage, b in build.items()}, indent=2))


if __name__ == "__main__":
    main()
