import json
import subprocess
import sys

import pytest
import torch

from conftest import TINY_TEXTS
from trainer.checkpoint import load_checkpoint
from trainer.sft import SFTConfig, train_sft


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "chats.jsonl"
    with open(path, "w") as fh:
        for i, text in enumerate(TINY_TEXTS):
            reply = f"Nice! I like {text.split('I like ')[-1]}" if "I like" in text else "Okay."
            fh.write(json.dumps({"Template": ["CUSTOM"], "User": [text], "Assistant": [reply]}) + "\n")
    return path


def tiny_sft(corpus, run_dir, **overrides):
    return SFTConfig(**{"data": [str(corpus)], "run_dir": str(run_dir), "vocab_size": 400, "dim": 32, "n_layers": 2,
                        "n_heads": 4, "n_kv_heads": 2, "max_seq_len": 192, "batch_size": 16, "lr": 3e-3,
                        "warmup_steps": 5, "max_steps": 60, "val_fraction": 0.1, "eval_interval": 20,
                        "save_interval": 20, "device": "cpu", **overrides})


def metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_short_sft_lowers_validation_loss_and_exports(corpus, tmp_path):
    summary = train_sft(tiny_sft(corpus, tmp_path / "run", export=str(tmp_path / "model")))
    vals = [m["val_loss"] for m in metrics(tmp_path / "run") if "val_loss" in m]
    assert vals[-1] < vals[0] - 1.0
    assert summary["steps"] == 60 and summary["tokens_seen"] > 0 and summary["dropped_too_long"] == 0
    model, tok, meta = load_checkpoint(tmp_path / "model")
    assert meta["best_val_loss"] == pytest.approx(min(vals))
    assert (tmp_path / "model" / "sft_config.json").exists()


def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(corpus, tmp_path):
    train_sft(tiny_sft(corpus, tmp_path / "straight", max_steps=40))
    train_sft(tiny_sft(corpus, tmp_path / "parts", max_steps=40, stop_after=15))
    assert load_checkpoint(tmp_path / "parts" / "last")[2] == {"sft_step": 15}
    train_sft(tiny_sft(corpus, tmp_path / "parts", max_steps=40, resume=True))
    a = load_checkpoint(tmp_path / "straight" / "last")[0].state_dict()
    b = load_checkpoint(tmp_path / "parts" / "last")[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    def losses(run):
        return [m["loss"] for m in metrics(run) if "loss" in m]

    assert losses(tmp_path / "parts") == losses(tmp_path / "straight")


def test_init_continues_from_a_checkpoint_with_its_tokenizer(corpus, tmp_path):
    first = train_sft(tiny_sft(corpus, tmp_path / "first", max_steps=40, export=str(tmp_path / "stage1")))
    second = train_sft(tiny_sft(corpus, tmp_path / "second", max_steps=20, lr=1e-3, dim=64,
                                init=str(tmp_path / "stage1")))
    start = metrics(tmp_path / "second")[0]["val_loss"]
    assert start == pytest.approx(first["best_val_loss"], abs=2e-2)  # fp16 export, same validation split
    assert second["best_val_loss"] < start and second["params"] == first["params"]  # dim comes from the checkpoint
    text = "I like long walks and tea."
    assert load_checkpoint(tmp_path / "second" / "best")[1].tok.encode(text) == \
        load_checkpoint(tmp_path / "stage1")[1].tok.encode(text)


def test_scoring_every_turn_scores_more_tokens_than_replies_only(corpus, tmp_path):
    from trainer.sft import prepare
    (tmp_path / "a").mkdir()
    replies = prepare(tiny_sft(corpus, tmp_path / "a"), tmp_path / "a")[2]
    turns = prepare(tiny_sft(corpus, tmp_path / "a", scored="turns"), tmp_path / "a")[2]
    assert [ids for ids, _ in replies] == [ids for ids, _ in turns]
    assert sum(map(sum, (m for _, m in turns))) > sum(map(sum, (m for _, m in replies)))


def test_cli_sft_runs_as_a_module(corpus, tmp_path):
    out = subprocess.run([sys.executable, "-m", "trainer", "sft", "--data", str(corpus), "--run-dir",
                          str(tmp_path / "r"), "--vocab-size", "400", "--dim", "32", "--n-layers", "1",
                          "--n-heads", "2", "--n-kv-heads", "1", "--max-seq-len", "192", "--max-steps", "3",
                          "--eval-interval", "3", "--device", "cpu"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["steps"] == 3


def test_context_too_short_for_any_reply_is_a_clear_error(corpus, tmp_path):
    with pytest.raises(ValueError, match="max_seq_len=16"):
        train_sft(tiny_sft(corpus, tmp_path / "r", max_seq_len=16))
