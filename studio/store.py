"""The preference store: one SQLite file, written through sqlite-utils.

Raw judgments are kept and the training pairs derived from them:

    prompts (work queue) -> conversations -> turns -> candidates (human or model, edited_from)
                                               \\-> rankings (tiers with ties) --pairing--> examples

An example is one seed-format pair with its provenance: the conversation, ranking and candidates it came from,
or, for imported data, its source and source_ref (file:line). Examples with the same content are stored once
(content_hash is unique). Deleting is soft (deleted_at) and can be undone.

Every public method is one unit of work on its own connection, so the store can be called from any Gradio
worker thread; writes run in one IMMEDIATE transaction (all or nothing, and no lock upgrade to fail under
concurrency), readers never block them (WAL).
"""

import hashlib
import json
import math
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator

import sqlite_utils

from studio import pairing
from trainer.conversation import CUSTOM, Conversation
from trainer.interchange import check_example, json_text

STATUSES = ("draft", "done", "skipped", "discarded")
OUTCOMES = ("policy", "reference", "tie", "both_bad")
ORIGINS = ("human", "model")
BUSY_TIMEOUT_S = 10.0
NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"  # UTC, fixed width, so timestamps compare as text

MIGRATIONS = [
    f"""
    CREATE TABLE prompts (
        id INTEGER PRIMARY KEY,
        template TEXT NOT NULL DEFAULT 'CUSTOM' CHECK (trim(template) != ''),
        text TEXT NOT NULL CHECK (trim(text) != ''),
        source TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'assigned', 'done')),
        assigned_to TEXT,
        assigned_at TEXT,
        created_at TEXT NOT NULL DEFAULT ({NOW}),
        UNIQUE (template, text)
    );
    CREATE INDEX prompts_queue ON prompts (status, id);
    CREATE TABLE prompt_skips (
        prompt_id INTEGER NOT NULL REFERENCES prompts (id),
        annotator TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT ({NOW}),
        PRIMARY KEY (prompt_id, annotator)
    );
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        template TEXT NOT NULL CHECK (trim(template) != ''),
        status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'done', 'skipped', 'discarded')),
        source TEXT NOT NULL DEFAULT '',
        annotator TEXT NOT NULL DEFAULT '',
        prompt_id INTEGER REFERENCES prompts (id),
        created_at TEXT NOT NULL DEFAULT ({NOW}),
        updated_at TEXT NOT NULL DEFAULT ({NOW})
    );
    CREATE INDEX conversations_annotator ON conversations (annotator, status);
    CREATE TABLE turns (
        conversation_id INTEGER NOT NULL REFERENCES conversations (id),
        idx INTEGER NOT NULL CHECK (idx >= 0),
        user TEXT NOT NULL CHECK (trim(user) != ''),
        reply_id INTEGER REFERENCES candidates (id),  -- the accepted reply the conversation continues with
        PRIMARY KEY (conversation_id, idx)
    );
    CREATE TABLE candidates (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL,
        turn INTEGER NOT NULL,
        text TEXT NOT NULL CHECK (trim(text) != ''),
        origin TEXT NOT NULL CHECK (origin IN ('human', 'model')),
        checkpoint TEXT,
        sampling TEXT CHECK (sampling IS NULL OR json_valid(sampling)),
        edited_from INTEGER REFERENCES candidates (id),
        annotator TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL DEFAULT ({NOW}),
        FOREIGN KEY (conversation_id, turn) REFERENCES turns (conversation_id, idx)
    );
    CREATE INDEX candidates_turn ON candidates (conversation_id, turn);
    CREATE TABLE rankings (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL,
        turn INTEGER NOT NULL,
        annotator TEXT NOT NULL DEFAULT '',
        tiers TEXT NOT NULL CHECK (json_valid(tiers)),  -- [[best ids], [next ids], ...]; a tier is a tie
        acceptable INTEGER,  -- how many top tiers are good enough to train towards; NULL = all
        strategy TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT ({NOW}),
        superseded_at TEXT,
        FOREIGN KEY (conversation_id, turn) REFERENCES turns (conversation_id, idx)
    );
    CREATE INDEX rankings_turn ON rankings (conversation_id, turn);
    CREATE TABLE examples (
        id INTEGER PRIMARY KEY,
        content_hash TEXT NOT NULL UNIQUE,
        seed TEXT NOT NULL,  -- the example in canonical seed JSON (trainer.interchange.encode_example): exports copy it
        n_turns INTEGER NOT NULL CHECK (n_turns >= 1),
        status TEXT NOT NULL DEFAULT 'done' CHECK (status IN ('draft', 'done', 'skipped', 'discarded')),
        annotator TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        source_ref TEXT NOT NULL DEFAULT '',
        split TEXT NOT NULL DEFAULT 'train',
        meta TEXT,               -- JSON object: what the source said beyond the pair (PKU labels, ...)
        conversation_id INTEGER REFERENCES conversations (id),
        ranking_id INTEGER REFERENCES rankings (id),
        accepted_id INTEGER REFERENCES candidates (id),
        rejected_id INTEGER REFERENCES candidates (id),
        created_at TEXT NOT NULL DEFAULT ({NOW}),
        updated_at TEXT NOT NULL DEFAULT ({NOW}),
        deleted_at TEXT,
        CHECK (json_array_length(seed, '$.User') = n_turns AND json_array_length(seed, '$.Accepted') = n_turns
               AND json_array_length(seed, '$.Rejected') = n_turns),
        CHECK (json_extract(seed, '$.Accepted[#-1]') != json_extract(seed, '$.Rejected[#-1]'))
    );
    CREATE INDEX examples_conversation ON examples (conversation_id) WHERE conversation_id IS NOT NULL;
    -- Covers counting and paging under any attribute filter without reading the (large) rows.
    CREATE INDEX examples_page ON examples (deleted_at, id, status, annotator, source, split, created_at);
    """,
    f"""
    -- Blind votes between a run's policy and its reference (the Compare tab). A vote with a winner also stands
    -- behind an example (source 'compare').
    CREATE TABLE votes (
        id INTEGER PRIMARY KEY,
        run TEXT NOT NULL,
        policy TEXT NOT NULL,     -- checkpoint paths
        reference TEXT NOT NULL,
        policy_side TEXT NOT NULL CHECK (policy_side IN ('A', 'B')),
        outcome TEXT NOT NULL CHECK (outcome IN ('policy', 'reference', 'tie', 'both_bad')),
        annotator TEXT NOT NULL DEFAULT '',
        conversation TEXT NOT NULL CHECK (json_valid(conversation)),  -- template, user, both sides' replies
        sampling TEXT CHECK (sampling IS NULL OR json_valid(sampling)),
        example_id INTEGER REFERENCES examples (id),
        created_at TEXT NOT NULL DEFAULT ({NOW})
    );
    CREATE INDEX votes_run ON votes (run, policy);
    """,
]

_FILTER_COLUMNS = ("annotator", "status", "source", "split")
_EXAMPLE_COLUMNS = ("content_hash", "seed", "n_turns", "status", "annotator",
                    "source", "source_ref", "split", "meta", "conversation_id", "ranking_id", "accepted_id",
                    "rejected_id")
_INSERT_EXAMPLE = (f"INSERT INTO examples ({', '.join(_EXAMPLE_COLUMNS)}) "
                   f"VALUES ({', '.join(':' + c for c in _EXAMPLE_COLUMNS)}) ON CONFLICT (content_hash) ")


class StoreError(ValueError):
    """A request the store refuses (unknown id, wrong state); the message says why."""


class DuplicateExample(StoreError):
    def __init__(self, existing_id):
        self.existing_id = existing_id
        super().__init__(f"an example with the same content already exists (id {existing_id})")


# --------------------------------------------------------------------------------------------------- value types

@dataclass(frozen=True)
class Example:
    id: int
    seed: dict  # {"Template": [...], "User": [...], "Accepted": [...], "Rejected": [...]}
    status: str
    annotator: str
    source: str
    source_ref: str
    split: str
    meta: dict | None
    conversation_id: int | None
    ranking_id: int | None
    accepted_id: int | None
    rejected_id: int | None
    content_hash: str
    created_at: str
    updated_at: str
    deleted_at: str | None


@dataclass(frozen=True)
class ExampleFilter:
    """Which examples a list, export or report covers. A field left at None matches everything; the annotator,
    status, source and split fields also take a list of values. since/until bound created_at (since inclusive,
    until exclusive; a date-only until means up to the end of that day)."""
    annotator: str | list | None = None
    status: str | list | None = None
    source: str | list | None = None
    split: str | list | None = None
    since: str | date | datetime | None = None
    until: str | date | datetime | None = None
    text: str | None = None  # a substring of the template or any message (ASCII letters in any case)
    deleted: bool = False    # True lists the soft-deleted examples (the trash) instead of the live ones

    def where(self) -> tuple[str, list]:
        clauses = ["deleted_at IS NOT NULL" if self.deleted else "deleted_at IS NULL"]
        params = []
        for column in _FILTER_COLUMNS:
            values = getattr(self, column)
            if values is not None:
                values = [values] if isinstance(values, str) else list(values)
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params += values
        if self.since is not None:
            clauses.append("created_at >= ?")
            params.append(timestamp(self.since))
        if self.until is not None:
            clauses.append("created_at < ?")
            params.append(timestamp(self.until, end_of_day=True))
        if self.text:  # the example is stored as JSON: match the text as JSON writes it
            clauses.append("seed LIKE ? ESCAPE '\\'")
            params.append(_like(json_text(self.text)[1:-1]))
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class Page:
    items: list[Example]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


@dataclass(frozen=True)
class Candidate:
    id: int
    turn: int
    text: str
    origin: str
    checkpoint: str | None
    sampling: dict | None
    edited_from: int | None
    annotator: str
    created_at: str


@dataclass(frozen=True)
class Ranking:
    id: int
    turn: int
    annotator: str
    tiers: list[list[int]]
    acceptable: int | None
    strategy: str
    created_at: str


@dataclass(frozen=True)
class Turn:
    idx: int
    user: str
    reply_id: int | None
    candidates: list[Candidate]
    rankings: list[Ranking]  # the current ranking of each annotator who ranked this turn


@dataclass(frozen=True)
class ConversationRecord:
    """A stored conversation with every turn's candidates and rankings."""
    id: int
    template: str
    status: str
    annotator: str
    source: str
    prompt_id: int | None
    created_at: str
    updated_at: str
    turns: list[Turn]

    @property
    def open_turn(self) -> Turn | None:
        """The last turn while it has no accepted reply yet."""
        return self.turns[-1] if self.turns and self.turns[-1].reply_id is None else None

    def conversation(self) -> Conversation:
        """The conversation so far: each turn with its accepted reply, the open turn's user message last."""
        texts = {c.id: c.text for t in self.turns for c in t.candidates}
        return Conversation(self.template, [t.user for t in self.turns],
                            [texts[t.reply_id] for t in self.turns if t.reply_id is not None])


@dataclass(frozen=True)
class Prompt:
    id: int
    template: str
    text: str
    source: str


@dataclass(frozen=True)
class Reply:
    """A candidate reply to store: written by a person, or sampled from a checkpoint with these parameters."""
    text: str
    origin: str = "human"
    checkpoint: str | None = None
    sampling: dict | None = None


@dataclass(frozen=True)
class OpenTurn:
    """The turn replies go to: the open turn of conversation `conversation_id`, or, when it has none, a new turn
    asking `user`; with no conversation, a new one from the queued prompt `prompt_id`, else from `template` and
    `user`."""
    conversation_id: int | None = None
    user: str | None = None
    template: str = CUSTOM
    prompt_id: int | None = None


@dataclass(frozen=True)
class RankingResult:
    ranking_id: int
    example_ids: list[int]    # the pairs this ranking stands behind now
    duplicate_ids: list[int]  # pairs that already existed elsewhere (stored once, under their first provenance)
    identical: int            # pairs skipped because both candidates have the same text (whitespace aside)
    edit_ids: list[int] = field(default_factory=list)  # the edited > original pairs, new or already stored
    conversation_id: int | None = None
    turn: int | None = None


# --------------------------------------------------------------------------------------------------- helpers

def timestamp(value, end_of_day=False) -> str:
    """A date, datetime or ISO string as a stored timestamp; a date alone means its start (or, with
    end_of_day, the start of the next day). Naive times are taken as UTC."""
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        value = datetime.combine(value + timedelta(days=end_of_day), time(), timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def example_row(seed, *, status="done", annotator="", source="", source_ref="", split="train", meta=None,
                conversation_id=None, ranking_id=None, accepted_id=None, rejected_id=None) -> dict:
    """The examples row for a seed example: validated (SeedError), JSON-encoded, content-hashed."""
    seed = check_example(seed)
    _check_status(status)
    text = json_text(seed)  # check_example gave the canonical key order: this is encode_example's text
    return {"content_hash": hashlib.sha256(text.encode()).hexdigest(), "seed": text, "n_turns": len(seed["User"]),
            "status": status, "annotator": annotator, "source": source, "source_ref": source_ref, "split": split,
            "meta": None if meta is None else json_text(meta),
            "conversation_id": conversation_id, "ranking_id": ranking_id, "accepted_id": accepted_id,
            "rejected_id": rejected_id}


def content_hash(seed) -> str:
    return example_row(seed)["content_hash"]


def _like(text):
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _check_status(status):
    if status not in STATUSES:
        raise StoreError(f"unknown status {status!r} (expected one of {', '.join(STATUSES)})")


def _statements(script) -> Iterator[str]:
    """The statements of a SQL script, split where sqlite3 says one is complete (';' may also sit in a comment);
    run one by one, they stay inside the caller's transaction, which executescript would commit."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                yield statement
            statement = ""


def _rows(db, sql, params=()) -> Iterator[dict]:
    """Rows as dicts, fetched lazily from a plain cursor (no savepoint: long exports must not hold one)."""
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return (dict(zip(names, row)) for row in cursor)


def _one(db, sql, params=()) -> dict | None:
    cursor = db.execute(sql, params)
    row = cursor.fetchone()
    names = [d[0] for d in cursor.description]
    cursor.close()  # an INSERT ... RETURNING must not stay open until the COMMIT
    return None if row is None else dict(zip(names, row))


def _example(row) -> Example:
    return Example(id=row["id"], seed=json.loads(row["seed"]), status=row["status"], annotator=row["annotator"],
                   source=row["source"], source_ref=row["source_ref"], split=row["split"],
                   meta=None if row["meta"] is None else json.loads(row["meta"]),
                   conversation_id=row["conversation_id"], ranking_id=row["ranking_id"],
                   accepted_id=row["accepted_id"], rejected_id=row["rejected_id"], content_hash=row["content_hash"],
                   created_at=row["created_at"], updated_at=row["updated_at"], deleted_at=row["deleted_at"])


def _insert_example(db, row) -> tuple[int, bool]:
    """Insert one example row: (id, True). A duplicate of a deleted example of the same conversation comes back
    to life (the annotator derived it again): (its id, True). Any other duplicate is left alone: (its id, False)."""
    found = _one(db, _INSERT_EXAMPLE + f"""DO UPDATE SET deleted_at = NULL, updated_at = {NOW},
                     ranking_id = excluded.ranking_id, accepted_id = excluded.accepted_id,
                     rejected_id = excluded.rejected_id, status = excluded.status
                 WHERE examples.deleted_at IS NOT NULL AND examples.conversation_id = excluded.conversation_id
                 RETURNING id""", row)
    if found:
        return found["id"], True
    return _one(db, "SELECT id FROM examples WHERE content_hash = ?", [row["content_hash"]])["id"], False


class BulkInsert:
    """Examples added in batches inside one transaction (see Store.bulk_insert)."""

    def __init__(self, db, batch_size):
        self.db, self.batch_size, self.rows = db, batch_size, []
        self.added = self.duplicates = 0

    def add(self, seed, **attrs):
        """Queue one example (SeedError if invalid); it is inserted with its batch, or skipped as a duplicate."""
        self.add_row(example_row(seed, **attrs))

    def add_row(self, row):
        """Queue a row made by example_row (validated there)."""
        self.rows.append(row)
        if len(self.rows) >= self.batch_size:
            self.flush()

    def flush(self):
        if self.rows:
            added = self.db.conn.executemany(_INSERT_EXAMPLE + "DO NOTHING", self.rows).rowcount
            self.added += added
            self.duplicates += len(self.rows) - added
            self.rows.clear()


class BulkCheck(BulkInsert):
    """A bulk insert that writes nothing: each row counts as added, or as a duplicate of a stored example or of
    an earlier row. The hashes seen go to a temporary table, which lives with the connection and locks nothing,
    so annotators keep saving while a big file is checked."""

    def flush(self):
        if self.rows:
            added = self.db.conn.executemany(
                "INSERT INTO temp.checked (content_hash) SELECT :content_hash WHERE NOT EXISTS "
                "(SELECT 1 FROM main.examples WHERE content_hash = :content_hash) ON CONFLICT DO NOTHING",
                self.rows).rowcount
            self.added += added
            self.duplicates += len(self.rows) - added
            self.rows.clear()


# --------------------------------------------------------------------------------------------------- the store

class Store:
    def __init__(self, path, *, busy_timeout=BUSY_TIMEOUT_S):
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        # Closing the last connection to a WAL database checkpoints it and deletes the WAL, an fsync every unit of
        # work (20 ms instead of 1). One idle connection, held open and never queried, keeps closing cheap.
        self._anchor = sqlite3.connect(self.path, check_same_thread=False)
        self._migrate()
        self._anchor.execute("SELECT 1 FROM schema_version").fetchall()  # now it holds the WAL open

    def close(self):
        self._anchor.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Store({str(self.path)!r})"

    # -- connections ------------------------------------------------------------------------------------------

    def _connect(self) -> sqlite_utils.Database:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")  # durable across application crashes in WAL mode, and faster
        conn.execute("PRAGMA journal_size_limit = 67108864")  # a big import's WAL shrinks back once checkpointed
        return sqlite_utils.Database(conn, execute_plugins=False)

    @contextmanager
    def _unit(self, write=False) -> Iterator[sqlite_utils.Database]:
        """A unit of work on a fresh connection; a writing unit is one IMMEDIATE transaction."""
        db = self._connect()
        try:
            if write:
                db.execute("BEGIN IMMEDIATE")
            yield db
            if write:
                db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def _migrate(self):
        with self._unit() as db:
            # Properties of the file, set before anything is written (no-ops on an existing store): 8 KiB pages hold
            # three typical ~2 KiB examples where 4 KiB pages hold one, wasting a third of the file.
            db.execute("PRAGMA page_size = 8192")
            db.enable_wal()
        with self._unit(write=True) as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version "
                       f"(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT ({NOW}))")
            version = db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(f"{self.path} has schema version {version}, newer than this DPO Studio knows "
                                 f"({len(MIGRATIONS)}); upgrade DPO Studio to open it")
            for number, script in enumerate(MIGRATIONS[version:], version + 1):
                for statement in _statements(script):
                    db.execute(statement)
                db["schema_version"].insert({"version": number})

    @property
    def schema_version(self) -> int:
        with self._unit() as db:
            return db.execute("SELECT max(version) FROM schema_version").fetchone()[0]

    # -- examples ---------------------------------------------------------------------------------------------

    def add_example(self, seed, *, status="done", annotator="", source="", source_ref="", split="train",
                    meta=None) -> tuple[int, bool]:
        """Store one seed example; returns (id, created). Same content as a stored example: (its id, False)."""
        row = example_row(seed, status=status, annotator=annotator, source=source, source_ref=source_ref,
                          split=split, meta=meta)
        with self._unit(write=True) as db:
            return _insert_example(db, row)

    @contextmanager
    def bulk_insert(self, batch_size=1000) -> Iterator[BulkInsert]:
        """One transaction for many examples: `with store.bulk_insert() as bulk: bulk.add(seed, source=...)`.
        Everything is committed when the block ends, nothing if it raises. Duplicates are counted, not stored."""
        with self._unit(write=True) as db:
            bulk = BulkInsert(db, batch_size)
            yield bulk
            bulk.flush()

    @contextmanager
    def bulk_check(self, batch_size=1000) -> Iterator[BulkCheck]:
        """What bulk_insert would add and skip as duplicates of the stored examples, without writing anything."""
        with self._unit() as db:
            db.execute("CREATE TEMP TABLE checked (content_hash TEXT PRIMARY KEY)")
            bulk = BulkCheck(db, batch_size)
            yield bulk
            bulk.flush()

    def get_example(self, example_id) -> Example | None:
        """The example, deleted or not; None if there is no such id."""
        with self._unit() as db:
            row = _one(db, "SELECT * FROM examples WHERE id = ?", [example_id])
        return row and _example(row)

    def update_example(self, example_id, *, seed=None, status=None, annotator=None, split=None,
                       meta=None) -> Example:
        """Change an example's content or attributes. New content is validated (SeedError) and must not
        duplicate another example (DuplicateExample)."""
        changes = {k: v for k, v in dict(status=status, annotator=annotator, split=split).items() if v is not None}
        if status is not None:
            _check_status(status)
        if seed is not None:
            row = example_row(seed)
            changes.update({k: row[k] for k in ("content_hash", "seed", "n_turns")})
        if meta is not None:
            changes["meta"] = json_text(meta)
        with self._unit(write=True) as db:
            self._require(db, "examples", example_id)
            if "content_hash" in changes:
                other = _one(db, "SELECT id FROM examples WHERE content_hash = ? AND id != ?",
                             [changes["content_hash"], example_id])
                if other:
                    raise DuplicateExample(other["id"])
            if changes:
                assignments = ", ".join(f"{k} = :{k}" for k in changes)
                db.execute(f"UPDATE examples SET {assignments}, updated_at = {NOW} WHERE id = :id",
                           {**changes, "id": example_id})
            return _example(_one(db, "SELECT * FROM examples WHERE id = ?", [example_id]))

    def delete_example(self, example_id) -> bool:
        """Soft-delete; True if it was live. Undo with undelete_example."""
        return self._set_deleted(example_id, NOW)

    def undelete_example(self, example_id) -> bool:
        """Bring a soft-deleted example back; True if it was deleted."""
        return self._set_deleted(example_id, "NULL")

    def _set_deleted(self, example_id, value):
        with self._unit(write=True) as db:
            self._require(db, "examples", example_id)
            state = "IS NULL" if value == NOW else "IS NOT NULL"
            return db.execute(f"UPDATE examples SET deleted_at = {value}, updated_at = {NOW} "
                              f"WHERE id = ? AND deleted_at {state}", [example_id]).rowcount == 1

    def list_examples(self, filters=None, page=1, page_size=50) -> Page:
        """One page of examples, newest first, with the total count for the filter."""
        if page < 1 or page_size < 1:
            raise StoreError("page and page_size start at 1")
        where, params = (filters or ExampleFilter()).where()
        with self._unit() as db:
            total = db.execute(f"SELECT count(*) FROM examples WHERE {where}", params).fetchone()[0]
            rows = _rows(db, f"""SELECT * FROM examples WHERE id IN (SELECT id FROM examples WHERE {where}
                                 ORDER BY id DESC LIMIT ? OFFSET ?) ORDER BY id DESC""",
                         params + [page_size, (page - 1) * page_size])
            return Page([_example(r) for r in rows], total, page, page_size)

    def count_examples(self, filters=None) -> int:
        where, params = (filters or ExampleFilter()).where()
        with self._unit() as db:
            return db.execute(f"SELECT count(*) FROM examples WHERE {where}", params).fetchone()[0]

    def count_by(self, column, filters=None) -> dict:
        """{value: number of examples} for annotator, status, source, split or n_turns."""
        if column not in _FILTER_COLUMNS + ("n_turns",):
            raise StoreError(f"cannot count by {column!r}")
        where, params = (filters or ExampleFilter()).where()
        with self._unit() as db:
            return dict(db.execute(f"SELECT {column}, count(*) FROM examples WHERE {where} "
                                   f"GROUP BY {column} ORDER BY {column}", params).fetchall())

    def iter_examples(self, filters=None) -> Iterator[Example]:
        """Every matching example, oldest first, streamed (the connection stays open while iterating)."""
        where, params = (filters or ExampleFilter()).where()
        with self._unit() as db:
            yield from map(_example, _rows(db, f"SELECT * FROM examples WHERE {where} ORDER BY id", params))

    def export_examples(self, filters=None) -> Iterator[dict]:
        """The seed examples an export writes: a pure function of the store (insertion order, streamed)."""
        return map(json.loads, self._export_texts(filters))

    def export_lines(self, filters=None) -> Iterator[bytes]:
        """export_examples already encoded (trainer.interchange.encode_example), as stored: an export copies bytes."""
        return (text.encode() for text in self._export_texts(filters))

    def _export_texts(self, filters):
        where, params = (filters or ExampleFilter()).where()
        with self._unit() as db:
            for (text,) in db.execute(f"SELECT seed FROM examples WHERE {where} ORDER BY id", params):
                yield text

    # -- annotation: conversations, candidates, rankings ---------------------------------------------------------
    # Each public method is one user action in one transaction: a failure part way stores nothing, so trying again
    # never leaves orphan candidates or stores one twice.

    def start_conversation(self, *, annotator="", template=CUSTOM, user=None, prompt_id=None,
                           source="annotate") -> int:
        """A new draft conversation; from a queued prompt (its template and text become turn 0) or from
        `template` and an optional first `user` message."""
        with self._unit(write=True) as db:
            return self._start(db, annotator, template, user, prompt_id, source)

    def add_turn(self, conversation_id, user) -> int:
        """Append a user message; the previous turn must have its accepted reply. Returns the turn index."""
        with self._unit(write=True) as db:
            self._require(db, "conversations", conversation_id)
            return self._append_turn(db, conversation_id, user)

    def add_candidate(self, conversation_id, turn, text, *, origin="model", checkpoint=None, sampling=None,
                      edited_from=None, annotator="") -> int:
        """A candidate reply for a turn: sampled from a checkpoint (origin "model", with its sampling
        parameters), written by a person (origin "human"), or a person's edit of another candidate."""
        with self._unit(write=True) as db:
            self._require_turn(db, conversation_id, turn)
            return self._insert_candidate(db, conversation_id, turn, Reply(text, origin, checkpoint, sampling),
                                          annotator, edited_from)

    def add_candidates(self, at: OpenTurn, replies: list[Reply], *, annotator="") -> tuple[int, int, list[int]]:
        """Candidates for the turn `at` names, opening it first if needed: (conversation id, turn, their ids)."""
        with self._unit(write=True) as db:
            conversation_id, turn = self._open(db, at, annotator)
            return conversation_id, turn, [self._insert_candidate(db, conversation_id, turn, reply, annotator)
                                           for reply in replies]

    def save_written(self, at: OpenTurn, accepted: Reply, rejected: Reply | None = None, *, annotator="",
                     finish=False) -> RankingResult:
        """A turn an annotator wrote: the accepted reply (the conversation continues with it) over the rejected
        one, if any, opening the turn first if needed; with `finish`, the conversation is done."""
        with self._unit(write=True) as db:
            conversation_id, turn = self._open(db, at, annotator)
            tiers = [[self._insert_candidate(db, conversation_id, turn, reply, annotator)]
                     for reply in (accepted, rejected) if reply is not None]
            return self._rank(db, conversation_id, turn, tiers, annotator=annotator, finish=finish)

    def save_ranking(self, conversation_id, turn, tiers, *, annotator="", strategy="best-vs-rest",
                     acceptable=None, reply_id=None, edits=None, finish=False) -> RankingResult:
        """Record a ranking of a turn's candidates and store the pairs it yields (studio.pairing.ranking_pairs).

        `tiers` lists candidate ids best first, a tier being a tie. `edits` maps a ranked candidate to the text an
        annotator edited it into: the edit becomes a candidate of its own (edited from the candidate's original)
        and takes its place. Every ranked edit also yields an edited > original pair. The conversation continues
        with `reply_id`, by default the first candidate of the best tier (none when nothing is acceptable); with
        `finish`, it is done. A new ranking by the same annotator replaces the old one: its pairs are
        soft-deleted, those the new ranking yields again come back.
        """
        pairing.check_ranking(tiers, acceptable)
        with self._unit(write=True) as db:
            self._require(db, "conversations", conversation_id)
            self._require_turn(db, conversation_id, turn)
            if edits:
                tiers = self._insert_edits(db, conversation_id, turn, tiers, edits, annotator)
            return self._rank(db, conversation_id, turn, tiers, annotator=annotator, strategy=strategy,
                              acceptable=acceptable, reply_id=reply_id, finish=finish)

    def _start(self, db, annotator, template, user, prompt_id, source="annotate") -> int:
        if prompt_id is not None:
            prompt = self._require(db, "prompts", prompt_id)
            template, user = prompt["template"], prompt["text"]
            db.execute(f"UPDATE prompts SET status = 'assigned', assigned_to = ?, assigned_at = {NOW} "
                       "WHERE id = ? AND status != 'done'", [annotator, prompt_id])
        if not isinstance(template, str) or not template.strip():
            raise StoreError("a conversation needs a template (a system prompt or \"CUSTOM\")")
        conversation_id = db["conversations"].insert(
            {"template": template, "annotator": annotator, "source": source, "prompt_id": prompt_id}).last_pk
        if user is not None:
            self._insert_turn(db, conversation_id, 0, user)
        return conversation_id

    def _append_turn(self, db, conversation_id, user) -> int:
        last = _one(db, "SELECT idx, reply_id FROM turns WHERE conversation_id = ? ORDER BY idx DESC LIMIT 1",
                    [conversation_id])
        if last and last["reply_id"] is None:
            raise StoreError(f"turn {last['idx']} has no accepted reply yet: rank its candidates first")
        idx = 0 if last is None else last["idx"] + 1
        self._insert_turn(db, conversation_id, idx, user)
        return idx

    def _open(self, db, at: OpenTurn, annotator) -> tuple[int, int]:
        """(conversation id, turn) of the turn `at` names, starting the conversation or adding the turn if needed."""
        if at.conversation_id is None:
            return self._start(db, annotator, at.template, at.user, at.prompt_id), 0
        self._require(db, "conversations", at.conversation_id)
        last = _one(db, "SELECT idx, reply_id FROM turns WHERE conversation_id = ? ORDER BY idx DESC LIMIT 1",
                    [at.conversation_id])
        if last and last["reply_id"] is None:
            return at.conversation_id, last["idx"]
        return at.conversation_id, self._append_turn(db, at.conversation_id, at.user)

    def _insert_turn(self, db, conversation_id, idx, user):
        if not isinstance(user, str) or not user.strip():
            raise StoreError("a user message must be non-empty text")
        db["turns"].insert({"conversation_id": conversation_id, "idx": idx, "user": user})
        self._touch(db, conversation_id)

    def _insert_candidate(self, db, conversation_id, turn, reply: Reply, annotator, edited_from=None) -> int:
        if reply.origin not in ORIGINS:
            raise StoreError(f"unknown origin {reply.origin!r} (expected one of {', '.join(ORIGINS)})")
        if not isinstance(reply.text, str) or not reply.text.strip():
            raise StoreError("a candidate must be non-empty text")
        if edited_from is not None and edited_from not in self._candidate_texts(db, conversation_id, turn):
            raise StoreError(f"candidate {edited_from} is not a candidate of turn {turn}")
        candidate_id = db["candidates"].insert({
            "conversation_id": conversation_id, "turn": turn, "text": reply.text, "origin": reply.origin,
            "checkpoint": reply.checkpoint, "sampling": None if reply.sampling is None else json.dumps(reply.sampling),
            "edited_from": edited_from, "annotator": annotator}).last_pk
        self._touch(db, conversation_id)
        return candidate_id

    def _insert_edits(self, db, conversation_id, turn, tiers, edits, annotator) -> list[list[int]]:
        """The tiers with each edited candidate replaced by its edit, a new candidate edited from its original."""
        origins = self._origins(db, conversation_id, turn)
        unknown = [c for c in edits if c not in origins]
        if unknown:
            raise StoreError(f"not candidates of turn {turn}: {unknown}")
        made = {c: self._insert_candidate(db, conversation_id, turn, Reply(text), annotator,
                                          edited_from=origins[c] or c) for c, text in edits.items()}
        return [[made.get(c, c) for c in tier] for tier in tiers]

    def _rank(self, db, conversation_id, turn, tiers, *, annotator, strategy="best-vs-rest", acceptable=None,
              reply_id=None, finish=False) -> RankingResult:
        conversation = self._require(db, "conversations", conversation_id)
        texts = self._candidate_texts(db, conversation_id, turn)
        unknown = [c for tier in tiers for c in tier if c not in texts]
        if unknown:
            raise StoreError(f"not candidates of turn {turn}: {unknown}")
        if reply_id is None and acceptable != 0:
            reply_id = tiers[0][0]
        self._set_reply(db, conversation_id, turn, reply_id, texts)
        self._supersede(db, conversation_id, turn, annotator)
        ranking_id = db["rankings"].insert({
            "conversation_id": conversation_id, "turn": turn, "annotator": annotator,
            "tiers": json.dumps(tiers), "acceptable": acceptable, "strategy": strategy}).last_pk
        originals = {c: o for c, o in self._origins(db, conversation_id, turn).items() if o is not None}
        pairs, identical = pairing.ranking_pairs(self._context(db, conversation, turn), texts, tiers, strategy,
                                                 acceptable, originals)
        saved, duplicates, edits = [], [], []
        for pair in pairs:
            example_id, stored = _insert_example(db, example_row(
                pair.example, status=conversation["status"], annotator=annotator, source=conversation["source"],
                conversation_id=conversation_id, ranking_id=None if pair.edit else ranking_id,
                accepted_id=pair.accepted, rejected_id=pair.rejected))
            if pair.edit:
                edits.append(example_id)
            else:
                (saved if stored else duplicates).append(example_id)
        self._touch(db, conversation_id)
        if finish:
            self._set_status(db, conversation, "done")
        return RankingResult(ranking_id, saved, duplicates, identical, edits, conversation_id, turn)

    def _set_reply(self, db, conversation_id, turn, reply_id, texts):
        if reply_id is not None and reply_id not in texts:
            raise StoreError(f"candidate {reply_id} is not a candidate of turn {turn}")
        current = self._require_turn(db, conversation_id, turn)["reply_id"]
        later = _one(db, "SELECT 1 FROM turns WHERE conversation_id = ? AND idx > ?", [conversation_id, turn])
        if later and reply_id != current:
            raise StoreError(f"turn {turn} already has later turns that continue from candidate {current}; "
                             "its reply cannot change")
        db.execute("UPDATE turns SET reply_id = ? WHERE conversation_id = ? AND idx = ?",
                   [reply_id, conversation_id, turn])

    def _supersede(self, db, conversation_id, turn, annotator):
        old = [r["id"] for r in _rows(db, f"""UPDATE rankings SET superseded_at = {NOW}
            WHERE conversation_id = ? AND turn = ? AND annotator = ? AND superseded_at IS NULL RETURNING id""",
                                      [conversation_id, turn, annotator])]
        db.execute(f"UPDATE examples SET deleted_at = {NOW}, updated_at = {NOW} "
                   f"WHERE deleted_at IS NULL AND ranking_id IN ({', '.join('?' * len(old))})", old)

    def _context(self, db, conversation, turn) -> Conversation:
        """The conversation up to an existing `turn`, open there: every pair at that turn shares it."""
        rows = list(_rows(db, """SELECT t.idx, t.user, c.text FROM turns t LEFT JOIN candidates c ON c.id = t.reply_id
                                 WHERE t.conversation_id = ? AND t.idx <= ? ORDER BY t.idx""",
                          [conversation["id"], turn]))
        missing = [r["idx"] for r in rows[:-1] if r["text"] is None]
        if missing:
            raise StoreError(f"turn {missing[0]} has no accepted reply, so later turns have no context")
        return Conversation(conversation["template"], [r["user"] for r in rows], [r["text"] for r in rows[:-1]])

    def set_conversation_status(self, conversation_id, status):
        """draft/done/skipped/discarded. Its examples follow (only done ones are exported by default); its
        prompt is done when it is, goes back to the queue otherwise, and a skip is never served again to the
        same annotator."""
        _check_status(status)
        with self._unit(write=True) as db:
            self._set_status(db, self._require(db, "conversations", conversation_id), status)

    @staticmethod
    def _set_status(db, conversation, status):
        db.execute(f"UPDATE conversations SET status = ?, updated_at = {NOW} WHERE id = ?",
                   [status, conversation["id"]])
        db.execute(f"UPDATE examples SET status = ?, updated_at = {NOW} WHERE conversation_id = ?",
                   [status, conversation["id"]])
        prompt_id, annotator = conversation["prompt_id"], conversation["annotator"]
        if prompt_id is None:
            return
        if status == "skipped":
            db.execute("INSERT OR IGNORE INTO prompt_skips (prompt_id, annotator) VALUES (?, ?)",
                       [prompt_id, annotator])
        queue_state = {"done": ("done", annotator), "draft": ("assigned", annotator)}.get(status, ("pending", None))
        db.execute(f"UPDATE prompts SET status = ?, assigned_to = ?, assigned_at = {NOW} WHERE id = ?",
                   [*queue_state, prompt_id])

    def get_conversation(self, conversation_id) -> ConversationRecord | None:
        with self._unit() as db:
            row = _one(db, "SELECT * FROM conversations WHERE id = ?", [conversation_id])
            if row is None:
                return None
            candidates = [Candidate(**{**c, "sampling": c["sampling"] and json.loads(c["sampling"])})
                          for c in _rows(db, """SELECT id, turn, text, origin, checkpoint, sampling, edited_from,
                                                annotator, created_at FROM candidates WHERE conversation_id = ?
                                                ORDER BY id""", [conversation_id])]
            rankings = [Ranking(**{**r, "tiers": json.loads(r["tiers"])})
                        for r in _rows(db, """SELECT id, turn, annotator, tiers, acceptable, strategy, created_at
                                              FROM rankings WHERE conversation_id = ? AND superseded_at IS NULL
                                              ORDER BY id""", [conversation_id])]
            turns = [Turn(t["idx"], t["user"], t["reply_id"], [c for c in candidates if c.turn == t["idx"]],
                          [r for r in rankings if r.turn == t["idx"]])
                     for t in _rows(db, "SELECT * FROM turns WHERE conversation_id = ? ORDER BY idx",
                                    [conversation_id])]
            return ConversationRecord(row["id"], row["template"], row["status"], row["annotator"], row["source"],
                                row["prompt_id"], row["created_at"], row["updated_at"], turns)

    def list_conversations(self, *, annotator=None, status=None, limit=100) -> list[dict]:
        """Recent conversations (newest first) with their first user message and number of turns."""
        clauses, params = ["1"], []
        for column, value in (("annotator", annotator), ("status", status)):
            if value is not None:
                clauses.append(f"c.{column} = ?")
                params.append(value)
        with self._unit() as db:
            return list(_rows(db, f"""SELECT c.id, c.status, c.annotator, c.template, c.updated_at,
                    (SELECT user FROM turns WHERE conversation_id = c.id AND idx = 0) AS first_user,
                    (SELECT count(*) FROM turns WHERE conversation_id = c.id) AS n_turns
                FROM conversations c WHERE {' AND '.join(clauses)} ORDER BY c.id DESC LIMIT ?""",
                                  params + [limit]))

    # -- the work queue -------------------------------------------------------------------------------------------

    def add_prompts(self, prompts: Iterable, *, template="CUSTOM", source="") -> int:
        """Queue prompts (strings, or dicts with "text" and optionally "template"); returns how many were new."""
        rows = []
        for i, prompt in enumerate(prompts):
            text, tmpl = (prompt, template) if isinstance(prompt, str) else (prompt.get("text"),
                                                                               prompt.get("template", template))
            if not isinstance(text, str) or not text.strip() or not isinstance(tmpl, str) or not tmpl.strip():
                raise StoreError(f"prompt {i}: text and template must be non-empty strings")
            rows.append({"template": tmpl, "text": text, "source": source})
        with self._unit(write=True) as db:
            before = db.execute("SELECT count(*) FROM prompts").fetchone()[0]
            db["prompts"].insert_all(rows, ignore=True)
            return db.execute("SELECT count(*) FROM prompts").fetchone()[0] - before

    def next_prompt(self, annotator) -> Prompt | None:
        """The prompt this annotator should work on: the one already assigned to them, else the oldest
        unassigned one they have not skipped (now assigned to them). None when the queue is empty."""
        with self._unit(write=True) as db:
            row = _one(db, "SELECT * FROM prompts WHERE status = 'assigned' AND assigned_to = ? ORDER BY id LIMIT 1",
                       [annotator]) or _one(db, f"""UPDATE prompts SET status = 'assigned', assigned_to = ?,
                    assigned_at = {NOW}
                WHERE id = (SELECT id FROM prompts p WHERE status = 'pending' AND NOT EXISTS
                    (SELECT 1 FROM prompt_skips s WHERE s.prompt_id = p.id AND s.annotator = ?) ORDER BY id LIMIT 1)
                RETURNING *""", [annotator, annotator])
            return row and Prompt(row["id"], row["template"], row["text"], row["source"])

    def skip_prompt(self, prompt_id, annotator):
        """Put the prompt back in the queue for others; it is never served to this annotator again."""
        with self._unit(write=True) as db:
            self._require(db, "prompts", prompt_id)
            db.execute("INSERT OR IGNORE INTO prompt_skips (prompt_id, annotator) VALUES (?, ?)",
                       [prompt_id, annotator])
            db.execute("UPDATE prompts SET status = 'pending', assigned_to = NULL, assigned_at = NULL "
                       "WHERE id = ? AND status = 'assigned'", [prompt_id])

    def progress(self) -> dict:
        """{"annotators": {name: {draft, done, skipped, discarded, examples}}, "queue": {pending, assigned, done}}
        (examples counts the live examples attributed to the annotator)."""
        with self._unit() as db:
            annotators = {}
            for name, status, n in db.execute("SELECT annotator, status, count(*) FROM conversations "
                                              "GROUP BY annotator, status"):
                annotators.setdefault(name, dict.fromkeys(STATUSES + ("examples",), 0))[status] = n
            for name, n in db.execute("SELECT annotator, count(*) FROM examples WHERE deleted_at IS NULL "
                                      "GROUP BY annotator"):
                annotators.setdefault(name, dict.fromkeys(STATUSES + ("examples",), 0))["examples"] = n
            queue = dict.fromkeys(("pending", "assigned", "done"), 0)
            queue.update(db.execute("SELECT status, count(*) FROM prompts GROUP BY status").fetchall())
            return {"annotators": dict(sorted(annotators.items())), "queue": queue}

    def queue_for(self, annotator) -> dict:
        """The queue as one annotator sees it: {done, waiting (what Next can serve them, theirs included), held
        (assigned to someone else), skipped (pending, but skipped by them)}."""
        with self._unit() as db:
            row = _one(db, """SELECT coalesce(sum(status = 'done'), 0) AS done,
                    coalesce(sum(status = 'assigned' AND assigned_to = :a OR status = 'pending' AND NOT skipped), 0)
                        AS waiting,
                    coalesce(sum(status = 'assigned' AND assigned_to IS NOT :a), 0) AS held,
                    coalesce(sum(status = 'pending' AND skipped), 0) AS skipped
                FROM (SELECT status, assigned_to, EXISTS (SELECT 1 FROM prompt_skips s WHERE s.prompt_id = p.id
                                                          AND s.annotator = :a) AS skipped FROM prompts p)""",
                       {"a": annotator})
        return row

    # -- votes: policy vs reference ------------------------------------------------------------------------------

    def record_vote(self, *, run, policy, reference, policy_side, outcome, template, user, policy_replies,
                    reference_replies, annotator="", sampling=None) -> tuple[int, int | None]:
        """Store a blind vote on one conversation answered by both models. A winner also makes an example (source
        'compare', the winner's replies accepted), in the same transaction. Returns (vote id, example id or None;
        an example with the same content already stored is reused)."""
        if outcome not in OUTCOMES:
            raise StoreError(f"unknown outcome {outcome!r} (expected one of {', '.join(OUTCOMES)})")
        if policy_side not in ("A", "B"):
            raise StoreError(f"policy_side must be A or B, not {policy_side!r}")
        row = None
        if outcome in ("policy", "reference"):
            accepted, rejected = ((policy_replies, reference_replies) if outcome == "policy"
                                  else (reference_replies, policy_replies))
            row = example_row({"Template": [template], "User": user, "Accepted": accepted, "Rejected": rejected},
                              annotator=annotator, source="compare", source_ref=run,
                              meta={"run": run, "policy": policy, "reference": reference, "winner": outcome})
        conversation = {"template": template, "user": user, "policy": policy_replies, "reference": reference_replies}
        with self._unit(write=True) as db:
            example_id = _insert_example(db, row)[0] if row else None
            vote_id = db["votes"].insert({
                "run": run, "policy": policy, "reference": reference, "policy_side": policy_side, "outcome": outcome,
                "annotator": annotator, "conversation": json_text(conversation),
                "sampling": None if sampling is None else json_text(sampling), "example_id": example_id}).last_pk
        return vote_id, example_id

    def vote_tally(self, run=None) -> list[dict]:
        """Per run and policy checkpoint: {run, checkpoint, votes, policy, reference, tie, both_bad}, where the last
        four count the outcomes."""
        where, params = ("WHERE run = ?", [run]) if run is not None else ("", [])
        with self._unit() as db:
            rows = db.execute(f"SELECT run, policy, outcome, count(*) FROM votes {where} "
                              "GROUP BY run, policy, outcome ORDER BY run, policy", params).fetchall()
        tally = {}
        for run_id, policy, outcome, n in rows:
            entry = tally.setdefault((run_id, policy), {"run": run_id, "checkpoint": policy, "votes": 0,
                                                        **dict.fromkeys(OUTCOMES, 0)})
            entry[outcome] = n
            entry["votes"] += n
        return list(tally.values())

    # -- small helpers -------------------------------------------------------------------------------------------

    @staticmethod
    def _require(db, table, row_id) -> dict:
        row = _one(db, f"SELECT * FROM {table} WHERE id = ?", [row_id])
        if row is None:
            raise StoreError(f"no {table[:-1]} with id {row_id!r}")
        return row

    @staticmethod
    def _require_turn(db, conversation_id, turn) -> dict:
        row = _one(db, "SELECT * FROM turns WHERE conversation_id = ? AND idx = ?", [conversation_id, turn])
        if row is None:
            raise StoreError(f"conversation {conversation_id} has no turn {turn}")
        return row

    @staticmethod
    def _candidate_texts(db, conversation_id, turn) -> dict:
        return dict(db.execute("SELECT id, text FROM candidates WHERE conversation_id = ? AND turn = ?",
                               [conversation_id, turn]).fetchall())

    @staticmethod
    def _origins(db, conversation_id, turn) -> dict:
        """{candidate id: the candidate it was edited from, or None} for a turn's candidates."""
        return dict(db.execute("SELECT id, edited_from FROM candidates WHERE conversation_id = ? AND turn = ?",
                               [conversation_id, turn]).fetchall())

    @staticmethod
    def _touch(db, conversation_id):
        db.execute(f"UPDATE conversations SET updated_at = {NOW} WHERE id = ?", [conversation_id])
