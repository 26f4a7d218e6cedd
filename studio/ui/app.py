"""The studio's Gradio app: who is annotating, the tabs, keyboard shortcuts, and launch().

Tabs are modules with a `build(...)` function: `name` is the annotator box, `loaded` the page-load event, and a
tab that refreshes when it is opened gets its gr.Tab.
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from studio.settings import Settings  # noqa: E402
from studio.store import Store  # noqa: E402
from studio.ui import annotate, chatfmt, compare, data, train  # noqa: E402
from studio.ui.common import MAX_NAME_CHARS  # noqa: E402

NAME_KEY, NAME_SECRET = "dpo-studio-annotator-v1", "dpo-studio-annotator"
MAX_UPLOAD = "2gb"  # PKU-SafeRLHF-sized files, compressed or not

# Buttons have no hotkeys in Gradio: a page-level listener clicks them by id, and only when they are on screen
# (so Ctrl+Enter saves in whichever of Write and Rank is open). Digits never fire while typing in a field.
SHORTCUTS_JS = """
() => {
  const onScreen = id => { const el = document.getElementById(id); return el && el.offsetParent !== null ? el : null; };
  const press = (...ids) => { const el = ids.map(onScreen).find(Boolean); if (el) el.click(); return Boolean(el); };
  const typing = t => t.closest('input, textarea, select, [contenteditable="true"], .cm-editor');
  document.addEventListener('keydown', e => {
    let done = false;
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') done = press('save-rank', 'save-write');
    else if (e.altKey && e.code === 'KeyN') done = press('next-prompt');
    else if (!e.ctrlKey && !e.metaKey && !e.altKey && /^[1-8]$/.test(e.key) && !typing(e.target))
      done = press('pick-' + e.key);
    if (done) e.preventDefault();
  });
}
"""

CSS = chatfmt.CSS + """
#notice, #data-notice { min-height: 1.5em; }
"""


def build(settings: Settings, store: Store | None = None) -> gr.Blocks:
    store = store or Store(settings.db)
    with gr.Blocks(title="DPO Studio") as demo:
        with gr.Row(equal_height=True):
            gr.Markdown("## DPO Studio\nWrite and rank replies; every save is a preference pair for DPO.")
            name = _identity(bool(settings.auth))
        saved_name = gr.BrowserState("", storage_key=NAME_KEY, secret=NAME_SECRET)
        loaded = demo.load(_signed_in_or_saved, [saved_name, name], name, api_visibility="private")
        if not settings.auth:
            name.change(None, name, saved_name, js="(name) => name.trim()", api_visibility="private")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Annotate", id="annotate"):
                annotate.build(store, settings, name, loaded)
            with gr.Tab("Data", id="data") as data_tab:
                data.build(store, loaded, data_tab)
            with gr.Tab("Train", id="train") as train_tab:
                train.build(store, settings, name, loaded, train_tab)
            with gr.Tab("Compare", id="compare") as compare_tab:
                compare.build(store, settings, name, loaded, compare_tab)
    return demo


def _identity(auth: bool) -> gr.Textbox:
    """Who is annotating: the login (read-only, with a logout link) under --auth, else a name to type."""
    if not auth:
        return gr.Textbox(label="Annotator", placeholder="Your name (every save is attributed to it)",
                          elem_id="annotator", max_length=MAX_NAME_CHARS, scale=0, min_width=260)
    with gr.Column(scale=0, min_width=260):
        name = gr.Textbox(label="Signed in as", interactive=False, elem_id="annotator")
        gr.Button("Log out", link="/logout", size="sm", elem_id="logout")
    return name


def _signed_in_or_saved(request: gr.Request, saved, typed):
    """The login; else the name saved in this browser, unless one was typed before the page finished loading."""
    return getattr(request, "username", None) or typed or saved or ""


def launch_options(settings: Settings) -> dict:
    """Everything demo.launch needs besides the port: this machine only by default, no telemetry or history."""
    return dict(server_name=settings.host, auth=settings.auth or None,
                auth_message="DPO Studio: sign in with the name and password you were given.",
                footer_links=[], run_history=False, enable_monitoring=False, show_error=False,
                max_file_size=MAX_UPLOAD, css=CSS, js=SHORTCUTS_JS)


def launch(settings: Settings, **overrides) -> gr.Blocks:
    """Build and serve the studio; blocks unless prevent_thread_lock=True (then returns the running app)."""
    demo = build(settings)
    demo.queue(default_concurrency_limit=16)  # saves are short transactions: let them run side by side
    demo.launch(**{**launch_options(settings), "server_port": settings.port, **overrides})
    return demo
