"""Ranking -> (accepted, rejected) pairs.

A ranking is a list of tiers, best first; each tier is a list of candidate ids that were judged equally good
(ties). Candidates in the same tier never form a pair. `acceptable` says how many of the top tiers are good
enough to be trained towards: a candidate from a lower tier can only ever be the rejected side, and
`acceptable=0` ("none acceptable") yields no pairs at all.

Strategies:
    best-vs-worst   every candidate of the best tier against every candidate of the worst tier
    best-vs-rest    every candidate of the best tier against every candidate of each lower tier
    all-pairs       every candidate of an acceptable tier against every candidate of each lower tier

`ranking_pairs` turns a ranking into the seed examples saving it stores. It is the only place that does: the
store calls it when it saves, the Annotate tab when it previews, so the preview is what the export will hold.
"""
from __future__ import annotations

from dataclasses import dataclass

from trainer.conversation import Conversation
from trainer.interchange import same_reply

STRATEGIES = ("best-vs-worst", "best-vs-rest", "all-pairs")


def derive_pairs(tiers, strategy="best-vs-rest", acceptable=None) -> list[tuple]:
    """The (accepted, rejected) id pairs a ranking yields, in tier order (deterministic)."""
    check_ranking(tiers, acceptable)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown pairing strategy {strategy!r} (expected one of {', '.join(STRATEGIES)})")
    n_acceptable = len(tiers) if acceptable is None else acceptable
    winners = range(n_acceptable if strategy == "all-pairs" else min(n_acceptable, 1))
    pairs = []
    for i in winners:
        losers = [len(tiers) - 1] if strategy == "best-vs-worst" else range(i + 1, len(tiers))
        pairs += [(a, b) for j in losers if j > i for a in tiers[i] for b in tiers[j]]
    return pairs


def check_ranking(tiers, acceptable=None):
    """ValueError unless `tiers` is a non-empty list of non-empty tiers with no candidate twice."""
    if not isinstance(tiers, (list, tuple)) or not tiers:
        raise ValueError("a ranking must be a non-empty list of tiers")
    seen = set()
    for i, tier in enumerate(tiers):
        if not isinstance(tier, (list, tuple)) or not tier:
            raise ValueError(f"tier {i} of the ranking is empty")
        for candidate in tier:
            if candidate in seen:
                raise ValueError(f"candidate {candidate!r} appears twice in the ranking")
            seen.add(candidate)
    if acceptable is not None and not 0 <= acceptable <= len(tiers):
        raise ValueError(f"acceptable must be between 0 and {len(tiers)} (the number of tiers), got {acceptable}")


def tiers_from_ranks(ranks: dict) -> list[list]:
    """{candidate: rank} (1 = best, equal ranks = tie) -> tiers, best first; ids keep their order within a tier."""
    tiers = {}
    for candidate, rank in ranks.items():
        tiers.setdefault(rank, []).append(candidate)
    return [tiers[rank] for rank in sorted(tiers)]


@dataclass(frozen=True)
class Pair:
    accepted: object  # candidate keys: ids in the store, slots in a preview
    rejected: object
    example: dict     # the seed example
    edit: bool        # an edit preferred over its original (else a pair of the ranking)


def ranking_pairs(conversation: Conversation, texts: dict, tiers, strategy="best-vs-rest", acceptable=None,
                  originals: dict | None = None) -> tuple[list[Pair], int]:
    """(pairs, how many were skipped as identical) that a ranking of the open turn of `conversation` yields.

    `texts` maps each candidate key to its text; `originals` maps a candidate that is an annotator's edit to the
    one it was edited from (whose text is in `texts` too). First the ranking's pairs (derive_pairs), then one
    edited > original pair per ranked edit, best first. A pair whose two texts differ in whitespace only is skipped.
    """
    originals = originals or {}
    wanted = [(a, b, False) for a, b in derive_pairs(tiers, strategy, acceptable)]
    wanted += [(c, originals[c], True) for tier in tiers for c in tier if c in originals]
    pairs = [Pair(a, b, conversation.pair(texts[a], texts[b]), edit) for a, b, edit in wanted
             if not same_reply(texts[a], texts[b])]
    return pairs, len(wanted) - len(pairs)
