"""The gateway's one error tree.

Every failure an agent, an integrator or an operator can see is a ``GatewayError`` with a
stable ``code``, an HTTP ``status`` and a ``retryable`` flag; one handler in ``gateway.api``
renders them all as ``{"error": {"code", "message", "retryable", "call_id", "details"}}``.
Driver exceptions (zeep, httpx, pyodbc, pika...) are translated into this tree in exactly
one place per adapter (``Adapter.translate_error``).

GatewayError
├── ConfigError               500 config_invalid       a YAML / WSDL / mapping mistake
├── DependencyMissing         500 dependency_missing   a protocol or system library is absent
├── Unauthorized              401 unauthorized         no API key, or an unknown or revoked one
├── Forbidden                 403 forbidden            the key's scopes do not cover it
├── ToolNotFound              404 tool_not_found
├── ApprovalNotFound          404 approval_not_found
├── ApprovalDecided           409 approval_decided     someone decided it already
├── ApprovalStale             409 approval_stale       the request would no longer be the preview
├── ApprovalExpired           410 approval_expired
├── ApprovalRefused           409 approval_refused     the requester lost the right to ask meanwhile
├── CallNotFound              404 call_not_found
├── RouteNotFound             404 not_found            no such endpoint
├── MethodNotAllowed          405 method_not_allowed
├── RequestTooLarge           413 request_too_large
├── InvalidArguments          422 invalid_arguments    names the failing field(s)
├── IdempotencyKeyReused      409 idempotency_key_reused  same key, other tool or arguments
├── CallInProgress            409 call_in_progress     the key's first call has not ended yet
├── ReplayedError             (as recorded)            a repeated key's first call failed so
├── AuditUnavailable          503 audit_unavailable    the record cannot be written: call refused
├── ShuttingDown              503 shutting_down        this replica is draining: retry elsewhere
├── CallInterrupted           503 call_interrupted     the process stopped before the call ended
└── LegacyError                                         something went wrong on the legacy side
    ├── LegacyFault           502 legacy_fault         the legacy system answered with a fault
    ├── LegacyHTTPError       502 legacy_http_error    an HTTP error status instead of an answer
    ├── LegacyBadResponse     502 legacy_bad_response  unparseable or hostile (XXE, DTD) response
    ├── MappingFailed         502 mapping_failed       a legacy value the output mapping cannot map
    ├── MessageUnroutable     502 message_unroutable   no queue is bound for the message
    ├── OutcomeUnknown        502 outcome_unknown      the gateway stopped mid-call
    ├── LegacyTimeout         504 legacy_timeout       retryable
    ├── ReplyOverdue          504 reply_overdue        a submitted call's reply missed its deadline
    ├── BackendUnavailable    503 backend_unavailable  connection refused, DNS... retryable
    │   └── CircuitOpen       503 circuit_open         the backend failed too often: left alone
    └── RateLimited           429 rate_limited         this agent calls this backend too fast
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


class GatewayError(Exception):
    """Base of every error the gateway reports."""

    code: ClassVar[str] = "gateway_error"
    status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.call_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
            "call_id": self.call_id,
            "details": self.details,
        }


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the configuration, located as precisely as the source allows."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(GatewayError):
    code = "config_invalid"

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        summary = "; ".join(str(issue) for issue in issues[:3])
        more = f" (and {len(issues) - 3} more)" if len(issues) > 3 else ""
        super().__init__(
            f"invalid configuration: {summary}{more}",
            details={"issues": [issue.__dict__ for issue in issues]},
        )


class DependencyMissing(GatewayError):
    code = "dependency_missing"


class Unauthorized(GatewayError):
    code = "unauthorized"
    status = 401


class Forbidden(GatewayError):
    code = "forbidden"
    status = 403


class ToolNotFound(GatewayError):
    code = "tool_not_found"
    status = 404


class ApprovalNotFound(GatewayError):
    code = "approval_not_found"
    status = 404


class ApprovalDecided(GatewayError):
    code = "approval_decided"
    status = 409


class ApprovalStale(GatewayError):
    code = "approval_stale"
    status = 409


class ApprovalExpired(GatewayError):
    code = "approval_expired"
    status = 410


class ApprovalRefused(GatewayError):
    """At the decision, the requester's key is revoked or no longer covers the tool."""

    code = "approval_refused"
    status = 409


class CallNotFound(GatewayError):
    code = "call_not_found"
    status = 404


class RouteNotFound(GatewayError):
    code = "not_found"
    status = 404


class MethodNotAllowed(GatewayError):
    code = "method_not_allowed"
    status = 405


class RequestTooLarge(GatewayError):
    code = "request_too_large"
    status = 413


class InvalidArguments(GatewayError):
    code = "invalid_arguments"
    status = 422

    def __init__(self, errors: list[dict[str, str]]) -> None:
        fields = ", ".join(error["field"] for error in errors)
        first = errors[0]["message"] if errors else ""
        super().__init__(f"invalid arguments ({fields}): {first}", details={"errors": errors})


class IdempotencyKeyReused(GatewayError):
    """An Idempotency-Key came back with another tool or other arguments than its first call."""

    code = "idempotency_key_reused"
    status = 409


class CallInProgress(GatewayError):
    """The first call with this Idempotency-Key is still running: ask again shortly."""

    code = "call_in_progress"
    status = 409
    retryable = True


class ShuttingDown(GatewayError):
    """This process is draining for a stop: the call was not started; another replica can."""

    code = "shutting_down"
    status = 503
    retryable = True


class CallInterrupted(GatewayError):
    """The process stopped while the call could not go on: after its approval and before its
    intent (nothing was sent), or when a drain's grace ran out while it was still running
    (the legacy side may or may not have acted: not retryable without checking).
    """

    code = "call_interrupted"
    status = 503


class ReplayedError(GatewayError):
    """The recorded error of a first call, answered again for a repeated Idempotency-Key."""

    def __init__(self, recorded: dict[str, Any], call_id: str) -> None:
        super().__init__(str(recorded.get("message", "")), details=recorded.get("details") or {})
        self.recorded = recorded
        self.call_id = call_id

    @property
    def code(self) -> str:  # type: ignore[override]
        return str(self.recorded.get("code", GatewayError.code))

    @property
    def status(self) -> int:  # type: ignore[override]
        return int(self.recorded.get("status") or _status_of(GatewayError).get(self.code, 500))

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return bool(self.recorded.get("retryable", False))


class AuditUnavailable(GatewayError):
    code = "audit_unavailable"
    status = 503
    retryable = True


class LegacyError(GatewayError):
    status = 502


class LegacyFault(LegacyError):
    code = "legacy_fault"

    def __init__(self, faultcode: str, faultstring: str, detail: Any = None) -> None:
        super().__init__(
            f"legacy fault {faultcode}: {faultstring}",
            details={"faultcode": faultcode, "faultstring": faultstring, "detail": detail},
        )


class LegacyHTTPError(LegacyError):
    code = "legacy_http_error"

    def __init__(self, http_status: int, body_excerpt: str) -> None:
        super().__init__(
            f"legacy system answered HTTP {http_status}",
            details={"http_status": http_status, "body_excerpt": body_excerpt},
        )
        # A 503 from the legacy side means "try later", anything else is final.
        self.retryable_status = http_status in (502, 503, 504)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.retryable_status


class LegacyBadResponse(LegacyError):
    code = "legacy_bad_response"


class MappingFailed(LegacyError):
    code = "mapping_failed"

    def __init__(self, field: str, raw: Any, reason: str) -> None:
        super().__init__(
            f"cannot map legacy value {raw!r} of field '{field}': {reason}",
            details={"field": field, "raw_value": raw, "reason": reason},
        )


class MessageUnroutable(LegacyError):
    """A published message matched no queue; the broker returned it instead of delivering."""

    code = "message_unroutable"


class OutcomeUnknown(LegacyError):
    """The gateway stopped (killed, host lost) while the call was in flight: the legacy
    system may or may not have acted. Not retryable: a write repeated blindly may be done
    twice; someone has to look at the legacy side first."""

    code = "outcome_unknown"


class LegacyTimeout(LegacyError):
    code = "legacy_timeout"
    status = 504
    retryable = True


class ReplyOverdue(LegacyError):
    """A submitted call's reply did not come by its deadline. Not retryable: the host may
    have acted, or may still act; a reply that comes later is recorded with the call."""

    code = "reply_overdue"
    status = 504


class BackendUnavailable(LegacyError):
    code = "backend_unavailable"
    status = 503
    retryable = True


class CircuitOpen(BackendUnavailable):
    """The backend failed too often in a row; calls are refused until a probe succeeds."""

    code = "circuit_open"


class RateLimited(LegacyError):
    """An agent calls a backend faster than its rate limit allows."""

    code = "rate_limited"
    status = 429
    retryable = True


class LegacyConflict(LegacyError):
    """The legacy database refused a write that conflicts with its data (SQLSTATE 23)."""

    code = "legacy_conflict"
    status = 409


class UnexpectedRowCount(LegacyError):
    """A write touched another number of rows than the tool declares; it was rolled back."""

    code = "unexpected_row_count"
    status = 409


class StatementInvalid(GatewayError):
    """The database rejects a tool's statement itself (SQLSTATE 42): a config mistake."""

    code = "statement_invalid"
    status = 500


def _status_of(cls: type[GatewayError]) -> dict[str, int]:
    """HTTP status by error code, for errors read back from the record."""
    found = {}
    for sub in cls.__subclasses__():
        code = sub.__dict__.get("code")
        if isinstance(code, str):
            found[code] = int(sub.status)
        found.update(_status_of(sub))
    return found
