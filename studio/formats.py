"""Import and export of preference data.

Import reads seed files (JSON array, JSON Lines or one object), PKU-SafeRLHF rows, HH-RLHF transcripts and TRL
preference rows, from .json / .jsonl files (optionally .xz or .gz compressed) or .parquet (when pyarrow is
installed). The format is detected from the first record unless given. Each record becomes a seed example,
validated by trainer.interchange, and everything is stored in one transaction: one bad record and nothing is imported,
unless skip_invalid, which keeps the valid records and writes the rejected ones with their reasons to a file.
Filters (PKU labels, identical replies, lengths) are not errors: the report counts each removed row once, under
the first filter that removes it, in that order. Files are streamed, so memory stays flat however large they are.

Export writes seed JSON, seed JSONL or TRL conversational JSONL; it is a pure function of the store and the filter.
"""

import functools
import gzip
import json
import lzma
import os
import re
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO, Callable, Iterable

from studio.store import ExampleFilter, Store, example_row
from trainer.atomic import atomic_file
from trainer.interchange import (TURN_KEYS, Location, SeedError, check_example, iter_json_records, json_text, json_type,
                          same_reply, write_seed_json, write_seed_jsonl)

IMPORT_FORMATS = ("seed", "pku", "hh", "trl")
EXPORT_FORMATS = ("seed-json", "seed-jsonl", "trl-jsonl")
SOURCES = {"seed": "seed", "pku": "pku-saferlhf", "hh": "hh-rlhf", "trl": "trl"}
PKU_FILTERS = ("agree", "safety_boundary", "drop_both_unsafe")
MAX_ERRORS = 100  # kept in the report; all of them go to the rejected file
PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class ImportOptions:
    format: str | None = None    # one of IMPORT_FORMATS; None detects it from the first record
    dimension: str = "safer"     # PKU: which preference becomes Accepted, "safer" or "better"
    agree: bool = False          # PKU: keep only rows where the safer response is also the better one
    safety_boundary: bool = False  # PKU: keep only rows where exactly one response is safe
    drop_both_unsafe: bool = False  # PKU: drop rows where both responses are unsafe
    drop_identical: bool = True  # PKU/HH/TRL: drop pairs whose final replies are equal (whitespace aside)
    min_chars: int = 0           # drop pairs whose final Accepted or Rejected is shorter than this
    max_chars: int | None = None  # drop pairs with any message longer than this
    skip_invalid: bool = False   # import the valid records instead of nothing
    rejected_out: str | os.PathLike | None = None  # with skip_invalid: where the rejected records go (JSONL)
    source: str | None = None    # stored with each example; default: the format ("pku-saferlhf", ...)
    annotator: str = ""
    split: str = "train"

    def check(self, fmt):
        if fmt not in IMPORT_FORMATS:
            raise ValueError(f"unknown import format {fmt!r} (expected one of {', '.join(IMPORT_FORMATS)})")
        if self.dimension not in ("safer", "better"):
            raise ValueError(f"dimension must be 'safer' or 'better', not {self.dimension!r}")
        pku_only = [name for name in PKU_FILTERS if getattr(self, name)]
        if pku_only and fmt != "pku":
            raise ValueError(f"{', '.join(pku_only)} only apply to PKU-SafeRLHF data, and this is {fmt!r} data")


@dataclass
class ImportReport:
    file: str
    format: str | None = None
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    invalid: int = 0
    filtered: Counter = field(default_factory=Counter)  # filter name -> rows it removed
    errors: list[SeedError] = field(default_factory=list)  # the first MAX_ERRORS, each naming where and what
    committed: bool = False
    unreadable: bool = False  # the file broke off (truncated, not JSON, bad encoding): nothing past it was read
    rejected_out: str | None = None

    @property
    def ok(self) -> bool:
        return self.committed and not self.invalid

    def summary(self) -> str:
        lines = [f"{self.file}: {self.read} records read as {self.format or 'unknown format'}, "
                 f"{self.imported} imported, {self.duplicates} duplicates, {self.invalid} invalid"]
        lines += [f"  filtered out by {name}: {n}" for name, n in sorted(self.filtered.items())]
        if self.unreadable:
            lines.append("  nothing was imported: the file cannot be read past the error")
        elif not self.committed:
            lines.append("  nothing was imported: fix the errors, or skip invalid records to import the valid ones")
        if self.rejected_out:
            lines.append(f"  rejected records written to {self.rejected_out}")
        return "\n".join(lines)


class _Filtered(Exception):
    """A record a filter removes (not an error)."""


class _Invalid(Exception):
    def __init__(self, field, message):
        super().__init__(message)
        self.field, self.message = field, message


class _Abort(Exception):
    """Roll the import back."""


# --------------------------------------------------------------------------------------------------------- import

def import_file(store: Store, path, options=ImportOptions(), progress: Callable[[int, int], None] | None = None,
                dry_run: bool = False) -> ImportReport:
    """Import one file into the store; see the module docstring. With dry_run nothing is written: the report says
    what the import would do, duplicates of stored examples included. `progress(done, total)` is called every
    PROGRESS_EVERY records (bytes of the file, or rows of a parquet file). Bad data is reported in the
    ImportReport; a missing file, a file without records or bad options raise OSError / ValueError."""
    path = Path(path)
    report = ImportReport(file=str(path), format=options.format)
    if options.format is not None:
        options.check(options.format)
    with ExitStack() as stack:
        records, position, total = _open_records(path, options.skip_invalid, stack)
        try:
            _import_records(store.bulk_check if dry_run else store.bulk_insert, records, options, report, stack,
                            lambda: progress and progress(position(), total()))
            report.committed = True
        except _Abort:  # the errors that stopped the import are already in the report; nothing was committed
            pass
        except (SeedError, OSError, EOFError, lzma.LZMAError) as e:  # a broken file: nothing can be trusted
            report.errors.append(e if isinstance(e, SeedError) else SeedError(f"cannot read: {e}", file=str(path)))
            report.invalid += 1
            report.unreadable = True
    return report


def _import_records(bulk_insert, records, options, report, stack, tick):
    first = next(records, None)
    if first is None:  # an empty file, or an empty array: surely not what was meant to be imported
        raise ValueError(f"{report.file} holds no records: there is nothing to import")
    fmt = report.format = options.format or detect_format(*first)
    options.check(fmt)
    convert = _CONVERTERS[fmt]
    rejected = None
    if options.skip_invalid and options.rejected_out:
        rejected = _RejectedFile(options.rejected_out, report)
        stack.callback(rejected.close)
    attrs = {"source": options.source or SOURCES[fmt], "annotator": options.annotator, "split": options.split}
    name = Path(first[0].file).name
    with bulk_insert() as bulk:
        for where, value in chain([first], records):
            report.read += 1
            if report.read % PROGRESS_EVERY == 0:
                tick()
            try:
                ref = f"{name}:{where.line}" if where.record is None else f"{name}#{where.record}"
                row = _convert(convert, fmt, where, value, options, {**attrs, "source_ref": ref})
                if options.skip_invalid or not report.invalid:  # else doomed to roll back: only look for errors
                    bulk.add_row(row)
            except _Filtered as f:
                report.filtered[str(f)] += 1
            except SeedError as error:
                report.invalid += 1
                if len(report.errors) < MAX_ERRORS:
                    report.errors.append(error)
                if rejected:
                    rejected.write(error, value)
        if report.invalid and not options.skip_invalid:
            raise _Abort
    tick()
    report.imported, report.duplicates = bulk.added, bulk.duplicates


def _convert(convert, fmt, where, value, options, attrs):
    """The store row for one record; raises SeedError (invalid) or _Filtered."""
    if isinstance(value, SeedError):  # a line that is not JSON (skip_invalid mode)
        raise value
    if not isinstance(value, dict):
        raise where.error(f"expected a JSON object, got {json_type(value)}")
    try:
        seed, meta = convert(value, options)
    except _Invalid as e:
        raise where.error(e.message, e.field) from None
    if fmt != "seed" and options.drop_identical and _final_replies_equal(seed):
        raise _Filtered("identical-responses")
    try:
        row = example_row(seed, meta=meta, **attrs)
    except SeedError as e:
        raise where.invalid(e.problems) from None
    if options.max_chars is not None and any(len(m) > options.max_chars for k in TURN_KEYS for m in seed[k]):
        raise _Filtered("too-long")
    if options.min_chars and min(len(seed[k][-1].strip()) for k in ("Accepted", "Rejected")) < options.min_chars:
        raise _Filtered("too-short")
    return row


def _final_replies_equal(seed):
    accepted, rejected = seed["Accepted"][-1:], seed["Rejected"][-1:]
    return (accepted and rejected and isinstance(accepted[0], str) and isinstance(rejected[0], str)
            and same_reply(accepted[0], rejected[0]))


def detect_format(where: Location, record) -> str:
    """The import format of a file, from its first record."""
    keys = set(record) if isinstance(record, dict) else set()
    if keys & {"Template", "User", "Accepted", "Rejected"}:
        return "seed"
    if {"response_0", "response_1"} <= keys:
        return "pku"
    if {"chosen", "rejected"} <= keys:
        return "hh" if "prompt" not in keys and isinstance(record["chosen"], str) else "trl"
    found = ", ".join(sorted(keys)[:12]) or json_type(record)
    raise where.error(f"cannot tell the format from the first record (found {found}); expected seed keys "
                      "(Template, User, Accepted, Rejected), PKU-SafeRLHF (prompt, response_0, response_1, ...), "
                      "HH-RLHF (chosen, rejected) or TRL (prompt, chosen, rejected)")


def _open_records(path, recover, stack):
    """(records, position(), total()) for a file: records are (Location, value) pairs."""
    if path.suffix == ".parquet":
        return _parquet_records(path)
    raw = stack.enter_context(open(path, "rb"))
    opener = {".xz": lzma.open, ".gz": gzip.open}.get(path.suffix)
    fh = stack.enter_context(opener(raw)) if opener else raw
    size = os.fstat(raw.fileno()).st_size
    return iter_json_records(fh, name=str(path), recover=recover), raw.tell, lambda: size


def _parquet_records(path):
    try:
        import pyarrow
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError(f"{path}: reading parquet needs pyarrow (pip install 'dpo-studio[parquet]'), or convert "
                         "the file to JSONL") from None
    read = {"rows": 0, "total": 0}

    def rows():
        try:  # opened here, not before, so a broken file is reported like any unreadable one
            parquet = pq.ParquetFile(path)
            read["total"] = parquet.metadata.num_rows
            for batch in parquet.iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    read["rows"] += 1
                    yield Location(str(path), record=read["rows"]), row
        except pyarrow.ArrowException as e:
            raise OSError(f"not a readable parquet file: {e}") from None

    return rows(), lambda: read["rows"], lambda: read["total"]


class _RejectedFile:
    """The rejected records with their reasons, one JSON object a line, in a file made at the first one."""

    def __init__(self, path, report):
        self.path, self.report, self.fh = path, report, None

    def write(self, error, value):
        if self.fh is None:
            self.fh = open(self.path, "w", encoding="utf-8")
            self.report.rejected_out = str(self.path)
        where = {"file": error.file, "record": error.record, "line": error.line, "field": error.field}
        problems = [{"field": p.field, "message": p.message} for p in error.problems] or [
            {"field": error.field or "", "message": error.reason}]
        record = None if isinstance(value, SeedError) else value
        self.fh.write(json.dumps({**where, "problems": problems, "value": record}) + "\n")  # ASCII: safe for any input

    def close(self):
        if self.fh:
            self.fh.close()


# ----------------------------------------------------------------------------------------------- record converters

def from_seed(record, options):
    return record, None


def from_pku(row, options):
    """PKU-SafeRLHF: prompt, response_0/1, is_response_0/1_safe, better_response_id, safer_response_id, plus in
    the newer release sources, harm categories, severity levels and sha256s (all kept as meta)."""
    prompt, *responses = (_text(row, key) for key in _PKU_TEXT)
    if options.drop_both_unsafe and not _is_safe(row, 0) and not _is_safe(row, 1):
        raise _Filtered("both-unsafe")
    if options.safety_boundary and _is_safe(row, 0) == _is_safe(row, 1):
        raise _Filtered("not-safety-boundary")
    if options.agree and _preferred(row, "safer") != _preferred(row, "better"):
        raise _Filtered("disagree")
    winner = _preferred(row, options.dimension)
    return ({"Template": ["CUSTOM"], "User": [prompt], "Accepted": [responses[winner]],
             "Rejected": [responses[1 - winner]]}, _meta(row, _PKU_TEXT))


_PKU_TEXT = ("prompt", "response_0", "response_1")


def _is_safe(row, i):
    key = f"is_response_{i}_safe"
    if not isinstance(row.get(key), bool):
        raise _Invalid(key, f"must be true or false, got {json_type(row.get(key))}")
    return row[key]


def _preferred(row, dimension):
    key = f"{dimension}_response_id"
    if key not in row:
        other = "better" if dimension == "safer" else "safer"
        has_other = f"{other}_response_id" in row
        raise _Invalid(key, "missing" + (f" (this row has {other}_response_id: choose dimension {other!r})"
                                         if has_other else ""))
    if type(row[key]) is not int or row[key] not in (0, 1):
        raise _Invalid(key, f"must be 0 or 1, got {json.dumps(row[key])}")
    return row[key]


def from_hh(row, options):
    """HH-RLHF: two transcripts "\\n\\nHuman: ...\\n\\nAssistant: ..." that share every turn but the last reply."""
    template, users, accepted = _dialogue(_hh_messages(row, "chosen"), "chosen")
    _, rejected_users, rejected = _dialogue(_hh_messages(row, "rejected"), "rejected")
    if rejected_users != users:
        raise _Invalid("rejected", "its Human turns differ from those of 'chosen'")
    return ({"Template": [template], "User": users, "Accepted": accepted, "Rejected": rejected},
            _meta(row, ("chosen", "rejected")))


_HH_MARKER = re.compile(r"(?:^|\n\n)(Human|Assistant):")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}


def _hh_messages(row, key):
    parts = _HH_MARKER.split(_text(row, key, allow_blank=True))
    if parts[0].strip():
        raise _Invalid(key, "must start with 'Human:'")
    return [(_HH_ROLES[role], body.strip()) for role, body in zip(parts[1::2], parts[2::2])]


def from_trl(row, options):
    """TRL preference rows: prompt/chosen/rejected as strings, or as message lists (conversational; the prompt
    may be left out, then chosen and rejected hold whole conversations). A system message becomes the Template."""
    if isinstance(row.get("chosen"), str):
        prompt, chosen, rejected = (_text(row, key, allow_blank=True) for key in ("prompt", "chosen", "rejected"))
        seed = {"Template": ["CUSTOM"], "User": [prompt], "Accepted": [chosen], "Rejected": [rejected]}
    else:
        # no prompt: left out, or null (how a parquet column holds a value a row lacks)
        prompt = _messages(row, "prompt") if row.get("prompt") is not None else []
        template, users, accepted = _dialogue(prompt + _messages(row, "chosen"), "chosen")
        rejected_template, rejected_users, rejected = _dialogue(prompt + _messages(row, "rejected"), "rejected")
        if (rejected_template, rejected_users) != (template, users):
            raise _Invalid("rejected", "its system and user messages differ from those of 'chosen'")
        seed = {"Template": [template], "User": users, "Accepted": accepted, "Rejected": rejected}
    return seed, _meta(row, ("prompt", "chosen", "rejected"))


def _messages(row, key):
    messages = row.get(key)
    if not isinstance(messages, list):
        raise _Invalid(key, f"must be a string or a list of messages, got {json_type(messages)}")
    for i, message in enumerate(messages):
        if not (isinstance(message, dict) and isinstance(message.get("role"), str)
                and isinstance(message.get("content"), str)):
            raise _Invalid(f"{key}[{i}]", 'must be a message {"role": "...", "content": "..."} with text content')
    return [(m["role"], m["content"]) for m in messages]


def _dialogue(messages, key):
    """(template, users, replies) of [system] user assistant user assistant ... assistant."""
    template = "CUSTOM"
    if messages and messages[0][0] == "system":
        template, messages = messages[0][1], messages[1:]
    if not messages or [role for role, _ in messages] != ["user", "assistant"] * (len(messages) // 2):
        raise _Invalid(key, "the messages must alternate user and assistant (after an optional system message) "
                            "and end with an assistant reply")
    return template, [m for _, m in messages[0::2]], [m for _, m in messages[1::2]]


def _text(row, key, allow_blank=False):
    """A string field; blank ones are left for validation to report in seed terms when allow_blank."""
    if key not in row:
        raise _Invalid(key, "missing")
    if not isinstance(row[key], str):
        raise _Invalid(key, f"must be a string, got {json_type(row[key])}")
    if not allow_blank and not row[key].strip():
        raise _Invalid(key, "is empty or whitespace-only")
    return row[key]


def _meta(row, exclude):
    return {k: v for k, v in row.items() if k not in exclude} or None


_CONVERTERS = {"seed": from_seed, "pku": from_pku, "hh": from_hh, "trl": from_trl}


# --------------------------------------------------------------------------------------------------------- export

def to_trl(example) -> dict:
    """A seed example as a TRL conversational preference row: the system message (unless CUSTOM) and the turns
    both sides share form the prompt; chosen/rejected hold the rest, from the first reply where they differ."""
    users, accepted, rejected = example["User"], example["Accepted"], example["Rejected"]
    first = next(i for i in range(len(users)) if accepted[i] != rejected[i])
    template = example["Template"][0]
    prompt = [] if template == "CUSTOM" else [{"role": "system", "content": template}]
    for user, reply in zip(users[:first], accepted[:first]):
        prompt += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    prompt.append({"role": "user", "content": users[first]})
    return {"prompt": prompt, "chosen": _continuation(users, accepted, first),
            "rejected": _continuation(users, rejected, first)}


def _continuation(users, replies, first):
    messages = [{"role": "assistant", "content": replies[first]}]
    for user, reply in zip(users[first + 1:], replies[first + 1:]):
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    return messages


def dump_trl_jsonl(examples: Iterable[dict], fh: IO[bytes], *, check=True) -> int:
    """Write examples as TRL rows, JSON Lines, to a binary file; each is validated first (SeedError names its
    index) unless check=False, for examples known to be valid."""
    n = 0
    for n, example in enumerate(examples, 1):
        if check:
            example = check_example(example, Location(getattr(fh, "name", None), record=n))
        fh.write(json_text(to_trl(example)).encode("utf-8") + b"\n")
    return n


# How each format writes the store's examples: the seed formats copy the stored canonical bytes; TRL reshapes the
# examples, which the store validated on the way in.
_WRITERS = {"seed-json": lambda store, filters, fh: write_seed_json(store.export_lines(filters), fh),
            "seed-jsonl": lambda store, filters, fh: write_seed_jsonl(store.export_lines(filters), fh),
            "trl-jsonl": lambda store, filters, fh: dump_trl_jsonl(store.export_examples(filters), fh, check=False)}


def export_file(store: Store, out, fmt="seed-json", filters: ExampleFilter | None = None) -> int:
    """Write the matching examples (by default: status done, not deleted) to `out`, a path (replaced
    atomically: a failed export leaves no half-written file) or a binary file. Returns how many."""
    if fmt not in _WRITERS:
        raise ValueError(f"unknown export format {fmt!r} (expected one of {', '.join(EXPORT_FORMATS)})")
    write = functools.partial(_WRITERS[fmt], store, ExampleFilter(status="done") if filters is None else filters)
    if hasattr(out, "write"):
        return write(out)
    with atomic_file(out, "wb") as fh:
        return write(fh)
