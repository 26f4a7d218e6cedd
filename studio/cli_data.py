"""The data subcommands of `dpo-studio`: import, export, stats.

Each command prints what it did; bad input or a bad option prints one readable error to stderr and exits
non-zero (never a traceback).
"""

import functools
import json
import os
import sqlite3
import sys
from pathlib import Path

from tqdm import tqdm

from studio.formats import EXPORT_FORMATS, IMPORT_FORMATS, ImportOptions, export_file, import_file
from studio.quality import quality_report, stats
from studio.settings import Settings
from studio.store import STATUSES, ExampleFilter, Store, StoreError
from trainer.interchange import SeedError

SHOWN_ERRORS = 20


def add_data_commands(subparsers):
    p = subparsers.add_parser("import", help="import preference data into the store",
                              description="Import a seed, PKU-SafeRLHF, HH-RLHF or TRL file (.json, .jsonl, "
                                          ".jsonl.xz/.gz, .parquet with pyarrow). One bad record and nothing is "
                                          "imported, unless --skip-invalid.")
    p.add_argument("file", type=Path)
    _add_db(p)
    p.add_argument("--format", choices=IMPORT_FORMATS, help="default: detected from the first record")
    p.add_argument("--skip-invalid", action="store_true",
                   help="import the valid records and write the rejected ones, with reasons, to --rejected-out")
    p.add_argument("--rejected-out", type=Path, help="default: FILE.rejected.jsonl")
    p.add_argument("--source", help="stored with each example (default: the format, e.g. pku-saferlhf)")
    p.add_argument("--annotator", default="", help="stored with each example")
    p.add_argument("--split", default="train", help="stored with each example (default: train)")
    cleaning = p.add_argument_group("filters (each row removed is counted in the report)")
    cleaning.add_argument("--dimension", choices=("safer", "better"), default="safer",
                          help="PKU-SafeRLHF: the preference that decides Accepted (default: safer)")
    cleaning.add_argument("--agree", action="store_true", help="PKU-SafeRLHF: keep rows where safer == better")
    cleaning.add_argument("--safety-boundary", action="store_true",
                          help="PKU-SafeRLHF: keep rows where exactly one response is safe")
    cleaning.add_argument("--drop-both-unsafe", action="store_true",
                          help="PKU-SafeRLHF: drop rows where both responses are unsafe")
    cleaning.add_argument("--keep-identical", action="store_true",
                          help="do not drop pairs whose final replies are equal (they are then invalid)")
    cleaning.add_argument("--min-chars", type=int, default=0, help="drop pairs with a shorter final reply")
    cleaning.add_argument("--max-chars", type=int, help="drop pairs with any longer message")
    p.set_defaults(func=run_import)

    p = subparsers.add_parser("export", help="export examples for training or other tools",
                              description="Write the matching examples (by default: done, not deleted) in a "
                                          "stable order; the same store and filters give the same bytes.")
    p.add_argument("out", help="output file, or - for standard output")
    _add_db(p)
    p.add_argument("--format", choices=EXPORT_FORMATS, default="seed-json", help="default: seed-json")
    _add_filters(p, status="done")
    p.set_defaults(func=run_export)

    p = subparsers.add_parser("stats", help="counts, lengths and a data-quality report",
                              description="Counts by status, annotator, source and split, turns, lengths, and "
                                          "the pairs worth reviewing (near-identical, duplicates, length bias).")
    _add_db(p)
    _add_filters(p, status="any")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run_stats)


def _add_db(p):
    p.add_argument("--db", type=Path, default=Path(os.environ.get("DPO_STUDIO_DB", Settings.db)),
                   help=f"SQLite file (default: $DPO_STUDIO_DB or {Settings.db})")


def _add_filters(p, status):
    group = p.add_argument_group("filters")
    group.add_argument("--annotator", action="append", help="repeat for several")
    group.add_argument("--status", action="append", choices=STATUSES + ("any",),
                       help=f"repeat for several (default: {status})")
    group.add_argument("--source", action="append", help="repeat for several")
    group.add_argument("--split", action="append", help="repeat for several")
    group.add_argument("--since", help="created on or after (YYYY-MM-DD or an ISO time)")
    group.add_argument("--until", help="created before (a date alone includes that day)")
    p.set_defaults(default_status=status)


def _filters(args) -> ExampleFilter:
    status = args.status or [args.default_status]
    return ExampleFilter(annotator=args.annotator, status=None if "any" in status else status, source=args.source,
                         split=args.split, since=args.since, until=args.until)


def _readable_errors(command):
    """Bad input and bad options end as one line on stderr and exit status 1, not a traceback."""
    @functools.wraps(command)
    def run(args):
        try:
            return command(args)
        except (SeedError, StoreError, ValueError, OSError, sqlite3.Error) as e:
            print(f"dpo-studio {command.__name__.removeprefix('run_')}: error: {e}", file=sys.stderr)
            return 1
    return run


def _open_store(args, create=False) -> Store:
    if not create and not args.db.exists():
        raise StoreError(f"no database at {args.db} (import something first, or pass --db)")
    return Store(args.db)


@_readable_errors
def run_import(args) -> int:
    options = ImportOptions(
        format=args.format, dimension=args.dimension, agree=args.agree, safety_boundary=args.safety_boundary,
        drop_both_unsafe=args.drop_both_unsafe, drop_identical=not args.keep_identical, min_chars=args.min_chars,
        max_chars=args.max_chars, skip_invalid=args.skip_invalid,
        rejected_out=args.rejected_out or args.file.with_name(args.file.name + ".rejected.jsonl"),
        source=args.source, annotator=args.annotator, split=args.split)
    if not args.file.is_file():
        raise OSError(f"no such file: {args.file}")
    with tqdm(unit_scale=True, disable=None, file=sys.stderr, desc="import") as bar:  # shown on a terminal only
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        report = import_file(_open_store(args, create=True), args.file, options, progress)
    print(report.summary())
    for error in report.errors[:SHOWN_ERRORS]:
        print(f"  {error}", file=sys.stderr)
    if report.invalid > SHOWN_ERRORS:
        print(f"  ... and {report.invalid - SHOWN_ERRORS} more invalid records", file=sys.stderr)
    return 0 if report.committed else 1


@_readable_errors
def run_export(args) -> int:
    store = _open_store(args)
    out = sys.stdout.buffer if args.out == "-" else Path(args.out)
    n = export_file(store, out, args.format, _filters(args))
    print(f"wrote {n} examples to {args.out} ({args.format})", file=sys.stderr)
    return 0


@_readable_errors
def run_stats(args) -> int:
    store = _open_store(args)
    filters = _filters(args)
    result = {"stats": stats(store, filters), "quality": quality_report(store, filters)}
    print(json.dumps(result, indent=2, ensure_ascii=False) if args.json else render(**result))
    return 0


def render(stats, quality) -> str:
    """The stats command's text report."""
    def counts(values):
        return " · ".join(f"{k if k != '' else '(none)'}: {n}" for k, n in values.items()) or "-"

    def ids(values):
        return ", ".join(" ".join(map(str, v)) if isinstance(v, list) else str(v) for v in values)

    lines = [f"{stats['examples']} examples"]
    lines += [f"by {column + ':':11} {counts(stats['by_' + column])}" for column in ("status", "annotator",
                                                                                       "source", "split")]
    lines.append(f"turns:         {counts(stats['turns'])}")
    lines.append("final-turn characters (min / median / mean / max):")
    lines += [f"  {key:9} {s['min']} / {s['median']} / {s['mean']} / {s['max']}"
              for key, s in stats["final_turn_chars"].items()]
    near, bias = quality["near_identical"], quality["length_bias"]
    lines.append("quality:")
    lines.append(f"  near-identical accepted/rejected (similarity >= {near['threshold']}): {near['count']}"
                 + (f" - ids {ids(near['ids'])}" if near["ids"] else ""))
    if bias["share_accepted_longer"] is not None:
        lines.append(f"  length bias: the accepted reply is the longer one in {bias['share_accepted_longer']:.1%} "
                     f"of pairs ({bias['accepted_longer']} accepted longer, {bias['rejected_longer']} rejected "
                     f"longer, {bias['equal']} equal)")
    for key, label in (("exact_duplicates", "exact"), ("near_duplicates", "near")):
        found = quality[key]
        groups = "; ".join(ids(group) for group in found["ids"])
        lines.append(f"  {label} duplicate prompts: {found['groups']} groups"
                     + (f" - ids (one group per ';') {groups}" if groups else ""))
    return "\n".join(lines)

