"""The Data tab: browse the examples as chats, open one to edit or delete (with undo), stats, import and export.

Handlers are plain functions over the store and studio.formats; `build` wires them to components. Example text
only ever reaches the page through a str Dataframe, a Chatbot made by chatfmt, or a code editor: never as HTML.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import gradio as gr

from studio.cli_data import render as render_stats
from studio.formats import EXPORT_FORMATS, IMPORT_FORMATS, ImportOptions, export_file, import_file
from studio.quality import quality_report, stats
from studio.store import STATUSES, ExampleFilter, Store
from studio.ui.chatfmt import chat_view, seed_chats
from studio.ui.common import ANY, example_filter, facets, located_errors, named, notice, plural
from trainer.interchange import json_problem

PAGE_SIZE = 25
CELL_CHARS = 90
MAX_EDIT_CHARS = 200_000
COLUMNS = ["id", "status", "annotator", "source", "turns", "last user message", "accepted", "rejected", "created"]
EXTENSIONS = {"seed-json": ".json", "seed-jsonl": ".jsonl", "trl-jsonl": ".jsonl"}
PKU_FILTERS = [("Safer is also better (agree)", "agree"), ("Exactly one response safe", "safety_boundary"),
               ("Drop pairs where both are unsafe", "drop_both_unsafe")]


# ------------------------------------------------------------------------------------------------- browse





def cell(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS - 1] + "…"


def browse(store: Store, filters: ExampleFilter, page) -> tuple[list[list], int, str]:
    """(table rows, the page actually shown, a line saying where we are) for one page of matching examples. A page
    below 1 shows the first, saying so."""
    asked = 1 if page in (None, "") else int(page)
    page = max(1, asked)
    result = store.list_examples(filters, page=page, page_size=PAGE_SIZE)
    if page > result.pages:  # the filter shrank the list: show its last page
        page = result.pages
        result = store.list_examples(filters, page=page, page_size=PAGE_SIZE)
    rows = [[e.id, e.status, e.annotator, e.source, len(e.seed["User"]), cell(e.seed["User"][-1]),
             cell(e.seed["Accepted"][-1]), cell(e.seed["Rejected"][-1]), e.created_at[:16].replace("T", " ")]
            for e in result.items]
    where = plural(result.total, "example") + (" in the trash" if filters.deleted else "") + (
        f" · page {page} of {result.pages}") + (f" (there is no page {asked})" if asked < 1 else "")
    return rows, page, where




# ------------------------------------------------------------------------------------------- one example

def describe_example(example) -> str:
    origin = (f"conversation {example.conversation_id}" + (f", ranking {example.ranking_id}" if example.ranking_id
                                                           else ", edit or written pair")
              if example.conversation_id else f"imported from {example.source_ref or example.source or '?'}")
    deleted = f" · deleted {example.deleted_at[:16].replace('T', ' ')}" if example.deleted_at else ""
    return (f"#{example.id} · {example.status} · by {example.annotator or '(nobody)'} · source "
            f"{example.source or '(none)'} · {origin} · created {example.created_at[:16].replace('T', ' ')}"
            f"{deleted}")


def open_example(store: Store, example_id) -> dict:
    """What the viewer shows for one example, or an explanation when there is none."""
    example = store.get_example(int(example_id)) if example_id not in (None, "") else None
    if example is None:
        return {"accepted": [], "rejected": [], "json": "", "about": "No such example.", "status": None,
                "deleted": False}
    accepted, rejected = seed_chats(example.seed)
    return {"accepted": accepted, "rejected": rejected, "about": describe_example(example),
            "json": json.dumps(example.seed, ensure_ascii=False, indent=2), "status": example.status,
            "deleted": example.deleted_at is not None}


def opened(example_id) -> int:
    """The id in the Example id box, or a refusal when it is empty."""
    if example_id in (None, ""):
        raise ValueError("Open an example first.")
    return int(example_id)


def save_example(store: Store, example_id, text: str, status) -> str:
    """Replace an example's content (validated as seed format) and status."""
    example_id = opened(example_id)
    if len(text) > MAX_EDIT_CHARS:
        raise ValueError(f"The edited example is {len(text):,} characters; the limit is {MAX_EDIT_CHARS:,}.")
    try:
        seed = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"Not valid JSON: {json_problem(e.msg, f'line {e.lineno}, column {e.colno}')}.") from None
    store.update_example(example_id, seed=seed, status=status or None)
    return f"Example {example_id} saved."


def delete_example(store: Store, example_id) -> str:
    example_id = opened(example_id)
    if store.delete_example(example_id):
        return f"Example {example_id} moved to the trash; Undo brings it back."
    return f"Example {example_id} was already in the trash."


def restore_example(store: Store, example_id) -> str:
    example_id = opened(example_id)
    return f"Example {example_id} is back." if store.undelete_example(example_id) else (
        f"Example {example_id} was not deleted.")


def stats_report(store: Store, filters: ExampleFilter) -> str:
    """Counts, lengths and the data-quality findings (with example ids to review) for the filtered examples."""
    return render_stats(stats(store, filters), quality_report(store, filters))


# ---------------------------------------------------------------------------------------- import, export

def import_options(fmt, dimension, pku_filters, drop_identical, skip_invalid) -> ImportOptions:
    chosen = set(pku_filters or [])
    return ImportOptions(format=None if fmt in (None, "auto") else fmt, dimension=dimension or "safer",
                         drop_identical=bool(drop_identical), skip_invalid=bool(skip_invalid),
                         **{name: name in chosen for _, name in PKU_FILTERS})






def report_text(report, path: Path, checked: bool) -> str:
    """The import report, naming the file by its name, not its upload path."""
    verb = "would be imported" if checked else "imported"
    lines = [f"{path.name}: {plural(report.read, 'record')} read as {report.format or 'an unknown format'}; "
             f"{report.imported:,} {verb}, {plural(report.duplicates, 'duplicate')}, {report.invalid:,} invalid."]
    lines += [f"  filtered out by {name}: {n:,}" for name, n in sorted(report.filtered.items())]
    lines += [f"  {line}" for line in located_errors(report.errors, path, report.invalid)]
    if not report.committed:
        lines.append("Nothing can be imported as it is: fix the errors, or tick 'skip invalid records'." if checked
                     else "Nothing was imported.")
    return "\n".join(lines)


def run_import(store: Store, path, options: ImportOptions, progress, checked: bool) -> tuple[bool, str]:
    """(whether it went ahead, the report); with `checked`, a dry run that writes nothing."""
    if not path:
        raise ValueError("Upload a file first.")
    path = Path(path)
    try:
        report = import_file(store, path, options, progress, dry_run=checked)
    except ValueError as e:  # a file without records, bad options
        raise ValueError(named(str(e), path) + ".") from None
    return report.committed, report_text(report, path, checked)


def check_import(store: Store, path, options: ImportOptions, progress=None) -> tuple[bool, str]:
    """Dry run against the store (its duplicates are counted, nothing is written). (whether the import can go
    ahead, report)."""
    return run_import(store, path, options, progress, checked=True)


def commit_import(store: Store, path, options: ImportOptions, progress=None) -> str:
    return run_import(store, path, options, progress, checked=False)[1]


def export(store: Store, fmt, filters: ExampleFilter) -> tuple[str, int]:
    """Write the matching examples to a fresh file; (its path, how many)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"Pick an export format ({', '.join(EXPORT_FORMATS)}).")
    out = Path(tempfile.mkdtemp(prefix="dpo-studio-export-")) / (
        f"dpo-studio-{time.strftime('%Y%m%d-%H%M%S')}-{fmt}{EXTENSIONS[fmt]}")
    return str(out), export_file(store, out, fmt, filters)


# ------------------------------------------------------------------------------------------------- layout

def build(store: Store, loaded, tab: gr.Tab) -> None:
    c: dict = {}
    with gr.Row(equal_height=True):
        # choices come from the store (facets); typing any other value filters by it too
        c["annotator"] = gr.Dropdown([ANY], value=ANY, label="Annotator", allow_custom_value=True,
                                     elem_id="f-annotator")
        c["status"] = gr.Dropdown([ANY, *STATUSES], value=ANY, label="Status", elem_id="f-status")
        c["source"] = gr.Dropdown([ANY], value=ANY, label="Source", allow_custom_value=True, elem_id="f-source")
        c["text"] = gr.Textbox(label="Search text", placeholder="in any message", elem_id="f-text", scale=2)
        c["trash"] = gr.Checkbox(label="Trash (deleted)", elem_id="f-trash")
    with gr.Row(equal_height=True):
        c["prev"] = gr.Button("◀ Previous", size="sm", elem_id="prev-page", scale=0, min_width=110)
        # no minimum: Gradio would fail the whole event on a page below it; browse shows page 1 and says so
        c["page"] = gr.Number(1, label="Page", precision=0, elem_id="page", scale=0, min_width=90)
        c["next"] = gr.Button("Next ▶", size="sm", elem_id="next-page", scale=0, min_width=110)
        c["where"] = gr.Markdown(elem_id="where")
    c["table"] = gr.Dataframe(headers=COLUMNS, datatype="str", interactive=False, wrap=False, elem_id="examples",
                              label="Examples (click a row to open it)", max_height=420)
    _viewer(c)
    with gr.Accordion("Stats and data quality", open=False):
        c["compute_stats"] = gr.Button("Compute for the filtered examples", size="sm", elem_id="compute-stats")
        c["stats"] = gr.Textbox(label="Report", lines=14, interactive=False, elem_id="stats")
    _import_panel(c)
    _export_panel(c)
    _wire(store, c, loaded, tab)


def _viewer(c):
    with gr.Group():
        with gr.Row(equal_height=True):
            c["example_id"] = gr.Number(None, label="Example id", precision=0, elem_id="example-id", scale=0,
                                        min_width=120)
            c["open"] = gr.Button("Open", size="sm", elem_id="open-example", scale=0)
            c["about"] = gr.Textbox(label="About", interactive=False, elem_id="about", scale=4)
        with gr.Row():
            c["accepted"] = chat_view("Accepted conversation", height=280, elem_id="view-accepted")
            c["rejected"] = chat_view("Rejected conversation", height=280, elem_id="view-rejected")
        with gr.Accordion("Edit", open=False, elem_id="edit"):
            c["json"] = gr.Code(label="Seed JSON (edit, then save)", language="json", interactive=True,
                                wrap_lines=True, elem_id="edit-json")
            with gr.Row(equal_height=True):
                c["edit_status"] = gr.Dropdown(list(STATUSES), label="Status", elem_id="edit-status")
                c["save"] = gr.Button("Save changes", variant="primary", size="sm", elem_id="save-example")
        with gr.Row():
            c["delete"] = gr.Button("Delete", variant="stop", size="sm", elem_id="delete-example")
            c["undo"] = gr.Button("Undo delete", size="sm", visible=False, elem_id="undo-delete")
        c["notice"] = gr.Markdown(elem_id="data-notice")


def _import_panel(c):
    with gr.Accordion("Import", open=False, elem_id="import"):
        c["file"] = gr.File(label="File (.json, .jsonl, optionally .xz/.gz; .parquet with pyarrow)",
                            file_types=[".json", ".jsonl", ".xz", ".gz", ".parquet"], elem_id="import-file")
        with gr.Row():
            c["format"] = gr.Dropdown(["auto", *IMPORT_FORMATS], value="auto", label="Format", elem_id="import-format",
                                      info="seed, pku (PKU-SafeRLHF), hh (HH-RLHF), trl")
            c["dimension"] = gr.Radio(["safer", "better"], value="safer", label="PKU: Accepted is the",
                                      elem_id="pku-dimension")
            c["pku_filters"] = gr.CheckboxGroup(PKU_FILTERS, label="PKU-SafeRLHF filters", elem_id="pku-filters")
        with gr.Row():
            c["drop_identical"] = gr.Checkbox(True, label="Drop pairs with identical replies")
            c["skip_invalid"] = gr.Checkbox(label="Skip invalid records (import the rest)")
        with gr.Row():
            c["check"] = gr.Button("Check file", elem_id="check-import")
            c["commit"] = gr.Button("Import", variant="primary", interactive=False, elem_id="commit-import")
        c["report"] = gr.Textbox(label="Import report", lines=6, interactive=False, elem_id="import-report")


def _export_panel(c):
    with gr.Accordion("Export", open=True, elem_id="export"):
        gr.Markdown("Exports the examples the annotator, source and search filters above select, with this status.")
        with gr.Row(equal_height=True):
            c["export_format"] = gr.Dropdown(list(EXPORT_FORMATS), value="seed-json", label="Format",
                                             elem_id="export-format")
            c["export_status"] = gr.Dropdown([ANY, *STATUSES], value="done", label="Status", elem_id="export-status")
            c["export"] = gr.Button("Export", variant="primary", elem_id="export-btn")
            c["download"] = gr.DownloadButton("Download", visible=False, elem_id="download")


def _wire(store: Store, c: dict, loaded, tab):
    filters = [c[k] for k in ("annotator", "status", "source", "text", "trash")]
    listing = [c["table"], c["page"], c["where"]]

    def refresh(annotator, status, source, text, trash, page):
        rows, page, where = browse(store, example_filter(annotator, status, source, text, trash), page)
        choices = facets(store)
        return (rows, page, where, gr.update(choices=choices["annotator"]),
                gr.update(choices=choices["source"]))

    refresh_outputs = [*listing, c["annotator"], c["source"]]
    for trigger, step in ((c["prev"].click, -1), (c["next"].click, 1), (c["page"].submit, 0)):
        trigger(lambda *v, step=step: refresh(*v[:-1], (1 if v[-1] is None else v[-1]) + step),
                [*filters, c["page"]], refresh_outputs, api_visibility="private")
    gr.on([c[k].change for k in ("annotator", "status", "source", "trash")] + [c["text"].submit, c["text"].blur],
          lambda *v: refresh(*v, 1), filters, refresh_outputs, api_visibility="private")
    tab.select(refresh, [*filters, c["page"]], refresh_outputs, api_name="browse")
    loaded.then(refresh, [*filters, c["page"]], refresh_outputs, api_visibility="private")
    c["compute_stats"].click(lambda *v: stats_report(store, example_filter(*v)), filters, c["stats"],
                             api_name="stats")
    _wire_viewer(store, c, filters, refresh, refresh_outputs)
    _wire_import_export(store, c, filters, refresh, refresh_outputs)


def _wire_viewer(store, c, filters, refresh, refresh_outputs):
    shown = [c["accepted"], c["rejected"], c["json"], c["about"], c["edit_status"], c["undo"]]

    def show(example_id):
        v = open_example(store, example_id)
        return v["accepted"], v["rejected"], v["json"], v["about"], v["status"], gr.update(visible=v["deleted"])

    def on_select(evt: gr.SelectData):
        example_id = int(evt.row_value[0])
        return example_id, *show(example_id)

    c["table"].select(on_select, None, [c["example_id"], *shown], api_visibility="private")
    gr.on([c["open"].click, c["example_id"].submit], show, c["example_id"], shown, api_name="open_example")

    def act(action):
        def run(example_id, *args):
            try:
                text = notice(action(store, example_id, *args))
            except ValueError as e:  # nothing changed: the viewer keeps what is typed there, which the error is about
                return notice(str(e), ok=False), *[gr.skip()] * len(shown)
            return text, *show(example_id)
        return run

    after = dict(outputs=[c["notice"], *shown])
    for button, action, inputs in ((c["save"], save_example, [c["example_id"], c["json"], c["edit_status"]]),
                                   (c["delete"], delete_example, [c["example_id"]]),
                                   (c["undo"], restore_example, [c["example_id"]])):
        button.click(act(action), inputs, **after, api_name=action.__name__).then(
            refresh, [*filters, c["page"]], refresh_outputs, api_visibility="private")


def _wire_import_export(store, c, filters, refresh, refresh_outputs):
    options = [c[k] for k in ("format", "dimension", "pku_filters", "drop_identical", "skip_invalid")]

    def check(path, *opts, progress=gr.Progress()):
        try:
            ok, text = check_import(store, path, import_options(*opts), _progress(progress))
        except ValueError as e:
            ok, text = False, str(e)
        return text, gr.update(interactive=ok)

    def commit(path, *opts, progress=gr.Progress()):
        try:
            text = commit_import(store, path, import_options(*opts), _progress(progress))
        except ValueError as e:
            text = str(e)
        return text, gr.update(interactive=False)

    c["check"].click(check, [c["file"], *options], [c["report"], c["commit"]], api_name="check_import")
    c["commit"].click(commit, [c["file"], *options], [c["report"], c["commit"]], api_name="import").then(
        refresh, [*filters, c["page"]], refresh_outputs, api_visibility="private")
    gr.on([c["file"].change] + [o.change for o in options], lambda: gr.update(interactive=False), None, c["commit"],
          api_visibility="private")

    def run_export(fmt, status, annotator, source, text):
        path, n = export(store, fmt, example_filter(annotator, status, source, text))
        return gr.update(value=path, visible=True, label=f"Download {Path(path).name} ({n} examples)")

    c["export"].click(run_export, [c["export_format"], c["export_status"], c["annotator"], c["source"], c["text"]],
                      c["download"], api_name="export")


def _progress(bar):
    """studio.formats reports (done, total) units; gr.Progress wants a fraction."""
    return lambda done, total: bar(done / total if total else None, desc="reading")
