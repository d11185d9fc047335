"""Who is calling: API keys per agent, their scopes, and the open mode of the local demo.

A key looks like ``lgw_<id>_<secret>``. Only the SHA-256 of the secret is stored (the secret
has 256 bits of entropy, so a slow hash would add nothing), next to the agent's name and its
scopes; the id finds the row, and the hash is compared in constant time. Creating and
revoking keys are audit records too.

Scopes are tool names or globs (``get_*``, ``ledger.*`` does not exist: tools have flat
names), tags (``tag:billing`` grants every tool carrying the tag ``billing``, ``tag:bill*``
every tool with a tag the glob matches; a tool gains or loses the grant as its tags change
in the config), plus ``approve`` for people who approve writes and ``audit`` for reading any
call's record and the log (``review`` for the experiments report and reviews). A key sees and
calls only the tools its scopes match.

Principals carry their issuer, so names from different sources never meet: an API key's
agent is ``key:<agent>``, a JWT's subject ``jwt:<issuer>#<sub>``. That whole identity is the
principal on every record and is what ownership checks compare; records written before
principals were qualified name a key's agent bare (``teller-bot``) and are read as
``key:teller-bot``. ``metrics`` is the scope that reads ``/metrics``.

``open`` mode (the local demo) lets anyone call anything as ``anonymous``; the gateway says
so loudly when it starts.

Every malformed ``Authorization`` header (not ASCII, too long, another scheme, an empty
token, a token that is neither a key nor a well-formed JWT) is a 401, never a 500.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gateway.errors import Forbidden, InvalidArguments, Unauthorized

KEY_PATTERN = re.compile(r"^lgw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
SPECIAL_SCOPES = ("approve", "audit", "metrics", "review")
TAG_SCOPE = "tag:"
_GLOB = r"[A-Za-z0-9_*?\[\]-]+"
SCOPE_PATTERN = re.compile(rf"{_GLOB}|{TAG_SCOPE}[A-Za-z0-9_.*?\[\]-]+")
# Longer than any key or any reasonable JWT; a header past it is refused before parsing.
MAX_AUTHORIZATION = 8192
MAX_SUBJECT = 255
KEY_ISSUER, JWT_ISSUER = "key", "jwt"
# Principals the gateway itself names on records; never an API key's agent.
UNQUALIFIED = frozenset({"anonymous", "cli", "gateway"})
Mode = Literal["keys", "open"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its whole identity (``key:teller-bot``,
    ``jwt:https://issuer#alice``, ``anonymous``), the name on its records, and what it may
    do."""

    name: str
    scopes: tuple[str, ...] = ()
    key_id: str | None = None
    everything: bool = False

    def may_call(self, tool: str, tags: Iterable[str] = ()) -> bool:
        """Whether a scope names ``tool`` (or a glob matches it) or one of its ``tags``."""
        if self.everything:
            return True
        tags = tuple(tags)
        for scope in self.scopes:
            if scope.startswith(TAG_SCOPE):
                wanted = scope.removeprefix(TAG_SCOPE)
                if any(fnmatch.fnmatchcase(tag, wanted) for tag in tags):
                    return True
            elif scope not in SPECIAL_SCOPES and fnmatch.fnmatchcase(tool, scope):
                return True
        return False

    def has(self, scope: str) -> bool:
        return self.everything or scope in self.scopes

    def owns(self, recorded: str | None) -> bool:
        """Whether a record's principal is this caller, comparing the whole identity."""
        return recorded is not None and qualified(recorded) == self.name

    def require_tool(self, tool: str, tags: Iterable[str] = ()) -> None:
        if not self.may_call(tool, tags):
            raise Forbidden(
                f"agent '{self.name}' has no scope for tool '{tool}'",
                details={"tool": tool, "scopes": list(self.scopes)},
            )

    def require(self, scope: str, what: str) -> None:
        if not self.has(scope):
            raise Forbidden(
                f"agent '{self.name}' needs the '{scope}' scope to {what}",
                details={"scope": scope},
            )


OPEN = Principal("anonymous", everything=True)


def key_principal(agent: str) -> str:
    return f"{KEY_ISSUER}:{agent}"


def jwt_principal(issuer: str, subject: str) -> str:
    return f"{JWT_ISSUER}:{issuer}#{subject}"


def qualified(recorded: str) -> str:
    """A record's principal as a whole identity: a bare name from before principals carried
    their issuer was an API key's agent."""
    if ":" in recorded or recorded in UNQUALIFIED:
        return recorded
    return key_principal(recorded)


@dataclass(frozen=True)
class StoredKey:
    key_id: str
    agent: str
    secret_hash: str
    scopes: tuple[str, ...]
    created_at: str
    revoked_at: str | None = None


@dataclass(frozen=True)
class NewKey:
    key: str  # shown once, never stored
    stored: StoredKey


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_scopes(scopes: list[str]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(scope.strip() for scope in scopes if scope.strip()))
    if not cleaned:
        raise InvalidArguments([{"field": "scopes", "message": "give at least one scope"}])
    for scope in cleaned:
        if not SCOPE_PATTERN.fullmatch(scope):
            raise InvalidArguments(
                [
                    {
                        "field": "scopes",
                        "message": f"'{scope}' is not a tool name, glob, tag:NAME or scope",
                    }
                ]
            )
    return cleaned


def new_key(agent: str, scopes: list[str], created_at: str) -> NewKey:
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,100}", agent):
        raise InvalidArguments(
            [{"field": "agent", "message": "1 to 100 letters, digits, '_', '.', '@' or '-'"}]
        )
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    stored = StoredKey(key_id, agent, hash_secret(secret), check_scopes(scopes), created_at)
    return NewKey(f"lgw_{key_id}_{secret}", stored)


# How often a serving process asks the store whether a key was revoked: the bound within
# which a revocation (``keys revoke``, from any process) is refused by every worker.
REVOCATION_CHECK_S = 0.5
KEPT_KEYS = 10_000


class VerifiedKeys:
    """The stored keys this process found valid, so that a call needs no key lookup.

    Every revocation bumps a counter in the store (``key_generation``); at most every
    ``every_s`` the first call to ask reads it (one small row), and when it moved every kept
    key is forgotten and read again. So a key revoked by any process is refused by every
    worker once ``every_s`` has passed since its revocation was committed. A key's row never
    changes otherwise (its scopes and secret are fixed when it is made). The secret is still
    compared with the kept hash on every call, as with a stored key.
    """

    def __init__(
        self,
        generation: Callable[[], int | None],
        every_s: float = REVOCATION_CHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._generation, self.every_s, self._clock = generation, every_s, clock
        self._keys: dict[str, StoredKey] = {}
        self._seen: int | None = None
        self._checked_at = -float("inf")
        self._lock = threading.Lock()

    def get(self, key_id: str) -> tuple[StoredKey | None, int | None]:
        """The kept key, and the generation to hand back to ``keep`` after a lookup."""
        now = self._clock()
        if now - self._checked_at >= self.every_s:
            generation = self._generation()
            with self._lock:
                self._checked_at = now
                if generation is None or generation != self._seen:
                    self._keys.clear()
                self._seen = generation
        with self._lock:
            return self._keys.get(key_id), self._seen

    def keep(self, key: StoredKey, generation: int | None) -> None:
        """A key read from the store while ``generation`` was current (not revoked): kept
        unless a revocation was seen since the read began."""
        with self._lock:
            if generation is None or generation != self._seen:
                return
            if len(self._keys) >= KEPT_KEYS:
                self._keys.clear()
            self._keys[key.key_id] = key


@dataclass
class Authenticator:
    """Turns an ``Authorization`` header into a principal, or refuses with 401.

    API keys of this gateway (``lgw_...``), or, when an OIDC issuer is configured
    (``LEGACY_GATEWAY_JWT_*``), JWTs it signed.
    """

    mode: Mode
    lookup: object = field(repr=False)  # AuditStore: has find_key(key_id), key_generation()
    jwt: JwtVerifier | None = None
    verified: VerifiedKeys | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        generation = getattr(self.lookup, "key_generation", None)
        if self.verified is None and generation is not None:
            self.verified = VerifiedKeys(generation)

    def principal(self, authorization: str | bytes | None) -> Principal:
        if self.mode == "open":
            # Anyone may call, as ``anonymous``; a valid key of this gateway still names its
            # holder, so a person (the demo's operator) can approve what an agent asked for.
            if authorization is None:
                return OPEN
            try:
                return self._key_holder(authorization)
            except Unauthorized:
                return OPEN
        return self._key_holder(authorization)

    def holder(self, authorization: str | bytes | None) -> Principal:
        """The holder of a key or token, in open mode too: 401 for one that is not valid.
        For signing in, where a wrong or revoked key must not pass as ``anonymous``."""
        return self._key_holder(authorization)

    def _key_holder(self, authorization: str | bytes | None) -> Principal:
        token = bearer_token(authorization)
        match = KEY_PATTERN.fullmatch(token)
        if match is None:
            if self.jwt is not None and token.count(".") == 2:
                return self.jwt.principal(token)
            raise Unauthorized("that is not an API key of this gateway")
        key_id, secret = match.groups()
        stored, generation = (None, None) if self.verified is None else self.verified.get(key_id)
        kept = stored is not None
        if not kept:
            stored = self.lookup.find_key(key_id)  # type: ignore[attr-defined]
        if stored is None or not hmac.compare_digest(stored.secret_hash, hash_secret(secret)):
            raise Unauthorized("unknown API key")
        if stored.revoked_at is not None:
            raise Unauthorized(f"this API key was revoked at {stored.revoked_at}")
        if not kept and self.verified is not None:
            self.verified.keep(stored, generation)
        return Principal(key_principal(stored.agent), stored.scopes, key_id)


def bearer_token(authorization: str | bytes | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or a 401 saying what is
    wrong with the header. Headers arrive as bytes (ASGI) or latin-1 text (Starlette)."""
    if authorization is None or not authorization.strip():
        raise Unauthorized("no API key: send 'Authorization: Bearer lgw_...'")
    if len(authorization) > MAX_AUTHORIZATION:
        raise Unauthorized(f"the Authorization header is longer than {MAX_AUTHORIZATION} bytes")
    if isinstance(authorization, bytes):
        authorization = authorization.decode("latin-1")
    if not authorization.isascii() or not authorization.isprintable():
        raise Unauthorized("the Authorization header must be printable ASCII")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <API key>'")
    return token.strip()


JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]


class JwtVerifier:
    """Bearer JWTs from an OIDC issuer: signature (JWKS), issuer, audience, expiry; the
    principal and scopes come from claims (``sub`` and ``scope`` unless configured)."""

    def __init__(
        self,
        jwks: str,
        issuer: str,
        audience: str,
        scopes_claim: str = "scope",
        principal_claim: str = "sub",
    ) -> None:
        import jwt

        self._jwt = jwt
        self.issuer, self.audience = issuer, audience
        self.scopes_claim, self.principal_claim = scopes_claim, principal_claim
        self._client: Any = None
        self._keys: Any = None
        if jwks.startswith(("https://", "http://")):
            self._client = jwt.PyJWKClient(jwks, cache_keys=True, lifespan=300)
        else:
            try:
                self._keys = jwt.PyJWKSet.from_json(Path(jwks).read_text())
            except (OSError, jwt.PyJWTError) as exc:
                raise ValueError(f"cannot read the JWKS file {jwks}: {exc}") from exc

    @classmethod
    def from_environment(cls) -> JwtVerifier | None:
        jwks = os.environ.get("LEGACY_GATEWAY_JWT_JWKS")
        if not jwks:
            return None
        issuer = os.environ.get("LEGACY_GATEWAY_JWT_ISSUER")
        audience = os.environ.get("LEGACY_GATEWAY_JWT_AUDIENCE")
        if not issuer or not audience:
            raise ValueError(
                "LEGACY_GATEWAY_JWT_JWKS needs LEGACY_GATEWAY_JWT_ISSUER and "
                "LEGACY_GATEWAY_JWT_AUDIENCE: tokens are checked against both"
            )
        return cls(
            jwks,
            issuer,
            audience,
            os.environ.get("LEGACY_GATEWAY_JWT_SCOPES_CLAIM", "scope"),
            os.environ.get("LEGACY_GATEWAY_JWT_PRINCIPAL_CLAIM", "sub"),
        )

    def principal(self, token: str) -> Principal:
        jwt = self._jwt
        try:
            if self._client is not None:
                key = self._client.get_signing_key_from_jwt(token).key
            else:
                kid = jwt.get_unverified_header(token).get("kid")
                key = self._keys[kid].key if kid else self._keys.keys[0].key
            claims = jwt.decode(
                token,
                key,
                algorithms=JWT_ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", self.principal_claim]},
            )
        except (jwt.PyJWTError, KeyError, IndexError, ValueError, TypeError) as exc:
            # Garbage a token can carry (bad base64, a header that is not an object, no
            # keys in the set) is the caller's mistake, never the gateway's.
            raise Unauthorized(f"the bearer token is not valid: {_short(exc)}") from None
        subject = claims[self.principal_claim]
        if (
            not isinstance(subject, str)
            or not 0 < len(subject) <= MAX_SUBJECT
            or not subject.isprintable()
        ):
            raise Unauthorized(
                f"the token's '{self.principal_claim}' claim must be a printable string of "
                f"1 to {MAX_SUBJECT} characters"
            )
        raw = claims.get(self.scopes_claim) or []
        if isinstance(raw, str):
            scopes = raw.split()
        elif isinstance(raw, list) and all(isinstance(s, str) for s in raw):
            scopes = list(raw)
        else:
            raise Unauthorized(f"the token's '{self.scopes_claim}' claim must be a string or list")
        return Principal(jwt_principal(self.issuer, subject), tuple(scopes))


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."
