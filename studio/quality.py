"""Dataset statistics and a data-quality report, in the spirit of the guide's "high-quality pairs".

stats: counts by status, annotator, source and split, a histogram of turns, and length statistics (characters)
of the final user message and of the final accepted and rejected replies.

quality_report, each finding with the example ids to review:
  near_identical   pairs whose final accepted and rejected replies are (almost) the same: little to learn from
  length_bias      how often the accepted reply is the longer one; far from 50% teaches length, not quality
  exact_duplicates the same prompt (template, user turns and history) in examples of different origin
                   (pairs of one conversation share their prompt by design and are not reported)
  near_duplicates  prompts equal once case, punctuation and spacing are ignored, but not exactly equal
"""

import hashlib
import json
import re
import statistics
from difflib import SequenceMatcher

from studio.store import ExampleFilter, Store

NEAR_IDENTICAL = 0.9  # word-level similarity ratio from which two replies count as near-identical
_WORD = re.compile(r"\w+")


def stats(store: Store, filters: ExampleFilter | None = None) -> dict:
    filters = filters or ExampleFilter()
    lengths = {"user": [], "accepted": [], "rejected": []}
    for example in store.export_examples(filters):
        for key in lengths:
            lengths[key].append(len(example[key.capitalize()][-1]))
    return {"examples": len(lengths["user"]),
            **{f"by_{column}": store.count_by(column, filters) for column in ("status", "annotator", "source",
                                                                              "split")},
            "turns": store.count_by("n_turns", filters),
            "final_turn_chars": {key: summary(values) for key, values in lengths.items()}}


def summary(values) -> dict:
    if not values:
        return {"min": 0, "mean": 0.0, "median": 0.0, "max": 0}
    return {"min": min(values), "mean": round(statistics.fmean(values), 1),
            "median": statistics.median(values), "max": max(values)}


def quality_report(store: Store, filters: ExampleFilter | None = None, *, threshold=NEAR_IDENTICAL,
                   limit=100) -> dict:
    """Findings over the examples matching `filters`; id lists are cut at `limit` (the counts are not)."""
    near_identical, longer = [], {"accepted": 0, "rejected": 0, "equal": 0}
    prompts = {}  # normalised prompt -> exact prompt -> origins -> example ids
    for example in store.iter_examples(filters or ExampleFilter()):
        seed = example.seed
        accepted, rejected = seed["Accepted"][-1], seed["Rejected"][-1]
        if similar(accepted, rejected, threshold):
            near_identical.append(example.id)
        longer["accepted" if len(accepted) > len(rejected) else "rejected" if len(rejected) > len(accepted)
               else "equal"] += 1
        prompt = [seed["Template"][0], seed["User"], seed["Accepted"][:-1], seed["Rejected"][:-1]]
        origin = ("conversation", example.conversation_id) if example.conversation_id else ("example", example.id)
        (prompts.setdefault(_digest(_normalise(prompt)), {}).setdefault(_digest(prompt), {})
         .setdefault(origin, []).append(example.id))
    total = sum(longer.values())
    exact = [_ids(origins) for variants in prompts.values() for origins in variants.values() if len(origins) > 1]
    near = [sorted(i for origins in variants.values() for i in _ids(origins)) for variants in prompts.values()
            if len(variants) > 1]
    return {"examples": total,
            "near_identical": {"count": len(near_identical), "threshold": threshold, "ids": near_identical[:limit]},
            "length_bias": {"accepted_longer": longer["accepted"], "rejected_longer": longer["rejected"],
                            "equal": longer["equal"],
                            "share_accepted_longer": round(longer["accepted"] / total, 3) if total else None},
            "exact_duplicates": {"groups": len(exact), "ids": exact[:limit]},
            "near_duplicates": {"groups": len(near), "ids": near[:limit]}}


def similar(a: str, b: str, threshold=NEAR_IDENTICAL) -> bool:
    """Whether two texts are near-identical: their word sequences (case-folded) match to at least `threshold`."""
    words_a, words_b = _WORD.findall(a.casefold()), _WORD.findall(b.casefold())
    if words_a == words_b:
        return True
    matcher = SequenceMatcher(None, words_a, words_b, autojunk=False)
    # the cheap upper bounds first: most pairs differ enough to stop there
    return (matcher.real_quick_ratio() >= threshold and matcher.quick_ratio() >= threshold
            and matcher.ratio() >= threshold)


def _normalise(value):
    if isinstance(value, str):
        return " ".join(_WORD.findall(value.casefold()))
    return [_normalise(v) for v in value]


def _digest(value) -> bytes:
    return hashlib.sha1(json.dumps(value, ensure_ascii=False).encode()).digest()


def _ids(origins) -> list:
    return sorted(i for ids in origins.values() for i in ids)
