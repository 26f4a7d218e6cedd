"""The seed format: the one interchange format between the studio and the trainer.

One preference example per JSON object:

    {"Template": ["CUSTOM"], "User": ["u1", "u2"], "Accepted": ["a1", "a2"], "Rejected": ["a1", "r2"]}

Template holds one string, the system prompt ("CUSTOM" means the default one). User/Accepted/Rejected are
parallel lists, index i being one exchange; turns before the last are context and the final turn carries the
preference DPO scores, so its Accepted and Rejected must differ (in more than whitespace).

A file holds a JSON array of examples, JSON Lines, or a single object. This module validates examples, streams
them out of files (every error names file, record or line, and field) and writes them back canonically, so the
studio's exports and the trainer's loader read and write the same bytes. Standard library only.
"""

import codecs
import json
import os
import re
from dataclasses import dataclass
from typing import IO, Iterable, Iterator

KEYS = ("Template", "User", "Accepted", "Rejected")
TURN_KEYS = KEYS[1:]
MAX_RECORD_BYTES = 16 * 2**20  # far above any real example, low enough that a broken file cannot eat the memory
_CHUNK = 2**16
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_JSON_TYPE = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


class SeedError(ValueError):
    """A bad example or file. `record` counts from 1 (arrays: the first record is record 1), like `line` (JSONL, or
    where a record starts)."""

    def __init__(self, message, *, file=None, record=None, line=None, field=None, problems=()):
        self.reason, self.file, self.record, self.line, self.field = message, file, record, line, field
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self):
        where = [str(self.file) if self.file is not None else None,
                 f"record {self.record}" if self.record is not None else None,
                 f"line {self.line}" if self.line is not None else None,
                 f"field {self.field!r}" if self.field and len(self.problems) < 2 else None]
        return ", ".join(w for w in where if w) + f": {self.reason}" if any(where) else self.reason


@dataclass(frozen=True)
class Location:
    file: str | None = None
    record: int | None = None
    line: int | None = None

    def error(self, message, field=None, problems=()):
        return SeedError(message, file=self.file, record=self.record, line=self.line, field=field, problems=problems)

    def invalid(self, problems):
        """One SeedError for a list of Problems: `field` is the first one's, the message names them all."""
        if len(problems) == 1:
            return self.error(problems[0].message, problems[0].field, problems)
        message = "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems)
        return self.error(message, problems[0].field, problems)


def json_problem(message: str, where: str) -> str:
    """A json.JSONDecodeError message with where it happened: "Expecting value at line 2 column 5". Some messages
    ("Unterminated string starting at") already end with "at" and expect the position, which json keeps apart."""
    return f"{message} {where}" if message.endswith(" at") else f"{message} at {where}"


def json_type(value):
    return "null" if value is None else _JSON_TYPE.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------------------------------- validation

def validate_example(obj) -> list[Problem]:
    """All the ways `obj` is not a valid seed example (an empty list when it is valid)."""
    if not isinstance(obj, dict):
        return [Problem("", f"expected a JSON object, got {json_type(obj)}")]
    problems = [Problem(str(k), f"unknown key (expected {', '.join(KEYS)})") for k in obj if k not in KEYS]
    problems += [Problem(k, "missing") for k in KEYS if k not in obj]
    for key in KEYS:
        if key in obj:
            problems += _check_strings(key, obj[key])
    template = obj.get("Template")
    if isinstance(template, list) and len(template) != 1:
        problems.append(Problem("Template", f"must hold exactly one string (a system prompt or \"CUSTOM\"), "
                                            f"got {len(template)}"))
    if not problems:
        problems += _check_turns(obj)
    return problems


def _check_strings(key, value):
    if not isinstance(value, list):
        return [Problem(key, f"must be a list of strings, got {json_type(value)}")]
    problems = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            problems.append(Problem(f"{key}[{i}]", f"must be a string, got {json_type(item)}"))
        elif not item.strip():
            problems.append(Problem(f"{key}[{i}]", "is empty or whitespace-only"))
        elif "\x00" in item:  # SQLite's JSON functions stop reading at a NUL, so stored text would be cut short
            problems.append(Problem(f"{key}[{i}]", "contains a NUL character (\\u0000)"))
        elif not item.isascii() and not _encodable(item):
            problems.append(Problem(f"{key}[{i}]", "contains an unpaired surrogate (not valid Unicode)"))
    return problems


def _encodable(text):
    try:  # json.loads lets a lone "\ud800" through, and it cannot be written as UTF-8
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _check_turns(example):
    n = len(example["User"])
    if n == 0:
        return [Problem("User", "must hold at least one turn")]
    problems = [Problem(k, f"has {len(example[k])} turns but User has {n}") for k in ("Accepted", "Rejected")
                if len(example[k]) != n]
    if not problems and same_reply(example["Accepted"][-1], example["Rejected"][-1]):
        problems.append(Problem(f"Rejected[{n - 1}]", f"is identical to Accepted[{n - 1}] (whitespace aside); the "
                                                      "final turn is the one DPO scores, so the two replies must "
                                                      "differ in more than spacing"))
    return problems


def same_reply(a: str, b: str) -> bool:
    """Whether two replies differ at most in whitespace ("Same reply." and "Same reply. "): spacing is not a
    preference anyone means, so such a pair counts as identical."""
    return a.split() == b.split()


def check_example(obj, where=Location()) -> dict:
    """`obj` in canonical key order if it is a valid example, else SeedError (located at `where`)."""
    problems = validate_example(obj)
    if problems:
        raise where.invalid(problems)
    return canonical(obj)


def canonical(example) -> dict:
    """The example with its keys in the canonical order (Template, User, Accepted, Rejected)."""
    return {k: example[k] for k in KEYS}


# ------------------------------------------------------------------------------------------------------- reading

def iter_json_records(source, *, name=None, recover=False) -> Iterator[tuple[Location, object]]:
    """Yield (location, value) for every record of a JSON array, JSON Lines or single-object file.

    `source` is a path or a binary file, read in chunks so memory stays flat. A UTF-8 BOM and CRLF line ends are
    accepted. Errors raise SeedError naming the file and the record (arrays) or line (JSON Lines). With
    `recover=True` a line that is not valid JSON is yielded as (location, SeedError) and reading resumes on the
    next line; a broken array or invalid UTF-8 always raises (there is no sound place to resume).
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            yield from iter_json_records(fh, name=name or os.fspath(source), recover=recover)
        return
    text = _Text(source, name or getattr(source, "name", "<stream>"))
    if text.peek() == "[":
        yield from _iter_array(text)
    else:
        yield from _iter_objects(text, recover)


class _Text:
    """The decoded text of a binary stream, read in chunks as the parser needs more, with line counting."""

    def __init__(self, fh, name):
        self.fh, self.name, self.buf, self.pos, self.line = fh, name, "", 0, 1
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.json = json.JSONDecoder()
        self.eof = False

    def where(self, record=None):
        return Location(self.name, record=record, line=self.line)

    def more(self, size=_CHUNK) -> bool:
        if self.eof:
            return False
        raw = self.fh.read(size)
        self.eof = not raw
        try:
            text = self.decoder.decode(raw, final=self.eof)
        except UnicodeDecodeError as e:
            line = self.line + self.buf.count("\n", self.pos) + raw[:max(e.start, 0)].count(b"\n")
            raise Location(self.name, line=line).error("invalid UTF-8 (is the file in another encoding?)") from None
        self.buf = self.buf[self.pos:] + text
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end of the file)."""
        while True:
            self.advance(_WHITESPACE.match(self.buf, self.pos).end())
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos:self.pos + 1]

    def advance(self, end):
        self.line += self.buf.count("\n", self.pos, end)
        self.pos = end

    def skip_line(self):
        while (end := self.buf.find("\n", self.pos)) < 0:
            self.pos = len(self.buf)
            if not self.more():
                return
        self.advance(end + 1)

    def value(self, where):
        while True:
            try:
                value, end = self.json.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                # An error at the very end of what has been read may only mean the value goes on in the next chunk.
                if e.msg.startswith("Unterminated string") or e.pos >= len(self.buf) - 8:
                    self._check_size(len(self.buf), where)
                    if self.more(max(_CHUNK, len(self.buf) - self.pos)):  # doubling: a long record is
                        continue                                          # re-parsed O(log n) times
                    raise where.error(f"invalid JSON: {json_problem(e.msg, self.position(e.pos))} (the file looks "
                                      "truncated)") from None
                raise where.error(f"invalid JSON: {json_problem(e.msg, self.position(e.pos))}") from None
            self._check_size(end, where)
            self.advance(end)
            return value

    def position(self, pos) -> str:
        """Where `pos` of the buffer is in the file."""
        line = self.line + self.buf.count("\n", self.pos, pos)
        column = pos - self.buf.rfind("\n", 0, pos)
        return f"line {line} column {column}"

    def _check_size(self, end, where):
        if end - self.pos > MAX_RECORD_BYTES:
            raise where.error(f"record is larger than {MAX_RECORD_BYTES // 2**20} MiB")


def _iter_array(text):
    """Records of `[{...}, {...}]`, located by index and starting line."""
    text.advance(text.pos + 1)  # the '['
    record, separator = 0, text.peek()
    while separator != "]":
        record += 1
        where = text.where(record)
        yield where, text.value(where)
        separator = text.peek()
        if separator not in (",", "]"):
            found = repr(separator) if separator else "the end of the file (the file looks truncated)"
            raise text.where(record + 1).error(f"expected ',' or ']' after record {record}, found {found}")
        if separator == ",":
            text.advance(text.pos + 1)
            text.peek()
    text.advance(text.pos + 1)
    if text.peek():
        raise text.where().error("unexpected data after the closing ']'")


def _iter_objects(text, recover):
    """Records of JSON Lines, or of one object spread over several lines, located by the line they start on."""
    while text.peek():
        where = Location(text.name, line=text.line)
        try:
            yield where, text.value(where)
        except SeedError as e:
            if not recover or e.reason.startswith("invalid UTF-8"):
                raise
            yield where, e
            text.skip_line()


def iter_seed_file(path) -> Iterator[dict]:
    """Valid seed examples from a file, in canonical key order; the first invalid one raises SeedError."""
    for where, value in iter_json_records(path):
        yield check_example(value, where)


def load_seed_file(path) -> list[dict]:
    return list(iter_seed_file(path))


def seed_file_errors(path) -> list[SeedError]:
    """Every error in a seed file, in order: reading goes on past invalid records and lines that are not JSON (a
    broken array or a bad encoding ends it, with that error last)."""
    errors = []
    try:
        for where, value in iter_json_records(path, recover=True):
            if isinstance(value, SeedError):
                errors.append(value)
            elif problems := validate_example(value):
                errors.append(where.invalid(problems))
    except SeedError as e:
        errors.append(e)
    return errors


# ------------------------------------------------------------------------------------------------------- writing

json_text = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(value, ensure_ascii=False), without
                                                         # building a new encoder at every call


def encode_example(example) -> bytes:
    """The canonical bytes of one valid example: UTF-8, non-ASCII kept, keys in the canonical order."""
    return json_text(canonical(example)).encode("utf-8")


def dump_seed_json(examples: Iterable[dict], fh: IO[bytes]) -> int:
    """Validate (SeedError names the index) and write examples as a JSON array, one per line, to a binary file;
    returns the number written."""
    return write_seed_json(_encoded(examples, fh), fh)


def dump_seed_jsonl(examples: Iterable[dict], fh: IO[bytes]) -> int:
    """Validate and write examples as JSON Lines to a binary file; returns the number written."""
    return write_seed_jsonl(_encoded(examples, fh), fh)


def _encoded(examples, fh) -> Iterator[bytes]:
    for record, example in enumerate(examples, 1):
        yield encode_example(check_example(example, Location(getattr(fh, "name", None), record=record)))


def write_seed_json(lines: Iterable[bytes], fh: IO[bytes]) -> int:
    """The JSON array around examples already encoded by encode_example."""
    n = 0
    for n, line in enumerate(lines, 1):
        fh.write((b"[\n" if n == 1 else b",\n") + line)
    fh.write(b"\n]\n" if n else b"[]\n")
    return n


def write_seed_jsonl(lines: Iterable[bytes], fh: IO[bytes]) -> int:
    """JSON Lines of examples already encoded by encode_example."""
    n = 0
    for n, line in enumerate(lines, 1):
        fh.write(line + b"\n")
    return n
