"""Supervised training of a base chat model: next-token loss on assistant tokens of multi-turn conversations.

Input: JSONL files, one conversation a line: {"Template": [system or "CUSTOM"], "User": [...], "Assistant": [...]}.
A run directory keeps last/ (checkpoint + optimizer/RNG state, to resume) and best/ (lowest validation loss).
"""
from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .chat import Chat, MarkerChat
from .checkpoint import clear_interrupted_save, load_checkpoint, save_checkpoint, saved
from .config import DEVICE_HELP, setting
from .device import autocast, pick_device
from .model import ModelConfig, Transformer
from .optim import load_train_state, lr_at, make_optimizer, save_train_state, seed_everything
from .spec import load_model
from .tokenizer import Tokenizer, train_tokenizer


@dataclass
class SFTConfig:
    data: list[str] = field(default_factory=list, metadata={"help": "JSONL conversation files"})
    run_dir: str = setting("runs/sft", "where last/, best/, config.json and metrics.jsonl go")
    tokenizer: str = setting("", "an existing tokenizer.model; empty: train one on the data")
    init: str = setting("", "start from this model spec (weights, tokenizer, chat format, architecture; overrides "
                            "the two)")
    scored: str = setting("all", 'loss on: "all" assistant replies, only the "last", or every user and assistant '
                                 '"turns"')
    vocab_size: int = setting(4096, "size of a newly trained tokenizer's vocabulary")
    dim: int = setting(256, "model width")
    n_layers: int = setting(6, "transformer blocks")
    n_heads: int = setting(8, "attention heads")
    n_kv_heads: int = setting(4, "key/value heads (grouped-query attention)")
    max_seq_len: int = setting(256, "the model's context; longer conversations are cut to it")
    batch_size: int = setting(32, "conversations per micro-batch")
    grad_accum: int = setting(1, "micro-batches per optimizer step")
    lr: float = setting(2e-3, "peak learning rate (cosine decay after the warmup)")
    warmup_steps: int = setting(100, "steps of linear warmup to lr")
    max_steps: int = setting(2000, "optimizer steps of the whole run")
    weight_decay: float = setting(0.1, "AdamW weight decay (never on norms and embeddings)")
    grad_clip: float = setting(1.0, "the gradient norm is clipped to this")
    val_fraction: float = setting(0.02, "share of the conversations held out for the validation loss")
    eval_interval: int = setting(200, "steps between validation losses (best/ keeps the lowest)")
    save_interval: int = setting(200, "steps between saves of last/")
    seed: int = setting(1337, "seeds the split, the tokenizer, the initial weights and the batch order")
    device: str = setting("auto", DEVICE_HELP)
    export: str = setting("", "also write best/ here as fp16 when done")
    resume: bool = setting(False, "continue from run_dir's last/")
    stop_after: int = setting(0, "leave resumably after this many steps in this process (a long build in parts); "
                                 "0: no limit")


def read_conversations(paths: list[str]) -> list[tuple[str, list[str], list[str]]]:
    convs = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if len(row["User"]) != len(row["Assistant"]) or len(row["Template"]) != 1:
                    raise ValueError(f"{path}:{n}: User and Assistant must have equal lengths, Template one entry")
                convs.append((row["Template"][0], row["User"], row["Assistant"]))
    return convs


def conversation_texts(convs):
    for template, users, assistants in convs:
        yield template
        yield from users
        yield from assistants


def tokenize(chat: Chat, convs, max_len: int, scored: str) -> list[tuple[list[int], list[int]]]:
    """(ids, loss mask) per conversation, cut to max_len + 1 tokens; those left with nothing scored are dropped."""
    out = []
    for template, users, assistants in convs:
        ids, mask = chat.render(template, users, assistants, scored=scored)
        ids, mask = ids[:max_len + 1], mask[:max_len + 1]
        if sum(mask[1:]):
            out.append((ids, mask))
    return out


def batch_order(n: int, batch_size: int, seed: int, epoch: int, lengths: list[int]) -> list[list[int]]:
    """Shuffled batches of similar-length examples (less padding), reproducible from (seed, epoch)."""
    rng = random.Random(seed * 1000 + epoch)
    idx = list(range(n))
    rng.shuffle(idx)
    pool = batch_size * 50
    batches = []
    for start in range(0, n, pool):
        chunk = sorted(idx[start:start + pool], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(examples, pad_id: int, device):
    # -> inputs (B, T), targets (B, T), mask (B, T) with T = longest example - 1
    width = max(len(ids) for ids, _ in examples) - 1
    inputs = torch.full((len(examples), width), pad_id, dtype=torch.long)
    targets = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.float)
    for i, (ids, m) in enumerate(examples):
        n = len(ids) - 1
        inputs[i, :n] = torch.tensor(ids[:-1])
        targets[i, :n] = torch.tensor(ids[1:])
        mask[i, :n] = torch.tensor(m[1:], dtype=torch.float)
    return inputs.to(device), targets.to(device), mask.to(device)


def masked_nll(model, inputs, targets, mask):
    rows, cols = mask.nonzero(as_tuple=True)
    logits = model.lm_head(model.hidden(inputs)[rows, cols])  # (N, V): the scored positions only
    nll = F.cross_entropy(logits.float(), targets[rows, cols], reduction="sum")
    return nll / mask.sum(), mask.sum()


@torch.no_grad()
def validation_loss(model, examples, cfg: SFTConfig, pad_id, device) -> float:
    model.eval()
    total, count = 0.0, 0.0
    for i in range(0, len(examples), cfg.batch_size):
        with autocast(device):
            loss, n = masked_nll(model, *collate(examples[i:i + cfg.batch_size], pad_id, device))
        total, count = total + loss.item() * n.item(), count + n.item()
    model.train()
    return total / max(count, 1.0)


def prepare(cfg: SFTConfig, run: Path):
    convs = read_conversations(cfg.data)
    rng = random.Random(cfg.seed)
    rng.shuffle(convs)
    if cfg.init:  # the model's embeddings belong to its own tokenizer
        model, chat, _ = load_model(cfg.init)
        if model.cfg.max_seq_len < cfg.max_seq_len:
            raise ValueError(f"--init {cfg.init} has max_seq_len {model.cfg.max_seq_len} < {cfg.max_seq_len}")
    else:
        if cfg.tokenizer:
            tok = Tokenizer.load(cfg.tokenizer)
        elif (run / MarkerChat.FILE).exists():
            tok = Tokenizer.load(run / MarkerChat.FILE)
        else:
            tok = train_tokenizer(conversation_texts(convs), cfg.vocab_size, run / MarkerChat.FILE, seed=cfg.seed)
        chat = MarkerChat(tok)
        model = Transformer(ModelConfig(vocab_size=tok.vocab_size, dim=cfg.dim, n_layers=cfg.n_layers,
                                        n_heads=cfg.n_heads, n_kv_heads=cfg.n_kv_heads, max_seq_len=cfg.max_seq_len))
    n_val = max(1, int(len(convs) * cfg.val_fraction))
    train, val = (tokenize(chat, part, cfg.max_seq_len, cfg.scored) for part in (convs[n_val:], convs[:n_val]))
    if not train or not val:
        raise ValueError(f"no conversation has a scored token within max_seq_len={cfg.max_seq_len} "
                         f"({len(train)} train, {len(val)} validation left of {len(convs)})")
    return model, chat, train, val, len(convs) - len(train) - len(val)


def train_sft(cfg: SFTConfig) -> dict:
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    model, chat, train, val, dropped = prepare(cfg, run)
    model = model.to(device)
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay)
    progress = {"step": 0, "epoch": 0, "batch": 0, "tokens": 0, "best_val": float("inf")}
    for name in ("best", "last"):
        clear_interrupted_save(run / name)
    if cfg.resume and (last := saved(run / "last")):
        model.load_state_dict(load_checkpoint(last, device)[0].state_dict())
        progress = load_train_state(last, optimizer)
    (run / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    lengths = [len(ids) for ids, _ in train]
    log = open(run / "metrics.jsonl", "a")
    bar = tqdm(total=cfg.max_steps, initial=progress["step"], desc="sft", unit="step", dynamic_ncols=True)
    order = batch_order(len(train), cfg.batch_size, cfg.seed, progress["epoch"], lengths)
    if progress["step"] == 0:
        log.write(json.dumps({"step": 0, "val_loss": validation_loss(model, val, cfg, chat.pad_id, device)}) + "\n")
    model.train()
    t0, tokens0 = time.time(), progress["tokens"]
    stop_at = min(cfg.max_steps, progress["step"] + cfg.stop_after) if cfg.stop_after else cfg.max_steps
    while progress["step"] < stop_at:
        lr = lr_at(progress["step"], cfg.lr, cfg.warmup_steps, cfg.max_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss_sum = 0.0
        for _ in range(cfg.grad_accum):
            if progress["batch"] >= len(order):
                progress["epoch"] += 1
                progress["batch"] = 0
                order = batch_order(len(train), cfg.batch_size, cfg.seed, progress["epoch"], lengths)
            batch = collate([train[i] for i in order[progress["batch"]]], chat.pad_id, device)
            progress["batch"] += 1
            progress["tokens"] += int((batch[0] != chat.pad_id).sum())
            with autocast(device):
                loss, _ = masked_nll(model, *batch)
            (loss / cfg.grad_accum).backward()
            loss_sum += loss.item() / cfg.grad_accum
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip).item()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        progress["step"] += 1
        step = progress["step"]
        row = {"step": step, "loss": loss_sum, "lr": lr, "grad_norm": grad_norm, "epoch": progress["epoch"],
               "tokens_per_s": (progress["tokens"] - tokens0) / (time.time() - t0)}
        if step % cfg.eval_interval == 0 or step == cfg.max_steps:
            row["val_loss"] = validation_loss(model, val, cfg, chat.pad_id, device)
            if row["val_loss"] < progress["best_val"]:
                progress["best_val"] = row["val_loss"]
                save_checkpoint(run / "best", model, chat, {"sft_step": step, "val_loss": row["val_loss"],
                                                           "tokens_seen": progress["tokens"]})
        log.write(json.dumps(row) + "\n")
        log.flush()
        bar.set_postfix(loss=f"{loss_sum:.3f}", val=f"{row.get('val_loss', float('nan')):.3f}", lr=f"{lr:.1e}")
        bar.update(1)
        if step % cfg.save_interval == 0 or step == stop_at:
            save_checkpoint(run / "last", model, chat, {"sft_step": step},
                            add_files=lambda folder: save_train_state(folder, optimizer, progress))
    bar.close()
    log.close()
    summary = {"steps": progress["step"], "tokens_seen": progress["tokens"], "best_val_loss": progress["best_val"],
               "params": model.num_params(), "train_conversations": len(train), "val_conversations": len(val),
               "dropped_too_long": dropped}
    if cfg.export:
        export_best(run, Path(cfg.export), summary)
    return summary


def export_best(run: Path, out: Path, summary: dict) -> None:
    model, chat, meta = load_checkpoint(run / "best")
    save_checkpoint(out, model, chat, {**meta, **summary}, dtype=torch.float16)
    shutil.copy(run / "config.json", out / "sft_config.json")
