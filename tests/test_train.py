"""The DPO loop as the studio sees it: real `python -m trainer train` processes on the tiny checkpoint and a run dir."""
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from trainer.checkpoint import load_checkpoint, read_meta
from trainer.cli import main as cli_main
from trainer.config import ConfigError, TrainConfig
from trainer.data import collate, encode_examples
from trainer.dpo import sequence_logps
from trainer.paths import ASSETS_DIR
from trainer.rundir import BEST, CONFIG, LAST, REF_CACHE, RunDir, sha256_file
from trainer.train import (PAIR_METRICS, Stopped, cached_reference_logps, chosen_logps_falling, load_eval_prompts,
                           train, train_run_dir)

REPO = Path(__file__).resolve().parent.parent
CPU = torch.device("cpu")
FOODS = ("apples", "pizza", "green tea", "soup", "bread", "café au lait")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # a tiny model gains nothing from threads on 2 shared cores
# The shape of a tiny run: 36 training pairs, batches of 4, an eval (with samples) every 4 steps.
RUN_FLAGS = ["--max-steps", "12", "--batch-size", "4", "--eval-interval", "4", "--save-interval", "4", "--lr", "1e-2",
             "--warmup-steps", "2", "--eval-prompts", "", "--n-sample-prompts", "2", "--sample-max-new-tokens", "8",
             "--device", "cpu"]


def preference_examples(n: int) -> list[dict]:
    """Kind, on-topic answers preferred over a curt refusal; every fourth is a two-turn conversation."""
    out = []
    for i in range(n):
        food = FOODS[i % len(FOODS)]
        users, accepted, rejected = [f"Do you like {food}? ({i})"], [f"Yes! I like {food}."], ["No. Bye."]
        if i % 4 == 0:
            users.insert(0, "Hello!")
            accepted.insert(0, "Hi there.")
            rejected.insert(0, "Hi there.")
        out.append({"Template": ["Be kind."], "User": users, "Accepted": accepted, "Rejected": rejected})
    return out


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pairs.json"
    path.write_text(json.dumps(preference_examples(40)))
    return path


def trainer_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "trainer", "train", *map(str, args)]


def run_trainer(*args) -> subprocess.CompletedProcess:
    return subprocess.run(trainer_cmd(*args), cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)


def prepared(run_dir: Path, data_file: Path, tiny_checkpoint, *flags) -> Path:
    out = run_trainer("--data", data_file, "--model", tiny_checkpoint, "--run-dir", run_dir, *RUN_FLAGS, *flags,
                      "--prepare-only")
    assert out.returncode == 0, out.stderr
    return run_dir


def curve(run_dir: Path, leave_out=("tokens_per_s",)) -> list[dict]:
    """Every metrics row, minus wall-clock measurements, in order."""
    return [{k: v for k, v in row.items() if k not in leave_out} for row in RunDir(run_dir).read_metrics()]


def assert_same_curve(a: list[dict], b: list[dict], tol: float) -> None:
    assert [row["step"] for row in a] == [row["step"] for row in b]
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for key in x:
            assert x[key] == pytest.approx(y[key], abs=tol, rel=tol), (x["step"], key)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, data_file, tiny_checkpoint):
    """One uninterrupted run, prepared and trained by a single CLI call (the reference for the other tests)."""
    run_dir = tmp_path_factory.mktemp("runs") / "baseline"
    out = run_trainer("--data", data_file, "--model", tiny_checkpoint, "--run-dir", run_dir, *RUN_FLAGS)
    assert out.returncode == 0, out.stdout + out.stderr
    return run_dir


def test_cli_run_leaves_the_run_dir_the_contract_describes(baseline, data_file):
    rd = RunDir(baseline)
    config = rd.read_config()
    assert config["data"] == "data.json" and config["data_sha256"] == sha256_file(data_file)
    assert (baseline / "data.json").read_bytes() == data_file.read_bytes()
    assert config["beta"] == 0.5 and config["length_norm"] is True and config["max_steps"] == 12
    status = rd.read_status()
    assert status["state"] == "completed" and status["step"] == status["total_steps"] == 12 and status["error"] is None
    assert status["data"]["train"]["used"] == 36 and status["data"]["eval"]["used"] == 4
    assert status["best_step"] == read_meta(baseline / BEST)["dpo_step"]
    assert read_meta(baseline / LAST)["dpo_step"] == 12
    rows = rd.read_metrics()
    train_rows, eval_rows = [r for r in rows if "loss" in r], [r for r in rows if "eval_loss" in r]
    assert [r["step"] for r in train_rows] == list(range(1, 13))
    assert [r["step"] for r in eval_rows] == [0, 4, 8, 12]
    names = set(PAIR_METRICS) | {"grad_norm", "lr", "tokens_per_s"}
    assert names <= train_rows[0].keys() and {f"eval_{n}" for n in PAIR_METRICS} <= eval_rows[0].keys()
    # Policy == reference: ln 2 exactly, on the held-out split at step 0 and on the first training batch.
    assert abs(eval_rows[0]["eval_loss"] - math.log(2)) < 1e-6 and abs(train_rows[0]["loss"] - math.log(2)) < 1e-6
    assert eval_rows[0]["eval_rewards/margins"] == 0
    assert eval_rows[-1]["eval_loss"] < 0.5 and eval_rows[-1]["eval_rewards/accuracies"] == 1.0
    assert "completed" in (baseline / "log.txt").read_text()


def test_samples_put_policy_beside_reference_at_step_0_and_every_eval(baseline):
    samples = RunDir(baseline).read_samples()
    assert [s["step"] for s in samples] == [0, 0, 4, 4, 8, 8, 12, 12]
    assert {s["prompt_id"] for s in samples} == {"heldout-0", "heldout-1"}
    first = samples[:2]
    assert all(s["policy"] == s["reference"] for s in first)  # same weights, same seed, same settings
    by_prompt = {}
    for s in samples:
        by_prompt.setdefault(s["prompt_id"], set()).add(s["reference"])
        assert s["messages"][0] == {"role": "system", "content": "Be kind."} and s["messages"][-1]["role"] == "user"
    assert all(len(refs) == 1 for refs in by_prompt.values())  # the reference answered once, reused
    assert any(s["policy"] != s["reference"] for s in samples[2:])


def sigterm_at_step_2(cmd: list[str], rd: RunDir, **popen) -> subprocess.Popen:
    """Start a training process and send it SIGTERM once status.json reaches step 2."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, text=True, **popen)
    deadline = time.time() + 600
    while rd.read_status().get("step", 0) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    return proc


def test_a_save_killed_midway_resumes_from_the_save_before_it(baseline, data_file, tiny_checkpoint, tmp_path):
    from studio import runs
    run_dir = prepared(tmp_path / "run", data_file, tiny_checkpoint)
    rd = RunDir(run_dir)
    proc = sigterm_at_step_2(trainer_cmd("--run-dir", run_dir), rd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    stopped_at = rd.read_status()["step"]
    # the states a kill -9 inside save_checkpoint leaves: the new save half-written beside the last one, which is
    # already renamed out of the way
    last = run_dir / LAST
    os.replace(last, last.with_name("last.old"))
    (last.with_name("last.tmp")).mkdir()
    (last.with_name("last.tmp") / "model.safetensors").write_bytes(b"half")
    offered = [label for label, _ in runs.checkpoints(run_dir) if label.startswith("last")]
    assert offered == [f"last (step {stopped_at})"]
    out = run_trainer("--run-dir", run_dir, "--resume")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"resumed from {LAST} at step {stopped_at}" in out.stdout  # not silently from step 0
    assert_same_curve(curve(run_dir), curve(baseline), tol=1e-6)
    assert sorted(p.name for p in last.parent.iterdir()) == ["best", "last"]  # nothing half-written left


def test_sigterm_stops_with_a_checkpoint_and_resume_reaches_the_same_metrics(baseline, data_file, tiny_checkpoint,
                                                                            tmp_path):
    run_dir = prepared(tmp_path / "run", data_file, tiny_checkpoint)
    rd = RunDir(run_dir)
    proc = sigterm_at_step_2(trainer_cmd("--run-dir", run_dir), rd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    status = rd.read_status()
    stopped_at = status["step"]
    assert status["state"] == "stopped" and 2 <= stopped_at < 12, status
    assert read_meta(run_dir / LAST)["dpo_step"] == stopped_at
    assert max(r["step"] for r in rd.read_metrics()) == stopped_at

    out = run_trainer("--run-dir", run_dir, "--resume")
    assert out.returncode == 0, out.stdout + out.stderr
    assert rd.read_status()["state"] == "completed"
    assert f"resumed from {LAST} at step {stopped_at}" in out.stdout
    assert "reference log-probs (train): 0 computed" in out.stdout and "reused from" in out.stdout
    assert_same_curve(curve(run_dir), curve(baseline), tol=1e-6)
    assert rd.read_samples() == RunDir(baseline).read_samples()


def test_a_model_that_cannot_be_loaded_fails_the_run_with_one_line(tmp_path, data_file):
    rd = RunDir(tmp_path / "run")
    rd.prepare(asdict(TrainConfig(model=str(tmp_path / "no-such-model"), eval_prompts="", device="cpu")), data_file)
    out = run_trainer("--run-dir", rd.path)
    assert out.returncode == 1
    status = rd.read_status()
    assert status["state"] == "failed" and status["pid"] is not None
    assert status["error"] == f"{tmp_path / 'no-such-model'}: no such file or directory (a model is tiny, " \
        "smollm2-135m-instruct, a checkpoint directory or a .gguf file)"


def test_an_exception_marks_the_run_failed_with_the_traceback_tail(tmp_path, data_file, tiny_checkpoint):
    (tmp_path / "prompts.json").write_text("[{")  # an unexpected failure, midway through setup
    rd = RunDir(tmp_path / "run")
    rd.prepare(asdict(TrainConfig(model=str(tiny_checkpoint), eval_prompts=str(tmp_path / "prompts.json"),
                                  device="cpu")), data_file)
    assert run_trainer("--run-dir", rd.path).returncode == 1
    status = rd.read_status()
    assert status["state"] == "failed" and "Traceback" in status["error"]


@pytest.mark.parametrize("edit, reason", [({"lr": "fast"}, "lr must be a finite number, not 'fast'"),
                                          ({"learning_rate": 1e-4}, "unknown setting 'learning_rate'")])
def test_a_hand_edited_config_json_that_is_invalid_fails_the_run_with_a_one_line_reason(tmp_path, data_file, edit,
                                                                                         reason):
    rd = RunDir(tmp_path / "run")
    rd.prepare(asdict(TrainConfig(eval_prompts="", device="cpu")), data_file)
    (rd / CONFIG).write_text(json.dumps({**rd.read_config(), **edit}))
    out = run_trainer("--run-dir", rd.path)
    status = rd.read_status()
    assert status["state"] == "failed" and status["error"] == f"{rd / CONFIG}: {reason}", status
    assert (out.returncode, out.stderr, out.stdout) == (1, f"error: {status['error']}\n", "")


def test_config_json_out_of_range_or_not_json_fails_before_anything_loads(tmp_path, data_file):
    rd = RunDir(tmp_path / "run")
    rd.prepare(asdict(TrainConfig(model=str(tmp_path / "no-such-model"))), data_file)
    (rd / CONFIG).write_text(json.dumps({**rd.read_config(), "batch_size": 0}))
    with pytest.raises(ConfigError, match="config.json: batch_size must be at least 1, not 0$"):
        train_run_dir(rd.path)
    assert rd.read_status()["state"] == "failed" and "batch_size" in rd.read_status()["error"]
    (rd / CONFIG).write_text("{")
    with pytest.raises(ConfigError, match="config.json: Expecting property name"):
        train_run_dir(rd.path)


def test_a_missing_data_snapshot_fails_the_run_with_a_one_line_reason(tmp_path, data_file):
    rd = RunDir(tmp_path / "run")
    rd.prepare(asdict(TrainConfig(eval_prompts="", device="cpu")), data_file)
    (rd / rd.read_config()["data"]).unlink()
    with pytest.raises(ConfigError, match="data.json: the data file config.json names is missing from"):
        train_run_dir(rd.path)
    assert rd.read_status()["state"] == "failed" and "is missing" in rd.read_status()["error"]


def test_a_non_finite_loss_fails_clearly_and_keeps_the_last_good_checkpoint(tmp_path, data_file, tiny_checkpoint):
    # lr 1e30: the first update leaves finite but huge weights, the next forward overflows to NaN.
    run_dir = prepared(tmp_path / "run", data_file, tiny_checkpoint, "--lr", "1e30", "--warmup-steps", "1",
                       "--save-interval", "1", "--n-sample-prompts", "0")
    out = run_trainer("--run-dir", run_dir)
    assert out.returncode == 1
    status = RunDir(run_dir).read_status()
    assert status["state"] == "failed" and "non-finite" in status["error"], status
    failed_step = int(status["error"].split(" at step ")[1].split(":")[0])
    assert f"{LAST} (step {failed_step - 1}) is intact" in status["error"]
    model, _, meta = load_checkpoint(run_dir / LAST)
    assert meta["dpo_step"] == failed_step - 1
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_a_run_dir_without_config_needs_data(tmp_path):
    with pytest.raises(SystemExit, match="no config.json"):
        cli_main(["train", "--run-dir", str(tmp_path / "empty")])


def torchrun_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "trainer",
            "train", *map(str, args)]


@pytest.mark.slow
def test_torchrun_on_two_cpu_processes_gives_the_single_process_curve(baseline, data_file, tiny_checkpoint, tmp_path):
    run_dir = prepared(tmp_path / "run", data_file, tiny_checkpoint)
    out = subprocess.run(torchrun_cmd("--run-dir", run_dir), cwd=REPO, env=ENV, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    status = RunDir(run_dir).read_status()
    assert status["state"] == "completed" and status["world_size"] == 2
    # Sums in another order: equal up to float32 rounding, which the gradient norm (late, small, a sum of squares
    # of near-cancelling terms) feels most.
    assert_same_curve(curve(run_dir, ("tokens_per_s", "grad_norm")), curve(baseline, ("tokens_per_s", "grad_norm")),
                      tol=1e-4)
    grad_norms = [[r["grad_norm"] for r in RunDir(d).read_metrics() if "grad_norm" in r] for d in (run_dir, baseline)]
    assert grad_norms[0] == pytest.approx(grad_norms[1], rel=1e-2)


# ------------------------------------------------------------------------------------------- in-process checks

def in_process(tmp_path, data_file, tiny_checkpoint, name, **overrides) -> Path:
    cfg = TrainConfig(**{"data": str(data_file), "model": str(tiny_checkpoint), "run_dir": str(tmp_path / name),
                         "eval_prompts": "", "n_sample_prompts": 0, "batch_size": 4, "max_steps": 3,
                         "eval_interval": 3, "lr": 1e-2, "warmup_steps": 1, "device": "cpu", **overrides})
    assert train(cfg) == "completed", RunDir(cfg.run_dir).read_status()
    return Path(cfg.run_dir)


@pytest.mark.slow
def test_sigterm_to_torchrun_stops_both_processes_at_one_step_with_a_checkpoint(data_file, tiny_checkpoint, tmp_path):
    run_dir = prepared(tmp_path / "run", data_file, tiny_checkpoint, "--max-steps", "400")
    rd = RunDir(run_dir)
    # torchrun passes the signal on to both workers
    proc = sigterm_at_step_2(torchrun_cmd("--run-dir", run_dir), rd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.communicate(timeout=600)[0]
    status = rd.read_status()
    assert status["state"] == "stopped" and 2 <= status["step"] < 400, out[-3000:]
    assert out.count(f"{run_dir}: stopped") == 2, out[-3000:]  # each rank left through the stop path, none aborted
    assert "SIGABRT" not in out and "terminate called" not in out, out[-3000:]
    assert read_meta(run_dir / LAST)["dpo_step"] == status["step"]


def test_cached_and_live_reference_give_the_same_losses(tmp_path, data_file, tiny_checkpoint):
    cached = in_process(tmp_path, data_file, tiny_checkpoint, "cached")
    live = in_process(tmp_path, data_file, tiny_checkpoint, "live", ref_cache=False)
    assert (cached / REF_CACHE).exists() and not (live / REF_CACHE).exists()
    assert_same_curve(curve(live), curve(cached), tol=1e-6)


def test_bf16_on_cpu_follows_the_fp32_curve_to_bf16_rounding_and_caches_its_reference_apart(tmp_path, data_file,
                                                                                          tiny_checkpoint):
    fp32 = in_process(tmp_path, data_file, tiny_checkpoint, "fp32", precision="fp32")
    bf16 = in_process(tmp_path, data_file, tiny_checkpoint, "bf16", precision="bf16")
    assert [key.rsplit("-", 1)[1] for key in json.loads((bf16 / REF_CACHE).read_text())] == ["bf16"]
    assert curve(bf16)[0]["eval_loss"] == pytest.approx(math.log(2), abs=1e-3)  # policy = reference, both in bf16
    measured = ("tokens_per_s", "grad_norm")
    assert_same_curve(curve(bf16, leave_out=measured), curve(fp32, leave_out=measured), tol=5e-2)


def test_gradient_accumulation_gives_the_same_curve_as_one_batch(tmp_path, data_file, tiny_checkpoint):
    whole = in_process(tmp_path, data_file, tiny_checkpoint, "whole")
    accumulated = in_process(tmp_path, data_file, tiny_checkpoint, "accumulated", grad_accum=2)
    assert_same_curve(curve(accumulated), curve(whole), tol=1e-5)


def test_patience_stops_early_and_best_stays_at_the_last_improvement(tmp_path, data_file, tiny_checkpoint):
    # lr 1e-30 (lr must be above 0): steps too small to change a float32 weight, so nothing improves on step 0
    run_dir = in_process(tmp_path, data_file, tiny_checkpoint, "flat", lr=1e-30, max_steps=40, eval_interval=2,
                         patience=2)
    status = RunDir(run_dir).read_status()
    assert status["early_stopped"] is True and status["step"] == 4 and status["best_step"] == 0
    assert read_meta(run_dir / BEST)["dpo_step"] == 0 and read_meta(run_dir / LAST)["dpo_step"] == 4


def test_reference_cache_is_keyed_by_example_and_reference(tmp_path, tiny_checkpoint):
    model, chat, _ = load_checkpoint(tiny_checkpoint)
    pairs, _, _ = encode_examples(chat, preference_examples(6), 128, 64)
    cache = tmp_path / REF_CACHE
    first, n1 = cached_reference_logps(model, pairs[:5], cache, "ref-a", chat.pad_id, 2, CPU)
    again, n2 = cached_reference_logps(model, pairs, cache, "ref-a", chat.pad_id, 2, CPU)
    other, n3 = cached_reference_logps(model, pairs[:5], cache, "ref-b", chat.pad_id, 2, CPU)
    assert (n1, n2, n3) == (5, 1, 5)  # a new example costs one forward; a new reference recomputes
    assert torch.equal(again[:5], first) and torch.equal(other, first)
    with torch.no_grad():
        plain = collate(pairs, chat.pad_id, CPU)  # one padded batch of whole rows, no cache, no shared prefix
        live = sequence_logps(model(plain.inputs), plain.targets, plain.mask).view(2, -1).T
    assert torch.allclose(again, live, atol=1e-5)
    assert set(json.loads(cache.read_text())) == {"ref-a", "ref-b"}


def test_a_stop_during_the_reference_pass_keeps_the_pairs_done_in_the_cache(tmp_path, tiny_checkpoint):
    model, chat, _ = load_checkpoint(tiny_checkpoint)
    pairs, _, _ = encode_examples(chat, preference_examples(7), 128, 64)
    cache = tmp_path / REF_CACHE
    asked = iter([False, False, True])  # two batches of 2, then a stop
    with pytest.raises(Stopped):
        cached_reference_logps(model, pairs, cache, "ref", chat.pad_id, 2, CPU, should_stop=lambda: next(asked))
    assert len(json.loads(cache.read_text())["ref"]) == 4
    resumed, n = cached_reference_logps(model, pairs, cache, "ref", chat.pad_id, 2, CPU)
    assert n == len(pairs) - 4
    fresh, _ = cached_reference_logps(model, pairs, tmp_path / "other.json", "ref", chat.pad_id, 2, CPU)
    assert torch.allclose(resumed, fresh, atol=1e-6)


def test_falling_chosen_logps_are_flagged_only_when_they_fall_steadily():
    assert chosen_logps_falling([-1.0, -1.1, -1.3, -1.6])
    assert not chosen_logps_falling([-1.0, -1.1, -1.05, -1.6])  # not steady
    assert not chosen_logps_falling([-1.0, -1.01, -1.02, -1.03])  # too small to matter
    assert not chosen_logps_falling([-1.0, -1.5, -2.0])  # too few evals yet


def test_shipped_eval_prompts_load_and_bad_ones_are_rejected(tmp_path):
    prompts = load_eval_prompts(ASSETS_DIR / "eval_prompts.json")
    assert len({p["id"] for p in prompts}) == len(prompts) >= 8
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "x", "Template": ["CUSTOM"], "User": ["a"], "Assistant": ["b"]}]))
    with pytest.raises(ValueError, match="one Assistant fewer"):
        load_eval_prompts(bad)
