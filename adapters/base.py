"""The interface every protocol adapter implements.

An adapter owns one backend: its config model (a subclass of ``BackendConfig``), how to
load its metadata (a WSDL, a catalogue) for validation, how to open and close connections,
how to call one operation, how to check health, and the single place where the driver's
exceptions become the gateway's error tree (``translate_error``).

Life cycle, driven by ``gateway.runtime``::

    adapter = SoapAdapter(name, config)            # cheap, no I/O
    adapter.load()                                  # metadata; config errors surface here
    prepared = adapter.prepare(tool)                # once per tool, at config load
    await adapter.open()
    raw = await adapter.call(prepared, params, ctx) # many times
    await adapter.check()
    await adapter.close()

``call`` is written once, here: it times the exchange, turns any exception into the error
tree with ``translate_error`` and puts the interactions on the record, while the adapter's
``exchange`` only talks to the backend and fills in what it sent and what came back
(``CallRecord``). Out-of-tree adapters import all of this from ``adapters.contract``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol

from pydantic import BaseModel, SecretStr
from typing_extensions import TypeVar

from gateway.config.models import BackendConfig, ToolConfig, ToolSettings
from gateway.errors import GatewayError
from gateway.mapping.redaction import Commitments


class Prepared(Protocol):
    """What the gateway reads of any adapter's prepared tool."""

    @property
    def xml_answer(self) -> bool:
        """The output mapping reads the answer with XPath: keep the XML element."""


ConfigT = TypeVar("ConfigT", bound=BackendConfig, default=Any)
PreparedT = TypeVar("PreparedT", bound=Prepared, default=Any)


class OperationUnknown(ValueError):
    """A tool names an operation the backend does not have; lists the ones it has."""

    def __init__(self, operation: str, known: list[str]) -> None:
        self.operation = operation
        self.known = known
        listing = ", ".join(known) if known else "none"
        super().__init__(f"operation '{operation}' does not exist; known operations: {listing}")


class BackendSetupError(GatewayError):
    """A backend or tool cannot be set up from its config (WSDL unreadable, unknown port...).

    ``loc`` is the path of the offending key below the backend or tool, for the config issue.
    """

    code = "config_invalid"

    def __init__(self, key: str | tuple[str, ...], message: str) -> None:
        self.loc: tuple[str, ...] = (key,) if isinstance(key, str) else key
        super().__init__(message, details={"key": ".".join(self.loc)})


@dataclass
class Interaction:
    """One exchange with the legacy system, as it is put on the record."""

    adapter: str
    backend: str
    operation: str
    attempt: int
    request: dict[str, Any]
    response: dict[str, Any] | None = None
    duration_ms: float = 0.0
    error: dict[str, Any] | None = None

    def as_record(self) -> dict[str, Any]:
        return {
            "adapter": self.adapter,
            "backend": self.backend,
            "operation": self.operation,
            "attempt": self.attempt,
            "request": self.request,
            "response": self.response,
            "duration_ms": round(self.duration_ms, 3),
            "error": self.error,
        }


@dataclass
class CallRecord:
    """The record of one call under way, filled in by the adapter's ``exchange``.

    ``begin`` marks the moment the exchange starts: what was raised before it (the backend
    is not open, the page token is not ours) is no exchange and is not recorded. ``then``
    adds a further interaction (a queue's reply): from then on an error is put on it.
    """

    adapter: str
    backend: str
    attempt: int
    interactions: list[Interaction] = field(default_factory=list)
    started: float = 0.0

    def begin(self, operation: str, request: dict[str, Any] | None = None) -> Interaction:
        self.started = time.perf_counter()
        interaction = Interaction(
            self.adapter, self.backend, operation, self.attempt, request or {}
        )
        self.interactions = [interaction]
        return interaction

    def then(self, interaction: Interaction) -> Interaction:
        self.interactions.append(interaction)
        return interaction

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    @property
    def current(self) -> Interaction | None:
        return self.interactions[-1] if self.interactions else None


@dataclass
class CallContext:
    """What an adapter knows of the call it serves: ids, deadline and where to record."""

    call_id: str
    trace_id: str
    tool: str
    timeout_s: float
    record: Callable[[Interaction], None]
    attempt: int = 1
    # The agent's page token from an earlier truncated answer of the same tool.
    cursor: str | None = None
    # The caller's Idempotency-Key: queue adapters send it as the message id, so the
    # legacy consumer can drop a duplicate too.
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Page:
    """Part of a large answer: the records of this page, and the token of the next one.

    Adapters that cap answers return a Page; the output mapping maps ``records`` and the
    agent's result says how to ask for more.
    """

    records: Sequence[Any]
    next_cursor: str | None
    reason: str = ""


@dataclass(frozen=True)
class Submitted:
    """The request is handed over and the call stays open: its reply completes it later.

    Returned by ``call`` for submit/poll tools; the agent gets the call id at once and reads
    the outcome from ``GET /v1/calls/{call_id}``. ``detail`` goes on the record;
    ``reply_within_s`` is the call's deadline, after which it ends as ``reply_overdue``.
    """

    detail: dict[str, Any]
    reply_within_s: float | None = None


@dataclass(frozen=True)
class Reply:
    """A reply that arrived on its own, for a call that ``call`` answered with ``Submitted``.

    ``describe`` builds the interaction to record, redacted for the tool that made the call
    (its prepared form; None when the tool is no longer configured). A reply completes only
    a call made on ``backend`` with ``operation``. ``final``: no other consumer will see
    this reply, so one for no call of ours is recorded here rather than handed on.
    """

    payload: bytes
    describe: Callable[[Any], Interaction]
    backend: str = ""
    operation: str = ""
    final: bool = True


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str
    latency_ms: float


class Adapter(ABC, Generic[ConfigT, PreparedT]):
    """Base of every protocol adapter; subclasses set ``name``, ``config_model`` and, when
    their tools have keys of their own, ``tool_model``."""

    name: ClassVar[str]
    config_model: ClassVar[type[BackendConfig]]
    # The tool keys only this adapter reads, validated (and located) with the tool.
    tool_model: ClassVar[type[ToolSettings]] = ToolSettings
    # Reads answer a Page: results then carry truncated and next_cursor.
    pages: ClassVar[bool] = False

    def __init__(
        self, backend: str, config: ConfigT, commitments: Commitments | None = None
    ) -> None:
        self.backend = backend
        self.config = config
        # The installation's commitments, for what the records may not hold (the registry
        # passes them; an adapter made on its own commits with a throwaway salt).
        self.commitments = commitments if commitments is not None else Commitments.throwaway()
        # Set by the runtime: records an interaction that arrives after its call ended
        # (a late reply on a queue), against that call.
        self.record_late: Callable[[str, Interaction], None] = lambda call_id, interaction: None
        # Set by the runtime: completes a submitted call with its reply (or records it);
        # False when the reply is for no call this installation can complete, so that it is
        # handed on. None: nobody completes calls here (``validate --connect``), and a queue
        # adapter must not take replies off their queue.
        self.complete: Callable[[str, Reply], bool] | None = None
        # Values of SecretStr fields (passwords, tokens): scrubbed from every record.
        self.secrets = frozenset(_secret_values(config))

    @abstractmethod
    def load(self) -> None:
        """Read the backend's metadata (WSDL...). Raises ``GatewayError`` on failure."""

    @abstractmethod
    def operations(self) -> list[str]:
        """Names of the operations tools may use."""

    @abstractmethod
    def prepare(self, tool: ToolConfig) -> PreparedT:
        """Compile what a tool needs to call its operation; raise ``OperationUnknown``."""

    @abstractmethod
    async def open(self) -> None: ...

    async def call(self, prepared: PreparedT, params: dict[str, Any], ctx: CallContext) -> Any:
        """Perform the operation; return the legacy answer as plain dicts, lists and strings
        (or a ``Page``, or ``Submitted``).

        Every adapter's call: the exchange is timed, its error translated and put on the
        interaction it happened in, and every interaction begun is recorded, in order.
        """
        record = CallRecord(self.name, self.backend, ctx.attempt)
        try:
            return await self.exchange(prepared, params, ctx, record)
        except Exception as exc:
            error = self.translate_error(exc)
            if record.current is not None:
                record.current.error = {
                    "code": error.code,
                    "message": error.message,
                    **error.details,
                }
            raise error from exc
        finally:
            if record.interactions:
                record.interactions[0].duration_ms = record.elapsed_ms()
                for interaction in record.interactions:
                    ctx.record(interaction)

    @abstractmethod
    async def exchange(
        self, prepared: PreparedT, params: dict[str, Any], ctx: CallContext, record: CallRecord
    ) -> Any:
        """Talk to the backend once for ``call``: ``record.begin`` the interaction with the
        request as it is to be recorded, fill in its ``response``, and return the answer.

        Raise freely: ``call`` translates (``translate_error``) and records the error.
        """

    @abstractmethod
    def render(self, prepared: PreparedT, params: dict[str, Any]) -> dict[str, Any]:
        """The exact request ``call`` would send, without sending it (dry runs)."""

    def parse_answer(self, prepared: PreparedT, payload: bytes) -> Any:
        """A captured legacy answer (bytes) as ``call`` would return it, for offline mapping.

        JSON becomes plain data, XML plain values (or the element when the tool's output is
        XPath-mapped), anything else stays bytes (a record). Adapters with an envelope of
        their own (SOAP) override this.
        """
        from gateway.mapping.xml import element_to_value, hardened_parser, parse_untrusted

        head = payload.lstrip()[:1]
        if head in (b"{", b"["):
            import orjson

            return orjson.loads(payload)
        if head == b"<":
            root = parse_untrusted(payload, hardened_parser())
            return root if prepared.xml_answer else element_to_value(root)
        return payload

    def telemetry(self, interaction: Interaction) -> tuple[str, str, dict[str, Any]]:
        """An interaction as an OpenTelemetry span: name, kind (``client``, ``producer``,
        ``consumer``) and the attributes of the protocol's semantic conventions."""
        return f"{self.name} {interaction.operation}", "client", {}

    def result_schema(self, prepared: PreparedT) -> dict[str, Any] | None:
        """JSON Schema of a result the adapter makes itself (nothing to map), else None."""
        return None

    def parameter_ranges(self, tool: ToolConfig) -> dict[str, tuple[int | None, int | None]]:
        """(minimum, maximum) the legacy type of each integer parameter holds, where the
        backend's metadata says (a WSDL's xsd:int); the published schema narrows to it."""
        return {}

    def submits(self, prepared: PreparedT) -> bool:
        """The operation answers ``Submitted`` at once; its reply completes the call later."""
        return False

    @abstractmethod
    async def check(self) -> Health: ...

    async def verify(self, prepared: PreparedT) -> None:
        """Try a tool's operation against the live backend without changing anything.

        ``validate --connect`` calls it for every tool; a ``GatewayError`` says what is
        wrong. Adapters that cannot try without side effects keep this default.
        """
        return

    async def result_columns(self, prepared: PreparedT) -> list[str] | None:
        """Names of the columns the operation answers, as the mapping reads them, where the
        backend can describe them without side effects; None where it cannot."""
        return None

    def replaces(self, previous: Adapter[Any]) -> None:
        """Called before ``open`` when a config reload puts this adapter in place of
        ``previous`` (same backend name), which stays open until its calls finish."""
        return

    async def warnings(self) -> list[str]:
        """What an operator should know about the live backend that does not stop it working
        (another consumer on a reply queue...); ``validate --connect`` prints them."""
        return []

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def translate_error(self, exc: BaseException) -> GatewayError:
        """The one place where this driver's exceptions become gateway errors."""

    def redact(self, text: str) -> str:
        """Replace every secret value in text about to be recorded by its commitment."""
        for secret in self.secrets:
            if len(secret) >= 4 and secret in text:
                text = text.replace(secret, self.commitments.commit(secret))
        return text


def _secret_values(model: BaseModel) -> list[str]:
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found.extend(_secret_values(value))
        elif isinstance(value, dict):
            found.extend(v.get_secret_value() for v in value.values() if isinstance(v, SecretStr))
    return found
