"""``legacy-gateway audit verify`` as an auditor runs it: the exit status and the words that
say what was checked, against which key, and where a tampered log first breaks."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.api.overview import overview
from gateway.audit.checkpoint import Signer
from gateway.audit.sqlite_store import SQLiteStore
from tests.security.tamper_store import ORIGIN, RawSQLite, fill, resign

COMMAND = Path(sys.executable).parent / "legacy-gateway"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LEGACY_GATEWAY_AUDIT_KEY": str(tmp_path / "keys" / "signing.key"),
        "LEGACY_GATEWAY_AUDIT_ORIGIN": ORIGIN,
        "LEGACY_GATEWAY_TRUSTED_KEYS": str(tmp_path / "trusted-keys"),
    }


@pytest.fixture
def audit_db(tmp_path: Path) -> Path:
    store = SQLiteStore(tmp_path / "audit.sqlite")
    fill(store, tmp_path / "keys")
    store.close()
    return tmp_path / "audit.sqlite"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), "audit", *args], env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def test_export_then_verify_with_and_without_a_trust_anchor(
    env: dict[str, str], audit_db: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    exported = run(env, "export", "--out", str(bundle), "--audit-db", str(audit_db))
    assert exported.returncode == 0, exported.stderr
    public = tmp_path / "keys" / "signing.key.pub"
    assert f"legacy-gateway audit verify {bundle} --key {public}" in exported.stdout

    anchored = run(env, "verify", str(bundle), "--key", str(public))
    assert anchored.returncode == 0, anchored.stderr
    assert anchored.stdout.startswith(f"ok: bundle {bundle}: records 0\u201329 of a log of 30 ")
    assert f"trusted key: --key {public}" in anchored.stdout

    unanchored = run(env, "verify", str(bundle))
    assert unanchored.returncode == 3
    assert unanchored.stdout.startswith(f"UNTRUSTED: bundle {bundle}: records 0\u201329 of a log")

    pinned = run(env, "trust", str(public), "--yes")
    assert pinned.returncode == 0, pinned.stderr
    assert (tmp_path / "trusted-keys").read_text().strip() == public.read_text().strip()
    by_pin = run(env, "verify", str(bundle))
    assert by_pin.returncode == 0, by_pin.stderr
    assert "trusted key: pinned in" in by_pin.stdout

    # Another key put in the bundle: the pin refuses it, and names the file.
    other = Signer.load_or_create(tmp_path / "other.key", ORIGIN)
    (bundle / "log.pub").write_text(f"{other.verifier}\n")
    forged = run(env, "verify", str(bundle))
    assert forged.returncode == 1
    assert forged.stderr.startswith("FAILED in log.pub: the bundle's log.pub")
    assert "checked: bundle" in forged.stderr


def test_a_store_with_its_head_deleted_by_hand_fails_at_record_0(
    env: dict[str, str], audit_db: Path
) -> None:
    raw = sqlite3.connect(audit_db)
    for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        raw.execute(f"DROP TRIGGER {name}")
    raw.execute("INSERT INTO pruned VALUES (9, 'now')")
    raw.execute("DELETE FROM records WHERE idx < 9")
    raw.commit()
    raw.close()
    verified = run(env, "verify", "--audit-db", str(audit_db))
    assert verified.returncode == 1
    assert verified.stderr.startswith(
        "FAILED at record 0: records 0 to 8 are missing from the store and no prune statement"
    )
    assert "checked: " in verified.stderr and "records 9\u201329 of a log of 30" in verified.stderr


def test_a_store_re_signed_with_a_replaced_key_fails_against_the_pinned_one(
    env: dict[str, str], audit_db: Path, tmp_path: Path
) -> None:
    public = tmp_path / "keys" / "signing.key.pub"
    assert run(env, "trust", str(public), "--yes").returncode == 0
    # Someone with the store's directory: records rewritten, checkpoints re-signed with a key
    # of their own, and that key put where the gateway's was.
    other = Signer.load_or_create(tmp_path / "other" / "signing.key", ORIGIN)
    raw = RawSQLite(audit_db)
    statements = resign(raw, other)
    raw.drop_triggers()
    raw.run(*statements)
    shutil.copy(tmp_path / "other" / "signing.key", tmp_path / "keys" / "signing.key")
    public.write_text(f"{other.verifier}\n")

    pinned = run(env, "verify", "--audit-db", str(audit_db))
    assert pinned.returncode == 1
    assert pinned.stderr.startswith("FAILED at record 0: ")
    assert "carries no signature of key example.org/log" in pinned.stderr
    # Without the pin, the replaced key is all there is: the answer names it, so an operator
    # who knows the real fingerprint sees the difference.
    unpinned = run({**env, "LEGACY_GATEWAY_TRUSTED_KEYS": str(tmp_path / "none")},
                   "verify", "--audit-db", str(audit_db))  # fmt: skip
    assert unpinned.returncode == 0
    assert f"signed by {other.verifier.key_id}" in unpinned.stdout
    assert f"trusted key: the configured signing key's public half, {public}" in unpinned.stdout


def test_each_verification_of_a_store_is_recorded_in_it_failures_too(
    env: dict[str, str], audit_db: Path, tmp_path: Path
) -> None:
    store = SQLiteStore(audit_db)
    assert store.latest_verification() is None
    assert overview(store, 5)["last_verification"] is None
    store.close()

    verified = run(env, "verify", "--audit-db", str(audit_db))
    assert verified.returncode == 0, verified.stderr
    store = SQLiteStore(audit_db)
    ok = store.latest_verification()
    store.close()
    assert ok is not None
    assert (ok.result, ok.first_index, ok.end_index) == ("ok", 0, 30)
    assert (ok.checkpoint_size, ok.checkpoints) == (30, 4)
    assert ok.first_bad_index is None and ok.problem is None
    assert ok.checked_by.endswith(f"@{socket.gethostname()}")
    assert str(tmp_path / "keys" / "signing.key.pub") in ok.anchor

    # Record 4 rewritten behind the triggers' back: the verification that finds it is kept.
    raw = RawSQLite(audit_db)
    raw.drop_triggers()
    changed = raw.data(4).replace(b'"x":1.5', b'"x":2.5')
    assert changed != raw.data(4)
    raw.run(("UPDATE records SET data = ? WHERE idx = 4", (changed,)))
    tampered = run(env, "verify", "--audit-db", str(audit_db))
    assert tampered.returncode == 1
    assert tampered.stderr.startswith("FAILED at record 4: ")
    store = SQLiteStore(audit_db)
    try:
        failed = store.latest_verification()
        shown = overview(store, 5)["last_verification"]
    finally:
        store.close()
    assert failed is not None and failed.at > ok.at
    assert (failed.result, failed.first_bad_index) == ("failed", 4)
    assert failed.problem is not None and "record 4" in failed.problem
    assert failed.problem in tampered.stderr
    assert shown["result"] == "failed" and shown["ok"] is False
    assert shown["first_bad_index"] == 4 and shown["age_s"] >= 0
    assert raw.one("SELECT count(*) FROM verifications") == 2
