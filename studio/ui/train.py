"""The Train tab: pick data, a base model and settings, start a DPO run, and watch it live; stop, resume, list runs.

Training is a separate process (studio.runs launches `python -m trainer train --run-dir D`), so the page stays
responsive and annotation goes on in the other tabs. The live view polls the run dir with a gr.Timer that runs only
while the selected run is at work. Handlers are plain functions over studio.runs and the store; `build` wires them.
Run text (errors, log lines, labels) reaches the page only through Textboxes, str Dataframes and escaped Markdown.
"""
from __future__ import annotations

import html
import json
import math
import re
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from studio import models, runs
from studio.store import STATUSES, Store
from studio.ui.common import ANY, example_filter, facets, located_errors, notice, plural, who
from trainer.config import LOSS_TYPES
from trainer.paths import ASSETS_DIR
from trainer.interchange import seed_file_errors
from trainer.rundir import RunDir

STORE, DEMO, FILE = "store", "demo", "file"
DATA_CHOICES = [("The store (filters below)", STORE), ("The shipped demo pairs", DEMO), ("A seed-format file", FILE)]
DEMO_PAIRS = ASSETS_DIR / "demo_pairs.json"
TICK_S = 1.0
RUN_COLUMNS = ["run", "state", "examples", "best eval accuracy", "started", "took", "step", "base model", "data",
               "by"]
# Each plot: its title and the (metric, series) lines it draws; eval_* metrics are the held-out split.
PLOTS = {
    "Loss": [("loss", "train"), ("eval_loss", "eval")],
    "Reward accuracy": [("rewards/accuracies", "train"), ("eval_rewards/accuracies", "eval")],
    "Reward margin": [("rewards/margins", "train"), ("eval_rewards/margins", "eval")],
    "Rewards (chosen / rejected)": [("rewards/chosen", "train chosen"), ("rewards/rejected", "train rejected"),
                                    ("eval_rewards/chosen", "eval chosen"), ("eval_rewards/rejected", "eval rejected")],
    "Log-probs (chosen / rejected)": [("logps/chosen", "train chosen"), ("logps/rejected", "train rejected"),
                                      ("eval_logps/chosen", "eval chosen"), ("eval_logps/rejected", "eval rejected")],
}
# One colour per series in every plot, told by LEGEND (Gradio's own legend is cut off below short plots).
SERIES_COLORS = {"train": "#1f77b4", "eval": "#ff7f0e", "train chosen": "#2ca02c", "train rejected": "#d62728",
                 "eval chosen": "#98df8a", "eval rejected": "#ff9896"}
LEGEND = ("Lines: **blue** training batches, **orange** held-out; **green** chosen, **red** rejected (held-out "
          "lighter). Hover a line for its values.")
LOG_LINES = 12
FRAME_TYPES = {"step": "int64", "value": "float64", "series": "str"}
# The form: component key -> the run setting it sets ("amount" is steps or epochs, per "train_for").
FORM = ("loss_type", "beta", "length_norm", "lr", "train_for", "amount", "batch_size", "eval_fraction",
        "eval_interval", "patience", "seed", "warmup_steps", "nll_weight", "label_smoothing", "sample_max_new_tokens",
        "n_sample_prompts")
DATA_FORM = ("data_source", "annotator", "status", "source", "text", "file")


# ------------------------------------------------------------------------------------------------ formatting

def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, s = divmod(int(round(seconds)), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}" if hours else f"{m}:{s:02d}"


def clock(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else ""


def slug(title: str) -> str:
    return re.sub(r"[^a-z]+", "-", title.lower()).strip("-")


def accuracy(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


# ------------------------------------------------------------------------------------------------ new run

def form_values(settings: dict) -> dict:
    """A run's settings as the form shows them (steps, not epochs)."""
    return {**{k: settings[k] for k in FORM if k in settings}, "train_for": "steps", "amount": settings["max_steps"]}


def run_settings(form: dict) -> dict:
    """The form's values as run settings, each of its trainer field's type (the browser sends 8.0 for 8); 'amount'
    as max_steps or epochs."""
    empty = [k.replace("_", " ") for k in FORM if form.get(k) in (None, "")]
    if empty:
        raise runs.RunError(f"Fill in every setting: {', '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty.")
    settings = {k: type(runs.DEFAULTS[k])(v) for k, v in form.items() if k not in ("train_for", "amount")}
    if form["train_for"] == "epochs":
        settings["epochs"] = float(form["amount"])
    else:
        settings["max_steps"] = int(form["amount"])
    return settings


def preset_js(values: list) -> str:
    """A browser-side event handler that sets its outputs to `values`."""
    return f"() => {json.dumps(values)}"


def data_request(store: Store, data: dict) -> dict:
    """create_run's data arguments for the data choice: the filtered store, the demo pairs, or an uploaded file."""
    if data["data_source"] == STORE:
        filters = example_filter(data["annotator"], data["status"], data["source"], data["text"])
        chosen = [f"{k} {data[k]}" for k in ("annotator", "status", "source") if data[k] not in (None, "", ANY)]
        if (data["text"] or "").strip():
            chosen.append(f"text “{data['text'].strip()}”")
        return {"store": store, "filters": filters, "data_label": f"store ({', '.join(chosen) or 'everything'})"}
    if data["data_source"] == DEMO:
        return {"data_file": DEMO_PAIRS, "data_label": "demo pairs"}
    if not data["file"]:
        raise runs.RunError("Upload a seed-format file (.json or .jsonl) first.")
    check_data_file(Path(data["file"]))
    return {"data_file": data["file"], "data_label": f"file {Path(data['file']).name}"}


def check_data_file(path: Path):
    """Refuse an uploaded file with every located error in it, naming it by its name (not its upload path)."""
    errors = seed_file_errors(path)
    if errors:
        raise runs.RunError("\n".join([f"{path.name} is not valid seed data ({plural(len(errors), 'error')}):",
                                       *(f"- {line}" for line in located_errors(errors, path, len(errors)))]))


def data_summary(store: Store, data: dict) -> str:
    """How many examples the data choice holds now."""
    if data["data_source"] == STORE:
        n = store.count_examples(data_request(store, data)["filters"])
        return f"{n:,} example{'s' * (n != 1)} in the store match." + (
            "" if n else " Annotate some, loosen the filters, or use the demo pairs.")
    if data["data_source"] == DEMO:
        return "The demo pairs shipped with the studio (helpful, honest and safe replies preferred)."
    return "Upload a seed-format file." if not data["file"] else f"File {Path(data['file']).name}."


def default_source(store: Store) -> str:
    """The store when it holds finished examples, else the demo pairs (a fresh studio can train right away)."""
    return STORE if store.count_examples(example_filter(status="done")) else DEMO


def base_label(settings, path: str) -> str:
    labels = {p: label for label, p in models.choices(settings.model, settings.runs_dir)}
    return labels.get(path, path)


def start_run(store: Store, settings, annotator: str, data: dict, form: dict, base_model: str) -> tuple[str, str]:
    """Create and launch a run; (its id, a message). RunError/SeedError when the request cannot be run."""
    if not base_model:
        raise runs.RunError("Pick a base model.")
    rd = runs.create_run(settings.runs_dir, run_settings(form), base_model, **data_request(store, data),
                         base_label=base_label(settings, base_model), started_by=annotator)
    runs.launch(rd.path)
    return rd.path.name, f"Started {rd.path.name}: training runs in the background, and annotation can go on."


# ------------------------------------------------------------------------------------------------ watching

def runs_table(runs_dir) -> list[list]:
    return [[r.id, r.state, r.examples or "", accuracy(r.best_eval_accuracy), clock(r.started_at), duration(r.took_s),
             f"{r.step}/{r.total_steps}", r.base, r.data, r.started_by] for r in runs.list_runs(runs_dir)]


def plot_frames(metrics: list[dict]) -> dict[str, pd.DataFrame]:
    """One long-format frame (step, value, series) per plot. A Gradio plot keeps the column types and the colour
    domain of the first frame it draws, so every frame is typed and names all its series from the start, each
    with a value-less row (a series missing then, like train before step 1, would never be drawn)."""
    frames = {}
    for title, lines in PLOTS.items():
        rows = [(0, math.nan, series) for _, series in lines]
        rows += [(row["step"], row[metric], series) for row in metrics for metric, series in lines if metric in row]
        frames[title] = pd.DataFrame(rows, columns=list(FRAME_TYPES)).astype(FRAME_TYPES)
    return frames


def state_line(view: runs.RunView) -> str:
    """The run's state in one escaped Markdown line."""
    parts = [f"**{view.state}**", f"step {view.step} of {view.total_steps}"]
    if view.eta_s is not None:
        parts.append(f"about {duration(view.eta_s)} left")
    if view.took_s is not None:
        parts.append(f"took {duration(view.took_s)}")
    if view.best_eval_accuracy is not None:
        parts.append(f"best held-out accuracy {view.best_eval_accuracy:.3f}"
                     + (f" (step {view.best_step})" if view.best_step is not None else ""))
    if view.state == "crashed":
        parts.append("its process ended without a final status: see the log")
    return html.escape(f"{view.id}: ") + " · ".join(parts)


def warning_text(view: runs.RunView) -> str:
    if not view.warning:
        return ""
    return ("**⚠ Falling chosen log-probs:** " + html.escape(view.warning) + ". DPO only widens the margin between "
            "chosen and rejected, so both can fall while accuracy rises; the best checkpoint (stopping early) keeps "
            "the balance.")


def follow(runs_dir, run_id, followed: dict | None = None) -> dict:
    """What the live view knows of a run: its metrics (only the lines appended since `followed` are read), the byte
    offset they end at, and the state it was last seen in."""
    if not followed or followed["run"] != run_id:
        followed = {"run": run_id, "offset": 0, "metrics": [], "state": None}
    rows, offset, restarted = RunDir(runs.find(runs_dir, run_id)).read_metrics_from(followed["offset"])
    return {**followed, "offset": offset, "metrics": rows if restarted else followed["metrics"] + rows,
            "new_metrics": bool(rows) or restarted}


def live(runs_dir, run_id, followed: dict | None = None) -> dict:
    """Everything the live view shows for one run, and whether it is still at work; `followed` (follow's state)
    comes back updated, with "changed" telling whether the run's state changed since."""
    followed = follow(runs_dir, run_id, followed)
    view = runs.observe(runs.find(runs_dir, run_id), metrics=followed["metrics"])
    total = max(1, view.total_steps or 1)
    progress = (f"Progress: step {view.step} of {total}"
                + (f" · about {duration(view.eta_s)} left" if view.eta_s is not None else ""))
    return {"state": state_line(view), "progress": min(view.step, total), "total": total, "progress_label": progress,
            "warning": warning_text(view), "error": view.error or "", "log": runs.log_tail(view.path, LOG_LINES),
            "frames": plot_frames(view.metrics), "new_metrics": followed["new_metrics"], "active": view.active,
            "can_stop": view.active, "can_resume": view.state not in runs.ACTIVE + ("completed",),
            "changed": followed["state"] != view.state, "followed": {**followed, "state": view.state}}


NO_RUN = {"state": "No run yet: start one on the left.", "progress": 0, "total": 1, "progress_label": "Progress",
          "warning": "", "error": "", "log": "", "frames": plot_frames([]), "new_metrics": True, "active": False,
          "can_stop": False, "can_resume": False, "changed": True, "followed": None}


def stop_run(runs_dir, run_id) -> str:
    return runs.stop(runs.find(runs_dir, run_id))


def resume_run(runs_dir, run_id) -> str:
    runs.resume(runs.find(runs_dir, run_id))
    return f"Resuming {Path(run_id).name} from its last checkpoint."


# ------------------------------------------------------------------------------------------------- layout

def build(store: Store, settings, name: gr.Textbox, loaded, tab: gr.Tab) -> None:
    c: dict = {"followed": gr.State(None)}  # the selected run as last read (see follow), per browser session
    with gr.Row():
        with gr.Column(scale=2, min_width=380):
            gr.Markdown("### New run")
            _data_panel(c)
            _base_and_settings(c, settings)
            with gr.Row():
                c["quick"] = gr.Button("Quick demo preset (about a minute on a CPU)", size="sm", elem_id="quick-demo")
                c["defaults"] = gr.Button("Default settings", size="sm", elem_id="default-settings")
            c["start"] = gr.Button("Start training", variant="primary", elem_id="start-run")
            c["notice"] = gr.Markdown(elem_id="train-notice")
        with gr.Column(scale=3):
            _live_panel(c)
    # full width, so ten columns keep their headers on one line and log lines do not wrap
    c["runs"] = gr.Dataframe(headers=RUN_COLUMNS, datatype="str", interactive=False, wrap=False, max_height=220,
                             label="Runs (click one to follow it)", elem_id="runs-table")
    c["log"] = gr.Textbox(label="Log of the selected run (last lines)", lines=LOG_LINES, max_lines=LOG_LINES,
                          interactive=False, elem_id="run-log")
    _wire(store, settings, c, name, loaded, tab)


def _data_panel(c):
    with gr.Group():
        c["data_source"] = gr.Radio(DATA_CHOICES, value=STORE, label="Train on", elem_id="data-source")
        with gr.Row(visible=True) as c["store_filters"]:
            c["annotator"] = gr.Dropdown([ANY], value=ANY, label="Annotator", allow_custom_value=True,
                                         elem_id="t-annotator")
            c["status"] = gr.Dropdown([ANY, *STATUSES], value="done", label="Status", elem_id="t-status")
            c["source"] = gr.Dropdown([ANY], value=ANY, label="Source", allow_custom_value=True, elem_id="t-source")
            c["text"] = gr.Textbox(label="Search text", elem_id="t-text")
        c["file"] = gr.File(label="Seed-format file", file_types=[".json", ".jsonl"], visible=False,
                            elem_id="t-file")
        c["data_summary"] = gr.Markdown(elem_id="data-summary")


def _base_and_settings(c, settings):
    choices = models.choices(settings.model, settings.runs_dir)
    c["base"] = gr.Dropdown(choices, value=choices[0][1], label="Base model (the reference; the policy starts as it)",
                            allow_custom_value=True, elem_id="base-model",
                            info="A shipped model, a run's checkpoint, or type any model: a checkpoint or Hugging Face "
                                 "folder, or a .gguf file")
    d = runs.DEFAULTS
    # No minimum or maximum on these Numbers: Gradio would fail the whole event, every output showing an error,
    # on one value out of range; the trainer's TrainConfig refuses it by name instead.
    with gr.Accordion("Settings", open=True, elem_id="run-settings"):
        with gr.Row():
            c["beta"] = gr.Number(d["beta"], label="β (KL strength)", step=0.05, elem_id="beta")
            c["loss_type"] = gr.Dropdown(list(LOSS_TYPES), value=d["loss_type"], label="Loss type",
                                         elem_id="loss-type")
            c["length_norm"] = gr.Checkbox(d["length_norm"], label="Length normalisation (mean log-prob per token)",
                                           elem_id="length-norm")
        with gr.Row():
            c["lr"] = gr.Number(d["lr"], label="Learning rate", step=1e-5, elem_id="lr")
            c["train_for"] = gr.Radio(["steps", "epochs"], value="steps", label="Train for", elem_id="train-for")
            c["amount"] = gr.Number(d["max_steps"], label="Steps or epochs", elem_id="amount")
            c["batch_size"] = gr.Number(d["batch_size"], label="Batch size (pairs)", precision=0, elem_id="batch-size")
        with gr.Row():
            c["eval_fraction"] = gr.Slider(0.02, 0.5, value=d["eval_fraction"], step=0.01,
                                           label="Held-out fraction", elem_id="eval-fraction")
            c["eval_interval"] = gr.Number(d["eval_interval"], label="Eval every (steps)", precision=0,
                                           elem_id="eval-interval")
            c["patience"] = gr.Number(d["patience"], label="Early-stopping patience (evals; 0 off)", precision=0,
                                      elem_id="patience")
            c["seed"] = gr.Number(d["seed"], label="Seed", precision=0, elem_id="train-seed")
        with gr.Accordion("More", open=False, elem_id="more-settings"):
            with gr.Row():
                c["warmup_steps"] = gr.Number(d["warmup_steps"], label="Warmup steps", precision=0)
                c["nll_weight"] = gr.Number(d["nll_weight"], label="NLL weight on the chosen reply")
                c["label_smoothing"] = gr.Number(d["label_smoothing"], label="Label smoothing (robust)")
            with gr.Row():
                c["sample_max_new_tokens"] = gr.Number(d["sample_max_new_tokens"], label="Sample length (tokens)",
                                                       precision=0, elem_id="sample-length")
                c["n_sample_prompts"] = gr.Number(d["n_sample_prompts"], label="Held-out prompts sampled per eval",
                                                  precision=0, elem_id="n-sample-prompts")


def _live_panel(c):
    with gr.Row(equal_height=True):
        c["run"] = gr.Dropdown([], label="Run", scale=3, elem_id="run-select")
        c["stop"] = gr.Button("Stop", variant="stop", size="sm", interactive=False, elem_id="stop-run")
        c["resume"] = gr.Button("Resume", size="sm", interactive=False, elem_id="resume-run")
    c["state"] = gr.Markdown(elem_id="run-state")
    c["progress"] = gr.Slider(0, 1, value=0, step=1, label="Progress", interactive=False, elem_id="run-progress")
    c["warning"] = gr.Markdown(elem_id="run-warning")
    c["error"] = gr.Textbox(label="Error", lines=4, visible=False, interactive=False, elem_id="run-error")
    c["plots"] = []
    gr.Markdown(LEGEND, elem_id="plot-legend")
    titles = list(PLOTS)
    for row in (titles[:2], titles[2:4], titles[4:]):
        with gr.Row():
            for title in row:
                c["plots"].append(gr.LinePlot(x="step", y="value", color="series", color_map=SERIES_COLORS,
                                              colors_in_legend=[], title=title, label=title, height=260,
                                              elem_id="plot-" + slug(title)))
    with gr.Accordion("Export the run's model (Hugging Face or GGUF, for transformers, vLLM, llama.cpp, Ollama)",
                      open=False, elem_id="export-model"):
        with gr.Row(equal_height=True):
            c["export_which"] = gr.Radio(["best", "last"], value="best", label="Checkpoint", elem_id="export-which")
            c["export_format"] = gr.Radio(["gguf", "hf"], value="gguf", label="Format", elem_id="export-format")
            c["export_dtype"] = gr.Dropdown(["f16", "bf16", "f32", "q8_0"], value="f16", label="Weights",
                                            elem_id="export-dtype")
            c["export"] = gr.Button("Export", size="sm", elem_id="export-model-btn")
        c["export_notice"] = gr.Markdown(elem_id="export-notice")
        c["export_file"] = gr.DownloadButton("Download", visible=False, elem_id="download-model")
    c["timer"] = gr.Timer(TICK_S, active=False)


def _wire(store: Store, settings, c: dict, name, loaded, tab):
    form = {k: c[k] for k in FORM}
    data_inputs = {k: c[k] for k in DATA_FORM}
    view_outputs = [c["state"], c["progress"], c["warning"], c["error"], c["log"], *c["plots"], c["stop"],
                    c["resume"], c["timer"], c["followed"]]

    def show(run_id, followed=None) -> dict:
        """The live view of a run, by component; its plots only when it logged new metrics."""
        v = live(settings.runs_dir, run_id, followed) if run_id else NO_RUN
        values = {c["state"]: v["state"], c["warning"]: v["warning"], c["log"]: v["log"],
                  c["progress"]: gr.update(value=v["progress"], maximum=v["total"], label=v["progress_label"]),
                  c["error"]: gr.update(value=v["error"], visible=bool(v["error"])),
                  c["stop"]: gr.update(interactive=v["can_stop"]), c["resume"]: gr.update(interactive=v["can_resume"]),
                  c["timer"]: gr.Timer(active=v["active"]), c["followed"]: v["followed"]}
        if v["new_metrics"]:
            values.update(zip(c["plots"], v["frames"].values()))
        return values, v["changed"]

    def refresh(run_id=None) -> dict:
        """The runs table and picker; the given run stays selected, else the newest."""
        table = runs_table(settings.runs_dir)
        ids = [row[0] for row in table]
        run_id = run_id if run_id in ids else (ids[0] if ids else None)
        return {c["runs"]: table, c["run"]: gr.update(choices=ids, value=run_id), **show(run_id)[0]}

    def tick(run_id, followed) -> dict:
        """A poll: the selected run's new metric lines and status; the runs table only when its state changed."""
        values, changed = show(run_id, followed)
        return {**values, c["runs"]: runs_table(settings.runs_dir)} if changed else values

    listing = [c["runs"], c["run"], *view_outputs]
    loaded.then(refresh, None, listing, api_visibility="private")
    tab.select(refresh, c["run"], listing, api_visibility="private")  # runs others started; a run that ended
    c["timer"].tick(tick, [c["run"], c["followed"]], [c["runs"], *view_outputs], concurrency_limit=None,
                    show_progress="hidden", api_visibility="private")
    c["run"].input(lambda run_id: show(run_id)[0], c["run"], view_outputs, api_visibility="private")

    def on_row(evt: gr.SelectData):
        return refresh(evt.row_value[0])

    c["runs"].select(on_row, None, listing, api_visibility="private")

    def act(action):
        def run(run_id):
            try:
                message = notice(action(settings.runs_dir, run_id))
            except (ValueError, OSError) as e:
                message = notice(str(e), ok=False)
            return {c["notice"]: message, **refresh(run_id)}
        return run

    c["stop"].click(act(stop_run), c["run"], [c["notice"], *listing], api_name="stop_run")
    c["resume"].click(act(resume_run), c["run"], [c["notice"], *listing], api_name="resume_run")

    def export(run_id, which, fmt, dtype):
        try:
            path = runs.export_checkpoint(runs.find(settings.runs_dir, run_id), which, fmt, dtype)
        except (ValueError, OSError) as e:
            return notice(str(e), ok=False), gr.update(visible=False)
        size = path.stat().st_size / 2**20
        return notice(f"Exported {run_id}'s {which} checkpoint: {path.name}, {size:.0f} MiB."), \
            gr.update(value=str(path), visible=True)

    c["export"].click(export, [c["run"], c["export_which"], c["export_format"], c["export_dtype"]],
                      [c["export_notice"], c["export_file"]], api_name="export_model")

    def start(request: gr.Request, name_value, base, **values):
        data, form_ = {k: values[k] for k in DATA_FORM}, {k: values[k] for k in FORM}
        try:
            run_id, message = start_run(store, settings, who(name_value, request), data, form_, base)
        except (ValueError, OSError) as e:  # nothing started: the run on view stays on view
            return {c["notice"]: notice(str(e), ok=False)}
        return {c["notice"]: notice(message), **refresh(run_id)}

    c["start"].click(start, [name, c["base"]], [c["notice"], *listing], inputs_kwargs={**data_inputs, **form},
                     api_name="start_run")

    # In the browser, no round trip: a Start clicked right after a preset must already see its values.
    preset_outputs = [c[k] for k in form_values(runs.DEFAULTS)]
    c["quick"].click(None, None, [c["data_source"], *preset_outputs],
                     js=preset_js([DEMO, *form_values(runs.QUICK_DEMO).values()]))
    c["defaults"].click(None, None, preset_outputs, js=preset_js(list(form_values(runs.DEFAULTS).values())))

    def on_data(**data):
        choices = facets(store)
        return {c["store_filters"]: gr.update(visible=data["data_source"] == STORE),
                c["file"]: gr.update(visible=data["data_source"] == FILE),
                c["annotator"]: gr.update(choices=choices["annotator"]),
                c["source"]: gr.update(choices=choices["source"]),
                c["data_summary"]: html.escape(data_summary(store, data))}

    data_outputs = [c["store_filters"], c["file"], c["annotator"], c["source"], c["data_summary"]]
    gr.on([c[k].change for k in ("data_source", "annotator", "status", "source", "file")] + [c["text"].submit],
          on_data, None, data_outputs, inputs_kwargs=data_inputs, api_visibility="private")
    loaded.then(lambda: default_source(store), None, c["data_source"], api_visibility="private").then(
        on_data, None, data_outputs, inputs_kwargs=data_inputs, api_visibility="private")
    # annotation went on meanwhile
    tab.select(on_data, None, data_outputs, inputs_kwargs=data_inputs, api_visibility="private")
    c["base"].focus(lambda: gr.update(choices=models.choices(settings.model, settings.runs_dir)), None, c["base"],
                    api_visibility="private")
