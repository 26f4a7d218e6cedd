"""Build the embedded default model from scratch, reproducibly.

    pip install -e '.[build-default]'   # chitchat-dataset (MIT) and chatterbot-corpus (BSD-3) from the registry
    python scripts/build_default_model.py [--max-steps N] [--out assets/default-model]

Corpus: human chit-chat (chitchat-dataset) as the base, chatterbot-corpus question/answer pairs (minus its
tech_support and coding files) and the project's own assistant exchanges (assets/data/assistant_sft.jsonl) mixed in
from the start, upsampled so the assistant voice is not drowned out. Everything is seeded; the same command on the
same library versions gives the same model.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trainer.sft import SFTConfig, train_sft  # noqa: E402

ASSISTANT_DATA = ROOT / "assets/data/assistant_sft.jsonl"
SKIPPED_CHATTERBOT = {"tech_support", "coding"}
MAX_CHARS = 700  # keeps a window inside the 256-token context
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


def chitchat() -> list[dict]:
    """Each chat read twice: once with the first speaker as the user, once with the second."""
    import chitchat_dataset

    out = []
    for chat in chitchat_dataset.Dataset().values():
        turns = [" ".join(m["text"].strip() for m in group if m["text"].strip()) for group in chat["messages"]]
        turns = [t for t in turns if t]
        out += windows(turns) + windows(turns[1:])
    return out


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


def own_exchanges() -> list[dict]:
    return [json.loads(line) for line in ASSISTANT_DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_corpus(path: Path) -> dict:
    parts = {"chitchat": (chitchat(), 1), "chatterbot": (chatterbot(), 3), "assistant": (own_exchanges(), 6)}
    rows = [row for convs, repeat in parts.values() for row in convs * repeat]
    random.Random(SEED).shuffle(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {name: {"conversations": len(convs), "repeat": repeat} for name, (convs, repeat) in parts.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=str(ROOT / "work/default-model"), help="corpus, tokenizer and run state")
    ap.add_argument("--out", default=str(ROOT / "assets/default-model"))
    ap.add_argument("--max-steps", type=int, default=1200)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    work = Path(args.work)
    corpus = work / "corpus.jsonl"
    mix = write_corpus(corpus)
    (work / "mix.json").write_text(json.dumps(mix, indent=2))
    print(json.dumps(mix), flush=True)
    cfg = SFTConfig(data=[str(corpus)], run_dir=str(work / "run"), vocab_size=4096, dim=256, n_layers=6, n_heads=8,
                    n_kv_heads=4, max_seq_len=256, batch_size=args.batch_size, lr=2e-3, warmup_steps=100,
                    max_steps=args.max_steps, eval_interval=200, save_interval=200, seed=SEED, device="cpu",
                    export=args.out, resume=args.resume)
    summary = train_sft(cfg)
    (Path(args.out) / "mix.json").write_text(json.dumps(mix, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
