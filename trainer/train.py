"""DPO training: the loop behind `python -m trainer train`, observable and stoppable through a run directory.

One process or many (`torchrun --nproc_per_node=N -m trainer train --run-dir D`: gloo on CPU, nccl on GPUs). A step
always covers `batch_size` pairs in total, split into `grad_accum` micro-batches and each of those across the
processes, so the same config.json gives the same loss curve whatever the world size or accumulation.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from .atomic import write_json_atomic
from .checkpoint import clear_interrupted_save, load_checkpoint, save_checkpoint, saved
from .config import ConfigError, TrainConfig
from .data import (Pair, SharedBatch, collate_shared, encode_examples, eval_batches, micro_batches, split_examples,
                   step_batches)
from .device import autocast, pick_device
from .dpo import dpo_loss, token_logps
from .generate import SamplingParams
from .inference import ChatModel
from .interchange import load_seed_file
from .model import KVCache, ModelError
from .optim import load_train_state, lr_at, make_optimizer, save_train_state, seed_everything
from .rundir import BEST, CONFIG, LAST, METRICS, REF_CACHE, REF_SAMPLES, SAMPLES, RunDir, sha256_file
from .spec import canonical, fingerprint, load_model

# What a step or an eval reports (TRL's names), summed over pairs and processes, then divided by the pair count.
PAIR_METRICS = ("loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
                "logps/chosen", "logps/rejected", "nll_loss")


class Stopped(Exception):
    """SIGTERM or SIGINT: the loop saved last/ and leaves the run as 'stopped'."""


class NonFiniteLoss(RuntimeError):
    """A NaN or infinite loss or gradient: the run fails with this message and last/ stays the last good one."""


# ------------------------------------------------------------------------------------------------ processes

@dataclass
class World:
    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def leave_together(self) -> None:
        """Wait for every process before the group is torn down. Without it rank 1 leaves while rank 0 still
        samples and saves, and was once aborted by gloo (SIGABRT) on its way out of a completed run."""
        if self.size > 1:
            dist.barrier()

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.size > 1:
            dist.all_reduce(t)
        return t

    def gather(self, obj) -> list:
        if self.size == 1:
            return [obj]
        out = [None] * self.size
        dist.all_gather_object(out, obj)
        return out


def under_torchrun() -> bool:
    """Whether this process is one of a torchrun group of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_world(device_name: str) -> tuple[World, torch.device]:
    """Single process, or the torchrun group: nccl with a GPU per process, gloo on CPU."""
    device = pick_device(device_name)
    if not under_torchrun():
        return World(), device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size()), device


def sync_grads(model: torch.nn.Module, world: World) -> None:
    """Sum gradients over processes in one flat all-reduce (losses are pre-divided by the global pair count)."""
    if world.size == 1:
        return
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    flat = world.sum(torch.cat([g.flatten() for g in grads]))
    for g, part in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(part.view_as(g))


@contextlib.contextmanager
def stop_on_signals(event: threading.Event):
    """SIGTERM/SIGINT only set event; the loop checks it between steps, saves, and leaves."""
    previous = {s: signal.signal(s, lambda *_: event.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


# ------------------------------------------------------------------------------------------------ reference

def reference_key(spec: str, device: torch.device, precision: str = "auto") -> str:
    """The reference model's hash (weights + tokenizer), plus the precision its log-probs are computed in."""
    used = "fp32" if isinstance(autocast(device, precision), contextlib.nullcontext) else "bf16"
    return f"{fingerprint(spec)}-{used}"


def pair_logps(model, batch: SharedBatch, device, precision: str = "auto") -> torch.Tensor:
    """Summed response log-probs of a batch's rows: -> (2B,) [chosen; rejected]. Each pair's shared prompt runs
    once (B rows), both sides' continuations attend to it (2B rows), and only the scored positions, not the prompt,
    go through lm_head (the vocabulary projection is a fifth of SmolLM2's work per token)."""
    (B, P), C = batch.prefix.shape, batch.inputs.size(1)
    with autocast(device, precision):
        cache = KVCache(model.cfg, B, P, device, model.embed.weight.dtype)
        if P:
            model.hidden(batch.prefix, cache)
        h = model.hidden(batch.inputs, cache.repeat(2, C), batch.keys, batch.positions)  # (2B, C, dim)
        rows, cols = batch.mask.nonzero(as_tuple=True)
        logits = model.lm_head(h[rows, cols])  # (N scored tokens, V)
    logps = token_logps(logits, batch.targets[rows, cols])
    return torch.zeros(2 * B, device=device).index_add(0, rows, logps)


@torch.no_grad()
def reference_logps_in_batches(model, pairs: list[Pair], pad_id: int, batch_size: int, device,
                               should_stop=lambda: False, precision: str = "auto"):
    """Yields (indices into pairs, [[chosen sum, rejected sum], ...]) one length-sorted batch at a time; raises
    Stopped between batches once should_stop() says so."""
    for idx in eval_batches([p.length for p in pairs], batch_size):
        if should_stop():
            raise Stopped
        chosen, rejected = pair_logps(model, collate_shared([pairs[i] for i in idx], pad_id, device), device,
                                      precision).chunk(2)
        yield idx, [list(cr) for cr in zip(chosen.tolist(), rejected.tolist())]


def cached_reference_logps(model, pairs: list[Pair], cache_file: Path, ref_key: str, pad_id: int, batch_size: int,
                           device, world: World = World(), should_stop=lambda: False,
                           precision: str = "auto") -> tuple[torch.Tensor, int]:
    """(N, 2) summed reference log-probs, computing only pairs missing from the cache (shared among processes).

    The cache file maps reference key -> example hash -> [chosen, rejected]. Returns the tensor and how many pairs
    this call computed. A stop keeps the pairs done so far in the cache, so a resume computes only the rest."""
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    known = cache.get(ref_key, {})
    missing = sorted({p.key: p for p in pairs if p.key not in known}.values(), key=lambda p: p.key)
    mine = missing[world.rank::world.size]
    computed = {}
    try:
        for idx, logps in reference_logps_in_batches(model, mine, pad_id, batch_size, device, should_stop, precision):
            computed.update((mine[i].key, cr) for i, cr in zip(idx, logps))
    except Stopped:  # only a lone process stops mid-pass (see stop_seen_alone): keep what it has
        write_json_atomic(cache_file, cache | {ref_key: known | computed})
        raise
    for part in world.gather(computed):
        known.update(part)
    if missing and world.main:
        cache[ref_key] = known
        write_json_atomic(cache_file, cache)
    return torch.tensor([known[p.key] for p in pairs], dtype=torch.float32, device=device), len(missing)


# ------------------------------------------------------------------------------------------------ samples

def load_eval_prompts(path: str | Path) -> list[dict]:
    """[{id, Template, User, Assistant}], Assistant one reply shorter than User (the model answers the last)."""
    prompts = json.loads(Path(path).read_text(encoding="utf-8"))
    for p in prompts:
        if not {"id", "Template", "User", "Assistant"} <= p.keys() or len(p["Assistant"]) != len(p["User"]) - 1:
            raise ValueError(f"{path}: prompt {p.get('id')!r} needs id, Template, User and one Assistant fewer")
    return prompts


def heldout_prompts(examples: list[dict], n: int) -> list[dict]:
    return [{"id": f"heldout-{i}", "Template": ex["Template"], "User": ex["User"], "Assistant": ex["Accepted"][:-1]}
            for i, ex in enumerate(examples[:n])]


def messages(prompt: dict) -> list[dict]:
    out = [{"role": "system", "content": prompt["Template"][0]}]
    for i, user in enumerate(prompt["User"]):
        out.append({"role": "user", "content": user})
        if i < len(prompt["Assistant"]):
            out.append({"role": "assistant", "content": prompt["Assistant"][i]})
    return out


def reply_all(model, chat, prompts: list[dict], params: SamplingParams) -> list[str]:
    convs = [(p["Template"][0], p["User"], p["Assistant"]) for p in prompts]
    return ChatModel(model, chat, {}).replies(convs, params)


def chosen_logps_falling(history: list[float], evals: int = 3, min_drop: float = 0.05) -> bool:
    """Likelihood displacement: held-out chosen log-probs fell at each of the last `evals` evals, min_drop in all."""
    recent = history[-(evals + 1):]
    return (len(recent) == evals + 1 and all(b < a for a, b in zip(recent, recent[1:]))
            and recent[0] - recent[-1] > min_drop)


# ------------------------------------------------------------------------------------------------ the run

class DPORun:
    def __init__(self, cfg: TrainConfig, world: World, device: torch.device, stop: threading.Event):
        self.cfg, self.world, self.device, self.stop = cfg, world, device, stop
        self.rd = RunDir(cfg.run_dir)
        self.rd.path.mkdir(parents=True, exist_ok=True)
        self.progress = {"step": 0, "epoch": 0, "batch": 0, "tokens": 0, "best": None, "best_step": None,
                         "bad_evals": 0, "chosen_history": []}
        self.saved_step = None  # the step last/ holds

    def log(self, message: str) -> None:
        if self.world.main:
            self.rd.log(message)

    def status(self, **fields) -> None:
        if self.world.main:
            self.rd.write_status(**fields)

    # ------------------------------------------------------------------------------------ setup

    def setup(self, resume: bool) -> None:
        cfg = self.cfg
        if cfg.batch_size // cfg.grad_accum % self.world.size:
            raise ValueError(f"micro-batches of {cfg.batch_size // cfg.grad_accum} pairs do not split over "
                             f"{self.world.size} processes")
        seed_everything(cfg.seed)
        reference, self.chat, _ = load_model(cfg.model, self.device)
        reference.requires_grad_(False)
        heldout = self.encode_data(cfg.max_len or reference.cfg.max_seq_len)
        self.ref_key = reference_key(cfg.model, self.device, cfg.precision)
        self.ref = {split: self.cache_reference(reference, split) for split in self.pairs} if cfg.ref_cache else {}
        self.sampling = SamplingParams(temperature=cfg.sample_temperature, max_new_tokens=cfg.sample_max_new_tokens,
                                       seed=cfg.seed)
        self.prompts = (load_eval_prompts(cfg.eval_prompts) if cfg.eval_prompts else []) + \
            heldout_prompts(heldout, cfg.n_sample_prompts)
        self.ref_replies = self.reference_replies(reference)
        # With the cache the reference's work is done: it becomes the policy (one model in memory).
        self.reference = None if cfg.ref_cache else reference
        self.policy = reference if cfg.ref_cache else load_model(cfg.model, self.device)[0]
        self.policy.requires_grad_(True).train()
        self.optimizer = make_optimizer(self.policy, cfg.lr, cfg.weight_decay)
        for name in (BEST, LAST):
            clear_interrupted_save(self.rd / name)
        last = saved(self.rd / LAST)
        if resume and last:  # a save killed midway leaves the one before it, which `saved` finds
            self.policy.load_state_dict(load_checkpoint(last, self.device)[0].state_dict())
            self.progress = load_train_state(last, self.optimizer)
            self.saved_step = self.progress["step"]
            self.log(f"resumed from {LAST} at step {self.progress['step']}")
        self.lengths = [p.length for p in self.pairs["train"]]
        self.order = step_batches(self.lengths, cfg.batch_size, cfg.seed, self.progress["epoch"])

    def encode_data(self, max_len: int) -> list[dict]:
        """Tokenized train/eval pairs into self.pairs, counts to the log and status; returns the held-out examples."""
        train_examples, eval_examples = self.load_examples()
        self.pairs, counts, kept = {}, {}, {}
        for split, examples in (("train", train_examples), ("eval", eval_examples)):
            self.pairs[split], kept[split], counts[split] = encode_examples(self.chat, examples, max_len,
                                                                           self.cfg.max_response_len)
            self.log(f"{split} pairs: {counts[split]}")
        if not self.pairs["eval"]:
            raise ValueError("no held-out pairs: give eval_data or an eval_fraction above 0")
        self.status(data=counts)
        return kept["eval"]

    def cache_reference(self, reference, split: str) -> torch.Tensor:
        pairs = self.pairs[split]
        logps, n = cached_reference_logps(reference, pairs, self.rd / REF_CACHE, self.ref_key, self.chat.pad_id,
                                          self.cfg.batch_size, self.device, self.world, self.stop_seen_alone,
                                          self.cfg.precision)
        self.log(f"reference log-probs ({split}): {n} computed, {len(pairs) - n} from the cache")
        return logps

    def load_examples(self) -> tuple[list[dict], list[dict]]:
        examples = load_seed_file(self.rd.resolve(self.cfg.data))
        if self.cfg.eval_data:
            return examples, load_seed_file(self.rd.resolve(self.cfg.eval_data))
        return split_examples(examples, self.cfg.eval_fraction, self.cfg.seed)

    def reference_replies(self, reference) -> list[str]:
        """The reference's samples: computed once per (reference, prompts, sampling) and kept in the run dir."""
        if not self.world.main or not self.prompts:
            return []
        key = hashlib.sha256(json.dumps([self.ref_key, self.prompts, self.sampling.to_dict()]).encode()).hexdigest()
        path = self.rd / REF_SAMPLES
        saved = json.loads(path.read_text()) if path.exists() else {}
        if saved.get("key") == key:
            self.log(f"reference samples: {len(self.prompts)} prompts, reused from {REF_SAMPLES}")
            return saved["replies"]
        replies = reply_all(reference, self.chat, self.prompts, self.sampling)
        write_json_atomic(path, {"key": key, "replies": replies})
        self.log(f"reference samples: {len(self.prompts)} prompts, computed")
        return replies

    # ------------------------------------------------------------------------------------ steps

    def stop_seen_alone(self) -> bool:
        """The stop flag where no other process needs to agree (a single-process run)."""
        return self.world.size == 1 and self.stop.is_set()

    def stop_agreed(self) -> bool:
        """The stop flag, agreed by all processes so they leave at the same step."""
        flag = torch.tensor([float(self.stop.is_set())], device=self.device)
        return bool(self.world.sum(flag).item())

    def reference_logps(self, split: str, idx: list[int], batch) -> torch.Tensor:
        """(2B,) [chosen; rejected] reference sums, from the cache or a live no-grad forward."""
        if self.reference is None:
            ref = self.ref[split][idx]  # (B, 2)
            return torch.cat([ref[:, 0], ref[:, 1]])
        with torch.no_grad():
            return pair_logps(self.reference, batch, self.device, self.cfg.precision)

    def pair_terms(self, policy_sums, ref_sums, counts):
        """Per-pair losses (B,) and the PAIR_METRICS summed over the batch, from (2B,) sums and token counts."""
        cfg = self.cfg
        scale = counts if cfg.length_norm else torch.ones_like(counts)
        chosen, rejected = (policy_sums / scale).chunk(2)
        ref_chosen, ref_rejected = (ref_sums / scale).chunk(2)
        losses, chosen_rewards, rejected_rewards = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, cfg.beta,
                                                            cfg.loss_type, cfg.label_smoothing)
        nll = -policy_sums.chunk(2)[0] / counts.chunk(2)[0]  # mean NLL per accepted token
        losses = losses + cfg.nll_weight * nll
        sums = torch.stack([losses.sum(), chosen_rewards.sum(), rejected_rewards.sum(),
                            (chosen_rewards > rejected_rewards).float().sum(),
                            (chosen_rewards - rejected_rewards).sum(), chosen.sum(), rejected.sum(), nll.sum()])
        return losses, sums.detach()

    def next_step_pairs(self) -> list[int]:
        p = self.progress
        if p["batch"] >= len(self.order):
            p["epoch"], p["batch"] = p["epoch"] + 1, 0
            self.order = step_batches(self.lengths, self.cfg.batch_size, self.cfg.seed, p["epoch"])
        p["batch"] += 1
        return self.order[p["batch"] - 1]

    def train_step(self, lr: float) -> dict:
        cfg, t0 = self.cfg, time.perf_counter()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        totals = torch.zeros(len(PAIR_METRICS) + 1, device=self.device)  # + tokens
        for idx in micro_batches(self.next_step_pairs(), cfg.grad_accum, self.world.rank, self.world.size):
            batch = collate_shared([self.pairs["train"][i] for i in idx], self.chat.pad_id, self.device)
            ref = self.reference_logps("train", idx, batch)  # first, so live reference logits are freed early
            logps = pair_logps(self.policy, batch, self.device, cfg.precision)
            losses, sums = self.pair_terms(logps, ref, batch.counts)
            (losses.sum() / cfg.batch_size).backward()
            totals += torch.cat([sums, torch.tensor([float(batch.tokens)], device=self.device)])
        sync_grads(self.policy, self.world)
        totals = self.world.sum(totals).tolist()
        row = {name: value / cfg.batch_size for name, value in zip(PAIR_METRICS, totals)}
        grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.grad_clip).item()
        for name, value in (("loss", row["loss"]), ("gradient norm", grad_norm)):
            if not math.isfinite(value):
                kept = (f"{LAST} (step {self.saved_step}) is intact" if self.saved_step is not None
                        else "no checkpoint yet")
                raise NonFiniteLoss(f"non-finite {name} ({value}) at step {self.progress['step'] + 1}: stopped before "
                                    f"applying it; {kept}. Try a lower lr or check the data.")
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.progress["tokens"] += int(totals[-1])
        return {**row, "grad_norm": grad_norm, "lr": lr, "tokens_per_s": totals[-1] / (time.perf_counter() - t0),
                "num_tokens": self.progress["tokens"], "epoch": self.progress["epoch"]}

    @torch.no_grad()
    def evaluate(self) -> dict:
        self.policy.eval()
        pairs = self.pairs["eval"]
        totals = torch.zeros(len(PAIR_METRICS), device=self.device)
        batches = eval_batches([p.length for p in pairs], self.cfg.batch_size)
        for idx in batches[self.world.rank::self.world.size]:
            batch = collate_shared([pairs[i] for i in idx], self.chat.pad_id, self.device)
            totals += self.pair_terms(pair_logps(self.policy, batch, self.device, self.cfg.precision),
                                      self.reference_logps("eval", idx, batch), batch.counts)[1]
        self.policy.train()
        return {f"eval_{name}": v / len(pairs) for name, v in zip(PAIR_METRICS, self.world.sum(totals).tolist())}

    def write_samples(self, step: int) -> None:
        if not self.world.main or not self.prompts:
            return
        self.policy.eval()
        replies = reply_all(self.policy, self.chat, self.prompts, self.sampling)
        self.policy.train()
        self.rd.append(SAMPLES, [{"step": step, "prompt_id": p["id"], "messages": messages(p), "policy": mine,
                                  "reference": ref} for p, mine, ref in zip(self.prompts, replies, self.ref_replies)])

    def eval_and_sample(self, step: int) -> bool:
        """Held-out metrics, samples, best/ and early stopping; True when patience has run out."""
        row, p = self.evaluate(), self.progress
        p["chosen_history"].append(row["eval_logps/chosen"])
        if chosen_logps_falling(p["chosen_history"]):
            row["warning"] = ("held-out chosen log-probs have fallen at each of the last 3 evals (likelihood "
                              "displacement): consider nll_weight > 0 or a lower lr")
        if self.world.main:
            self.rd.append(METRICS, [{"step": step, **row}])
        self.write_samples(step)
        score = [row["eval_rewards/accuracies"], -row["eval_loss"]]
        if p["best"] is None or score > p["best"]:
            p["best"], p["best_step"], p["bad_evals"] = score, step, 0
            self.save(BEST, {"eval": row})
        else:
            p["bad_evals"] += 1
        self.log(f"eval step {step}: loss {row['eval_loss']:.4f} accuracy {row['eval_rewards/accuracies']:.3f} "
                 f"margin {row['eval_rewards/margins']:.4f}"
                 + (f"  WARNING: {row['warning']}" if "warning" in row else ""))
        self.status(step=step, best_step=p["best_step"], eval=row, warning=row.get("warning"))
        return bool(self.cfg.patience) and p["bad_evals"] >= self.cfg.patience

    def save(self, which: str, meta: dict | None = None) -> None:
        if which == LAST:
            self.saved_step = self.progress["step"]
        if not self.world.main:
            return
        add = (lambda folder: save_train_state(folder, self.optimizer, self.progress)) if which == LAST else None
        meta = {"dpo_step": self.progress["step"], "reference": self.cfg.model, "reference_key": self.ref_key,
                **(meta or {})}
        save_checkpoint(self.rd / which, self.policy, self.chat, meta, add_files=add)

    # ------------------------------------------------------------------------------------ the loop

    def fit(self, resume: bool) -> dict:
        cfg = self.cfg
        self.status(state="running", pid=os.getpid(), total_steps=cfg.max_steps, error=None, world_size=self.world.size)
        self.setup(resume)
        p = self.progress
        self.status(step=p["step"])
        if self.world.main:
            self.rd.truncate_after(p["step"] if p["step"] else -1)
        early_stop = p["step"] == 0 and self.eval_and_sample(0)
        while p["step"] < cfg.max_steps and not early_stop:
            if self.stop_agreed():
                self.save(LAST)
                raise Stopped
            row = self.train_step(lr_at(p["step"], cfg.lr, cfg.warmup_steps, cfg.max_steps, cfg.schedule))
            p["step"] += 1
            step = p["step"]
            if self.world.main:
                self.rd.append(METRICS, [{"step": step, **row}])
            self.log(f"step {step}/{cfg.max_steps} loss {row['loss']:.4f} accuracy {row['rewards/accuracies']:.2f} "
                     f"margin {row['rewards/margins']:.4f} lr {row['lr']:.2e} {row['tokens_per_s']:.0f} tok/s")
            evaluated = step % cfg.eval_interval == 0 or step == cfg.max_steps
            early_stop = evaluated and self.eval_and_sample(step)
            if evaluated or step % cfg.save_interval == 0:
                self.save(LAST)
            self.status(step=step)
        if self.saved_step != p["step"]:
            self.save(LAST)
        if early_stop:
            self.log(f"early stop at step {p['step']}: no better held-out accuracy/loss in {cfg.patience} evals")
        return {"step": p["step"], "best_step": p["best_step"], "early_stopped": early_stop}


def train(cfg: TrainConfig, resume: bool = False) -> str:
    """Run (or with resume, continue from last/) the DPO run in cfg.run_dir. Returns its final state, which
    status.json also holds: completed, stopped (SIGTERM/SIGINT, last/ saved) or failed (error has the reason)."""
    world, device = init_world(cfg.device)
    stop = threading.Event()
    run = DPORun(cfg, world, device, stop)
    try:
        with stop_on_signals(stop):
            summary = run.fit(resume)
        run.status(state="completed", **summary)
        run.log(f"completed: {summary}")
        world.leave_together()
        return "completed"
    except Stopped:
        run.status(state="stopped", step=run.progress["step"])
        run.log(f"stopped at step {run.progress['step']}")
        world.leave_together()
        return "stopped"
    except (NonFiniteLoss, ModelError) as e:  # a sentence says it all; a traceback would bury it
        run.status(state="failed", error=str(e))
        run.log(f"failed: {e}")
        return "failed"
    except Exception:
        tail = traceback.format_exc()[-3000:]
        run.status(state="failed", error=tail)
        run.log(f"failed:\n{tail}")
        return "failed"
    finally:
        if world.size > 1:
            dist.destroy_process_group()


def prepare_run(cfg: TrainConfig) -> dict:
    """A new run dir: config.json (model and prompt paths made absolute) and the data snapshots, state queued."""
    cfg.model = canonical(cfg.model)
    cfg.eval_prompts = str(Path(cfg.eval_prompts).resolve()) if cfg.eval_prompts else ""
    return RunDir(cfg.run_dir).prepare(asdict(cfg), cfg.data, cfg.eval_data or None)


def train_run_dir(run_dir: str | Path, resume: bool = False) -> str:
    """Train from run_dir/config.json. A config.json the trainer refuses (a bad setting, or data that no longer
    matches its sha256) fails the run before anything is loaded: status.json gets the one-line reason, and the
    ConfigError raised carries the same line."""
    rd = RunDir(run_dir)
    try:
        cfg = read_run_config(rd)
    except ConfigError as e:
        rd.write_status(state="failed", error=str(e))
        raise
    return train(cfg, resume)


def read_run_config(rd: RunDir) -> TrainConfig:
    """The run's TrainConfig, after checking the data snapshots against the sha256 config.json recorded."""
    try:
        raw = rd.read_config()
        hashes = {key: raw.pop(f"{key}_sha256", None) for key in ("data", "eval_data")}
        cfg = TrainConfig.from_dict({**raw, "run_dir": str(rd.path)})
    except ValueError as e:  # a ConfigError, or JSON that does not parse
        raise ConfigError(f"{rd / CONFIG}: {e}") from None
    for key, digest in hashes.items():
        if raw.get(key) and not rd.resolve(raw[key]).is_file():
            raise ConfigError(f"{raw[key]}: the data file config.json names is missing from {rd.path}")
        if digest and sha256_file(rd.resolve(raw[key])) != digest:
            raise ConfigError(f"{raw[key]} does not match the sha256 recorded in {rd / CONFIG}")
    return cfg
