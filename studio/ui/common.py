"""What the tabs share, free of Gradio: refusals and their checks, who is annotating, the sampling controls' values,
the store filters the Data and Train tabs offer, and the wording of counts, notices and file errors."""
from __future__ import annotations

import html
from pathlib import Path

from studio import models
from studio.store import ExampleFilter, Store
from trainer.generate import SamplingParams

MAX_MESSAGE_CHARS = 20_000
MAX_TEMPLATE_CHARS = 8_000
MAX_NAME_CHARS = 80
MAX_ERRORS_SHOWN = 20
ANY = "(any)"  # a filter's "no filter" choice
SAMPLING = ("temperature", "top_p", "top_k", "max_new_tokens", "seed")  # the sampling controls, by key


class Refused(ValueError):
    """An action the annotator has to fix first; nothing was stored."""

    def __init__(self, *problems: str):
        super().__init__(" ".join(problems))


def require(problems: list[str]):
    if problems:
        raise Refused(*problems)


def too_long(label, text, limit=MAX_MESSAGE_CHARS) -> list[str]:
    return [f"{label} is {len(text):,} characters; the limit is {limit:,}."] if len(text) > limit else []


def as_typed(text: str) -> str:
    """Text as a browser text box holds it: no NUL characters, line feeds for newlines. Model output goes through this
    too, so a reply the annotator did not touch never looks edited (and SQLite, which cuts JSON text at a NUL,
    never sees two different replies as equal)."""
    return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")


# ------------------------------------------------------------------------------------- who is annotating

def who(name, request) -> str:
    """The logged-in user with --auth, else the name typed in the Annotator box ('' when none)."""
    return getattr(request, "username", None) or (name or "").strip()


def signed(annotator) -> str:
    if not annotator:
        raise Refused("Type your name in the Annotator box first: every example is attributed to someone.")
    if len(annotator) > MAX_NAME_CHARS:
        raise Refused(f"The annotator name is {len(annotator)} characters; the limit is {MAX_NAME_CHARS}.")
    return annotator


# ------------------------------------------------------------------------------------------ sampling

def sampling_params(values: dict) -> SamplingParams:
    """The sampling controls' values (a dict with at least the SAMPLING keys) as parameters; an empty seed draws a
    new one for every request."""
    return models.sampling(**{k: values[k] for k in SAMPLING if k != "seed"}, seed=seed_of(values["seed"]))


def seed_of(text) -> int | None:
    """The seed box's text as a seed; None when it is empty."""
    text = "" if text is None else str(text).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise Refused(f"The seed must be a whole number, or empty for a new one every time (not {text!r}).") from None


# ------------------------------------------------------------------------------------------ store filters

def example_filter(annotator=ANY, status=ANY, source=ANY, text="", trash=False) -> ExampleFilter:
    return ExampleFilter(annotator=_chosen(annotator), status=_chosen(status), source=_chosen(source),
                         text=(text or "").strip() or None, deleted=bool(trash))


def _chosen(value):
    return None if value in (None, "", ANY) else value


def facets(store: Store) -> dict[str, list[str]]:
    """The values the annotator and source filters offer: those present in the store."""
    return {column: [ANY] + [v for v in store.count_by(column) if v] for column in ("annotator", "source")}


# ------------------------------------------------------------------------------------------------ wording

def plural(n: int, noun: str) -> str:
    """'1 pair', '2 pairs', '0 pairs' (nouns whose plural adds an s)."""
    return f"{n:,} {noun}{'s' * (n != 1)}"


def notice(message: str, ok: bool = True) -> str:
    """A status line for a gr.Markdown: our words, escaped, because they may quote names or fields users chose."""
    return ("" if ok else "**Not done:** ") + html.escape(message) if message else ""


def named(text: str, path: Path) -> str:
    """A message naming the file as the user knows it rather than by its upload path."""
    return text.replace(str(path), path.name)


def located_errors(errors, path: Path, invalid: int) -> list[str]:
    """The first MAX_ERRORS_SHOWN errors of `invalid` ones, each naming the file by name and where in it."""
    lines = [named(str(e), path) for e in errors[:MAX_ERRORS_SHOWN]]
    if invalid > MAX_ERRORS_SHOWN:
        lines.append(f"... and {plural(invalid - MAX_ERRORS_SHOWN, 'more error')}")
    return lines
