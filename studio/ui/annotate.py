"""The Annotate tab: write preference pairs or rank sampled candidates, turn by turn, from a work queue.

Work in progress lives in two places. Turns already committed (continued, or sampled from) belong to a draft
conversation in the store. What is typed but not committed is the `draft` dict, kept in the browser
(gr.BrowserState) and saved on every keystroke. A page reload puts both back.

Handlers are plain functions: `action(store, annotator, draft, ...) -> message` writes through the store and
updates `draft` in place, raising ValueError (Refused, StoreError, SeedError, ...) to refuse with a message that
is shown inline. `view(store, annotator, draft, notice)` turns store + draft into component updates. Only
`build` at the bottom knows about Gradio events.
"""
from __future__ import annotations

import html
import io
import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import gradio as gr

from studio import models
from studio.pairing import STRATEGIES, derive_pairs, tiers_from_ranks
from studio.store import Conversation, Store, Turn
from studio.ui import chatfmt
from studio.ui.chatfmt import chat_view, plural, to_chatbot
from trainer.chat import CUSTOM, default_system_prompt
from trainer.generate import SamplingParams
from trainer.interchange import dump_seed_json, json_problem, same_reply, validate_example

MAX_MESSAGE_CHARS = 20_000
MAX_TEMPLATE_CHARS = 8_000
MAX_NAME_CHARS = 80
MAX_PROMPT_FILE_BYTES = 20 * 2**20
MIN_SAMPLES, MAX_SAMPLES = 2, 6
SLOTS = 8  # candidates per turn: up to six sampled at a time, plus the annotator's own
CUSTOM_TEXT = "custom"  # template_choice for a system prompt written by the annotator
DRAFT_KEY, DRAFT_SECRET = "dpo-studio-draft-v1", "dpo-studio-draft"  # fixed, so drafts survive a server restart

TEXTS = tuple(f"text_{k}" for k in range(1, SLOTS + 1))
RANKS = tuple(f"rank_{k}" for k in range(1, SLOTS + 1))
FORM = ("template_choice", "template_text", "user", "accepted", "rejected", "own", "none_acceptable", "strategy",
        *TEXTS, *RANKS)
SAMPLING = ("model", "n", "temperature", "top_p", "top_k", "max_new_tokens", "seed")
LABELS = {"Template": "System prompt", "User": "User message", "Accepted": "Accepted reply",
          "Rejected": "Rejected reply"}

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


# The form's values over the saved draft, done in the browser on every change (what merge_form does on the server).
MERGE_JS = f"""(saved, ...values) => Object.assign({{}}, saved,
  Object.fromEntries({json.dumps(FORM)}.map((key, i) => [key, values[i]])))"""


class Refused(ValueError):
    """An action the annotator has to fix first; nothing was stored."""

    def __init__(self, *problems: str):
        super().__init__(" ".join(problems))


def require(problems: list[str]):
    if problems:
        raise Refused(*problems)


# ----------------------------------------------------------------------------------------------- the draft

def new_draft(**fields) -> dict:
    draft = {"conversation_id": None, "prompt_id": None, "candidate_ids": [], "model_drafts": {},
             "template_choice": CUSTOM, "template_text": "", "user": "", "accepted": "", "rejected": "", "own": "",
             "none_acceptable": False, "strategy": "best-vs-rest"}
    draft.update(dict.fromkeys(TEXTS, "") | dict.fromkeys(RANKS))
    draft.update(fields)
    return draft


def merge_form(saved, values) -> dict:
    """The browser's saved draft with the form's current values on top (unknown keys dropped)."""
    draft = new_draft()
    draft.update({k: v for k, v in (saved or {}).items() if k in draft})
    draft.update((k, as_typed(v) if isinstance(v, str) else v) for k, v in zip(FORM, values))
    for key in FORM:
        if draft[key] is None and key not in RANKS:
            draft[key] = new_draft()[key]
    return draft


def as_typed(text: str) -> str:
    """Text as a browser text box holds it: no NUL characters, line feeds for newlines. Model output goes through this
    too, so a reply the annotator did not touch never looks edited (and SQLite, which cuts JSON text at a NUL,
    never sees two different replies as equal)."""
    return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")


def typed(draft) -> bool:
    """Whether the annotator typed anything not yet committed."""
    return any(str(draft[k]).strip() for k in ("accepted", "rejected", "own")) or (
        draft["prompt_id"] is None and draft["user"].strip() != "")


def clear_turn(draft):
    draft.update(user="", accepted="", rejected="", own="", none_acceptable=False, model_drafts={})
    clear_slots(draft)


def clear_slots(draft):
    draft["candidate_ids"] = []
    draft.update(dict.fromkeys(TEXTS, "") | dict.fromkeys(RANKS))


def reset(draft, **fields):
    """A fresh draft that keeps the system prompt choice (the next conversation likely uses it too)."""
    keep = {k: draft[k] for k in ("template_choice", "template_text", "strategy")}
    draft.clear()
    draft.update(new_draft(**{**keep, **fields}))


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


# ----------------------------------------------------------------------------------- the committed thread

@dataclass
class Thread:
    """The committed part of the draft's conversation: finished exchanges, and the open turn if one exists."""
    conversation: Conversation | None
    users: list[str]
    replies: list[str]
    open_turn: Turn | None

    def texts(self) -> dict[int, str]:
        return {c.id: c.text for c in self.open_turn.candidates} if self.open_turn else {}

    def roots(self, ids) -> list[int]:
        """For each candidate, the one it started from: the original of an edit, else itself."""
        parents = {c.id: c.edited_from for c in self.open_turn.candidates} if self.open_turn else {}
        return [parents[c] or c for c in ids]


def thread(store: Store, annotator, draft) -> Thread:
    """The draft's conversation from the store. A conversation that is gone, finished or someone else's is
    dropped from the draft; candidate slots follow the open turn."""
    conversation = draft["conversation_id"] and store.get_conversation(draft["conversation_id"])
    if conversation and (conversation.status != "draft" or (annotator and conversation.annotator != annotator)):
        conversation = None
    if not conversation:
        draft.update(conversation_id=None)
        clear_slots(draft)
        return Thread(None, [], [], None)
    done = [t for t in conversation.turns if t.reply_id is not None]
    texts = {c.id: c.text for t in done for c in t.candidates}
    open_turn = conversation.turns[-1] if conversation.turns and conversation.turns[-1].reply_id is None else None
    th = Thread(conversation, [t.user for t in done], [texts[t.reply_id] for t in done], open_turn)
    sync_slots(th, draft)
    return th


def sync_slots(th: Thread, draft):
    """Keep the slots that are candidates of the open turn; with none (say, after a reload in another browser),
    show all of the open turn's candidates."""
    texts = th.texts()
    slots = [(c, draft[TEXTS[i]], draft[RANKS[i]]) for i, c in enumerate(draft["candidate_ids"]) if c in texts]
    if not slots:
        slots = [(c, text, None) for c, text in list(texts.items())[:SLOTS]]
    clear_slots(draft)
    add_slots(draft, [c for c, _, _ in slots], [text for _, text, _ in slots])
    draft.update(zip(RANKS, [rank for _, _, rank in slots]))


def add_slots(draft, ids, texts):
    start = len(draft["candidate_ids"])
    draft["candidate_ids"] = draft["candidate_ids"] + list(ids)
    draft.update(zip(TEXTS[start:], texts))


def template_of(th: Thread, draft) -> str:
    if th.conversation:
        return th.conversation.template
    return CUSTOM if draft["template_choice"] == CUSTOM else draft["template_text"]


def user_of(th: Thread, draft) -> str:
    return th.open_turn.user if th.open_turn else draft["user"]


def pair_example(th: Thread, draft, accepted: str, rejected: str) -> dict:
    """The seed example a preference on the current turn yields: earlier turns are shared context."""
    return {"Template": [template_of(th, draft)], "User": th.users + [user_of(th, draft)],
            "Accepted": th.replies + [accepted], "Rejected": th.replies + [rejected]}


# ------------------------------------------------------------------------------------------------ checks

def too_long(label, text, limit=MAX_MESSAGE_CHARS) -> list[str]:
    return [f"{label} is {len(text):,} characters; the limit is {limit:,}."] if len(text) > limit else []


def describe(problem, last: int) -> str:
    """A seed validation problem in the words of the form (the current turn's boxes by their labels), as a sentence:
    problems are shown one after another."""
    key, _, index = problem.field.partition("[")
    current = key == "Template" or index == f"{last}]"
    return f"{LABELS[key] if current and key in LABELS else problem.field}: {problem.message}."


def seed_problems(example, *, keys=("Template", "User", "Accepted", "Rejected"), optional_rejected=False):
    """What trainer.interchange finds wrong with an example, limited to the fields of `keys`. With optional_rejected an
    empty final Rejected is fine (Continue without a pair for this turn)."""
    last = len(example["User"]) - 1
    problems = [p for p in validate_example(example) if p.field.partition("[")[0] in keys]
    if optional_rejected and not example["Rejected"][-1].strip():
        problems = [p for p in problems if p.field != f"Rejected[{last}]"]
    return [describe(p, last) for p in problems]


def prompt_problems(th: Thread, draft) -> list[str]:
    """What stops a reply from being written or sampled: the system prompt and the user message."""
    example = pair_example(th, draft, "-", "+")
    return (too_long("The system prompt", template_of(th, draft), MAX_TEMPLATE_CHARS)
            + too_long("The user message", user_of(th, draft))
            + seed_problems(example, keys=("Template", "User")))


def written_problems(th: Thread, draft, final: bool) -> list[str]:
    example = pair_example(th, draft, draft["accepted"], draft["rejected"])
    return (prompt_problems(th, draft) + too_long("The accepted reply", draft["accepted"])
            + too_long("The rejected reply", draft["rejected"])
            + seed_problems(example, keys=("Accepted", "Rejected"), optional_rejected=not final))


def seed_json(examples) -> str:
    """Exactly what a seed-json export writes for these examples."""
    buffer = io.BytesIO()
    dump_seed_json(examples, buffer)
    return buffer.getvalue().decode("utf-8")


# ------------------------------------------------------------------------------- committing and finishing

def commit_turn(store: Store, annotator, th: Thread, draft) -> tuple[int, int]:
    """(conversation id, turn) of the open turn, starting the conversation or adding the turn if needed."""
    if th.open_turn:
        return th.conversation.id, th.open_turn.idx
    if th.conversation:
        return th.conversation.id, store.add_turn(th.conversation.id, draft["user"])
    if draft["prompt_id"] is not None:
        conversation_id = store.start_conversation(annotator=annotator, prompt_id=draft["prompt_id"])
    else:
        conversation_id = store.start_conversation(annotator=annotator, template=template_of(th, draft),
                                                   user=draft["user"])
    draft["conversation_id"] = conversation_id
    return conversation_id, 0


def finish(store: Store, annotator, draft, message: str) -> str:
    """Mark the conversation done and start afresh, with the next queued prompt if it came from the queue."""
    store.set_conversation_status(draft["conversation_id"], "done")
    from_queue = draft["prompt_id"] is not None
    reset(draft)
    return f"{message} {load_next(store, annotator, draft)}" if from_queue else message


def saved_message(result, what: str) -> str:
    message = f"{what}: {plural(len(result.example_ids), 'pair')} stored."
    if result.duplicate_ids:
        ids, n = ", ".join(map(str, result.duplicate_ids)), len(result.duplicate_ids)
        message += (f" {n} already existed (example{'s' * (n != 1)} {ids}) and {'was' if n == 1 else 'were'} "
                    "not stored twice.")
    if result.identical:
        message += f" {result.identical} skipped: both replies had the same text (whitespace aside)."
    return message


# ------------------------------------------------------------------------------------------ sampling

def sampling_params(values: dict) -> SamplingParams:
    """The sampling controls' values (a dict with at least temperature, top_p, top_k, max_new_tokens, seed) as
    parameters; an empty seed draws a new one for every request."""
    return models.sampling(**{k: values[k] for k in ("temperature", "top_p", "top_k", "max_new_tokens")},
                           seed=seed_of(values["seed"]))


def seed_of(text) -> int | None:
    """The seed box's text as a seed; None when it is empty."""
    text = "" if text is None else str(text).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise Refused(f"The seed must be a whole number, or empty for a new one every time (not {text!r}).") from None


# ------------------------------------------------------------------------------------------ write mode

def model_reply(store: Store, annotator, draft, which: str, sampling: dict) -> str:
    """Fill the Accepted or Rejected box with a reply sampled from the chosen checkpoint, to edit."""
    th = thread(store, annotator, draft)
    require(prompt_problems(th, draft))
    params = sampling_params(sampling)
    text = as_typed(models.load(sampling["model"]).reply(template_of(th, draft), th.users + [user_of(th, draft)],
                                                         th.replies, params))
    if not text.strip():
        raise Refused("The model returned an empty reply; try again (each click draws a new sample).")
    draft[which] = text
    draft["model_drafts"] = {**draft["model_drafts"],
                             which: {"text": text, "checkpoint": str(sampling["model"]), "sampling": params.to_dict()}}
    return f"{LABELS[which.title()]} drafted by the model; edit it as you like."


def add_written(store: Store, annotator, conversation_id, turn, draft, which) -> int:
    """A written reply as a candidate: a model draft kept unchanged is recorded as the model's."""
    text, made = draft[which], draft["model_drafts"].get(which)
    if made and made["text"] == text:
        return store.add_candidate(conversation_id, turn, text, origin="model", checkpoint=made["checkpoint"],
                                   sampling=made["sampling"], annotator=annotator)
    return store.add_candidate(conversation_id, turn, text, origin="human", annotator=annotator)


def commit_written(store: Store, annotator, draft, final: bool):
    th = thread(store, signed(annotator), draft)
    require(written_problems(th, draft, final))
    conversation_id, turn = commit_turn(store, annotator, th, draft)
    tiers = [[add_written(store, annotator, conversation_id, turn, draft, "accepted")]]
    if draft["rejected"].strip():
        tiers.append([add_written(store, annotator, conversation_id, turn, draft, "rejected")])
    result = store.save_ranking(conversation_id, turn, tiers, annotator=annotator)
    clear_turn(draft)
    return result, turn


def continue_written(store: Store, annotator, draft) -> str:
    """Keep this turn (the accepted reply becomes context) and open the next one."""
    result, turn = commit_written(store, annotator, draft, final=False)
    return saved_message(result, f"Turn {turn + 1} kept as context") + " Write the next user message."


def save_written(store: Store, annotator, draft) -> str:
    """Store the example and finish the conversation. With nothing typed after a Continue, just finish."""
    th = thread(store, signed(annotator), draft)
    if th.conversation and not th.open_turn and not typed(draft):
        return finish(store, annotator, draft, f"Saved conversation {th.conversation.id}.")
    result, _ = commit_written(store, annotator, draft, final=True)
    return finish(store, annotator, draft, saved_message(result, "Saved"))


# ------------------------------------------------------------------------------------------- rank mode

def new_replies(texts: list[str], shown: list[str]) -> list[str]:
    """The sampled replies worth ranking: not empty, and not the same text as another one, whitespace aside (a
    confident model often samples one reply several times; ranking it against itself yields no pair)."""
    seen, kept = {" ".join(text.split()) for text in shown}, []
    for text in map(as_typed, texts):
        words = " ".join(text.split())
        if words and words not in seen:
            seen.add(words)
            kept.append(text)
    return kept


def sample(store: Store, annotator, draft, sampling: dict) -> str:
    """Sample candidates for the current turn (committing its user message) into the free slots."""
    th = thread(store, signed(annotator), draft)
    require(prompt_problems(th, draft))
    n = int(sampling["n"])
    if not MIN_SAMPLES <= n <= MAX_SAMPLES:
        raise Refused(f"Sample between {MIN_SAMPLES} and {MAX_SAMPLES} candidates at a time.")
    free = SLOTS - len(draft["candidate_ids"])
    if free == 0:
        raise Refused(f"{SLOTS} candidates is the most one turn can show: rank these.")
    params = sampling_params(sampling)
    model = models.load(sampling["model"])  # before anything is committed: a missing model stores nothing
    texts = model.candidates(template_of(th, draft), th.users + [user_of(th, draft)], th.replies, params,
                             min(n, free))
    kept = new_replies(texts, shown=[draft[k] for k in TEXTS[:len(draft["candidate_ids"])]])
    if not kept:
        raise Refused("The model returned only empty replies or ones already shown; sample again or raise the "
                      "temperature.")
    conversation_id, turn = commit_turn(store, annotator, th, draft)
    ids = [store.add_candidate(conversation_id, turn, t, origin="model", checkpoint=str(sampling["model"]),
                               sampling=params.to_dict(), annotator=annotator) for t in kept]
    add_slots(draft, ids, kept)
    dropped = len(texts) - len(kept)
    return f"Sampled {plural(len(kept), 'candidate')}" + (
        f" ({dropped} empty or repeated {'one' if dropped == 1 else 'ones'} dropped)." if dropped else ".") + (
        " Edit any of them, then rank them best first.")


def add_own(store: Store, annotator, draft) -> str:
    th = thread(store, signed(annotator), draft)
    text = draft["own"]
    require(prompt_problems(th, draft) + too_long("Your reply", text)
            + ([] if text.strip() else ["Your reply is empty."])
            + ([f"{SLOTS} candidates is the most one turn can show."] if len(draft["candidate_ids"]) >= SLOTS
               else []))
    conversation_id, turn = commit_turn(store, annotator, th, draft)
    add_slots(draft, [store.add_candidate(conversation_id, turn, text, origin="human", annotator=annotator)],
              [text])
    draft["own"] = ""
    return f"Your reply is candidate {len(draft['candidate_ids'])}; rank it with the others."


def slot_tiers(draft) -> list[list[int]]:
    """The ranking as tiers of slot numbers, best first. "None acceptable" lets candidates stay unranked."""
    n = len(draft["candidate_ids"])
    ranks = {k: int(draft[RANKS[k - 1]]) for k in range(1, n + 1) if draft[RANKS[k - 1]]}
    unranked = [k for k in range(1, n + 1) if k not in ranks]
    if not n:
        raise Refused("Sample candidates (or add your own reply) first.")
    if unranked and not draft["none_acceptable"]:
        raise Refused(f"Give every candidate a rank (missing: {', '.join(map(str, unranked))}); equal ranks "
                      "are ties.")
    return tiers_from_ranks(ranks) + ([unranked] if unranked else [])


def edited_slots(th: Thread, draft) -> list[int]:
    """Slots whose text differs from the candidate they started from (an edit, saved or not yet); a change of
    whitespace only is no edit."""
    texts = th.texts()
    return [k for k, root in enumerate(th.roots(draft["candidate_ids"]), 1)
            if not same_reply(draft[TEXTS[k - 1]], texts[root])]


def slot_texts(th: Thread, draft) -> list[str]:
    """The text each slot stands for: its edit, else its candidate's own text."""
    texts, edited = th.texts(), edited_slots(th, draft)
    return [draft[TEXTS[k - 1]] if k in edited else texts[c] for k, c in enumerate(draft["candidate_ids"], 1)]


def ranking_examples(th: Thread, draft) -> tuple[list[dict], list[dict]]:
    """(pairs from the ranking, edited > original pairs) that saving this ranking stores, as seed examples."""
    tiers = slot_tiers(draft)
    slots = slot_texts(th, draft)
    originals = th.texts()
    pairs = derive_pairs(tiers, draft["strategy"], 0 if draft["none_acceptable"] else None)
    ranked = [pair_example(th, draft, slots[a - 1], slots[b - 1]) for a, b in pairs
              if not same_reply(slots[a - 1], slots[b - 1])]
    roots = th.roots(draft["candidate_ids"])
    edits = [pair_example(th, draft, slots[k - 1], originals[roots[k - 1]]) for k in edited_slots(th, draft)]
    return ranked, edits


def ranking_problems(th: Thread, draft) -> list[str]:
    problems = []
    for k in range(1, len(draft["candidate_ids"]) + 1):
        text = draft[TEXTS[k - 1]]
        problems += too_long(f"Candidate {k}", text) + ([f"Candidate {k} is empty."] if not text.strip() else [])
    return problems


def save_ranking(store: Store, annotator, draft, done: bool) -> str:
    """Store the ranking (and an edited > original pair per edit); then finish, or continue with the best."""
    th = thread(store, signed(annotator), draft)
    require(ranking_problems(th, draft))
    tiers = slot_tiers(draft)
    if not done and draft["none_acceptable"]:
        raise Refused("Nothing acceptable to continue with: add your own reply and rank it, or save to finish.")
    conversation_id, turn = th.conversation.id, th.open_turn.idx
    texts, roots, edited = th.texts(), th.roots(draft["candidate_ids"]), edited_slots(th, draft)
    for k, (c, root) in enumerate(zip(draft["candidate_ids"], roots), 1):
        if k in edited and draft[TEXTS[k - 1]] != texts[c]:  # an edit becomes a candidate of its own, in the slot
            draft["candidate_ids"][k - 1] = store.add_candidate(conversation_id, turn, draft[TEXTS[k - 1]],
                                                                origin="human", annotator=annotator,
                                                                edited_from=root)
    ids = [[draft["candidate_ids"][k - 1] for k in tier] for tier in tiers]
    result = store.save_ranking(conversation_id, turn, ids, annotator=annotator, strategy=draft["strategy"],
                                acceptable=0 if draft["none_acceptable"] else None)
    edits = [store.save_edit(conversation_id, turn, c, annotator=annotator)
             for c, root in zip(draft["candidate_ids"], roots) if c != root]
    message = saved_message(result, f"Ranking of turn {turn + 1} saved") + (
        f" {plural(len(edits), 'edit')} stored as preferred over the original." if edits else "")
    clear_turn(draft)
    if done:
        return finish(store, annotator, draft, message)
    return message + " The best candidate continues the conversation: write the next user message."


# ---------------------------------------------------------------------------------------------- the queue

def load_next(store: Store, annotator, draft) -> str:
    prompt = store.next_prompt(annotator)
    if prompt is None:
        held = not_yours(store.queue_for(annotator))
        return f"The queue is empty{f' for you ({held})' if held else ''}: write your own prompt, or import more."
    custom = prompt.template != CUSTOM
    reset(draft, prompt_id=prompt.id, user=prompt.text, template_choice=CUSTOM_TEXT if custom else CUSTOM,
          template_text=prompt.template if custom else "")
    return f"Prompt {prompt.id} from the queue."


def next_prompt(store: Store, annotator, draft) -> str:
    thread(store, signed(annotator), draft)
    if draft["conversation_id"] or typed(draft):
        raise Refused("Save, skip or discard the current conversation first.")
    return load_next(store, annotator, draft)


def skip(store: Store, annotator, draft) -> str:
    """Pass on this prompt: back to the queue for others, never served to you again."""
    thread(store, signed(annotator), draft)
    if draft["conversation_id"]:
        store.set_conversation_status(draft["conversation_id"], "skipped")
    elif draft["prompt_id"] is not None:
        store.skip_prompt(draft["prompt_id"], annotator)
    else:
        raise Refused("Nothing to skip: take a prompt from the queue with Next.")
    reset(draft)
    return f"Skipped. {load_next(store, annotator, draft)}"


def discard(store: Store, annotator, draft) -> str:
    """Throw the current conversation away (it is kept, marked discarded, and never exported)."""
    thread(store, signed(annotator), draft)
    if draft["conversation_id"]:
        store.set_conversation_status(draft["conversation_id"], "discarded")
    reset(draft)
    return "Discarded; the composer is empty."


def read_prompts(path) -> list:
    """Prompts from a .txt file (one per line) or JSON Lines (a string, or an object with "text" or "prompt" and
    optionally "template", per line)."""
    path = Path(path)
    if path.stat().st_size > MAX_PROMPT_FILE_BYTES:
        raise Refused(f"{path.name} is larger than {MAX_PROMPT_FILE_BYTES // 2**20} MiB; split it.")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise Refused(f"{path.name} is not UTF-8 text.") from None
    parse = prompt_record if path.suffix.lower() in (".jsonl", ".json") else lambda n, line: line.strip()
    prompts = [(n, parse(n, line)) for n, line in enumerate(lines, 1) if line.strip()]
    require([f"line {n}: {problem}" for n, prompt in prompts
             for problem in too_long("the prompt", prompt if isinstance(prompt, str) else prompt["text"])])
    if not prompts:
        raise Refused(f"{path.name} holds no prompts.")
    return [prompt for _, prompt in prompts]


def prompt_record(n, line):
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise Refused(f"line {n}: not valid JSON ({json_problem(e.msg, f'column {e.colno}')}).") from None
    if isinstance(record, str):
        return record
    text = isinstance(record, dict) and record.get("text", record.get("prompt"))
    template = record.get("template", CUSTOM) if isinstance(record, dict) else None
    if not isinstance(text, str) or not isinstance(template, str):
        raise Refused(f'line {n}: expected a string, or an object with a "text" (or "prompt") string.')
    return {"text": text, "template": template}


def import_prompts(store: Store, annotator, draft, path) -> str:
    if not path:
        raise Refused("Choose a .txt or .jsonl file of prompts.")
    prompts = read_prompts(path)
    added = store.add_prompts(prompts, source=Path(path).name)
    known = len(prompts) - added
    return f"Queued {plural(added, 'new prompt')} from {Path(path).name}" + (
        f" ({known} {'was' if known == 1 else 'were'} already queued)." if known else ".")


def not_yours(queue: dict) -> str:
    """The queued prompts Next does not serve this annotator, and why ('' when there are none)."""
    return ", ".join(([f"{queue['held']} with other annotators"] if queue["held"] else [])
                     + ([f"{queue['skipped']} skipped by you"] if queue["skipped"] else []))


def progress_text(store: Store, annotator) -> str:
    queue, people = store.queue_for(annotator), store.progress()["annotators"]
    total = sum(queue.values())
    mine = people.get(annotator, dict(done=0, draft=0, examples=0))
    held = not_yours(queue)
    parts = [f"**Queue** {queue['done']}/{total} prompts done, {queue['waiting']} waiting" + (
                 f" ({held})" if held else "") if total else "**Queue** empty: import prompts, or write your own",
             f"**You** {plural(mine['done'], 'conversation')} saved, {plural(mine['examples'], 'pair')}, "
             f"{mine['draft']} in progress" if annotator else "**You** type your name to start",
             f"**Everyone** {plural(sum(p['done'] for p in people.values()), 'conversation')}, "
             f"{plural(sum(p['examples'] for p in people.values()), 'pair')}"]
    return " · ".join(parts)


# ------------------------------------------------------------------------------------------------ the view

def previews(th: Thread, draft) -> dict:
    """The live previews: written example and ranking pairs as export JSON, or what is wrong with them."""
    problems = written_problems(th, draft, final=True)
    write = "\n".join(f"# {p}" for p in problems) if problems else seed_json([
        pair_example(th, draft, draft["accepted"], draft["rejected"])])
    try:
        require(ranking_problems(th, draft))
        ranked, edits = ranking_examples(th, draft)
        pairs = (f"This ranking yields **{len(ranked)}** pair{'s' * (len(ranked) != 1)} ({draft['strategy']})"
                 + (f" + **{len(edits)}** from your edits" if edits else "") + ".")
        rank = seed_json(ranked + edits)
    except ValueError as e:
        pairs, rank = html.escape(str(e)), ""
    return {"write_preview": write, "rank_preview": rank, "pairs": pairs}


def slot_labels(th: Thread, draft) -> list[str]:
    """Each slot's label: its number, whose reply it is (an edit makes a model's reply yours), whether it is edited."""
    candidates = {c.id: c for c in th.open_turn.candidates} if th.open_turn else {}
    ids, edited = draft["candidate_ids"], edited_slots(th, draft)
    labels = [f"Candidate {k}" for k in range(1, SLOTS + 1)]
    for k, candidate_id in enumerate(ids, 1):
        whose = "model" if candidates[candidate_id].origin == "model" and k not in edited else "yours"
        labels[k - 1] += f" · {whose}" + (" · edited" if k in edited else "")
    return labels


def view(store: Store, annotator, draft, notice="", ok=True) -> dict:
    """Every Annotate component's new value, by name."""
    th = thread(store, annotator, draft)
    started, queued = th.conversation is not None, draft["prompt_id"] is not None
    n = len(draft["candidate_ids"])
    shown_users = th.users + [th.open_turn.user] if th.open_turn else th.users
    custom = template_of(th, draft) != CUSTOM
    values = {
        "draft": draft,
        "chat": to_chatbot(shown_users, th.replies),
        "template_choice": gr.update(value=CUSTOM_TEXT if custom else CUSTOM, interactive=not (started or queued)),
        "template_text": gr.update(value=template_of(th, draft) if custom else draft["template_text"],
                                   visible=custom, interactive=not (started or queued)),
        "user": gr.update(value=user_of(th, draft), interactive=not (th.open_turn or (queued and not started))),
        "accepted": draft["accepted"], "rejected": draft["rejected"], "own": draft["own"],
        "none_acceptable": draft["none_acceptable"], "strategy": draft["strategy"],
        "notice": chatfmt.notice(notice, ok),
        "progress": progress_text(store, annotator),
        **previews(th, draft),
    }
    choices = [str(i) for i in range(1, n + 1)]
    for k, label in enumerate(slot_labels(th, draft), 1):
        values[f"slot_{k}"] = gr.update(visible=k <= n)
        values[TEXTS[k - 1]] = gr.update(value=draft[TEXTS[k - 1]], label=label)
        values[RANKS[k - 1]] = gr.update(value=draft[RANKS[k - 1]], choices=choices)
    return values


def saved_draft(saved) -> dict:
    return merge_form(saved, [(saved or {}).get(k) for k in FORM])


def take_latest(store: Store, annotator, draft) -> bool:
    """Give a draft holding no work the annotator's latest draft conversation (the same person in another
    browser); whether there was one. A conversation of someone else's is dropped first."""
    thread(store, annotator, draft)
    if not annotator or draft["conversation_id"] or typed(draft) or draft["prompt_id"] is not None:
        return False
    latest = store.list_conversations(annotator=annotator, status="draft", limit=1)
    if latest:
        draft["conversation_id"] = latest[0]["id"]
    return bool(latest)


def restored(store: Store, annotator, draft) -> dict:
    values = view(store, annotator, draft, "Welcome back: your work in progress is restored." if (
        draft["conversation_id"] or typed(draft)) else "")
    values["mode"] = gr.update(selected="rank" if draft["candidate_ids"] else "write")
    return values


def restore(store: Store, annotator, saved) -> dict:
    """The draft saved in the browser, checked against the store; else the annotator's latest draft
    conversation."""
    draft = saved_draft(saved)
    take_latest(store, annotator, draft)
    return restored(store, annotator, draft)


def named(store: Store, annotator, saved) -> dict | None:
    """After a name is typed: that annotator's latest draft conversation when this browser holds no work, else
    None (nothing to bring back; the page stays as it is)."""
    draft = saved_draft(saved)
    return restored(store, annotator, draft) if take_latest(store, annotator, draft) else None


# ------------------------------------------------------------------------------------------------- layout

VIEW = ("draft", "chat", "template_choice", "template_text", "user", "accepted", "rejected", "own",
        "none_acceptable", "strategy", "notice", "progress", "write_preview", "rank_preview", "pairs",
        *(f"slot_{k}" for k in range(1, SLOTS + 1)), *TEXTS, *RANKS)


def run_action(store: Store, action, request: gr.Request, name, saved, *values):
    """Shared wiring of every button: the form into the draft, the action, then the whole view."""
    draft = merge_form(saved, values[len(values) - len(FORM):])
    extra = values[:len(values) - len(FORM)]
    annotator = who(name, request)
    try:
        notice, ok = action(store, annotator, draft, *extra) or "", True
    except ValueError as e:
        notice, ok = str(e), False
    return view(store, annotator, draft, notice, ok)


def build(store: Store, settings, name: gr.Textbox, loaded) -> None:
    """The tab's components and events; `loaded` is the page-load event (the annotator name is known then)."""
    c: dict = {"draft": gr.BrowserState(new_draft(), storage_key=DRAFT_KEY, secret=DRAFT_SECRET)}
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


def sampling_controls(c: dict, prefix: str = ""):
    """Temperature, top-p, top-k, length and seed (the arguments of models.sampling) into `c`; element ids get
    `prefix`, so another tab can have its own."""
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
    form = [c[k] for k in FORM]
    sampling = [c[k] for k in SAMPLING]
    outputs = [c[k] for k in VIEW]

    def on(trigger, action, extra=(), api_name=None, **kwargs):
        def handle(request: gr.Request, name_value, saved, *values):
            values = run_action(store, action, request, name_value, saved, *values)
            return [values[k] for k in VIEW]
        trigger(handle, [name, c["draft"], *extra, *form], outputs, api_name=api_name,
                api_visibility="public" if api_name else "private", **kwargs)

    on(c["continue_write"].click, continue_written, api_name="continue_written")
    on(c["save_write"].click, save_written, api_name="save_written")
    for which in ("accepted", "rejected"):
        on(c[f"draft_{which}"].click, lambda s, a, d, *v, w=which: model_reply(s, a, d, w, dict(zip(SAMPLING, v))),
           sampling, concurrency_limit=2, concurrency_id="model")
    on(c["sample"].click, lambda s, a, d, *v: sample(s, a, d, dict(zip(SAMPLING, v))), sampling,
       api_name="sample", concurrency_limit=2, concurrency_id="model")
    on(c["add_own"].click, add_own)
    ranks = [c[r] for r in RANKS]
    for k in range(1, SLOTS + 1):  # in the browser: a server round trip per key would race the next key
        c[f"pick_{k}"].click(None, ranks, ranks, js=PICK_JS % k)
    c["clear_ranks"].click(None, None, ranks, js=f"() => Array({SLOTS}).fill(null)")
    on(c["continue_rank"].click, partial(save_ranking, done=False), api_name="continue_ranking")
    on(c["save_rank"].click, partial(save_ranking, done=True), api_name="save_ranking")
    on(c["next"].click, next_prompt, api_name="next_prompt")
    on(c["skip"].click, skip, api_name="skip")
    on(c["discard"].click, discard, api_name="discard")
    on(c["prompts_file"].upload, import_prompts, [c["prompts_file"]], api_name="import_prompts")

    def live_previews(request: gr.Request, name_value, saved, *values):
        draft = merge_form(saved, values)
        th = thread(store, who(name_value, request), draft)
        shown = previews(th, draft)
        return [shown["write_preview"], shown["rank_preview"], shown["pairs"],
                *(gr.update(label=label) for label in slot_labels(th, draft))]  # an edit is yours as you type

    # .change, not .input: Gradio's input event misses pasted text. The draft is merged in the browser: a server
    # round trip could come back after a newer save and put the old draft back.
    edits = [c[k].change for k in FORM]
    gr.on(edits, None, [c["draft"], *form], c["draft"], js=MERGE_JS, api_visibility="private")
    gr.on(edits, live_previews, [name, c["draft"], *form],
          [c["write_preview"], c["rank_preview"], c["pairs"], *(c[k] for k in TEXTS)],
          trigger_mode="always_last", show_progress="hidden", concurrency_limit=None, api_visibility="private")
    c["template_choice"].change(lambda choice: gr.update(visible=choice != CUSTOM), c["template_choice"],
                               c["template_text"], api_visibility="private")

    def on_load(request: gr.Request, name_value, saved):
        values = restore(store, who(name_value, request), saved)
        return [values[k] for k in (*VIEW, "mode")]

    loaded.then(on_load, [name, c["draft"]], [*outputs, c["mode"]], api_visibility="private")

    def on_name(request: gr.Request, name_value, saved):  # someone typing their name in a fresh browser
        values = named(store, who(name_value, request), saved)
        return [values[k] for k in (*VIEW, "mode")] if values else [gr.skip()] * (len(VIEW) + 1)

    gr.on([name.blur, name.submit], on_name, [name, c["draft"]], [*outputs, c["mode"]], api_visibility="private")
