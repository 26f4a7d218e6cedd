"""TrainConfig, the one home of a DPO run's settings: each value checked where the field is defined, each flag
explained by the field's own text."""
import argparse
from dataclasses import fields

import pytest

from trainer.cli import add_commands
from trainer.cli import main as cli_main
from trainer.config import LOSS_TYPES, ConfigError, TrainConfig, held_out_count, steps_for_epochs
from trainer.data import split_examples

# Each ranged field: values just outside its range, and values at its edges that are fine.
RANGES = [
    ("loss_type", ["kto_pair", ""], list(LOSS_TYPES)),
    ("schedule", ["constant"], ["cosine", "linear"]),
    ("precision", ["fp16"], ["auto", "fp32", "bf16"]),
    ("beta", [0, -0.5], [1e-3]),
    ("label_smoothing", [-0.1, 0.5], [0.0, 0.49]),
    ("nll_weight", [-1.0], [0.0]),
    ("lr", [0, -1e-5], [1e-9]),
    ("warmup_steps", [-1], [0]),
    ("max_steps", [0], [1]),
    ("batch_size", [0, -8], [1]),
    ("grad_accum", [0], [1]),
    ("weight_decay", [-0.1], [0.0]),
    ("grad_clip", [0.0], [0.1]),
    ("max_len", [-1], [0]),
    ("max_response_len", [0], [1]),
    ("eval_fraction", [-0.1, 1.0], [0.99]),
    ("eval_interval", [0], [1]),
    ("patience", [-1], [0]),
    ("save_interval", [0], [1]),
    ("n_sample_prompts", [-1], [0]),
    ("sample_temperature", [-0.1], [0.0]),
    ("sample_max_new_tokens", [0], [1]),
    ("seed", [-1, 2**32], [0, 2**32 - 1]),
]


def test_the_defaults_are_a_valid_config_and_json_may_write_a_float_as_a_whole_number():
    assert TrainConfig().lr == 2e-5
    assert TrainConfig.from_dict({"lr": 1, "beta": 2}).lr == 1


def test_an_unknown_key_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"^unknown setting 'batchsize' \(did you mean 'batch_size'\?\)$"):
        TrainConfig.from_dict({"batchsize": 4})
    with pytest.raises(ConfigError, match=r"^unknown setting 'colour'$"):
        TrainConfig.from_dict({"lr": 1e-4, "colour": "red"})


@pytest.mark.parametrize("name, value, kind", [
    ("lr", "fast", "a finite number"), ("lr", float("nan"), "a finite number"), ("lr", True, "a finite number"),
    ("beta", float("inf"), "a finite number"), ("max_steps", 2.5, "a whole number"),
    ("batch_size", "8", "a whole number"), ("seed", False, "a whole number"), ("length_norm", 1, "true or false"),
    ("model", None, "text")])
def test_a_wrong_type_is_refused_naming_the_field(name, value, kind):
    with pytest.raises(ConfigError, match=f"^{name} must be {kind}, not "):
        TrainConfig.from_dict({name: value})


def test_every_ranged_field_is_tested_here():
    ranged = {f.name for f in fields(TrainConfig) if any(v is not None for k, v in f.metadata.items() if k != "help")}
    assert ranged == {name for name, _, _ in RANGES}


@pytest.mark.parametrize("name, bad, good", RANGES)
def test_each_range_is_held_naming_the_field(name, bad, good):
    for value in bad:
        with pytest.raises(ConfigError, match=f"^{name} must be .*, not {value!r}$"):
            TrainConfig(**{name: value})
    for value in good:
        assert getattr(TrainConfig(**{name: value}), name) == value


def test_fields_that_must_agree_with_each_other():
    with pytest.raises(ConfigError, match="^batch_size 6 must split evenly into grad_accum 4$"):
        TrainConfig(batch_size=6, grad_accum=4)
    assert TrainConfig(batch_size=8, grad_accum=4).grad_accum == 4
    with pytest.raises(ConfigError, match="^eval_fraction must be above 0 when there is no eval_data"):
        TrainConfig(eval_fraction=0.0)
    assert TrainConfig(eval_fraction=0.0, eval_data="held_out.json").eval_fraction == 0
    with pytest.raises(ConfigError, match="^max_response_len 96 must be below max_len 64$"):
        TrainConfig(max_len=64)
    assert TrainConfig(max_len=128).max_len == 128


def test_every_problem_is_said_at_once():
    with pytest.raises(ConfigError, match="^beta must be above 0, not 0; batch_size must be at least 1, not 0$"):
        TrainConfig(beta=0, batch_size=0)


def test_refused_flags_end_the_cli_with_the_reason(tmp_path):
    with pytest.raises(SystemExit, match="^error: lr must be above 0, not -1.0$"):
        cli_main(["train", "--data", str(tmp_path / "pairs.json"), "--run-dir", str(tmp_path / "run"), "--lr", "-1"])
    assert not (tmp_path / "run").exists()


def test_epochs_become_steps_over_the_training_split_the_trainer_makes():
    assert steps_for_epochs(1, 100, 0.1, 16) == 6  # 90 training pairs
    assert steps_for_epochs(2.5, 100, 0.1, 16) == 15
    assert steps_for_epochs(1, 3, 0.1, 16) == 1
    with pytest.raises(ConfigError, match="^epochs must be above 0, not 0$"):
        steps_for_epochs(0, 100, 0.1, 16)
    for n, fraction in ((100, 0.1), (3, 0.1), (7, 0.5), (10, 0.0)):
        assert len(split_examples(list(range(n)), fraction, seed=1)[1]) == held_out_count(n, fraction)


# ------------------------------------------------------------------------------------------------ --help

def commands() -> dict[str, argparse.ArgumentParser]:
    sub = argparse.ArgumentParser().add_subparsers()
    add_commands(sub)
    return sub.choices


@pytest.mark.parametrize("command", ["train", "sft", "sample", "chat"])
def test_every_flag_is_explained(command):
    parser = commands()[command]
    assert [a.option_strings for a in parser._actions if not (a.help or "").strip()] == []
    assert "--seed" in parser.format_help()  # every text formats (a stray % would not)


def test_a_flags_help_is_its_fields_text():
    flags = {a.dest: a for a in commands()["train"]._actions}
    for f in fields(TrainConfig):
        assert flags[f.name].help.startswith(f.metadata["help"])
    assert flags["loss_type"].choices == LOSS_TYPES


def test_dpo_studio_train_is_the_same_parser():
    from studio.cli import build_parser
    studio_train = build_parser()._subparsers._group_actions[0].choices["train"]
    assert [(a.option_strings, a.help) for a in studio_train._actions] == \
        [(a.option_strings, a.help) for a in commands()["train"]._actions]
