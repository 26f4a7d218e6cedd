import json

import pytest
import torch

from trainer.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip_gives_identical_logits(tiny_checkpoint, tmp_path):
    model, chat, meta = load_checkpoint(tiny_checkpoint)
    ids = torch.tensor([chat.tok.encode("Hello! How are you doing today?")])
    again = load_checkpoint(save_checkpoint(tmp_path / "copy", model, chat, meta))[0]
    assert torch.equal(again(ids), model(ids))
    assert meta == {"note": "test"}


def test_checkpoint_is_three_plain_files_without_pickle(tiny_checkpoint):
    assert sorted(p.name for p in tiny_checkpoint.iterdir()) == ["config.json", "model.safetensors", "tokenizer.model"]
    assert json.loads((tiny_checkpoint / "config.json").read_text())["model"]["dim"] == 32
    assert b"\x80\x04" not in (tiny_checkpoint / "model.safetensors").read_bytes()[:64]  # no pickle header


def test_fp16_export_loads_back_as_fp32_with_small_error(tiny_checkpoint, tmp_path):
    model, chat, _ = load_checkpoint(tiny_checkpoint)
    half = load_checkpoint(save_checkpoint(tmp_path / "half", model, chat, dtype=torch.float16))[0]
    assert half.embed.weight.dtype == torch.float32
    ids = torch.tensor([chat.tok.encode("pizza in the park")])
    assert torch.allclose(half(ids), model(ids), atol=1e-2)


def test_overwrite_is_atomic_and_leaves_no_temporaries(tiny_checkpoint, tmp_path):
    model, chat, _ = load_checkpoint(tiny_checkpoint)
    target = tmp_path / "last"
    save_checkpoint(target, model, chat, {"step": 1})
    save_checkpoint(target, model, chat, {"step": 2}, add_files=lambda d: (d / "extra.json").write_text("{}"))
    assert load_checkpoint(target)[2] == {"step": 2} and (target / "extra.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_interrupted_swap_falls_back_to_the_previous_checkpoint(tiny_checkpoint, tmp_path):
    model, chat, _ = load_checkpoint(tiny_checkpoint)
    save_checkpoint(tmp_path / "last", model, chat, {"step": 1})
    (tmp_path / "last").rename(tmp_path / "last.old")  # killed between the two renames
    assert load_checkpoint(tmp_path / "last")[2] == {"step": 1}


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a checkpoint directory"):
        load_checkpoint(tmp_path)
