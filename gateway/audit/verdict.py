"""What ``legacy-gateway audit verify`` says, and its exit status.

- 0, ``ok``: consistent, and signed by a key the verifier trusts (``gateway.audit.trust``);
- 1, ``FAILED``: a record, a checkpoint or a bundle file is wrong; the first record (or the
  file) at fault is named;
- 3, ``UNTRUSTED``: consistent in itself, but no trust anchor was given, so only internal
  consistency was checked: a rewritten log re-signed with another key looks the same.

Every answer states the range checked and the log it belongs to, so a dropped tail shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.audit.store import now
from gateway.audit.verifications_store import Verification
from gateway.audit.verify import Report

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNTRUSTED = 3


@dataclass
class Verdict:
    status: int
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)


def checked_range(report: Report) -> str:
    """'records 0-98 of a log of 99 signed by <key id>', with any unsigned tail named."""
    if report.end <= report.first_index:
        span = "no records"
    else:
        span = f"records {report.first_index}\u2013{report.end - 1}"
    if report.end > report.latest_size:
        return (
            f"{span} of a log of {report.end}, the first {report.latest_size} signed by "
            f"{report.key_id} ({report.end - report.latest_size} newer record(s) not "
            "checkpointed yet)"
        )
    return f"{span} of a log of {report.latest_size} signed by {report.key_id}"


def verdict(report: Report, what: str) -> Verdict:
    """The answer to print for ``report`` on ``what``."""
    summary = (
        f"{report.records} record(s), {report.checkpoints} signed checkpoint(s), every root matches"
    )
    if not report.ok:
        if report.first_bad_index is not None:
            where = f" at record {report.first_bad_index}"
        else:
            where = f" in {report.first_bad_file}" if report.first_bad_file else ""
        lines = [f"FAILED{where}: {report.problems[0]}"]
        lines += [f"  also: {problem}" for problem in report.problems[1:10]]
        lines.append(f"  checked: {what}: {checked_range(report)}")
        return Verdict(EXIT_FAILED, err=lines)
    if not report.anchor:
        return Verdict(
            EXIT_UNTRUSTED,
            out=[
                f"UNTRUSTED: {what}: {checked_range(report)}: {summary}, but only its "
                "internal consistency was checked: no trusted key was given, and whoever "
                "rewrote the records could have re-signed them with a key of their own.",
                f"  the bundle's own key: {report.key_id}, "
                f"fingerprint {report.offered_fingerprint}",
                "  compare that with the log's operator, then verify with --key FILE or "
                "--fingerprint, or pin the key: legacy-gateway audit trust FILE",
            ],
        )
    return Verdict(
        EXIT_OK,
        out=[f"ok: {what}: {checked_range(report)}: {summary}; trusted key: {report.anchor}"],
    )


def verification(report: Report, status: int, checked_by: str) -> Verification:
    """What the store keeps of this verification (``audit verify`` on a store)."""
    result = {EXIT_OK: "ok", EXIT_UNTRUSTED: "untrusted"}.get(status, "failed")
    return Verification(
        at=now(),
        result=result,
        first_index=report.first_index,
        end_index=report.end,
        checkpoint_size=report.latest_size,
        checkpoints=report.checkpoints,
        first_bad_index=report.first_bad_index,
        problem=report.problems[0] if report.problems else None,
        checked_by=checked_by,
        anchor=report.anchor,
    )
