"""How annotator and model text reaches the page: the one converter between our message lists (parallel user /
reply lists) and gr.Chatbot messages, and the escaping of status notices.

Annotator and model text is training data: it is shown exactly as stored, never interpreted. So messages are
HTML-escaped and the Chatbot renders no Markdown; the browser then shows `<script>` or `**bold**` as the
characters they are (Gradio's sanitizer stays on as a second line of defence). Content goes out as text blocks,
not bare strings, because Gradio runs bare strings through inspect.cleandoc, which drops indentation.
"""
from __future__ import annotations

import html

import gradio as gr

CSS = """
.exact-text .message-content .md { white-space: pre-wrap; }
.exact-text button[aria-label="Clear"] { display: none; }  /* it would only blank the view, never the data */
"""


def shown(text: str) -> list[dict]:
    """A message body that displays `text` literally."""
    return [{"type": "text", "text": html.escape(text, quote=False)}]


def to_chatbot(users: list[str], replies: list[str]) -> list[dict]:
    """Chatbot messages for a conversation; `replies` may be one shorter (the last user message awaits its reply)."""
    messages = []
    for i, user in enumerate(users):
        messages.append({"role": "user", "content": shown(user)})
        if i < len(replies):
            messages.append({"role": "assistant", "content": shown(replies[i])})
    return messages


def seed_chats(example: dict) -> tuple[list[dict], list[dict]]:
    """The accepted and the rejected conversation of a seed-format example, as Chatbot messages."""
    return to_chatbot(example["User"], example["Accepted"]), to_chatbot(example["User"], example["Rejected"])


def chat_view(label: str, **kwargs) -> gr.Chatbot:
    """A read-only Chatbot that shows messages as plain text (see the module docstring)."""
    return gr.Chatbot(label=label, render_markdown=False, sanitize_html=True, latex_delimiters=[], buttons=[],
                      feedback_options=None, elem_classes=["exact-text"], **kwargs)


def plain_text(message: dict) -> str:
    """The text of a Chatbot message as Gradio hands it back (content normalized to blocks), unescaped."""
    content = message["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    return html.unescape("".join(b["text"] for b in blocks if b.get("type") == "text"))


def plural(n: int, noun: str) -> str:
    """'1 pair', '2 pairs', '0 pairs' (nouns whose plural adds an s)."""
    return f"{n:,} {noun}{'s' * (n != 1)}"


def notice(message: str, ok: bool = True) -> str:
    """A status line for a gr.Markdown: our words, escaped, because they may quote names or fields users chose."""
    return ("" if ok else "**Not done:** ") + html.escape(message) if message else ""
