"""The Compare tab: what training changed. Per run, the evaluation prompts answered by the policy and the reference
side by side at any eval step (updating while the run goes on); a live arena that asks both the same multi-turn
question with the same sampling settings; and blind votes, which become preference examples and a win rate.

Handlers are plain functions over studio.runs, studio.models and the store; `build` wires them to components.
Model text reaches the page only through str Dataframes and chatfmt's literal Chatbots.
"""
from __future__ import annotations

import random
from pathlib import Path

import gradio as gr

from studio import models, runs
from studio.store import Store
from studio.ui.chatfmt import chat_view, sampling_controls, to_chatbot
from studio.ui.common import (MAX_TEMPLATE_CHARS, SAMPLING, Refused, as_typed, notice, require, sampling_params,
                               signed, too_long, who)
from trainer.conversation import CUSTOM, Conversation
from trainer.interchange import same_reply

LATEST = "latest"
TICK_S = 2.0
VOTES = {"A": "A is better", "B": "B is better", "tie": "Tie", "both_bad": "Both are bad"}
WIN_COLUMNS = ["run", "policy checkpoint", "votes", "policy better", "reference better", "tie", "both bad",
               "policy win rate"]


# ------------------------------------------------------------------------------------------- eval samples

def conversation_text(messages: list[dict]) -> str:
    """A prompt's turns (samples.jsonl's messages) as plain text, the default system prompt left out."""
    conversation = Conversation.from_messages(messages)
    return "\n".join(f"{m['role'].title()}: {m['content']}"
                     for m in conversation.messages(system=conversation.template != CUSTOM))


def eval_steps(runs_dir, run_id) -> list[int]:
    return sorted(runs.samples_by_step(runs.find(runs_dir, run_id)))


def sample_rows(runs_dir, run_id, step) -> tuple[list[list[str]], int | None]:
    """(rows of prompt | reference | policy, the step shown) at `step`, or at the latest eval."""
    by_step = runs.samples_by_step(runs.find(runs_dir, run_id))
    if not by_step:
        return [], None
    shown = max(by_step) if step in (None, "", LATEST) else int(step)
    return [[conversation_text(s["messages"]), s["reference"], s["policy"]] for s in by_step.get(shown, [])], shown


# ------------------------------------------------------------------------------------------------ arena

def new_round(runs_dir, run_id, checkpoint: str, rng: random.Random | None = None) -> dict:
    """A fresh blind comparison of one of the run's checkpoints against its reference, sides drawn at random."""
    path = runs.find(runs_dir, run_id)
    labels = dict((p, label) for label, p in runs.checkpoints(path))
    if checkpoint not in labels:
        raise runs.RunError(f"{path.name} has no such checkpoint yet; pick one of: "
                            f"{', '.join(labels.values()) or 'none (wait for the first eval)'}.")
    return {"run": path.name, "policy": checkpoint, "policy_label": labels[checkpoint],
            "reference": runs.reference_model(path), "reference_label": runs.observe(path).base,
            "policy_side": (rng or random).choice("AB"),
            "users": [], "policy_replies": [], "reference_replies": [], "template": CUSTOM, "sampling": None,
            "vote": None}


def send(arena: dict, message: str, template: str, sampling: dict) -> dict:
    """Both models answer the next user message, each continuing its own side, with the same sampling settings."""
    if arena.get("vote"):
        raise Refused("This round is decided; start a new round to compare again.")
    message = as_typed(message or "").strip()
    template = as_typed(template or "").strip() or CUSTOM
    require(too_long("The message", message) + too_long("The system prompt", template,
                                                                                  MAX_TEMPLATE_CHARS))
    if not message:
        raise Refused("Type a message first.")
    if arena["users"] and template != arena["template"]:
        raise Refused("The system prompt is fixed once a round has started; start a new round to change it.")
    params = sampling_params(sampling)  # one draw of the seed for both sides
    users = arena["users"] + [message]
    replies = {side: as_typed(models.load(arena[model]).reply(*Conversation(template, users, arena[side]).prompt(),
                                                             params))
               for side, model in (("policy_replies", "policy"), ("reference_replies", "reference"))}
    return {**arena, "users": users, "template": template, "sampling": params.to_dict(),
            **{side: arena[side] + [reply] for side, reply in replies.items()}}


def side_replies(arena: dict) -> dict[str, list[str]]:
    """The replies shown as A and as B."""
    policy, reference = arena["policy_replies"], arena["reference_replies"]
    return {"A": policy, "B": reference} if arena["policy_side"] == "A" else {"A": reference, "B": policy}


def chats(arena: dict | None) -> tuple[list[dict], list[dict]]:
    if not arena:
        return [], []
    shown = side_replies(arena)
    return tuple(to_chatbot(Conversation(arena["template"], arena["users"], shown[side])) for side in "AB")


def side_labels(arena: dict | None) -> tuple[str, str]:
    """The chats' titles: "Model A" and "Model B" while the round is blind, who each side was once it is decided."""
    if not arena or not arena.get("vote"):
        return "Model A", "Model B"
    policy = f"policy ({arena['run']} · {arena['policy_label']})"
    reference = f"reference ({arena['reference_label']})"
    a, b = (policy, reference) if arena["policy_side"] == "A" else (reference, policy)
    return f"A: {a}", f"B: {b}"


def outcome_of(arena: dict, choice: str) -> str:
    if choice in ("tie", "both_bad"):
        return choice
    return "policy" if choice == arena["policy_side"] else "reference"


def vote(store: Store, annotator: str, arena: dict | None, choice: str) -> tuple[dict, str]:
    """Record the vote; a winner becomes a preference example. (the decided arena, a message revealing the sides)."""
    annotator = signed(annotator)
    if not arena or not arena["users"]:
        raise Refused("Send a message first: there is nothing to vote on yet.")
    if arena.get("vote"):
        raise Refused("You already voted in this round.")
    if choice not in VOTES:
        raise Refused(f"Unknown vote {choice!r}.")
    outcome = outcome_of(arena, choice)
    if outcome in ("policy", "reference") and same_reply(arena["policy_replies"][-1],
                                                         arena["reference_replies"][-1]):
        raise Refused("Both sides gave the same reply: vote tie, or start a new round.")
    _, example_id = store.record_vote(
        run=arena["run"], policy=arena["policy"], reference=arena["reference"], policy_side=arena["policy_side"],
        outcome=outcome, template=arena["template"], user=arena["users"], policy_replies=arena["policy_replies"],
        reference_replies=arena["reference_replies"], annotator=annotator, sampling=arena["sampling"])
    reference_side = "B" if arena["policy_side"] == "A" else "A"
    message = (f"{VOTES[choice]}: {arena['policy_side']} was the policy ({arena['run']} · {arena['policy_label']}), "
               f"{reference_side} the reference.")
    if example_id is not None:
        message += f" Stored as example {example_id} (source compare)."
    return {**arena, "vote": outcome}, message


def win_rate_rows(store: Store) -> list[list]:
    """Votes per run and checkpoint; the win rate counts ties as half and leaves 'both bad' out."""
    rows = []
    for t in store.vote_tally():
        decided = t["policy"] + t["reference"] + t["tie"]
        rate = f"{(t['policy'] + t['tie'] / 2) / decided:.0%}" if decided else ""
        rows.append([t["run"], Path(t["checkpoint"]).name, t["votes"], t["policy"], t["reference"], t["tie"],
                     t["both_bad"], rate])
    return rows


# ------------------------------------------------------------------------------------------------- layout

def build(store: Store, settings, name: gr.Textbox, loaded, tab: gr.Tab) -> None:
    c: dict = {"arena": gr.State(None)}
    with gr.Row(equal_height=True):
        c["run"] = gr.Dropdown([], label="Run", scale=3, elem_id="compare-run")
        c["refresh"] = gr.Button("Refresh runs", size="sm", scale=0, elem_id="compare-refresh")
    with gr.Accordion("Evaluation prompts: policy and reference side by side", open=True):
        with gr.Row(equal_height=True):
            c["step"] = gr.Dropdown([LATEST], value=LATEST, label="Eval step", scale=1, elem_id="compare-step")
            c["samples_note"] = gr.Markdown(elem_id="samples-note")
        c["samples"] = gr.Dataframe(headers=["prompt", "reference", "policy"], datatype="str", interactive=False,
                                    wrap=True, max_height=420, label="Samples (same prompts, same seed)",
                                    column_widths=["30%", "35%", "35%"], elem_id="samples")
    with gr.Accordion("Arena: ask both, vote blind", open=True):
        _arena_panel(c)
    c["timer"] = gr.Timer(TICK_S, active=False)
    _wire(store, settings, c, name, loaded, tab)


def _arena_panel(c):
    gr.Markdown("Both models answer with the same sampling settings. Which one is A is drawn at random and shown "
                "only after your vote; a vote for A or B is stored as a preference example.")
    with gr.Row(equal_height=True):
        c["checkpoint"] = gr.Dropdown([], label="Policy checkpoint", scale=2, elem_id="arena-checkpoint")
        c["template"] = gr.Textbox(CUSTOM, label="System prompt (CUSTOM: the default)", scale=3,
                                   elem_id="arena-template")
    with gr.Accordion("Sampling (the same for both sides)", open=False, elem_id="arena-sampling"):
        sampling_controls(c, "arena-")
    with gr.Row():
        c["chat_a"] = chat_view("Model A", height=300, elem_id="arena-a")
        c["chat_b"] = chat_view("Model B", height=300, elem_id="arena-b")
    with gr.Row(equal_height=True):
        c["message"] = gr.Textbox(label="Your message", placeholder="Ask both models; keep going for more turns",
                                  scale=5, elem_id="arena-message")
        c["send"] = gr.Button("Send to both", variant="primary", scale=1, elem_id="arena-send")
        c["new_round"] = gr.Button("New round", scale=1, elem_id="arena-new")
    with gr.Row():
        for choice, label in VOTES.items():
            c[f"vote_{choice}"] = gr.Button(label, elem_id=f"vote-{choice.replace('_', '-')}")
    c["arena_notice"] = gr.Markdown(elem_id="arena-notice")
    c["wins"] = gr.Dataframe(headers=WIN_COLUMNS, datatype="str", interactive=False, label="Win rate from votes",
                             elem_id="win-rates")


def _wire(store: Store, settings, c: dict, name, loaded, tab):
    runs_dir = settings.runs_dir
    sample_outputs = [c["step"], c["samples"], c["samples_note"], c["timer"]]

    def show_samples(run_id, step):
        if not run_id:
            return [gr.update(choices=[LATEST], value=LATEST), [], "No run yet.", gr.Timer(active=False)]
        rows, shown = sample_rows(runs_dir, run_id, step)
        steps = [LATEST] + [str(s) for s in eval_steps(runs_dir, run_id)]
        note = (f"Policy at step {shown} next to the reference." if shown is not None
                else "No samples yet: the first come with the step-0 eval.")
        active = runs.observe(runs.find(runs_dir, run_id)).active
        return [gr.update(choices=steps, value=step if step in steps else LATEST), rows, note,
                gr.Timer(active=active)]

    def pick_run(run_id):
        """Everything that depends on the run: its checkpoints, its samples, a fresh arena round."""
        choices = runs.checkpoints(runs.find(runs_dir, run_id)) if run_id else []
        checkpoint = choices[0][1] if choices else None
        return [gr.update(choices=choices, value=checkpoint), *show_samples(run_id, LATEST),
                *round_for(run_id, checkpoint)]

    def arena_view(arena, message=""):
        """The round, both chats (named once decided), the notice; Send and the votes while the round is open."""
        (chat_a, chat_b), (label_a, label_b) = chats(arena), side_labels(arena)
        undecided = gr.update(interactive=arena is not None and not arena.get("vote"))
        return [arena, gr.update(value=chat_a, label=label_a), gr.update(value=chat_b, label=label_b), message,
                undecided, *[undecided] * len(VOTES)]

    def round_for(run_id, checkpoint):
        arena, message = None, ""
        if run_id and checkpoint:
            try:
                arena = new_round(runs_dir, run_id, checkpoint)
            except ValueError as e:
                message = notice(str(e), ok=False)
        return arena_view(arena, message)

    arena_outputs = [c["arena"], c["chat_a"], c["chat_b"], c["arena_notice"], c["send"],
                     *(c[f"vote_{choice}"] for choice in VOTES)]
    run_outputs = [c["checkpoint"], *sample_outputs, *arena_outputs]

    def refresh_runs(current, step, arena):
        """Runs started since, new checkpoints and samples, keeping an open arena round of the run shown. With no
        run shown yet (or it is gone), the newest run; with no round yet, one with the run's first checkpoint."""
        ids = [r.id for r in runs.list_runs(runs_dir)]
        run_id = current if current in ids else (ids[0] if ids else None)
        if not arena or arena["run"] != run_id:
            return [gr.update(choices=ids, value=run_id), *pick_run(run_id), win_rate_rows(store)]
        return [gr.update(choices=ids), gr.update(choices=runs.checkpoints(runs.find(runs_dir, run_id))),
                *show_samples(run_id, step), *[gr.skip()] * len(arena_outputs), win_rate_rows(store)]

    listing = [c["run"], *run_outputs, c["wins"]]
    for trigger in (loaded.then, c["refresh"].click, tab.select):
        trigger(refresh_runs, [c["run"], c["step"], c["arena"]], listing, api_visibility="private")
    c["run"].input(pick_run, c["run"], run_outputs, api_visibility="private")
    c["step"].input(show_samples, [c["run"], c["step"]], sample_outputs, api_visibility="private")
    c["timer"].tick(show_samples, [c["run"], c["step"]], sample_outputs, concurrency_limit=None,
                    show_progress="hidden", api_visibility="private")
    c["checkpoint"].focus(lambda run_id: gr.update(choices=runs.checkpoints(runs.find(runs_dir, run_id))
                                                   if run_id else []), c["run"], c["checkpoint"],
                          api_visibility="private")
    gr.on([c["checkpoint"].input, c["new_round"].click], round_for, [c["run"], c["checkpoint"]], arena_outputs,
          api_visibility="private")

    def on_send(arena, message, template, *sampling):
        if not arena:
            return [*arena_view(arena, notice("Pick a run with a checkpoint first.", ok=False)), message]
        try:
            arena = send(arena, message, template, dict(zip(SAMPLING, sampling)))
        except ValueError as e:
            return [*arena_view(arena, notice(str(e), ok=False)), message]
        return [*arena_view(arena), ""]

    sampling = [c[k] for k in SAMPLING]
    gr.on([c["send"].click, c["message"].submit], on_send, [c["arena"], c["message"], c["template"], *sampling],
          [*arena_outputs, c["message"]], api_visibility="private", concurrency_limit=2, concurrency_id="model")

    def on_vote(choice):
        def handle(request: gr.Request, name_value, arena):
            try:
                arena, message = vote(store, who(name_value, request), arena, choice)
            except ValueError as e:
                return [*arena_view(arena, notice(str(e), ok=False)), win_rate_rows(store)]
            return [*arena_view(arena, notice(message)), win_rate_rows(store)]
        return handle

    for choice in VOTES:
        c[f"vote_{choice}"].click(on_vote(choice), [name, c["arena"]], [*arena_outputs, c["wins"]],
                                  api_visibility="private")
