"""``audit``: check, export, prune and checkpoint the call record; pin a log's key."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.common import DEFAULT_AUDIT_DB, AuditDb, StoreUrl, audit_app, bad_input, fail
from gateway.cli.store import audit_store, signed_log
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.audit.store import AuditStore
    from gateway.audit.verifications_store import Verification

KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="The log's public key (a note verifier key line); default: the .pub file beside "
        "the signing key, or the bundle's own.",
    ),
]
KeptCheckpoints = Annotated[
    list[Path] | None,
    typer.Option(
        "--checkpoint",
        help="A signed checkpoint kept from earlier (e.g. from /v1/audit/checkpoint): the log "
        "must still contain it. Repeatable.",
    ),
]


Fingerprint = Annotated[
    str | None,
    typer.Option(
        "--fingerprint",
        help="The fingerprint (sha256:...) of the log's key, as its operator read it to you: "
        "the key the bundle carries must have it.",
    ),
]
VerifyRetention = Annotated[
    int | None,
    typer.Option(
        "--retention-days",
        help="The retention minimum a prune must have kept (default 183, "
        "LEGACY_GATEWAY_AUDIT_RETENTION_DAYS).",
    ),
]


@audit_app.command("verify")
def audit_verify(
    bundle: Annotated[
        Path | None, typer.Argument(help="An exported bundle; without it, the store.")
    ] = None,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
    key: KeyFile = None,
    fingerprint: Fingerprint = None,
    checkpoint: KeptCheckpoints = None,
    retention_days: VerifyRetention = None,
) -> None:
    """Recompute every leaf and root, check every checkpoint against a trusted key; name the
    first record that fails. Exit 0 ok, 1 failed, 3 consistent but no trusted key given.
    A store's verification is recorded in it (when, the range, the result, by whom): the
    console shows the last one."""
    from gateway.audit.bundle import BundleError, verify_bundle, verify_store
    from gateway.audit.checkpoint import CheckpointError, VerifierKey
    from gateway.audit.log import AuditSettings
    from gateway.audit.retention import retention_days as default_retention
    from gateway.audit.trust import choose_anchor, pinned_keys
    from gateway.audit.verdict import verdict, verification

    kept = [path.read_text() for path in checkpoint or []]
    minimum = default_retention() if retention_days is None else retention_days
    try:
        trusted = VerifierKey.parse(key.read_text()) if key else None
        pinned = pinned_keys()
        if bundle is not None:
            report = verify_bundle(
                bundle, trusted, kept, fingerprint=fingerprint, pinned=pinned,
                key_source=f"--key {key}", minimum_days=minimum,
            )  # fmt: skip
            what = f"bundle {bundle}"
        else:
            settings = AuditSettings.from_environment(audit_db)
            public = settings.key_path.with_name(settings.key_path.name + ".pub")
            if trusted is None and not public.exists():
                raise fail(GatewayError(f"no public key at {public} (set --key)"))
            offered = trusted or VerifierKey.parse(public.read_text())
            anchor = choose_anchor(
                offered, key=trusted, key_source=f"--key {key}", fingerprint=fingerprint,
                pinned=pinned,
            )  # fmt: skip
            source = anchor.source or f"the configured signing key's public half, {public}"
            with audit_store(audit_db, store_url) as store:
                report = verify_store(store, anchor.key, kept, anchor=source, minimum_days=minimum)
                what = store.display
                _record(store, verification(report, verdict(report, what).status, operator()))
    except (BundleError, CheckpointError, OSError) as exc:
        raise fail(GatewayError(str(exc))) from None
    answer = verdict(report, what)
    for line in answer.out:
        typer.echo(line)
    for line in answer.err:
        typer.echo(line, err=True)
    if answer.status:
        raise typer.Exit(answer.status)


def operator() -> str:
    """Who runs the command, as ``user@host``."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a passwd entry
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def _record(store: AuditStore, outcome: Verification) -> None:
    """Keep the outcome in the store; the verdict stands even when that write fails (a
    store damaged enough to refuse it is what the verdict is about)."""
    try:
        store.add_verification(outcome)
    except GatewayError as exc:
        typer.echo(f"this verification could not be recorded in the store: {exc}", err=True)


@audit_app.command("trust")
def audit_trust(
    public: Annotated[Path, typer.Argument(help="The log's verifier key (a .pub file).")],
    yes: Annotated[bool, typer.Option("--yes", help="Pin without asking.")] = False,
) -> None:
    """Pin a log's key: later verifications of that log need no --key, and fail if it
    was signed by another. Check the printed fingerprint with the log's operator first."""
    from gateway.audit.checkpoint import CheckpointError, VerifierKey
    from gateway.audit.trust import pin, pinned_keys_file

    try:
        key = VerifierKey.parse(public.read_text())
    except (CheckpointError, OSError) as exc:
        raise fail(GatewayError(f"{public}: {exc}")) from None
    typer.echo(f"key {key.key_id}, fingerprint {key.fingerprint}")
    if not yes and not typer.confirm(
        f"Is this the fingerprint the log's operator gave you? Pin it in {pinned_keys_file()}"
    ):
        raise typer.Exit(1)
    typer.echo(f"pinned in {pin(key)}")


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the bundle to.")],
    start: Annotated[
        str | None,
        typer.Option("--from", help="First record: an index, a date or an ISO time."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="End (excluded): an index, a date or an ISO time."),
    ] = None,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
) -> None:
    """Write a self-contained bundle of records, checkpoints and key for offline audit."""
    from gateway.audit.bundle import BundleError, export_bundle

    with signed_log(audit_db, store_url) as log:
        try:
            summary = export_bundle(log.store, log, out, start, end)
        except BundleError as exc:
            raise fail(GatewayError(str(exc))) from None
    public = log.signer.verifier
    typer.echo(
        f"exported records {summary.first} to {summary.end - 1} into {summary.path}, with "
        f"the checkpoints up to size {summary.checkpoint_size}.\n"
        f"Its log.pub is only a claim: check it anywhere against the log's key, obtained "
        f"separately (the .pub beside the signing key, or pinned with audit trust):\n"
        f"  legacy-gateway audit verify {summary.path} --key {log.settings.key_path}.pub\n"
        f"  or: legacy-gateway audit verify {summary.path} --fingerprint {public.fingerprint}\n"
        f"key {public.key_id}, fingerprint {public.fingerprint}"
    )


@audit_app.command("prune")
def audit_prune(
    out: Annotated[Path, typer.Option("--out", help="Directory for the bundle of what goes.")],
    before: Annotated[
        str, typer.Option("--before", help="Prune only records older than this date or time.")
    ],
    retention_days: Annotated[
        int | None,
        typer.Option(
            "--retention-days",
            help="Minimum age of what may go (default 183, LEGACY_GATEWAY_AUDIT_RETENTION_DAYS).",
        ),
    ] = None,
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB),
    store_url: StoreUrl = None,
) -> None:
    """Export, verify, then delete old records as one checkpointed range; leaves stay."""
    import datetime as dt

    from gateway.audit.bundle import BundleError
    from gateway.audit.retention import prune

    try:
        moment = dt.datetime.fromisoformat(before)
    except ValueError:
        raise bad_input(f"--before takes an ISO date or time, not {before!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    with signed_log(audit_db, store_url) as log:
        try:
            pruned = prune(log.store, log, out, moment, retention_days)
        except BundleError as exc:
            raise fail(GatewayError(str(exc))) from None
    if pruned is None:
        typer.echo("nothing to prune: no checkpointed range is older than the cut-off yet")
        return
    typer.echo(
        f"pruned records {pruned.start} to {pruned.end - 1}; they are in {pruned.bundle} "
        "(verified), and their leaf hashes stay in the log"
    )


@audit_app.command("checkpoint")
def audit_checkpoint(
    audit_db: AuditDb = Path(DEFAULT_AUDIT_DB), store_url: StoreUrl = None
) -> None:
    """Integrate new records, sign a checkpoint if the log grew, and print the latest."""
    with signed_log(audit_db, store_url) as log:
        latest = log.latest()
    sys.stdout.write(latest["note"])
