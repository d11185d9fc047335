"""The guard's counts: a variant's calls and failures under one config.

They live in memory as calls end, and are rebuilt from the record when a config starts
being served (a process start, a reload), so that a restart does not give a failing
variant a fresh start: the calls counted are those since the config was first loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.experiments.reading import RecordReader, records_since

LOADED = "config.loaded"


@dataclass
class Tally:
    calls: int = 0
    errors: int = 0


def rebuild(store: RecordReader, version: str) -> dict[tuple[str, str], Tally]:
    """(tool, variant) → the calls that ended under ``version`` and how many failed.

    A call counts as the guard counted it live: refused arguments (``call.rejected``) and
    ``error`` outcomes fail; a call still without an outcome (in flight, or parked) is not
    counted. Baseline calls are left out: the guard judges variants only.
    """
    loaded = [r.at for r in store.records_of_kind(LOADED)
              if r.body.get("config_version") == version]  # fmt: skip
    since = min(loaded) if loaded else None
    started: dict[str, tuple[str, str, bool]] = {}
    tallies: dict[tuple[str, str], Tally] = {}
    for record in records_since(store, since, "call.intent", "call.rejected", "call.outcome"):
        if record.context.config_version != version or record.call_id is None:
            continue
        body = record.body
        if record.kind != "call.outcome":
            variant = body.get("variant")
            if not isinstance(variant, str) or variant == "baseline":
                continue
            pair = (str(body.get("tool")), variant)
            started[record.call_id] = (*pair, body.get("dry_run") is True)
            if record.kind == "call.rejected":
                tally = tallies.setdefault(pair, Tally())
                tally.calls += 1
                tally.errors += 1
            continue
        begun = started.get(record.call_id)
        if begun is None:
            continue
        tool, variant, dry_run = begun
        failed = body.get("status") == "error"
        if dry_run and not failed:
            continue  # a preview that went through is not a call of the variant
        tally = tallies.setdefault((tool, variant), Tally())
        tally.calls += 1
        tally.errors += failed
    return tallies
