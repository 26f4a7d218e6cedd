"""The Annotate tab: write preference pairs or rank sampled candidates, turn by turn, from a work queue.

This module is the tab's layout and wiring only. The draft and every action on it are plain functions in
studio.ui.composer; `view` turns the store and the draft into component values, by component key. Every button runs
one composer action (`run_action`): the form is merged into the draft once, the action runs, and the whole view
comes back, by component.
"""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import gradio as gr

from studio import models
from studio.pairing import STRATEGIES
from studio.store import Store
from studio.ui import composer
from studio.ui.chatfmt import chat_view, sampling_controls, to_chatbot
from studio.ui.common import SAMPLING, notice, who
from studio.ui.composer import CUSTOM_TEXT, FORM, LABELS, MAX_SAMPLES, MIN_SAMPLES, RANKS, SLOTS, TEXTS, typed
from trainer.chat import default_system_prompt
from trainer.conversation import CUSTOM, Conversation

DRAFT_KEY, DRAFT_SECRET = "dpo-studio-draft-v1", "dpo-studio-draft"  # fixed, so drafts survive a server restart
MODEL_SAMPLING = ("model", "n", *SAMPLING)

SHORTCUTS = """**Keyboard**
- **Ctrl+Enter** save (the tab you are on)
- **Alt+N** next prompt from the queue
- **1–8** rank: press candidates best first (again to unrank); equal ranks in the selectors are ties
"""

# Click-in-order ranking: candidate k gets the next free rank, or loses its rank when it has one.
PICK_JS = """(...ranks) => {
  const k = %d, next = Math.max(0, ...ranks.filter(Boolean).map(Number)) + 1;
  return ranks.map((rank, i) => i === k - 1 ? (rank ? null : String(next)) : rank);
}"""

# The browser's copy of the draft, kept current on every change so that a reload finds it; the server merges the
# form into the draft itself, once per action (composer.merge_form).
MERGE_JS = f"""(saved, ...values) => Object.assign({{}}, saved,
  Object.fromEntries({json.dumps(FORM)}.map((key, i) => [key, values[i]])))"""


# ------------------------------------------------------------------------------------------------ the view

def view(store: Store, annotator, draft, message="", ok=True) -> dict:
    """Every Annotate component's new value, by key."""
    th = composer.thread(store, annotator, draft)
    started, queued = th.record is not None, draft["prompt_id"] is not None
    n = len(draft["candidate_ids"])
    template = composer.template_of(th, draft)
    so_far = th.record.conversation() if th.record else Conversation(template)
    custom = template != CUSTOM
    values = {
        "draft": draft,
        "chat": to_chatbot(so_far),
        "template_choice": gr.update(value=CUSTOM_TEXT if custom else CUSTOM, interactive=not (started or queued)),
        "template_text": gr.update(value=template if custom else draft["template_text"],
                                   visible=custom, interactive=not (started or queued)),
        "user": gr.update(value=composer.user_of(th, draft),
                          interactive=not (th.open_turn or (queued and not started))),
        "accepted": draft["accepted"], "rejected": draft["rejected"], "own": draft["own"],
        "none_acceptable": draft["none_acceptable"], "strategy": draft["strategy"],
        "notice": notice(message, ok),
        "progress": composer.progress_text(store, annotator),
        **composer.previews(th, draft),
    }
    choices = [str(i) for i in range(1, n + 1)]
    for k, label in enumerate(composer.slot_labels(th, draft), 1):
        values[f"slot_{k}"] = gr.update(visible=k <= n)
        values[TEXTS[k - 1]] = gr.update(value=draft[TEXTS[k - 1]], label=label)
        values[RANKS[k - 1]] = gr.update(value=draft[RANKS[k - 1]], choices=choices)
    return values


def restored(store: Store, annotator, draft) -> dict:
    values = view(store, annotator, draft, "Welcome back: your work in progress is restored." if (
        draft["conversation_id"] or typed(draft)) else "")
    values["mode"] = gr.update(selected="rank" if draft["candidate_ids"] else "write")
    return values


def restore(store: Store, annotator, saved) -> dict:
    """The draft saved in the browser, checked against the store; else the annotator's latest draft
    conversation."""
    draft = composer.saved_draft(saved)
    composer.take_latest(store, annotator, draft)
    return restored(store, annotator, draft)


def named(store: Store, annotator, saved) -> dict | None:
    """After a name is typed: that annotator's latest draft conversation when this browser holds no work, else
    None (nothing to bring back; the page stays as it is)."""
    draft = composer.saved_draft(saved)
    return restored(store, annotator, draft) if composer.take_latest(store, annotator, draft) else None


VIEW = ("draft", "chat", "template_choice", "template_text", "user", "accepted", "rejected", "own",
        "none_acceptable", "strategy", "notice", "progress", "write_preview", "rank_preview", "pairs",
        *(f"slot_{k}" for k in range(1, SLOTS + 1)), *TEXTS, *RANKS)


def run_action(store: Store, action, annotator, saved, form: dict, *extra) -> dict:
    """Every button: the form into the draft, the action, then the whole view (a refusal shown inline)."""
    draft = composer.merge_form(saved, form)
    try:
        message, ok = action(store, annotator, draft, *extra) or "", True
    except ValueError as e:
        message, ok = str(e), False
    return view(store, annotator, draft, message, ok)


# ------------------------------------------------------------------------------------------------- layout

def build(store: Store, settings, name: gr.Textbox, loaded) -> None:
    """The tab's components and events; `loaded` is the page-load event (the annotator name is known then)."""
    c: dict = {"draft": gr.BrowserState(composer.new_draft(), storage_key=DRAFT_KEY, secret=DRAFT_SECRET)}
    with gr.Row():
        with gr.Column(scale=3):
            _queue_bar(c)
            with gr.Row():
                c["template_choice"] = gr.Radio([("Default (CUSTOM)", CUSTOM), ("Custom", CUSTOM_TEXT)],
                                                value=CUSTOM, label="System prompt", scale=1,
                                                info="Default: each model's own (a real model's chat template "
                                                     f"says it; the embedded model's is “{default_system_prompt()}”)",
                                                elem_id="template-choice")
                c["template_text"] = gr.Textbox(label="Custom system prompt", lines=2, visible=False, scale=2,
                                                elem_id="template-text")
            c["chat"] = chat_view("Conversation so far", height=260, elem_id="chat")
            c["user"] = gr.Textbox(label="User message", lines=3, elem_id="user-msg",
                                   placeholder="What the user says in this turn")
            _sampling_panel(c, settings)
            with gr.Tabs(elem_id="mode") as c["mode"]:
                with gr.Tab("Write", id="write"):
                    _write_panel(c)
                with gr.Tab("Rank", id="rank"):
                    _rank_panel(c)
            c["notice"] = gr.Markdown(elem_id="notice")
        with gr.Column(scale=1, min_width=260):
            with gr.Accordion("Guidelines", open=True):
                gr.Markdown(_guidelines(settings.guidelines), elem_id="guidelines")
            gr.Markdown(SHORTCUTS, elem_id="shortcuts")
    _wire(store, c, name, loaded)

    def find_checkpoints():  # runs finish while the page is open
        return gr.update(choices=models.choices(settings.model, settings.runs_dir))

    loaded.then(find_checkpoints, None, c["model"], api_visibility="private")
    c["find_checkpoints"].click(find_checkpoints, None, c["model"], api_visibility="private")


def _queue_bar(c):
    with gr.Row(equal_height=True):
        c["next"] = gr.Button("Next prompt (Alt+N)", elem_id="next-prompt", size="sm")
        c["skip"] = gr.Button("Skip", elem_id="skip-prompt", size="sm")
        c["discard"] = gr.Button("Discard", elem_id="discard", size="sm", variant="stop")
        c["prompts_file"] = gr.UploadButton("Import prompts (.txt / .jsonl)", file_types=[".txt", ".jsonl"],
                                            size="sm", elem_id="import-prompts")
    c["progress"] = gr.Markdown(elem_id="progress")


def _sampling_panel(c, settings):
    choices = models.choices(settings.model, settings.runs_dir)
    with gr.Accordion("Model and sampling", open=False, elem_id="sampling"):
        with gr.Row():
            c["model"] = gr.Dropdown(choices, value=choices[0][1], label="Model", scale=3, elem_id="model",
                                     allow_custom_value=True,
                                     info="A shipped model, a run's checkpoint, or type any model spec")
            c["find_checkpoints"] = gr.Button("↻ Find new checkpoints", size="sm", scale=0, min_width=120,
                                              elem_id="find-checkpoints")
            c["n"] = gr.Slider(MIN_SAMPLES, MAX_SAMPLES, value=3, step=1, label="Candidates to sample",
                               elem_id="n-samples")
        sampling_controls(c)


def _write_panel(c):
    with gr.Row():
        for which, hint in (("accepted", "The better reply"), ("rejected", "A worse reply")):
            with gr.Column():
                c[which] = gr.Textbox(label=LABELS[which.title()], lines=6, placeholder=hint, elem_id=which)
                c[f"draft_{which}"] = gr.Button("Draft with the model", size="sm", elem_id=f"draft-{which}")
    with gr.Row():
        c["continue_write"] = gr.Button("Continue: accepted becomes context", elem_id="continue-write")
        c["save_write"] = gr.Button("Save example (Ctrl+Enter)", variant="primary", elem_id="save-write")
    c["write_preview"] = gr.Code(label="Seed-format preview (exactly what the export writes)", language="json",
                                 interactive=False, wrap_lines=True, elem_id="write-preview")


def _rank_panel(c):
    c["sample"] = gr.Button("Sample candidates", variant="secondary", elem_id="sample")
    for k in range(1, SLOTS + 1):
        with gr.Row(visible=False, equal_height=True) as c[f"slot_{k}"]:
            c[TEXTS[k - 1]] = gr.Textbox(label=f"Candidate {k}", lines=3, scale=6, elem_id=f"cand-{k}")
            with gr.Column(scale=1, min_width=120):
                c[RANKS[k - 1]] = gr.Dropdown([], label=f"Rank of {k}", elem_id=f"rank-{k}")
                c[f"pick_{k}"] = gr.Button(f"Next best ({k})", size="sm", elem_id=f"pick-{k}")
    with gr.Row(equal_height=True):
        c["own"] = gr.Textbox(label="Your own reply", lines=2, scale=4, elem_id="own")
        c["add_own"] = gr.Button("Add as candidate", size="sm", scale=1, elem_id="add-own")
    with gr.Row(equal_height=True):
        c["none_acceptable"] = gr.Checkbox(label="None acceptable", elem_id="none-acceptable")
        c["strategy"] = gr.Dropdown(list(STRATEGIES), value="best-vs-rest", label="Pairing strategy",
                                    elem_id="strategy")
        c["clear_ranks"] = gr.Button("Clear ranks", size="sm", elem_id="clear-ranks")
    c["pairs"] = gr.Markdown(elem_id="pairs")
    with gr.Row():
        c["continue_rank"] = gr.Button("Continue with the best", elem_id="continue-rank")
        c["save_rank"] = gr.Button("Save ranking (Ctrl+Enter)", variant="primary", elem_id="save-rank")
    c["rank_preview"] = gr.Code(label="Seed-format preview of the pairs", language="json", interactive=False,
                                wrap_lines=True, elem_id="rank-preview")


def _guidelines(path) -> str:
    path = Path(path)
    return path.read_text(encoding="utf-8") if path.is_file() else f"(No guidelines file at `{path}`.)"


def _wire(store: Store, c: dict, name, loaded):
    form = {k: c[k] for k in FORM}
    sampling = {k: c[k] for k in MODEL_SAMPLING}
    outputs = [c[k] for k in VIEW]

    def by_component(values: dict) -> dict:
        return {c[k]: v for k, v in values.items()}

    def on(trigger, action, extra=None, api_name=None, **kwargs):
        """Wire `action(store, annotator, draft, *extra values)` to a trigger; its inputs and the form by key."""
        extra = extra or {}

        def handle(request: gr.Request, name_value, saved, **values):
            args = [values.pop(k) for k in extra]
            return by_component(run_action(store, action, who(name_value, request), saved, values, *args))

        trigger(handle, [name, c["draft"]], outputs, inputs_kwargs={**extra, **form}, api_name=api_name,
                api_visibility="public" if api_name else "private", **kwargs)

    def with_sampling(action):
        return lambda s, a, d, *values: action(s, a, d, dict(zip(MODEL_SAMPLING, values)))

    on(c["continue_write"].click, composer.continue_written, api_name="continue_written")
    on(c["save_write"].click, composer.save_written, api_name="save_written")
    for which in ("accepted", "rejected"):
        on(c[f"draft_{which}"].click, with_sampling(partial(_model_reply, which=which)), sampling,
           concurrency_limit=2, concurrency_id="model")
    on(c["sample"].click, with_sampling(composer.sample), sampling, api_name="sample", concurrency_limit=2,
       concurrency_id="model")
    on(c["add_own"].click, composer.add_own)
    ranks = [c[r] for r in RANKS]
    for k in range(1, SLOTS + 1):  # in the browser: a server round trip per key would race the next key
        c[f"pick_{k}"].click(None, ranks, ranks, js=PICK_JS % k)
    c["clear_ranks"].click(None, None, ranks, js=f"() => Array({SLOTS}).fill(null)")
    on(c["continue_rank"].click, partial(composer.save_ranking, done=False), api_name="continue_ranking")
    on(c["save_rank"].click, partial(composer.save_ranking, done=True), api_name="save_ranking")
    on(c["next"].click, composer.next_prompt, api_name="next_prompt")
    on(c["skip"].click, composer.skip, api_name="skip")
    on(c["discard"].click, composer.discard, api_name="discard")
    on(c["prompts_file"].upload, composer.import_prompts, {"prompts_file": c["prompts_file"]},
       api_name="import_prompts")

    def live_previews(request: gr.Request, name_value, saved, **values):
        draft = composer.merge_form(saved, values)
        th = composer.thread(store, who(name_value, request), draft)
        labels = composer.slot_labels(th, draft)  # an edit is yours as you type
        return by_component({**composer.previews(th, draft),
                             **{text: gr.update(label=label) for text, label in zip(TEXTS, labels)}})

    # .change, not .input: Gradio's input event misses pasted text. The browser's copy is merged in the browser: a
    # server round trip could come back after a newer save and put the old draft back.
    edits = [c[k].change for k in FORM]
    gr.on(edits, None, [c["draft"], *form.values()], c["draft"], js=MERGE_JS, api_visibility="private")
    gr.on(edits, live_previews, [name, c["draft"]], [c["write_preview"], c["rank_preview"], c["pairs"],
                                                     *(c[k] for k in TEXTS)],
          inputs_kwargs=form, trigger_mode="always_last", show_progress="hidden", concurrency_limit=None,
          api_visibility="private")
    c["template_choice"].change(lambda choice: gr.update(visible=choice != CUSTOM), c["template_choice"],
                                c["template_text"], api_visibility="private")

    def on_load(request: gr.Request, name_value, saved):
        return by_component(restore(store, who(name_value, request), saved))

    loaded.then(on_load, [name, c["draft"]], [*outputs, c["mode"]], api_visibility="private")

    def on_name(request: gr.Request, name_value, saved):  # someone typing their name in a fresh browser
        values = named(store, who(name_value, request), saved)
        return by_component(values) if values else {}

    gr.on([name.blur, name.submit], on_name, [name, c["draft"]], [*outputs, c["mode"]], api_visibility="private")


def _model_reply(store, annotator, draft, sampling, which):
    return composer.model_reply(store, annotator, draft, which, sampling)
