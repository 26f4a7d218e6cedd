"""`TrainConfig`, the whole configuration of a DPO run: one field per `python -m trainer train` flag and per
config.json key, each with its help text and the range it is held to. Standard library only, so the studio checks
its Train-tab settings by building one without importing torch.
"""
from __future__ import annotations

import difflib
import math
import operator
from dataclasses import Field, dataclass, field, fields

from .paths import ASSETS_DIR

LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust")
SCHEDULES = ("cosine", "linear")
PRECISIONS = ("auto", "fp32", "bf16")
DEVICE_HELP = "cpu, cuda, cuda:N or mps; auto: the best available"
# What a field's value must be, by the type of its default (so bools are not numbers, and a float may be written 1).
KINDS = {bool: "true or false", int: "a whole number", float: "a finite number", str: "text"}
BOUNDS = (("minimum", operator.ge, "at least"), ("above", operator.gt, "above"), ("below", operator.lt, "below"))


class ConfigError(ValueError):
    """A configuration the trainer refuses; the message names each field, unknown key or file, and what is wrong."""


def setting(default, help: str, *, minimum=None, above=None, below=None, choices=None):
    """A config field whose help text is its --help line (trainer.cli reads it) and whose range TrainConfig checks."""
    return field(default=default, metadata={"help": help, "minimum": minimum, "above": above, "below": below,
                                            "choices": choices})


def has_kind(value, kind: type) -> bool:
    if isinstance(value, bool) != (kind is bool):  # bool is an int subclass: neither stands in for the other
        return False
    if kind is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, kind)


def field_problem(f: Field, value) -> str | None:
    """What is wrong with one field's value, in a phrase that names the field; None when nothing is."""
    kind, meta = type(f.default), f.metadata
    if not has_kind(value, kind):
        return f"{f.name} must be {KINDS[kind]}, not {value!r}"
    if meta["choices"] and value not in meta["choices"]:
        return f"{f.name} must be one of {', '.join(meta['choices'])}, not {value!r}"
    bounds = [(meta[key], holds, words) for key, holds, words in BOUNDS if meta[key] is not None]
    if not all(holds(value, limit) for limit, holds, _ in bounds):
        return f"{f.name} must be {' and '.join(f'{words} {limit}' for limit, _, words in bounds)}, not {value!r}"
    return None


def held_out_count(n_examples: int, eval_fraction: float) -> int:
    """How many of n examples the run holds out: the rounded fraction, but at least one when it is above 0."""
    return max(1, round(n_examples * eval_fraction)) if eval_fraction > 0 else 0


def steps_for_epochs(epochs: float, n_examples: int, eval_fraction: float, batch_size: int) -> int:
    """Optimizer steps that show the training split of n examples to the policy `epochs` times."""
    if not epochs > 0:
        raise ConfigError(f"epochs must be above 0, not {epochs!r}")
    train_examples = max(1, n_examples - held_out_count(n_examples, eval_fraction))
    return max(1, math.ceil(epochs * train_examples / batch_size))


@dataclass
class TrainConfig:
    data: str = setting("", "seed-format preference file; relative paths are inside the run dir")
    eval_data: str = setting("", "held-out seed file; empty: hold out eval_fraction of data")
    model: str = setting("tiny", "reference (SFT) model spec: tiny, smollm2-135m-instruct, a checkpoint or Hugging "
                         "Face directory, or a .gguf file; the policy starts as a copy of it")
    run_dir: str = setting("runs/dpo", "the run directory: config, data snapshot, status, metrics, samples, "
                                       "log and checkpoints")
    eval_prompts: str = setting(str(ASSETS_DIR / "eval_prompts.json"),
                                "shipped prompts for side-by-side samples; empty: none")
    loss_type: str = setting("sigmoid", "the preference loss (docs/DPO.md)", choices=LOSS_TYPES)
    beta: float = setting(0.5, "β: how strongly the policy is held to the reference", above=0)
    label_smoothing: float = setting(0.0, "ε of conservative (sigmoid) and robust DPO: the share of labels assumed "
                                          "flipped", minimum=0, below=0.5)
    length_norm: bool = setting(True, "mean log-prob over response tokens; --no-length-norm: sums")
    nll_weight: float = setting(0.0, "adds weight × mean NLL of the accepted response (counters falling chosen "
                                     "log-probs)", minimum=0)
    lr: float = setting(2e-5, "peak learning rate; β 0.5 on mean log-probs moves fast: from 5e-5 up replies got "
                              "garbled (docs/DPO.md)", above=0)
    schedule: str = setting("cosine", "decay to a tenth of lr, after a linear warmup", choices=SCHEDULES)
    warmup_steps: int = setting(10, "steps of linear warmup to lr", minimum=0)
    max_steps: int = setting(100, "optimizer steps of the whole run", minimum=1)
    batch_size: int = setting(8, "pairs per optimizer step, over all processes and accumulation micro-steps",
                              minimum=1)
    grad_accum: int = setting(1, "micro-batches each step's batch_size pairs are split into", minimum=1)
    weight_decay: float = setting(0.0, "AdamW weight decay (never on norms and embeddings)", minimum=0)
    grad_clip: float = setting(1.0, "the gradient norm is clipped to this", above=0)
    max_len: int = setting(0, "prompt + response tokens; 0: the model's context", minimum=0)
    max_response_len: int = setting(96, "responses are capped here, then prompts lose their beginning to fit max_len",
                                    minimum=1)
    eval_fraction: float = setting(0.1, "share of data held out, used when eval_data is empty", minimum=0, below=1)
    eval_interval: int = setting(20, "steps between held-out evals and samples", minimum=1)
    patience: int = setting(0, "evals without a better held-out (accuracy, -loss) before stopping early; 0: never",
                            minimum=0)
    save_interval: int = setting(50, "steps between saves of checkpoints/last, which is also saved at every eval "
                                     "and at the end", minimum=1)
    ref_cache: bool = setting(True, "reference log-probs computed once and cached; --no-ref-cache: a live reference "
                                    "forward")
    n_sample_prompts: int = setting(4, "held-out prompts sampled at every eval, besides eval_prompts", minimum=0)
    sample_temperature: float = setting(0.7, "temperature of those samples; 0: greedy", minimum=0)
    sample_max_new_tokens: int = setting(48, "tokens per sample at most", minimum=1)
    seed: int = setting(1337, "seeds the held-out split, the batch order and the samples", minimum=0, below=2**32)
    device: str = setting("auto", DEVICE_HELP)
    precision: str = setting("auto", "matrix products in bf16 under autocast (weights, optimizer and log-probs stay "
                                     "fp32) or all in fp32; auto: bf16 on CUDA, fp32 elsewhere. On a CPU with bf16 "
                                     "instructions (AVX512-BF16, AMX) bf16 is faster", choices=PRECISIONS)

    def __post_init__(self):
        # Each field on its own first: comparing fields needs each to be of its type.
        problems = [p for f in fields(self) if (p := field_problem(f, getattr(self, f.name)))]
        problems = problems or self.combination_problems()
        if problems:
            raise ConfigError("; ".join(problems))

    def combination_problems(self) -> list[str]:
        """What is wrong between fields, each of which is fine on its own."""
        problems = []
        if self.batch_size % self.grad_accum:
            problems.append(f"batch_size {self.batch_size} must split evenly into grad_accum {self.grad_accum}")
        if not self.eval_data and not self.eval_fraction:
            problems.append("eval_fraction must be above 0 when there is no eval_data (the run needs held-out pairs)")
        if self.max_len and self.max_response_len >= self.max_len:
            problems.append(f"max_response_len {self.max_response_len} must be below max_len {self.max_len}")
        return problems

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """A config from config.json or the studio's settings: an unknown key is refused like a bad value."""
        known = [f.name for f in fields(cls)]
        unknown = [unknown_key(key, known) for key in d if key not in known]
        if unknown:
            raise ConfigError("; ".join(unknown))
        return cls(**d)


def unknown_key(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"unknown setting {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
