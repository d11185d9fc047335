"""Principals, scopes, API keys and the Authorization header, without a store."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from gateway.errors import Forbidden, InvalidArguments, Unauthorized
from gateway.policy.auth import (
    KEY_PATTERN,
    MAX_AUTHORIZATION,
    OPEN,
    Authenticator,
    Principal,
    StoredKey,
    VerifiedKeys,
    bearer_token,
    check_scopes,
    jwt_principal,
    key_principal,
    new_key,
    qualified,
)

NOW = "2026-01-02T03:04:05Z"


class KeyTable:
    """The one thing the authenticator asks of a store: a key by its id."""

    def __init__(self, *keys: StoredKey) -> None:
        self.keys = {key.key_id: key for key in keys}
        self.asked: list[str] = []

    def find_key(self, key_id: str) -> StoredKey | None:
        self.asked.append(key_id)
        return self.keys.get(key_id)


# Scopes: tool names, globs, tags and the three special scopes.


def test_a_scope_names_a_tool_exactly_or_by_glob() -> None:
    caller = Principal("key:teller", ("get_customer", "list_*"))

    assert caller.may_call("get_customer")
    assert caller.may_call("list_postings")
    assert not caller.may_call("get_customers")
    assert not caller.may_call("post_payment")


def test_a_glob_is_case_sensitive() -> None:
    assert not Principal("key:a", ("GET_*",)).may_call("get_customer")


def test_a_tag_scope_grants_every_tool_carrying_the_tag_or_a_matching_one() -> None:
    billing = Principal("key:a", ("tag:billing",))
    any_bill = Principal("key:a", ("tag:bill*",))

    assert billing.may_call("post_invoice", ["billing", "write"])
    assert not billing.may_call("post_invoice", ["billings"])
    assert not billing.may_call("billing")  # a tag scope is not a tool name
    assert any_bill.may_call("x", ["billings"])
    assert not any_bill.may_call("x", ["ledger"])


@pytest.mark.parametrize("special", ["approve", "audit", "metrics"])
def test_a_special_scope_never_grants_a_tool_of_the_same_name(special: str) -> None:
    caller = Principal("key:a", (special,))

    assert caller.has(special)
    assert not caller.may_call(special)


def test_the_open_principal_may_do_everything() -> None:
    assert OPEN.name == "anonymous"
    assert OPEN.may_call("anything", ["any"])
    assert OPEN.has("audit")
    OPEN.require("approve", "approve writes")


def test_require_tool_names_the_tool_and_the_scopes_it_had() -> None:
    caller = Principal("key:teller", ("get_*",))

    caller.require_tool("get_customer")
    with pytest.raises(Forbidden) as refused:
        caller.require_tool("post_payment", ["write"])

    assert refused.value.status == 403
    assert refused.value.message == "agent 'key:teller' has no scope for tool 'post_payment'"
    assert refused.value.details == {"tool": "post_payment", "scopes": ["get_*"]}


def test_require_names_the_missing_scope_and_what_it_was_for() -> None:
    with pytest.raises(Forbidden) as refused:
        Principal("key:teller", ("get_*",)).require("audit", "export the log")

    assert refused.value.message == "agent 'key:teller' needs the 'audit' scope to export the log"
    assert refused.value.details == {"scope": "audit"}


# Principals carry their issuer.


def test_principals_are_qualified_by_their_issuer() -> None:
    assert key_principal("teller") == "key:teller"
    assert jwt_principal("https://login.example.com/", "alice") == (
        "jwt:https://login.example.com/#alice"
    )


@pytest.mark.parametrize(
    ("recorded", "whole"),
    [
        ("teller-bot", "key:teller-bot"),  # written before principals were qualified
        ("key:teller-bot", "key:teller-bot"),
        ("jwt:https://i/#teller-bot", "jwt:https://i/#teller-bot"),
        ("anonymous", "anonymous"),
        ("cli", "cli"),
        ("gateway", "gateway"),
    ],
)
def test_a_recorded_principal_reads_as_its_whole_identity(recorded: str, whole: str) -> None:
    assert qualified(recorded) == whole


def test_ownership_compares_the_whole_identity() -> None:
    keyed = Principal("key:alice")

    assert keyed.owns("alice")
    assert keyed.owns("key:alice")
    assert not keyed.owns("jwt:https://i/#alice")
    assert not keyed.owns(None)
    assert not Principal("jwt:https://i/#alice").owns("alice")


# Creating keys.


def test_check_scopes_strips_and_drops_repeats_in_order() -> None:
    assert check_scopes([" get_* ", "tag:billing", "get_*", "", "audit"]) == (
        "get_*",
        "tag:billing",
        "audit",
    )


@pytest.mark.parametrize("scopes", [[], ["", "  "]])
def test_check_scopes_wants_at_least_one(scopes: list[str]) -> None:
    with pytest.raises(InvalidArguments) as refused:
        check_scopes(scopes)

    assert refused.value.details["errors"] == [
        {"field": "scopes", "message": "give at least one scope"}
    ]


@pytest.mark.parametrize("scope", ["get customer", "tag:", "ledger/post", "tag:a b", "é"])
def test_check_scopes_refuses_what_is_no_scope(scope: str) -> None:
    with pytest.raises(InvalidArguments) as refused:
        check_scopes([scope])

    assert refused.value.details["errors"][0]["message"] == (
        f"'{scope}' is not a tool name, glob, tag:NAME or scope"
    )


def test_a_new_key_is_shown_once_and_stored_as_a_hash() -> None:
    created = new_key("teller-bot", ["get_*", "approve"], NOW)

    match = KEY_PATTERN.fullmatch(created.key)
    assert match is not None
    key_id, secret = match.groups()
    assert created.stored.key_id == key_id
    assert created.stored.agent == "teller-bot"
    assert created.stored.scopes == ("get_*", "approve")
    assert created.stored.created_at == NOW
    assert created.stored.revoked_at is None
    assert created.stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(created.stored)


def test_two_new_keys_share_neither_id_nor_secret() -> None:
    first, second = new_key("a", ["x"], NOW), new_key("a", ["x"], NOW)

    assert first.stored.key_id != second.stored.key_id
    assert first.stored.secret_hash != second.stored.secret_hash


@pytest.mark.parametrize("agent", ["", "has space", "a/b", "x" * 101, "ünï"])
def test_a_key_is_only_for_a_plainly_named_agent(agent: str) -> None:
    with pytest.raises(InvalidArguments) as refused:
        new_key(agent, ["x"], NOW)

    assert refused.value.details["errors"][0]["field"] == "agent"


# The Authorization header.


def test_bearer_token_takes_the_token_of_any_casing_of_bearer() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token(b"BEARER abc") == "abc"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "no API key: send 'Authorization: Bearer lgw_...'"),
        ("   ", "no API key: send 'Authorization: Bearer lgw_...'"),
        ("Basic dXNlcjpwdw==", "the Authorization header must be 'Bearer <API key>'"),
        ("Bearer", "the Authorization header must be 'Bearer <API key>'"),
        ("Bearer    ", "the Authorization header must be 'Bearer <API key>'"),
        ("Bearer lgw_é", "the Authorization header must be printable ASCII"),
        (b"Bearer \xff\xfe", "the Authorization header must be printable ASCII"),
        ("Bearer a\tb", "the Authorization header must be printable ASCII"),
        (
            "Bearer " + "a" * MAX_AUTHORIZATION,
            f"the Authorization header is longer than {MAX_AUTHORIZATION} bytes",
        ),
    ],
)
def test_a_malformed_header_is_a_401_saying_what_is_wrong(
    header: str | bytes | None, message: str
) -> None:
    with pytest.raises(Unauthorized) as refused:
        bearer_token(header)

    assert refused.value.status == 401
    assert refused.value.message == message


def test_open_mode_answers_anonymous_without_looking_at_the_header() -> None:
    table = KeyTable()
    auth = Authenticator("open", table)

    assert auth.principal(None) is OPEN
    assert auth.principal("Basic nonsense") is OPEN
    assert table.asked == []


def test_a_key_of_this_gateway_is_its_agent_with_its_scopes() -> None:
    created = new_key("teller-bot", ["get_*"], NOW)
    table = KeyTable(created.stored)

    caller = Authenticator("keys", table).principal(f"Bearer {created.key}")

    assert caller == Principal("key:teller-bot", ("get_*",), created.stored.key_id)
    assert table.asked == [created.stored.key_id]


def test_a_key_with_a_known_id_but_another_secret_is_unknown() -> None:
    created = new_key("teller-bot", ["get_*"], NOW)
    forged = created.key[:-1] + ("A" if created.key[-1] != "A" else "B")

    with pytest.raises(Unauthorized, match=r"^unknown API key$"):
        Authenticator("keys", KeyTable(created.stored)).principal(f"Bearer {forged}")


def test_a_key_of_another_gateway_is_unknown() -> None:
    created = new_key("teller-bot", ["get_*"], NOW)

    with pytest.raises(Unauthorized, match=r"^unknown API key$"):
        Authenticator("keys", KeyTable()).principal(f"Bearer {created.key}")


def test_a_revoked_key_says_when_it_was_revoked() -> None:
    created = new_key("teller-bot", ["get_*"], NOW)
    revoked = replace(created.stored, revoked_at="2026-02-01T00:00:00Z")

    with pytest.raises(Unauthorized) as refused:
        Authenticator("keys", KeyTable(revoked)).principal(f"Bearer {created.key}")

    assert refused.value.message == "this API key was revoked at 2026-02-01T00:00:00Z"


@pytest.mark.parametrize("token", ["lgw_short", "sk-abc", "a.b.c", "lgw_0123456789ab_" + "x" * 42])
def test_a_token_that_is_no_key_is_refused_without_a_lookup(token: str) -> None:
    table = KeyTable()

    with pytest.raises(Unauthorized, match=r"^that is not an API key of this gateway$"):
        Authenticator("keys", table).principal(f"Bearer {token}")

    assert table.asked == []


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class RevokingTable(KeyTable):
    """A key table that counts revocations, as the stores do."""

    def __init__(self, *keys: StoredKey) -> None:
        super().__init__(*keys)
        self.generation = 0
        self.generation_read = 0

    def key_generation(self) -> int:
        self.generation_read += 1
        return self.generation

    def revoke(self, key_id: str) -> None:
        self.keys[key_id] = replace(self.keys[key_id], revoked_at="2026-02-01T00:00:00Z")
        self.generation += 1


def test_a_verified_key_is_kept_and_its_secret_still_checked_on_every_call() -> None:
    created = new_key("teller-bot", ["get_*"], NOW)
    table = RevokingTable(created.stored)
    clock = Clock()
    auth = Authenticator("keys", table, verified=VerifiedKeys(table.key_generation, 0.5, clock))
    for _ in range(5):
        assert auth.principal(f"Bearer {created.key}").name == "key:teller-bot"
    assert table.asked == [created.stored.key_id]
    assert table.generation_read == 1  # once per interval, not once per call
    forged = created.key[:-1] + ("A" if created.key[-1] != "A" else "B")
    with pytest.raises(Unauthorized, match=r"^unknown API key$"):
        auth.principal(f"Bearer {forged}")


def test_a_revocation_is_seen_once_the_interval_has_passed() -> None:
    created = new_key("teller-bot", ["get_*"], NOW)
    table = RevokingTable(created.stored)
    clock = Clock()
    auth = Authenticator("keys", table, verified=VerifiedKeys(table.key_generation, 0.5, clock))
    auth.principal(f"Bearer {created.key}")
    table.revoke(created.stored.key_id)
    clock.now = 0.5
    with pytest.raises(Unauthorized, match="revoked at 2026-02-01"):
        auth.principal(f"Bearer {created.key}")
    clock.now = 0.7  # a revoked key is never kept
    with pytest.raises(Unauthorized, match="revoked at 2026-02-01"):
        auth.principal(f"Bearer {created.key}")


def test_a_key_read_before_a_revocation_was_seen_is_not_kept_after_it() -> None:
    created = new_key("teller-bot", ["get_*"], NOW)
    table = RevokingTable(created.stored)
    verified = VerifiedKeys(table.key_generation, 0.0, Clock())
    _, generation = verified.get(created.stored.key_id)
    table.revoke(created.stored.key_id)
    verified.get(created.stored.key_id)  # another caller learns of the revocation
    verified.keep(created.stored, generation)  # the first caller's read, from before it
    assert verified.get(created.stored.key_id)[0] is None


def test_a_store_that_counts_no_revocations_keeps_no_keys() -> None:
    created = new_key("teller-bot", ["get_*"], NOW)
    table = KeyTable(created.stored)
    auth = Authenticator("keys", table)
    assert auth.verified is None
    auth.principal(f"Bearer {created.key}")
    auth.principal(f"Bearer {created.key}")
    assert table.asked == [created.stored.key_id] * 2
