"""The components the tabs share, and how annotator and model text reaches the page: the one converter from a
Conversation to gr.Chatbot messages, the literal Chatbot, and the sampling controls.

Annotator and model text is training data: it is shown exactly as stored, never interpreted. So messages are
HTML-escaped and the Chatbot renders no Markdown; the browser then shows `<script>` or `**bold**` as the
characters they are (Gradio's sanitizer stays on as a second line of defence). Content goes out as text blocks,
not bare strings, because Gradio runs bare strings through inspect.cleandoc, which drops indentation.
"""
from __future__ import annotations

import html

import gradio as gr

from studio import models
from trainer.conversation import Conversation, sides

CSS = """
.exact-text .message-content .md { white-space: pre-wrap; }
.exact-text button[aria-label="Clear"] { display: none; }  /* it would only blank the view, never the data */
"""


def shown(text: str) -> list[dict]:
    """A message body that displays `text` literally."""
    return [{"type": "text", "text": html.escape(text, quote=False)}]


def to_chatbot(conversation: Conversation) -> list[dict]:
    """Chatbot messages for a conversation (its system prompt left out: the page shows it on its own)."""
    return [{"role": m["role"], "content": shown(m["content"])} for m in conversation.messages(system=False)]


def seed_chats(example: dict) -> tuple[list[dict], list[dict]]:
    """The accepted and the rejected conversation of a seed-format example, as Chatbot messages."""
    accepted, rejected = sides(example)
    return to_chatbot(accepted), to_chatbot(rejected)


def chat_view(label: str, **kwargs) -> gr.Chatbot:
    """A read-only Chatbot that shows messages as plain text (see the module docstring)."""
    return gr.Chatbot(label=label, render_markdown=False, sanitize_html=True, latex_delimiters=[], buttons=[],
                      feedback_options=None, elem_classes=["exact-text"], **kwargs)


def plain_text(message: dict) -> str:
    """The text of a Chatbot message as Gradio hands it back (content normalized to blocks), unescaped."""
    content = message["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    return html.unescape("".join(b["text"] for b in blocks if b.get("type") == "text"))


def sampling_controls(c: dict, prefix: str = ""):
    """Temperature, top-p, top-k, length and seed (common.SAMPLING, the arguments of models.sampling) into `c`;
    element ids get `prefix`, so each tab has its own."""
    d = models.DEFAULT_SAMPLING
    with gr.Row():
        c["temperature"] = gr.Slider(0, 2, value=d.temperature, step=0.05, label="Temperature",
                                     elem_id=f"{prefix}temperature")
        c["top_p"] = gr.Slider(0.05, 1, value=d.top_p, step=0.05, label="Top-p", elem_id=f"{prefix}top-p")
        c["top_k"] = gr.Slider(0, 200, value=d.top_k, step=1, label="Top-k (0: off)", elem_id=f"{prefix}top-k")
        c["max_new_tokens"] = gr.Slider(8, 512, value=d.max_new_tokens, step=8, label="Max new tokens",
                                        elem_id=f"{prefix}max-new-tokens")
        # text, not a gr.Number: a Number shows an empty value as 0 once rendered, and sends 0 from then on
        c["seed"] = gr.Textbox(label="Seed (empty: random)", placeholder="random", elem_id=f"{prefix}seed")
