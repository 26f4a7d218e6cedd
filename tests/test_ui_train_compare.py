"""The Train and Compare tabs' handlers as plain functions: on a real store, run dirs and the tiny checkpoint."""
import json
import random
import time
from dataclasses import asdict

import pytest
import torch

from studio import models, runs
from studio.settings import Settings
from studio.store import ExampleFilter, Store
from studio.ui import compare, composer, train
from studio.ui.common import Refused, as_typed
from studio.ui.composer import new_draft
from studio.ui.chatfmt import plain_text
from test_runs import preference_examples, wait_for
from trainer.checkpoint import load_checkpoint, save_checkpoint
from trainer.config import TrainConfig
from trainer.rundir import BEST, METRICS, SAMPLES, RunDir

XSS = '<img src=x onerror="alert(1)">'
STORE_DATA = {"data_source": train.STORE, "annotator": "ann", "status": "done", "source": train.ANY, "text": "",
              "file": None}


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "studio.db")
    for i, example in enumerate(preference_examples(12)):
        store.add_example(example, annotator="ann" if i % 3 else "bob")
    return store


@pytest.fixture
def settings(tmp_path, tiny_checkpoint):
    return Settings(db=tmp_path / "studio.db", runs_dir=tmp_path / "runs", model=tiny_checkpoint)


def form(**changes) -> dict:
    return {**train.form_values(runs.DEFAULTS), **changes}


def queued_run(settings, store) -> RunDir:
    return runs.create_run(settings.runs_dir, {}, settings.model, store=store)


def policy_checkpoint(rd: RunDir, tiny_checkpoint, step=4):
    """A 'trained' policy in the run's best/: the reference with its weights nudged, so the two answer differently."""
    model, tok, _ = load_checkpoint(tiny_checkpoint)
    torch.manual_seed(step)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    save_checkpoint(rd / BEST, model, tok, {"dpo_step": step})
    return str(rd / BEST)


# ------------------------------------------------------------------------------------------------ Train: the form

def test_the_form_round_trips_the_defaults_and_the_quick_demo():
    for preset in (runs.DEFAULTS, runs.QUICK_DEMO):
        assert asdict(TrainConfig(**train.run_settings(train.form_values(preset)))) == preset
    assert runs.QUICK_DEMO["max_steps"] < runs.DEFAULTS["max_steps"]


def test_presets_are_set_in_the_browser_as_the_form_takes_them():
    js = train.preset_js(list(train.form_values(runs.QUICK_DEMO).values()))
    assert js.startswith("() => [")
    values = json.loads(js.removeprefix("() => "))
    settings = train.run_settings(dict(zip(train.form_values(runs.QUICK_DEMO), values)))
    assert asdict(TrainConfig(**settings)) == runs.QUICK_DEMO


def test_epochs_or_steps_and_numbers_typed_from_the_browser():
    settings = train.run_settings(form(train_for="epochs", amount=2, batch_size=8.0, seed=3.0, lr="0.001"))
    assert settings["epochs"] == 2.0 and "max_steps" not in settings
    assert settings["batch_size"] == 8 and settings["seed"] == 3 and settings["lr"] == 0.001
    assert train.run_settings(form(amount=12.0))["max_steps"] == 12
    with pytest.raises(runs.RunError, match="Fill in every setting: seed is empty"):
        train.run_settings(form(seed=None))


def test_data_choices_count_what_a_run_would_train_on(store, tmp_path):
    assert train.data_summary(store, STORE_DATA) == "8 examples in the store match."
    assert "0 examples" in train.data_summary(store, {**STORE_DATA, "text": "no such words"})
    request = train.data_request(store, {**STORE_DATA, "text": " pizza "})
    assert request["filters"] == ExampleFilter(annotator="ann", status="done", text="pizza")
    assert request["data_label"] == "store (annotator ann, status done, text “pizza”)"
    assert train.data_request(store, {**STORE_DATA, "data_source": train.DEMO})["data_file"] == train.DEMO_PAIRS
    with pytest.raises(runs.RunError, match="Upload"):
        train.data_request(store, {**STORE_DATA, "data_source": train.FILE})
    assert train.default_source(store) == train.STORE
    assert train.default_source(Store(tmp_path / "empty.db")) == train.DEMO


def test_refusals_name_the_problem_and_start_nothing(store, settings):
    with pytest.raises(runs.RunError, match="beta must be above 0"):
        train.start_run(store, settings, "ann", STORE_DATA, form(beta=0), str(settings.model))
    with pytest.raises(runs.RunError, match="holds 0 examples"):
        train.start_run(store, settings, "ann", {**STORE_DATA, "annotator": "nobody"}, form(), str(settings.model))
    with pytest.raises(runs.RunError, match="Pick a base model"):
        train.start_run(store, settings, "ann", STORE_DATA, form(), None)
    with pytest.raises(runs.RunError, match=r"label_smoothing must be at least 0 and below 0\.5, not 0\.6; "
                                            r"sample_max_new_tokens must be at least 1, not 0"):
        train.start_run(store, settings, "ann", STORE_DATA, form(label_smoothing=0.6, sample_max_new_tokens=0),
                        str(settings.model))
    assert train.runs_table(settings.runs_dir) == []
    with pytest.raises(runs.RunError, match="no run"):
        train.live(settings.runs_dir, "../../etc")


def test_an_uploaded_file_is_refused_by_its_name_with_every_located_error(store, settings, tmp_path):
    upload = tmp_path / "gradio-upload-3f9c" / "notes.jsonl"  # where the server keeps what the browser sent
    upload.parent.mkdir()
    good = {"Template": ["CUSTOM"], "User": ["u"], "Accepted": ["a"], "Rejected": ["r"]}
    upload.write_text("\n".join([json.dumps(good), json.dumps({**good, "Rejected": ["a "]}), "{broken",
                                 json.dumps({**good, "User": []})]) + "\n", encoding="utf-8")
    with pytest.raises(runs.RunError) as info:
        train.start_run(store, settings, "ann", {**STORE_DATA, "data_source": train.FILE, "file": str(upload)},
                        form(), str(settings.model))
    lines = str(info.value).splitlines()
    assert lines[0] == "notes.jsonl is not valid seed data (3 errors):"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "- notes.jsonl, line 2, field 'Rejected[0]'", "- notes.jsonl, line 3", "- notes.jsonl, line 4, field 'User'"]
    assert str(upload.parent) not in str(info.value) and train.runs_table(settings.runs_dir) == []


# ------------------------------------------------------------------------------------------ Train: watching

def test_start_from_the_form_then_watch_it_complete(store, settings, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    tiny = form(amount=6, batch_size=4, eval_interval=3, sample_max_new_tokens=6, n_sample_prompts=1, warmup_steps=1)
    run_id, message = train.start_run(store, settings, "ann", STORE_DATA, tiny, str(settings.model))
    assert message.startswith(f"Started {run_id}")
    view = wait_for(lambda: (v := train.live(settings.runs_dir, run_id))["state"].startswith(f"{run_id}: **completed")
                    and v, timeout=120)
    assert not view["active"] and not view["can_stop"] and not view["can_resume"]
    assert (view["progress"], view["total"]) == (6, 6) and "completed" in view["log"]
    loss = view["frames"]["Loss"].dropna()
    assert list(loss[loss.series == "train"].step) == [1, 2, 3, 4, 5, 6]
    assert list(loss[loss.series == "eval"].step) == [0, 3, 6]
    [row] = train.runs_table(settings.runs_dir)
    assert row[:3] == [run_id, "completed", 8] and row[6] == "6/6" and row[7] == "default · tiny"
    assert row[8] == "store (annotator ann, status done)" and row[9] == "ann"
    assert float(row[3]) == max(loss_row["eval_rewards/accuracies"] for loss_row in RunDir(settings.runs_dir / run_id)
                                .read_metrics() if "eval_rewards/accuracies" in loss_row)


def test_plots_draw_train_and_eval_series_from_the_metrics():
    metrics = [{"step": 0, "eval_loss": 0.69, "eval_rewards/accuracies": 0.0, "eval_rewards/chosen": 0.0,
                "eval_rewards/rejected": 0.0, "eval_logps/chosen": -3.0},
               {"step": 1, "loss": 0.6, "rewards/chosen": 0.2, "rewards/rejected": -0.1, "logps/chosen": -2.9}]
    frames = {title: frame.dropna() for title, frame in train.plot_frames(metrics).items()}
    assert list(frames) == list(train.PLOTS)
    assert frames["Loss"].values.tolist() == [[0, 0.69, "eval"], [1, 0.6, "train"]]
    assert frames["Rewards (chosen / rejected)"].values.tolist() == [
        [0, 0.0, "eval chosen"], [0, 0.0, "eval rejected"], [1, 0.2, "train chosen"], [1, -0.1, "train rejected"]]
    assert frames["Log-probs (chosen / rejected)"].series.tolist() == ["eval chosen", "train chosen"]


def test_every_plot_names_all_its_series_from_the_first_frame_with_number_types():
    """A Gradio plot keeps the colour domain and the types of the first frame it draws."""
    for title, frame in train.plot_frames([]).items():
        assert sorted(frame.series) == sorted(series for _, series in train.PLOTS[title])
        assert frame.value.isna().all() and [str(t) for t in frame.dtypes] == ["int64", "float64", "str"]


def test_the_live_view_shows_eta_the_warning_and_a_crash(store, settings):
    rd = queued_run(settings, store)
    record = runs.read_studio(rd)
    now = time.time()
    record["launches"] = [{"pid": 999_999_999, "at": now - 60, "resume": False, "after": None}]
    (rd / runs.STUDIO).write_text(json.dumps(record))
    rd.append(METRICS, [{"step": 25, "eval_loss": 0.5, "eval_rewards/accuracies": 0.75,
                         "warning": f"held-out chosen log-probs have fallen {XSS}"}])
    rd.write_status(state="running", pid=999_999_999, step=25, total_steps=150, best_step=25)
    view = train.live(settings.runs_dir, rd.path.name)
    assert view["state"].startswith(f"{rd.path.name}: **crashed**") and "see the log" in view["state"]
    assert "best held-out accuracy 0.750 (step 25)" in view["state"] and view["can_resume"] and not view["active"]
    assert view["warning"].startswith("**⚠ Falling chosen log-probs:**") and XSS not in view["warning"]
    assert "&lt;img" in view["warning"]


def test_the_live_view_reads_only_the_metric_lines_appended_since_it_last_looked(store, settings, monkeypatch):
    rd = queued_run(settings, store)
    rd.append(METRICS, [{"step": 1, "loss": 0.69}])
    first = train.live(settings.runs_dir, rd.path.name)
    assert first["new_metrics"] and first["changed"] and first["followed"]["metrics"] == [{"step": 1, "loss": 0.69}]
    monkeypatch.setattr(runs.RunDir, "read_metrics", lambda self: pytest.fail("read the whole metrics file"))
    again = train.live(settings.runs_dir, rd.path.name, first["followed"])
    assert not again["new_metrics"] and not again["changed"]  # nothing new: no plots, no runs table to redraw
    with open(rd / METRICS, "a", encoding="utf-8") as fh:
        fh.write('{"step": 2, "loss": 0.6}\n{"step": 3, "lo')  # the last line is still being written
    later = train.live(settings.runs_dir, rd.path.name, again["followed"])
    assert [m["step"] for m in later["followed"]["metrics"]] == [1, 2]
    rd.truncate_after(1)  # a resume from step 1 rewrites the file shorter
    resumed = train.live(settings.runs_dir, rd.path.name, later["followed"])
    assert [m["step"] for m in resumed["followed"]["metrics"]] == [1]
    rd.write_status(state="failed", error="boom")
    assert train.live(settings.runs_dir, rd.path.name, resumed["followed"])["changed"]


def test_stop_and_resume_refuse_what_cannot_be_done(store, settings):
    rd = queued_run(settings, store)
    with pytest.raises(runs.RunError, match="is queued: there is no process to stop"):
        train.stop_run(settings.runs_dir, rd.path.name)
    rd.write_status(state="completed")
    with pytest.raises(runs.RunError, match="completed; start a new run"):
        train.resume_run(settings.runs_dir, rd.path.name)


def test_time_formats():
    assert (train.duration(None), train.duration(59.6), train.duration(3725)) == ("", "1:00", "1:02:05")


# ----------------------------------------------------------------------------------------- Compare: samples

def test_samples_side_by_side_at_the_latest_or_a_chosen_step(store, settings):
    rd = queued_run(settings, store)
    assert compare.sample_rows(settings.runs_dir, rd.path.name, compare.LATEST) == ([], None)
    messages = [{"role": "system", "content": "CUSTOM"}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": XSS}]
    for step, policy in ((0, "same"), (4, "better")):
        rd.append(SAMPLES, [{"step": step, "prompt_id": "p", "messages": messages, "policy": policy,
                             "reference": "same"}])
    assert compare.eval_steps(settings.runs_dir, rd.path.name) == [0, 4]
    prompt = f"User: Hi\nAssistant: Hello!\nUser: {XSS}"
    assert compare.sample_rows(settings.runs_dir, rd.path.name, compare.LATEST) == ([[prompt, "same", "better"]], 4)
    assert compare.sample_rows(settings.runs_dir, rd.path.name, "0") == ([[prompt, "same", "same"]], 0)
    assert compare.conversation_text([{"role": "system", "content": "Be brief."}]) == "System: Be brief."


# ------------------------------------------------------------------------------------------- Compare: arena

@pytest.fixture
def arena_run(store, settings, tiny_checkpoint):
    rd = queued_run(settings, store)
    return rd, policy_checkpoint(rd, tiny_checkpoint)


SAMPLING = {"temperature": 0.9, "top_p": 1.0, "top_k": 0, "max_new_tokens": 10, "seed": 5}


def answered(settings, arena_run, message, seed=0) -> dict:
    """A new round (sides drawn with `seed`) in which both models answered `message`."""
    rd, policy = arena_run
    arena = compare.new_round(settings.runs_dir, rd.path.name, policy, random.Random(seed))
    return compare.send(arena, message, "CUSTOM", {**SAMPLING, "seed": seed})


def test_a_round_asks_both_sides_the_same_turns_with_the_same_sampling(settings, arena_run, tiny_checkpoint):
    rd, policy = arena_run
    arena = compare.new_round(settings.runs_dir, rd.path.name, policy, random.Random(0))
    assert (arena["policy_label"], arena["reference"]) == ("best (step 4)", str(tiny_checkpoint.resolve()))
    arena = compare.send(arena, "Hello! How are you?", "CUSTOM", SAMPLING)
    arena = compare.send(arena, "I like pizza.", "CUSTOM", SAMPLING)
    params = models.sampling(**SAMPLING)
    users = ["Hello! How are you?", "I like pizza."]
    for side, path in (("policy_replies", policy), ("reference_replies", tiny_checkpoint)):
        replies = arena[side]
        assert len(replies) == 2  # each side continues its own conversation
        assert replies[1] == as_typed(models.load(path).reply("CUSTOM", users, replies[:1], params))
    assert arena["policy_replies"] != arena["reference_replies"] and arena["sampling"] == params.to_dict()
    chat_a, chat_b = compare.chats(arena)
    a_side, b_side = (arena["policy_replies"], arena["reference_replies"])[::1 if arena["policy_side"] == "A" else -1]
    assert [plain_text(m) for m in chat_a] == [users[0], a_side[0], users[1], a_side[1]]
    assert [plain_text(m) for m in chat_b] == [users[0], b_side[0], users[1], b_side[1]]


def test_sides_are_drawn_at_random(settings, arena_run):
    rd, policy = arena_run
    sides = {compare.new_round(settings.runs_dir, rd.path.name, policy, random.Random(seed))["policy_side"]
             for seed in range(20)}
    assert sides == {"A", "B"}


def test_a_blind_vote_for_the_policy_stores_its_reply_as_accepted(store, settings, arena_run):
    rd, _ = arena_run
    arena = answered(settings, arena_run, "Do you like soup?")
    policy_side = arena["policy_side"]
    with pytest.raises(Refused, match="Type your name"):
        compare.vote(store, "", arena, policy_side)
    decided, message = compare.vote(store, "vera", arena, policy_side)
    assert message.startswith(f"{compare.VOTES[policy_side]}: {policy_side} was the policy ({rd.path.name} · best "
                              "(step 4))")
    example_id = int(message.split("Stored as example ")[1].split()[0])
    example = store.get_example(example_id)
    assert example.seed == {"Template": ["CUSTOM"], "User": ["Do you like soup?"],
                            "Accepted": arena["policy_replies"], "Rejected": arena["reference_replies"]}
    assert (example.source, example.annotator) == ("compare", "vera")
    assert compare.side_labels(arena) == ("Model A", "Model B")  # blind until the vote
    policy_label = f"policy ({rd.path.name} · best (step 4))"
    reference_label = f"reference ({settings.model})"
    assert compare.side_labels(decided) == ((f"A: {policy_label}", f"B: {reference_label}") if policy_side == "A"
                                            else (f"A: {reference_label}", f"B: {policy_label}"))
    with pytest.raises(Refused, match="already voted"):
        compare.vote(store, "vera", decided, "tie")
    with pytest.raises(Refused, match="decided"):
        compare.send(decided, "more?", "CUSTOM", SAMPLING)


def test_votes_make_a_win_rate_table_and_only_winners_make_examples(store, settings, arena_run):
    rd, policy = arena_run
    outcomes = []
    for seed, choice in enumerate(("A", "B", "tie", "both_bad", "A")):
        arena = answered(settings, arena_run, "Hi there.", seed)
        compare.vote(store, "vera", arena, choice)
        outcomes.append(compare.outcome_of(arena, choice))
    wins, losses = outcomes.count("policy"), outcomes.count("reference")
    assert store.count_examples(ExampleFilter(source="compare")) == wins + losses == 3
    rate = f"{(wins + 0.5) / 4:.0%}"
    assert compare.win_rate_rows(store) == [[rd.path.name, "best", 5, wins, losses, 1, 1, rate]]


def test_the_arena_refuses_empty_votes_and_identical_winners(store, settings, arena_run):
    rd, policy = arena_run
    arena = compare.new_round(settings.runs_dir, rd.path.name, policy)
    with pytest.raises(Refused, match="nothing to vote on"):
        compare.vote(store, "vera", arena, "A")
    with pytest.raises(Refused, match="Type a message"):
        compare.send(arena, "  ", "CUSTOM", SAMPLING)
    same = {**arena, "users": ["x"], "policy_replies": ["same"], "reference_replies": ["same"]}
    with pytest.raises(Refused, match="same reply"):
        compare.vote(store, "vera", same, "A")
    with pytest.raises(Refused, match="same reply"):
        compare.vote(store, "vera", {**same, "reference_replies": ["same "]}, "B")
    assert compare.vote(store, "vera", same, "tie")[1].startswith("Tie:")
    with pytest.raises(runs.RunError, match="no such checkpoint"):
        compare.new_round(settings.runs_dir, rd.path.name, str(rd / "checkpoints" / "last"))


# ------------------------------------------------------------------------------------------ closing the loop

def test_rank_mode_samples_the_next_round_from_a_trained_policy(store, settings, arena_run):
    rd, policy = arena_run
    assert (f"{rd.path.name} · best", policy) in models.choices(settings.model, settings.runs_dir)
    draft = new_draft(user="Do you like pizza?")
    composer.sample(store, "ann", draft, {"model": policy, "n": 2, "temperature": 1.0, "top_p": 1.0, "top_k": 0,
                                          "max_new_tokens": 8, "seed": 1})
    [turn] = store.get_conversation(draft["conversation_id"]).turns
    assert [c.checkpoint for c in turn.candidates] == [policy, policy]
