"""The Annotate tab's composer, free of Gradio: the draft, what it would store, and every action on it.

Work in progress lives in two places. Turns already committed (continued, or sampled from) belong to a draft
conversation in the store. What is typed but not committed is the draft, a dict kept in the browser
(gr.BrowserState) and saved on every keystroke; a page reload puts both back.

An action is `action(store, annotator, draft, ...) -> message`: it checks the draft, writes through one store
method (one transaction: a failure stores nothing), updates `draft` in place, and raises ValueError (Refused,
StoreError, SeedError, ...) to refuse with a message shown inline. The previews come from the same pair derivation
the store saves with (studio.pairing.ranking_pairs), so what they show is what the export will hold.
"""
from __future__ import annotations

import html
import io
import json
from dataclasses import dataclass
from pathlib import Path

from studio import models
from studio.pairing import Pair, ranking_pairs, tiers_from_ranks
from studio.store import ConversationRecord, OpenTurn, RankingResult, Reply, Store
from studio.ui.common import (MAX_TEMPLATE_CHARS, Refused, as_typed, plural, require, sampling_params, signed,
                              too_long)
from trainer.conversation import CUSTOM, Conversation
from trainer.interchange import dump_seed_json, json_problem, same_reply, validate_example

MAX_PROMPT_FILE_BYTES = 20 * 2**20
MIN_SAMPLES, MAX_SAMPLES = 2, 6
SLOTS = 8  # candidates per turn: up to six sampled at a time, plus the annotator's own
CUSTOM_TEXT = "custom"  # template_choice for a system prompt written by the annotator
TEXTS = tuple(f"text_{k}" for k in range(1, SLOTS + 1))
RANKS = tuple(f"rank_{k}" for k in range(1, SLOTS + 1))
# The draft's fields the form edits (the rest, like candidate_ids, only actions change).
FORM = ("template_choice", "template_text", "user", "accepted", "rejected", "own", "none_acceptable", "strategy",
        *TEXTS, *RANKS)
LABELS = {"Template": "System prompt", "User": "User message", "Accepted": "Accepted reply",
          "Rejected": "Rejected reply"}


# ----------------------------------------------------------------------------------------------- the draft

def new_draft(**fields) -> dict:
    draft = {"conversation_id": None, "prompt_id": None, "candidate_ids": [], "model_drafts": {},
             "template_choice": CUSTOM, "template_text": "", "user": "", "accepted": "", "rejected": "", "own": "",
             "none_acceptable": False, "strategy": "best-vs-rest"}
    draft.update(dict.fromkeys(TEXTS, "") | dict.fromkeys(RANKS))
    draft.update(fields)
    return draft


def merge_form(saved, form: dict) -> dict:
    """The browser's saved draft with the form's current values (by field) on top; unknown keys are dropped, and
    text is taken as a text box holds it."""
    draft = new_draft()
    draft.update({k: v for k, v in (saved or {}).items() if k in draft})
    draft.update((k, as_typed(v) if isinstance(v, str) else v) for k, v in form.items() if k in FORM)
    for key in FORM:
        if draft[key] is None and key not in RANKS:
            draft[key] = new_draft()[key]
    return draft


def saved_draft(saved) -> dict:
    """The draft the browser kept, checked like a form."""
    return merge_form(saved, {k: (saved or {}).get(k) for k in FORM})


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


# ----------------------------------------------------------------------------------- the committed thread

@dataclass(frozen=True)
class Thread:
    """The committed part of the draft's conversation (record None: nothing committed yet)."""
    record: ConversationRecord | None

    @property
    def open_turn(self):
        return self.record.open_turn if self.record else None

    def texts(self) -> dict[int, str]:
        """The open turn's candidates' texts, by id."""
        return {c.id: c.text for c in self.open_turn.candidates} if self.open_turn else {}

    def origins(self) -> dict[int, int]:
        """For each candidate of the open turn, the one it started from: the original of an edit, else itself."""
        return {c.id: c.edited_from or c.id for c in self.open_turn.candidates} if self.open_turn else {}


def thread(store: Store, annotator, draft) -> Thread:
    """The draft's conversation from the store. A conversation that is gone, finished or someone else's is
    dropped from the draft; candidate slots follow the open turn."""
    record = draft["conversation_id"] and store.get_conversation(draft["conversation_id"])
    if record and (record.status != "draft" or (annotator and record.annotator != annotator)):
        record = None
    if not record:
        draft.update(conversation_id=None)
        clear_slots(draft)
        return Thread(None)
    th = Thread(record)
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
    if th.record:
        return th.record.template
    return CUSTOM if draft["template_choice"] == CUSTOM else draft["template_text"]


def user_of(th: Thread, draft) -> str:
    return th.open_turn.user if th.open_turn else draft["user"]


def current(th: Thread, draft) -> Conversation:
    """The conversation at the current turn: the committed turns, open at the turn being worked on (the draft's
    user message when no turn is open yet)."""
    so_far = th.record.conversation() if th.record else Conversation(template_of(th, draft))
    return so_far if so_far.is_open else so_far.asking(draft["user"])


def open_turn_at(th: Thread, draft) -> OpenTurn:
    """Where the store puts the current turn's replies."""
    return OpenTurn(th.record and th.record.id, draft["user"], template_of(th, draft), draft["prompt_id"])


# ------------------------------------------------------------------------------------------------ checks

def describe(problem, last: int) -> str:
    """A seed validation problem in the words of the form (the current turn's boxes by their labels), as a sentence:
    problems are shown one after another."""
    key, _, index = problem.field.partition("[")
    is_current = key == "Template" or index == f"{last}]"
    return f"{LABELS[key] if is_current and key in LABELS else problem.field}: {problem.message}."


def seed_problems(example, *, keys=("Template", "User", "Accepted", "Rejected"), optional_rejected=False):
    """What trainer.interchange finds wrong with an example, limited to the fields of `keys`. With
    optional_rejected an empty final Rejected is fine (Continue without a pair for this turn)."""
    last = len(example["User"]) - 1
    problems = [p for p in validate_example(example) if p.field.partition("[")[0] in keys]
    if optional_rejected and not example["Rejected"][-1].strip():
        problems = [p for p in problems if p.field != f"Rejected[{last}]"]
    return [describe(p, last) for p in problems]


def prompt_problems(th: Thread, draft) -> list[str]:
    """What stops a reply from being written or sampled: the system prompt and the user message."""
    return (too_long("The system prompt", template_of(th, draft), MAX_TEMPLATE_CHARS)
            + too_long("The user message", user_of(th, draft))
            + seed_problems(current(th, draft).pair("-", "+"), keys=("Template", "User")))


def written_problems(th: Thread, draft, final: bool) -> list[str]:
    example = current(th, draft).pair(draft["accepted"], draft["rejected"])
    return (prompt_problems(th, draft) + too_long("The accepted reply", draft["accepted"])
            + too_long("The rejected reply", draft["rejected"])
            + seed_problems(example, keys=("Accepted", "Rejected"), optional_rejected=not final))


def ranking_problems(draft) -> list[str]:
    problems = []
    for k in range(1, len(draft["candidate_ids"]) + 1):
        text = draft[TEXTS[k - 1]]
        problems += too_long(f"Candidate {k}", text) + ([f"Candidate {k} is empty."] if not text.strip() else [])
    return problems


# ------------------------------------------------------------------------------------ what saving stores

def written_pairs(th: Thread, draft) -> list[Pair]:
    """The pair a written turn yields, as the store derives it (accepted over rejected)."""
    texts = {"accepted": draft["accepted"], "rejected": draft["rejected"]}
    return ranking_pairs(current(th, draft), texts, [["accepted"], ["rejected"]])[0]


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


@dataclass(frozen=True)
class Slot:
    """What a candidate slot stands for when the ranking is saved."""
    key: object      # its key in the pair derivation: a candidate id, or "slot k" for an edit not stored yet
    candidate: int   # the candidate the store ranks in its place (an edit not stored yet replaces it)
    origin: int      # the candidate it started from
    text: str
    new_edit: bool   # its text is an edit the store has yet to keep as a candidate


def slots(th: Thread, draft) -> list[Slot]:
    """Each slot's meaning. Its text differing from its origin's only in whitespace is no edit: it stands for the
    origin. Otherwise it stands for the stored candidate with its text, or for a new edit of its origin."""
    texts, origins, out = th.texts(), th.origins(), []
    for k, candidate in enumerate(draft["candidate_ids"], 1):
        text, origin = draft[TEXTS[k - 1]], origins[candidate]
        if same_reply(text, texts[origin]):
            out.append(Slot(origin, origin, origin, texts[origin], False))
        elif text == texts[candidate]:
            out.append(Slot(candidate, candidate, origin, text, False))
        else:
            out.append(Slot(f"slot {k}", candidate, origin, text, True))
    return out


def edited_slots(th: Thread, draft) -> list[int]:
    """Slots whose text differs from the candidate they started from (an edit, saved or not yet)."""
    return [k for k, slot in enumerate(slots(th, draft), 1) if slot.key != slot.origin]


def acceptable(draft) -> int | None:
    return 0 if draft["none_acceptable"] else None


def ranked_pairs(th: Thread, draft) -> tuple[list[Pair], int]:
    """(pairs, identical ones skipped) saving this ranking stores, as the store derives them."""
    shown, tiers = slots(th, draft), slot_tiers(draft)
    texts = th.texts() | {s.key: s.text for s in shown}
    originals = {s.key: s.origin for s in shown if s.key != s.origin}
    return ranking_pairs(current(th, draft), texts, [[shown[k - 1].key for k in tier] for tier in tiers],
                         draft["strategy"], acceptable(draft), originals)


def seed_json(examples) -> str:
    """Exactly what a seed-json export writes for these examples."""
    buffer = io.BytesIO()
    dump_seed_json(examples, buffer)
    return buffer.getvalue().decode("utf-8")


def previews(th: Thread, draft) -> dict:
    """The live previews: written example and ranking pairs as export JSON, or what is wrong with them."""
    problems = written_problems(th, draft, final=True)
    write = "\n".join(f"# {p}" for p in problems) if problems else seed_json(
        [p.example for p in written_pairs(th, draft)])
    try:
        require(ranking_problems(draft))
        pairs, _ = ranked_pairs(th, draft)
        n_ranked, n_edits = sum(not p.edit for p in pairs), sum(p.edit for p in pairs)
        summary = (f"This ranking yields **{n_ranked}** pair{'s' * (n_ranked != 1)} ({draft['strategy']})"
                   + (f" + **{n_edits}** from your edits" if n_edits else "") + ".")
        rank = seed_json([p.example for p in pairs])
    except ValueError as e:
        summary, rank = html.escape(str(e)), ""
    return {"write_preview": write, "rank_preview": rank, "pairs": summary}


def slot_labels(th: Thread, draft) -> list[str]:
    """Each slot's label: its number, whose reply it is (an edit makes a model's reply yours), whether it is edited."""
    candidates = {c.id: c for c in th.open_turn.candidates} if th.open_turn else {}
    edited = edited_slots(th, draft)
    labels = [f"Candidate {k}" for k in range(1, SLOTS + 1)]
    for k, candidate_id in enumerate(draft["candidate_ids"], 1):
        whose = "model" if candidates[candidate_id].origin == "model" and k not in edited else "yours"
        labels[k - 1] += f" · {whose}" + (" · edited" if k in edited else "")
    return labels


def saved_message(result: RankingResult, what: str) -> str:
    message = f"{what}: {plural(len(result.example_ids), 'pair')} stored."
    if result.duplicate_ids:
        ids, n = ", ".join(map(str, result.duplicate_ids)), len(result.duplicate_ids)
        message += (f" {n} already existed (example{'s' * (n != 1)} {ids}) and {'was' if n == 1 else 'were'} "
                    "not stored twice.")
    if result.identical:
        message += f" {result.identical} skipped: both replies had the same text (whitespace aside)."
    return message


# ------------------------------------------------------------------------------------------ write mode

def model_reply(store: Store, annotator, draft, which: str, sampling: dict) -> str:
    """Fill the Accepted or Rejected box with a reply sampled from the chosen checkpoint, to edit."""
    th = thread(store, annotator, draft)
    require(prompt_problems(th, draft))
    params = sampling_params(sampling)
    text = as_typed(models.load(sampling["model"]).reply(*current(th, draft).prompt(), params))
    if not text.strip():
        raise Refused("The model returned an empty reply; try again (each click draws a new sample).")
    draft[which] = text
    draft["model_drafts"] = {**draft["model_drafts"],
                             which: {"text": text, "checkpoint": str(sampling["model"]), "sampling": params.to_dict()}}
    return f"{LABELS[which.title()]} drafted by the model; edit it as you like."


def written_reply(draft, which) -> Reply:
    """A written reply as a candidate: a model draft kept unchanged is recorded as the model's."""
    text, made = draft[which], draft["model_drafts"].get(which)
    if made and made["text"] == text:
        return Reply(text, "model", made["checkpoint"], made["sampling"])
    return Reply(text)


def commit_written(store: Store, annotator, draft, final: bool) -> RankingResult:
    th = thread(store, signed(annotator), draft)
    require(written_problems(th, draft, final))
    rejected = written_reply(draft, "rejected") if draft["rejected"].strip() else None
    result = store.save_written(open_turn_at(th, draft), written_reply(draft, "accepted"), rejected,
                                annotator=annotator, finish=final)
    draft["conversation_id"] = result.conversation_id
    clear_turn(draft)
    return result


def continue_written(store: Store, annotator, draft) -> str:
    """Keep this turn (the accepted reply becomes context) and open the next one."""
    result = commit_written(store, annotator, draft, final=False)
    return saved_message(result, f"Turn {result.turn + 1} kept as context") + " Write the next user message."


def save_written(store: Store, annotator, draft) -> str:
    """Store the example and finish the conversation. With nothing typed after a Continue, just finish."""
    th = thread(store, signed(annotator), draft)
    if th.record and not th.open_turn and not typed(draft):
        store.set_conversation_status(th.record.id, "done")
        return start_afresh(store, annotator, draft, f"Saved conversation {th.record.id}.")
    result = commit_written(store, annotator, draft, final=True)
    return start_afresh(store, annotator, draft, saved_message(result, "Saved"))


def start_afresh(store: Store, annotator, draft, message: str) -> str:
    """After a finished conversation: an empty composer, with the next queued prompt if this one came from the
    queue."""
    from_queue = draft["prompt_id"] is not None
    reset(draft)
    return f"{message} {load_next(store, annotator, draft)}" if from_queue else message


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


def add_candidates(store: Store, annotator, th: Thread, draft, replies: list[Reply]):
    """Store replies as candidates of the current turn (committing its user message) and show them in slots."""
    conversation_id, _, ids = store.add_candidates(open_turn_at(th, draft), replies, annotator=annotator)
    draft["conversation_id"] = conversation_id
    add_slots(draft, ids, [reply.text for reply in replies])


def sample(store: Store, annotator, draft, sampling: dict) -> str:
    """Sample candidates for the current turn into the free slots."""
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
    texts = model.candidates(*current(th, draft).prompt(), params, min(n, free))
    kept = new_replies(texts, shown=[draft[k] for k in TEXTS[:len(draft["candidate_ids"])]])
    if not kept:
        raise Refused("The model returned only empty replies or ones already shown; sample again or raise the "
                      "temperature.")
    add_candidates(store, annotator, th, draft,
                   [Reply(t, "model", str(sampling["model"]), params.to_dict()) for t in kept])
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
    add_candidates(store, annotator, th, draft, [Reply(text)])
    draft["own"] = ""
    return f"Your reply is candidate {len(draft['candidate_ids'])}; rank it with the others."


def save_ranking(store: Store, annotator, draft, done: bool) -> str:
    """Store the ranking with its edits (each also preferred over its original); then finish, or continue with the
    best."""
    th = thread(store, signed(annotator), draft)
    require(ranking_problems(draft))
    tiers = slot_tiers(draft)
    if not done and draft["none_acceptable"]:
        raise Refused("Nothing acceptable to continue with: add your own reply and rank it, or save to finish.")
    shown = slots(th, draft)
    result = store.save_ranking(th.record.id, th.open_turn.idx, [[shown[k - 1].candidate for k in tier]
                                                                  for tier in tiers],
                                annotator=annotator, strategy=draft["strategy"], acceptable=acceptable(draft),
                                edits={s.candidate: s.text for s in shown if s.new_edit}, finish=done)
    message = saved_message(result, f"Ranking of turn {result.turn + 1} saved") + (
        f" {plural(len(result.edit_ids), 'edit')} stored as preferred over the original." if result.edit_ids else "")
    clear_turn(draft)
    if done:
        return start_afresh(store, annotator, draft, message)
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


# ------------------------------------------------------------------------------ bringing work back

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
