"""The transparency log over the store: integrating records into the tree, signing checkpoints.

Records are durable the moment ``append`` returns (that is the call's path). Joining the
Merkle tree happens here, off that path: a background thread canonicalizes each new record,
stores its leaf hash, and signs a checkpoint of the grown tree, at least once a second while
records arrive. Before signing it checks that the tree still has the root of the last
checkpoint at that size, so it never signs two inconsistent checkpoints: a log changed
behind its back stops being signed, and says why.

Several processes may share one store (``serve`` beside a CLI call on SQLite, workers and
replicas on a shared database): leaf hashes are inserted idempotently and compared, so they
agree or fail. Each record is hashed once, not once by every process: a log behind the latest
checkpoint that its own key signed takes that checkpoint's tree from the store (O(log n)
stored hashes, which must fold to the signed root) and hashes only the records after it.

The tree is not held in memory: only its compact range (``Frontier``, O(log n) hashes) is,
loaded at start from O(log n) stored subtree hashes, and each integration stores the leaf
hashes with the subtree hashes they complete. Proofs read those from the store
(``StoredTree``); rebuilding the tree from every leaf is the verifier's job.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.audit.checkpoint import Checkpoint, CheckpointError, Signer, open_note
from gateway.audit.records import record_leaf
from gateway.audit.store import AuditStore, StoredCheckpoint, now
from gateway.audit.tree_store import STRIDE, Frontier, StoredTree
from gateway.errors import AuditUnavailable, CallNotFound
from gateway.mapping.redaction import Commitments

log = logging.getLogger("legacy_gateway.audit")

DEFAULT_ORIGIN = "legacy-gateway/audit"
KEY_FILE = "audit-signing.key"
SALT_FILE = "audit-commit.key"
READ_CHUNK = 5_000


@dataclass(frozen=True)
class AuditSettings:
    """Where the log keeps its key and what it calls itself."""

    key_path: Path
    origin: str = DEFAULT_ORIGIN
    interval_s: float = 0.25

    @property
    def salt_path(self) -> Path:
        """The salt of the commitments that stand for sensitive values in records."""
        return self.key_path.with_name(SALT_FILE)

    def commitments(self) -> Commitments:
        """This installation's commitments, with the salt made on first use."""
        try:
            return Commitments.load_or_create(self.salt_path)
        except OSError as exc:
            raise AuditUnavailable(
                f"cannot open the audit store's commitment salt {self.salt_path}: {exc}"
            ) from exc

    def existing_commitments(self) -> Commitments:
        """This installation's commitments if its salt exists yet, else throwaway ones (for
        looking only: nothing made here)."""
        if self.salt_path.is_file():
            return Commitments(self.salt_path.read_bytes())
        return Commitments.throwaway()

    @classmethod
    def from_environment(cls, audit_db: Path) -> AuditSettings:
        """``LEGACY_GATEWAY_AUDIT_KEY`` and ``..._ORIGIN``, else the key beside the database."""
        key = os.environ.get("LEGACY_GATEWAY_AUDIT_KEY") or audit_db.parent / KEY_FILE
        origin = os.environ.get("LEGACY_GATEWAY_AUDIT_ORIGIN") or DEFAULT_ORIGIN
        return cls(Path(key), origin)


class AuditLog:
    def __init__(self, store: AuditStore, settings: AuditSettings) -> None:
        self.store = store
        self.settings = settings
        self.signer = Signer.load_or_create(settings.key_path, settings.origin)
        # What sensitive values are committed with: the salt beside the signing key.
        self.commitments = settings.commitments()
        self.frontier = Frontier()
        self._loaded = False
        # The last (size, root) this log signed or checked against the store's tree: the
        # next tick's latest checkpoint is usually it, and needs no stored-tree read.
        self._checked: tuple[int, bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error = ""

    @property
    def origin(self) -> str:
        return self.settings.origin

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        try:
            self.sync()  # what came last is checkpointed too
        except AuditUnavailable as exc:
            log.error("audit log: final checkpoint failed: %s", exc.message)

    def _run(self) -> None:
        while not self._stopping.wait(self.settings.interval_s):
            try:
                self.sync()
                self.last_error = ""
            except AuditUnavailable as exc:
                if exc.message != self.last_error:  # once per problem, not every tick
                    log.error("audit log: %s", exc.message)
                self.last_error = exc.message
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("audit log: checkpointing failed")

    # ------------------------------------------------------------------ integrating

    def sync(self) -> StoredCheckpoint | None:
        """Integrate every new record into the tree; sign a checkpoint if it grew."""
        with self._lock:
            if not self._loaded:
                self.frontier = self._load()
                self._loaded = True
            self._integrate()
            return self._sign()

    def tree(self, size: int | None = None) -> StoredTree:
        """The stored tree of ``size`` leaves (default: as far as this log integrated)."""
        return StoredTree(self.store.node_ranges, self.frontier.size if size is None else size)

    def _load(self) -> Frontier:
        """The frontier of the integrated tree; a store written before subtree hashes were
        kept gets them first, in one pass over its leaves."""
        size = self.store.tree_size()
        stored = size >> STRIDE
        try:
            if stored:
                self.store.nodes(STRIDE, stored - 1, stored)
        except AuditUnavailable:
            self._store_subtrees(size)
        return Frontier.load(StoredTree(self.store.node_ranges, size))

    def _store_subtrees(self, size: int) -> None:
        frontier = Frontier()
        for start in range(0, size, READ_CHUNK):
            hashes = self.store.nodes(0, start, min(size, start + READ_CHUNK))
            self.store.add_leaves(start, hashes, frontier.extend(hashes))

    def _integrate(self) -> None:
        total = self.store.count()
        if self.frontier.size < total:
            self._take_signed()
        while self.frontier.size < total:
            start = self.frontier.size
            rows = self.store.read_new(start, min(total, start + READ_CHUNK))
            hashes = []
            for expected, (index, data) in enumerate(rows, start):
                if index != expected:
                    raise AuditUnavailable(f"record {expected} is missing from the log")
                hashes.append(record_leaf(data))
            if not hashes:
                raise AuditUnavailable(f"record {start} is missing from the log")
            grown = Frontier(self.frontier.size, list(self.frontier.peaks))
            self.store.add_leaves(start, hashes, grown.extend(hashes))
            self.frontier = grown  # only once the store holds what it grew by

    def _take_signed(self) -> None:
        """Move to the latest checkpoint if another writer signed more than this log holds.

        Its tree is read, not computed: the frontier at its size from the stored subtree
        hashes, taken only if they fold to the root that this log's own key signed (the
        writer that signed it hashed those records, or took them the same way). Anything
        else is left to hashing the records, and to ``_sign``'s check of the stored tree.
        """
        latest = self.store.latest_checkpoint()
        if latest is None or latest.size <= self.frontier.size:
            return
        try:
            signed = open_note(latest.note, self.signer.verifier)
        except CheckpointError:
            return
        if (signed.origin, signed.size, signed.root) != (self.origin, latest.size, latest.root):
            return
        taken = Frontier.load(StoredTree(self.store.node_ranges, latest.size))
        if taken.root() == latest.root:
            self.frontier = taken
            self._checked = (latest.size, latest.root)

    def _sign(self) -> StoredCheckpoint | None:
        latest = self.store.latest_checkpoint()
        if latest is not None and latest.size > self.frontier.size:
            self._integrate()  # another replica signed records that came after our count
        size = self.frontier.size
        if latest is not None:
            if latest.size > size:
                raise AuditUnavailable(
                    f"a checkpoint covers {latest.size} records but the log holds {size}: "
                    "records were removed"
                )
            if self._checked != (latest.size, latest.root) and (
                self.tree().root(latest.size) != latest.root
            ):
                raise AuditUnavailable(
                    f"the first {latest.size} records no longer hash to the root signed at "
                    f"{latest.at}: refusing to sign (run legacy-gateway audit verify)"
                )
            self._checked = (latest.size, latest.root)
            if latest.size == size:
                return latest
        if size == 0:
            return None
        root = self.frontier.root()
        note = self.signer.sign(Checkpoint(self.origin, size, root))
        checkpoint = StoredCheckpoint(size, root, now(), note)
        self.store.add_checkpoint(checkpoint)
        self._checked = (size, root)
        return checkpoint

    # ------------------------------------------------------------------ proofs

    def latest(self) -> dict[str, Any]:
        checkpoint = self.store.latest_checkpoint() or self.sync()
        if checkpoint is None:
            raise AuditUnavailable("the log is empty: nothing has been checkpointed yet")
        return self._checkpoint_view(checkpoint)

    def _checkpoint_view(self, checkpoint: StoredCheckpoint) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "size": checkpoint.size,
            "root": base64.b64encode(checkpoint.root).decode(),
            "signed_at": checkpoint.at,
            "note": checkpoint.note,
            "verifier_key": str(self.signer.verifier),
        }

    def proof_of_call(self, call_id: str) -> dict[str, Any]:
        """Every record of a call, each with its inclusion proof against one checkpoint."""
        records = self.store.records_of(call_id)
        if not records:
            raise CallNotFound(f"no call with id '{call_id}'")
        checkpoint = self.store.latest_checkpoint()
        if checkpoint is None or checkpoint.size <= records[-1].index:
            checkpoint = self.sync()  # the call's last records are not signed yet: sign now
        if checkpoint is None or checkpoint.size <= records[-1].index:
            raise AuditUnavailable("the call's records are not in a signed checkpoint yet")
        tree = self.tree(checkpoint.size)  # every writer stores a tree before signing it
        proven = [
            {
                "index": record.index,
                "kind": record.kind,
                "leaf_hash": base64.b64encode(tree.complete(0, record.index)).decode(),
                "inclusion_proof": [
                    base64.b64encode(node).decode()
                    for node in tree.inclusion_proof(record.index, checkpoint.size)
                ],
                "record": record.as_dict(),
            }
            for record in records
        ]
        return {
            "call_id": call_id,
            "checkpoint": self._checkpoint_view(checkpoint),
            "records": proven,
        }
