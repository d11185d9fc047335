"""AMQP 0-9-1 (RabbitMQ): queue-only legacy systems as tools, request/reply included.

Tool kinds, named by the tool's ``operation``:

- ``request_reply``: publish with ``reply_to`` set to RabbitMQ's direct reply-to and a fresh
  ``correlation_id``, wait up to the tool's timeout, map the reply. A reply that arrives after
  the timeout is recorded against its call (``interaction.late``) and dropped.
- ``publish``: hand a message over with publisher confirms and ``mandatory`` set: an
  unroutable message is an error to the agent, not a silent loss.
- ``submit``: publish now and answer the agent at once with the call id (status
  ``pending``); the reply, whenever it comes, completes the call, which the agent reads with
  ``GET /v1/calls/{call_id}``. The call id is the correlation id, so completing a call needs
  nothing but the record. With the backend's ``reply_queue`` set, replies wait in that
  durable queue, surviving a gateway restart, and any replica sharing the record can
  complete any call; without it they come by direct reply-to while this process lives.
  A reply for a call this installation does not know is handed on, not dropped, and a call
  whose reply misses its deadline ends as ``reply_overdue`` (``adapters.amqp_replies``,
  ``gateway.completions``).

pika connections are not thread-safe, so each backend owns one I/O thread (``_Link``) that
owns its connection: calls hand it messages through a queue and wake it with pika's one
thread-safe entry point (``add_callback_threadsafe``); it turns replies into the calls'
results. Heartbeats are on. When the broker goes away the thread fails the calls in flight at
once with a retryable error (rather than letting them hang) and reconnects with backoff, so
later calls succeed without anyone restarting the gateway.

Bodies come from the mapping language: a dict becomes JSON, an XML request element XML, a
record (``request: record``) its bytes; replies are read back by the tool's content type.
Each publish and each reply is an interaction of the call, with exchange, routing key,
properties, headers and body; sensitive fields are commitments in JSON and XML bodies, and a record
carrying one is not kept at all.

Why one module of this size: the I/O thread, the connection it owns and the calls waiting on
it share pika's callbacks and state; apart they would reach into each other. Tool settings
(``amqp_settings``), TLS (``amqp_tls``) and reply handling (``amqp_replies``) live apart.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import queue
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import orjson
from lxml import etree
from pydantic import Field, SecretStr

from adapters.amqp_replies import HandOns, hand_ons, other_consumers, queue_name
from adapters.amqp_settings import AmqpToolSettings, MessageSpec
from adapters.amqp_tls import BrokerTls, broker_parameters, broker_tls, tls_failure
from adapters.base import (
    Adapter,
    BackendSetupError,
    CallContext,
    CallRecord,
    Health,
    Interaction,
    Reply,
    Submitted,
)
from adapters.tls import TlsSettings
from gateway.config.models import BackendConfig, ToolConfig, ToolSettings
from gateway.errors import (
    BackendUnavailable,
    DependencyMissing,
    GatewayError,
    LegacyBadResponse,
    LegacyTimeout,
    MessageUnroutable,
)
from gateway.limits import cap_field, limits, truncation
from gateway.mapping.redaction import Commitments, sensitive_names
from gateway.mapping.schema import DIALECT
from gateway.mapping.xml import (
    HostileXML,
    element_to_value,
    hardened_parser,
    parse_untrusted,
)

Kind = Literal["request_reply", "publish", "submit"]
KINDS: tuple[Kind, ...] = ("request_reply", "publish", "submit")
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
# Correlation ids of calls that gave up waiting: a late reply is still recorded against them.
LATE_MEMORY = 10_000
log = logging.getLogger("legacy_gateway.amqp")
# How often the I/O thread looks up from the socket to check whether it should stop.
POLL_S = 0.25


class AmqpBackendConfig(BackendConfig):
    """A message broker speaking AMQP 0-9-1 (RabbitMQ)."""

    url: SecretStr = Field(
        description="amqp://user:password@host:5672/vhost; put the password in a ${VAR}."
    )
    heartbeat_s: int = Field(30, ge=0, le=600, description="AMQP heartbeat interval.")
    tls: TlsSettings = Field(
        default_factory=TlsSettings,
        description="TLS of an amqps:// url: CA bundle, client certificate, minimum version.",
    )
    reply_queue: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Durable queue for the replies of submit tools: they then survive a "
        "gateway restart, and any replica can complete any call. {installation} in the name "
        "is this installation's id, so that two installations on one broker never share it. "
        "Without it, replies come by direct reply-to while the submitting process lives.",
    )
    reply_deadline_s: float = Field(
        3600.0,
        gt=0,
        le=30 * 86400,
        description="How long a submitted call waits for its reply before it ends as "
        "reply_overdue (a later reply is still recorded with it); tools may override it.",
    )
    reply_handoffs: int = Field(
        20,
        ge=0,
        le=1000,
        description="How often a reply for no call of this installation is put back on the "
        "reply queue for another consumer before it is recorded here as unmatched.",
    )


@dataclass(frozen=True)
class PreparedMessage:
    kind: Kind
    message: MessageSpec
    # Legacy names of sensitive fields: commitments in recorded JSON and XML bodies.
    sensitive: frozenset[str] = frozenset()
    # A record body carrying a sensitive field is not recorded at all.
    record_sensitive: bool = False
    # The output mapping reads the reply with XPath: parse_answer keeps the element.
    xml_answer: bool = False
    # A submit's own deadline for its reply (the tool's reply_deadline_s), else the backend's.
    reply_within_s: float | None = None


@dataclass
class _Outgoing:
    prepared: PreparedMessage
    body: bytes
    properties: dict[str, Any]
    call_id: str
    done: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


@dataclass
class _Pending:
    call_id: str
    prepared: PreparedMessage
    done: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    sent_at: float = field(default_factory=time.perf_counter)


def _settle(loop: asyncio.AbstractEventLoop, done: asyncio.Future[Any], outcome: Any) -> None:
    """Resolve a call's future from the I/O thread, on the call's own event loop."""

    def apply() -> None:
        if done.done():
            return
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(apply)


class _Link(threading.Thread):
    """The one thread that owns a backend's connection and channel."""

    def __init__(self, adapter: AmqpAdapter) -> None:
        super().__init__(name=f"amqp-{adapter.backend}", daemon=True)
        self.adapter = adapter
        self.outbox: queue.Queue[_Outgoing] = queue.Queue()
        self.pending: dict[str, _Pending] = {}
        # correlation id -> (call id, prepared) of calls that stopped waiting for a reply.
        self.gave_up: OrderedDict[str, tuple[str, PreparedMessage]] = OrderedDict()
        # Submits sent by this process: their replies are recorded with the right redaction.
        self.submitted: OrderedDict[str, PreparedMessage] = OrderedDict()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.connected = threading.Event()
        # Set once the first connection attempt has succeeded or failed.
        self.attempted = threading.Event()
        self.last_error = "not connected yet"
        self.hand_ons = HandOns(adapter.backend, adapter.config.reply_handoffs)
        # Consumers the reply queue had when this link last joined it.
        self.other_consumers = 0
        self._connection: Any = None
        self._channel: Any = None

    # -------------------------------------------------------------- any thread

    def hand_over(self, item: _Outgoing) -> None:
        """Queue a message and wake the I/O thread; raise if the broker is not reachable."""
        connection = self._connection
        if connection is None or not self.connected.is_set():
            raise self.unavailable()
        self.outbox.put(item)
        try:
            connection.add_callback_threadsafe(self._flush)
        except Exception:
            # The connection died in between: the I/O thread fails the outbox with it.
            raise self.unavailable() from None

    def unavailable(self) -> BackendUnavailable:
        return BackendUnavailable(
            f"broker of backend {self.adapter.backend} unreachable: {self.last_error}; "
            "try again shortly",
            details={"backend": self.adapter.backend},
        )

    def gave_up_on(self, correlation: str) -> None:
        with self.lock:
            waiting = self.pending.pop(correlation, None)
            if waiting is not None:
                self.gave_up[correlation] = (waiting.call_id, waiting.prepared)
                while len(self.gave_up) > LATE_MEMORY:
                    self.gave_up.popitem(last=False)

    # -------------------------------------------------------------- I/O thread

    def run(self) -> None:
        import pika

        backoff = 0.2
        while not self.stopping.is_set():
            try:
                self._serve(pika)
                backoff = 0.2
            except Exception as exc:
                was_up = self.connected.is_set() or not self.attempted.is_set()
                self.connected.clear()
                self.last_error = _reason(exc)
                if was_up:  # once per outage, not once per attempt
                    log.warning(
                        "AMQP backend %s: broker unreachable (%s); calls get 503 and the "
                        "link retries in the background",
                        self.adapter.backend,
                        self.last_error,
                    )
                self.attempted.set()
                self._fail_all(self.unavailable())
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _serve(self, pika: Any) -> None:
        config = self.adapter.config
        parameters = broker_parameters(pika, config.url.get_secret_value(), self.adapter.tls)
        parameters.heartbeat = config.heartbeat_s
        parameters.blocked_connection_timeout = config.timeout_s
        parameters.socket_timeout = min(config.timeout_s, 10)
        parameters.connection_attempts = 1
        connection = pika.BlockingConnection(parameters)
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_consume(DIRECT_REPLY_TO, self._on_direct_reply, auto_ack=True)
            queue = self.adapter.reply_queue
            if queue and self.adapter.complete is not None:
                declared = channel.queue_declare(queue, durable=True)
                # The adapter this one replaces on a reload is this gateway, not another; it
                # closes once its calls finish, so a later reconnect counts everyone.
                count = int(declared.method.consumer_count) - self.adapter.replaced_consumers
                self.adapter.replaced_consumers = 0
                self.other_consumers = max(count, 0)
                if self.other_consumers:
                    log.warning(
                        "%s", other_consumers(self.adapter.backend, queue, self.other_consumers)
                    )
                channel.basic_qos(prefetch_count=64)
                channel.basic_consume(queue, self._on_queued_reply)
            self._connection, self._channel = connection, channel
            if self.attempted.is_set():
                log.warning("AMQP backend %s: connected again", self.adapter.backend)
            self.last_error = ""
            self.connected.set()
            self.attempted.set()
            self._flush()  # anything handed over while the link was coming up
            while not self.stopping.is_set():
                connection.process_data_events(time_limit=POLL_S)
        finally:
            self.connected.clear()
            self._connection = self._channel = None
            with contextlib.suppress(Exception):
                connection.close()

    def _flush(self) -> None:
        """Publish everything handed over; runs on the I/O thread only."""
        import pika

        channel = self._channel
        while channel is not None:
            try:
                item = self.outbox.get_nowait()
            except queue.Empty:
                return
            if item.done.done():
                continue  # the caller gave up before it was sent: nothing goes out
            message = item.prepared.message
            correlation = item.properties.get("correlation_id", "")
            if item.prepared.kind == "request_reply":
                with self.lock:
                    self.pending[correlation] = _Pending(
                        item.call_id, item.prepared, item.done, item.loop
                    )
            try:
                channel.basic_publish(
                    exchange=message.exchange,
                    routing_key=message.routing_key,
                    body=item.body,
                    properties=pika.BasicProperties(**item.properties),
                    mandatory=True,
                )
            except pika.exceptions.UnroutableError:
                self._forget(correlation)
                _settle(item.loop, item.done, _unroutable(message))
                continue
            except pika.exceptions.NackError:
                self._forget(correlation)
                error = BackendUnavailable("the broker refused the message (nack); try again")
                _settle(item.loop, item.done, error)
                continue
            except BaseException:
                self._forget(correlation)
                _settle(item.loop, item.done, self.unavailable())
                raise
            if item.prepared.kind == "submit":
                with self.lock:
                    self.submitted[correlation] = item.prepared
                    while len(self.submitted) > LATE_MEMORY:
                        self.submitted.popitem(last=False)
            if item.prepared.kind != "request_reply":
                _settle(item.loop, item.done, {"confirmed": True})

    def _forget(self, correlation: str) -> None:
        with self.lock:
            self.pending.pop(correlation, None)

    def _on_direct_reply(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        # Direct reply-to is no-ack by protocol: a reply lost here is lost at the broker too,
        # so the dispatch must not raise.
        try:
            self._dispatch(properties, body, final=True, direct=True)
        except Exception as exc:
            self.last_error = f"a reply could not be recorded: {exc}"

    def _on_queued_reply(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        import pika

        tag = method.delivery_tag
        hops = hand_ons(properties, self.hand_ons.limit)
        try:
            taken = self._dispatch(properties, body, final=hops >= self.hand_ons.limit)
            queue = str(self.adapter.reply_queue)
            if not taken and not self.hand_ons.hand_on(
                pika, channel, queue, properties, body, hops
            ):
                self._dispatch(properties, body, final=True)
        except Exception:
            # The record cannot be written now: the reply stays queued and comes back later.
            self._connection.call_later(1.0, lambda: channel.basic_nack(tag, requeue=True))
            return
        channel.basic_ack(tag)

    def _dispatch(self, properties: Any, body: bytes, final: bool, direct: bool = False) -> bool:
        """Give a reply to its call; False when it is for no call this installation knows
        and others may (``final`` unset): then it is handed on.

        A request/reply waits for its reply by direct reply-to only, which the broker
        delivers to this channel alone; anyone allowed to publish to the reply queue could
        put a message there, so what comes from it completes submits and nothing else.
        """
        correlation = properties.correlation_id or ""
        with self.lock:
            waiting = self.pending.pop(correlation, None) if direct else None
            late = self.gave_up.pop(correlation, None) if direct and waiting is None else None
            submitted = self.submitted.get(correlation)
        if waiting is not None:
            answer = {"properties": _properties(properties), "body": body}
            _settle(waiting.loop, waiting.done, answer)
            return True
        adapter = self.adapter
        if late is not None:
            call_id, prepared = late
            interaction = adapter.reply_interaction(prepared, correlation, properties, body)
            interaction.response = {"late": True, **(interaction.response or {})}
            adapter.record_late(call_id, interaction)
            return True
        if adapter.complete is None:
            return True  # nobody completes calls in this process: nothing to give it to

        def describe(prepared: Any) -> Interaction:
            known = prepared if isinstance(prepared, PreparedMessage) else submitted
            return adapter.reply_interaction(known, correlation, properties, body)

        reply = Reply(body, describe, adapter.backend, "submit", final)
        taken = adapter.complete(correlation, reply)
        if taken:
            with self.lock:
                self.submitted.pop(correlation, None)
        return taken

    def _fail_all(self, error: GatewayError) -> None:
        with self.lock:
            pending, self.pending = self.pending, {}
        for waiting in pending.values():
            _settle(waiting.loop, waiting.done, error)
        while True:
            try:
                item = self.outbox.get_nowait()
            except queue.Empty:
                return
            _settle(item.loop, item.done, error)


def _unroutable(message: MessageSpec) -> MessageUnroutable:
    exchange = message.exchange or "(default exchange)"
    return MessageUnroutable(
        f"no queue is bound to exchange '{exchange}' with routing key "
        f"'{message.routing_key}': the broker returned the message, nothing was delivered",
        details={"exchange": message.exchange, "routing_key": message.routing_key},
    )


def _properties(properties: Any) -> dict[str, Any]:
    names = ("content_type", "correlation_id", "message_id", "delivery_mode", "timestamp", "type")
    shown = {name: getattr(properties, name, None) for name in names}
    shown["headers"] = {
        str(key): value if isinstance(value, str | int | float | bool) else str(value)
        for key, value in (properties.headers or {}).items()
    }
    # The sender chooses these: the record keeps them up to the header cap, marked if cut.
    cap_field(shown, "headers", limits().headers)
    return {key: value for key, value in shown.items() if value not in (None, {})}


class AmqpAdapter(Adapter[AmqpBackendConfig, PreparedMessage]):
    name: ClassVar[str] = "amqp"
    config_model: ClassVar[type[BackendConfig]] = AmqpBackendConfig
    tool_model: ClassVar[type[ToolSettings]] = AmqpToolSettings

    def __init__(
        self, backend: str, config: AmqpBackendConfig, commitments: Commitments | None = None
    ) -> None:
        super().__init__(backend, config, commitments)
        self._link: _Link | None = None
        self._parser = hardened_parser()
        self._reply_queue: str | None = None
        # Consumers of the reply queue held by the adapter this one replaces (a reload).
        self.replaced_consumers = 0
        self.tls: BrokerTls | None = None

    @property
    def reply_queue(self) -> str | None:
        """The durable reply queue's name, ``{installation}`` filled in (once, when the
        adapter opens: its consumer and its messages' reply_to agree); None: direct reply-to."""
        if self._reply_queue is None and self.config.reply_queue:
            return queue_name(self.config.reply_queue, self.commitments.installation_id())
        return self._reply_queue

    def load(self) -> None:
        try:
            import pika  # noqa: F401
        except ImportError as exc:  # pragma: no cover - pika is a core dependency
            raise DependencyMissing(f"AMQP needs pika: pip install pika ({exc})") from exc
        url, tls = self.config.url.get_secret_value(), self.config.tls
        self.tls = broker_tls(url, tls, "tls" in self.config.model_fields_set)

    def operations(self) -> list[str]:
        return list(KINDS)

    def prepare(self, tool: ToolConfig) -> PreparedMessage:
        settings = AmqpToolSettings.of(tool)
        if settings.message is None:
            raise BackendSetupError(
                "message", "an AMQP tool needs message: {exchange, routing_key}"
            )
        kind = next((k for k in KINDS if k == tool.operation), None)
        if kind is None:
            raise BackendSetupError(
                "operation",
                f"'{tool.operation}' is not a kind of AMQP tool; use one of: {', '.join(KINDS)}",
            )
        if kind == "publish" and tool.output.fields:
            raise BackendSetupError(
                ("output", "fields"),
                "a publish has no reply to map: its result is the broker's confirmation "
                "(use request_reply or submit to map a reply)",
            )
        if settings.reply_deadline_s is not None and kind != "submit":
            raise BackendSetupError(
                "reply_deadline_s", f"only submit tools wait for a reply; this is a {kind}"
            )
        sensitive = sensitive_names(tool)
        records = tool.output.record is not None or (
            tool.request is not None and tool.request.record is not None
        )
        return PreparedMessage(
            kind,
            settings.message,
            sensitive=sensitive,
            record_sensitive=bool(sensitive) and records,
            xml_answer=tool.output.uses_xml,
            reply_within_s=settings.reply_deadline_s,
        )

    async def open(self) -> None:
        self._reply_queue = self.reply_queue
        self._link = _Link(self)
        self._link.start()
        # Wait for the first attempt, so the first calls find a reachable broker's link up;
        # an unreachable one is retried in the background and calls get 503 meanwhile.
        await asyncio.get_running_loop().run_in_executor(
            None, self._link.attempted.wait, min(self.config.timeout_s, 5.0)
        )

    def replaces(self, previous: Adapter[Any]) -> None:
        queue = self.reply_queue
        if isinstance(previous, AmqpAdapter) and queue and previous.consumes(queue):
            self.replaced_consumers = 1

    def consumes(self, queue: str) -> bool:
        """Whether this adapter's link is up and consuming ``queue`` for submitted calls."""
        link = self._link
        return (
            link is not None
            and link.connected.is_set()
            and self._reply_queue == queue
            and self.complete is not None
        )

    async def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.stopping.set()
            await asyncio.get_running_loop().run_in_executor(None, link.join, 5)

    def submits(self, prepared: PreparedMessage) -> bool:
        return prepared.kind == "submit"

    def result_schema(self, prepared: PreparedMessage) -> dict[str, Any] | None:
        if prepared.kind != "publish":
            return None
        return {
            "$schema": DIALECT,
            "type": "object",
            "description": "The broker's confirmation: the message is queued for the host.",
            "properties": {
                "message_id": {"type": "string", "description": "Id the message carries."},
                "confirmed": {"type": "boolean", "const": True},
            },
            "required": ["message_id", "confirmed"],
        }

    async def check(self) -> Health:
        link = self._link
        if link is None:
            return Health(False, "not open", 0.0)
        if link.connected.is_set():
            if link.other_consumers:
                shared = other_consumers(self.backend, str(self.reply_queue), link.other_consumers)
                return Health(True, f"connected; {shared}", 0.0)
            return Health(True, "connected", 0.0)
        return Health(False, f"broker unreachable: {link.last_error}", 0.0)

    async def verify(self, prepared: PreparedMessage) -> None:
        """The tool's exchange exists (or, for the default exchange, its queue does)."""
        await asyncio.get_running_loop().run_in_executor(None, self._verify, prepared)

    def _connect_once(self) -> Any:
        """A short-lived connection of its own, for checks outside the link."""
        import pika

        parameters = broker_parameters(pika, self.config.url.get_secret_value(), self.tls)
        parameters.connection_attempts = 1
        parameters.socket_timeout = min(self.config.timeout_s, 10)
        try:
            return pika.BlockingConnection(parameters)
        except Exception as exc:
            raise BackendUnavailable(f"cannot reach the broker: {_reason(exc)}") from None

    async def warnings(self) -> list[str]:
        """The reply queue's consumers (RabbitMQ counts them in a passive declare)."""
        queue = self.reply_queue
        if not queue:
            return []
        count = await asyncio.get_running_loop().run_in_executor(None, self._consumers, queue)
        return [other_consumers(self.backend, queue, count)] if count else []

    def _consumers(self, queue: str) -> int:
        import pika

        connection = self._connect_once()
        try:
            declared = connection.channel().queue_declare(queue, passive=True)
            return int(declared.method.consumer_count)
        except pika.exceptions.ChannelClosedByBroker:
            return 0  # not declared yet: the gateway declares it when it starts
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def _verify(self, prepared: PreparedMessage) -> None:
        import pika

        connection = self._connect_once()
        message = prepared.message
        try:
            channel = connection.channel()
            if message.exchange:
                channel.exchange_declare(message.exchange, passive=True)
            else:
                channel.queue_declare(message.routing_key, passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            what = (
                f"exchange '{message.exchange}'"
                if message.exchange
                else f"queue '{message.routing_key}'"
            )
            raise GatewayError(f"{what} does not exist on the broker ({exc.reply_text})") from None
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    # ------------------------------------------------------------------ bodies

    @staticmethod
    def encode_body(params: Any) -> bytes:
        if isinstance(params, bytes | bytearray):
            return bytes(params)
        if isinstance(params, etree._Element):
            return bytes(etree.tostring(params, xml_declaration=True, encoding="utf-8"))
        if isinstance(params, str):
            return params.encode("utf-8")
        return orjson.dumps(params, default=str)

    def body_record(
        self, prepared: PreparedMessage | None, body: bytes, content_type: str | None = None
    ) -> dict[str, Any]:
        """A message body as the record keeps it: text with sensitive values committed, or
        base64."""
        kind = (content_type or (prepared.message.content_type if prepared else "")).lower()
        sensitive = prepared.sensitive if prepared is not None else frozenset()
        shown: dict[str, Any] = {"body_bytes": len(body)}
        textual = "json" in kind or "xml" in kind or kind.startswith("text/")
        if textual:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                textual = False
            else:
                if sensitive:
                    text = self._blank(text, kind, sensitive)
                return cap_field({**shown, "body": self.redact(text)}, "body", limits().recorded)
        if prepared is not None and prepared.record_sensitive:
            return {**shown, "body_withheld": "a record with sensitive fields is not kept"}
        # A body past the cap keeps its start; body_bytes and the marker's SHA-256 name the
        # whole.
        cap = limits().recorded
        encoded = base64.b64encode(body[: cap // 4 * 3 + 3]).decode("ascii")
        shown["body_base64"] = encoded
        if len(body) > cap // 4 * 3 + 3:
            shown["body_base64_truncated"] = truncation(body, cap // 4 * 3 + 3)
        return shown

    def _blank(self, text: str, kind: str, sensitive: frozenset[str]) -> str:
        try:
            if "json" in kind:
                return orjson.dumps(
                    self.commitments.blank_keys(orjson.loads(text), sensitive)
                ).decode()
            root = parse_untrusted(text.encode("utf-8"), self._parser)
        except (orjson.JSONDecodeError, etree.XMLSyntaxError, HostileXML):
            return text  # kept as sent or received: the error of the call says why
        self.commitments.blank_elements(root, sensitive)
        return etree.tostring(root, encoding="unicode")

    def reply_interaction(
        self, prepared: PreparedMessage | None, correlation: str, properties: Any, body: bytes
    ) -> Interaction:
        return Interaction(
            "amqp",
            self.backend,
            "reply",
            1,
            {"correlation_id": correlation},
            {
                "properties": _properties(properties),
                **self.body_record(prepared, body, properties.content_type),
            },
        )

    def parse_answer(self, prepared: Any, payload: bytes) -> Any:
        if not isinstance(prepared, PreparedMessage):
            return payload
        kind = prepared.message.content_type.lower()
        if "json" in kind:
            try:
                return orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                raise LegacyBadResponse(
                    f"the reply is not JSON: {exc}", details={"content_type": kind}
                ) from None
        if "xml" in kind:
            try:
                root = parse_untrusted(payload, self._parser)
            except (etree.XMLSyntaxError, HostileXML) as exc:
                raise LegacyBadResponse(
                    f"the reply is not acceptable XML: {exc}", details={"content_type": kind}
                ) from None
            return root if prepared.xml_answer else element_to_value(root)
        return payload  # a record: the output mapping decodes it

    def _properties(self, prepared: PreparedMessage, ctx: CallContext) -> dict[str, Any]:
        message = prepared.message
        span = secrets.token_hex(8)
        properties: dict[str, Any] = {
            "content_type": message.content_type,
            "delivery_mode": 2 if message.persistent else 1,
            # A repeated Idempotency-Key never reaches here (the gateway answers it from the
            # record), but a consumer can still drop a duplicate by this id.
            "message_id": ctx.idempotency_key or ctx.call_id,
            "timestamp": int(time.time()),
            "headers": {**message.headers, "traceparent": f"00-{ctx.trace_id}-{span}-01"},
        }
        if prepared.kind == "request_reply":
            properties["reply_to"] = DIRECT_REPLY_TO
            properties["correlation_id"] = str(uuid.uuid4())
        elif prepared.kind == "submit":
            properties["reply_to"] = self.reply_queue or DIRECT_REPLY_TO
            properties["correlation_id"] = ctx.call_id
        return properties

    def render(self, prepared: PreparedMessage, params: Any) -> dict[str, Any]:
        body = self.encode_body(params)
        return {
            "kind": prepared.kind,
            "exchange": prepared.message.exchange,
            "routing_key": prepared.message.routing_key,
            "content_type": prepared.message.content_type,
            "headers": dict(prepared.message.headers),
            "persistent": prepared.message.persistent,
            **self.body_record(prepared, body),
        }

    # ------------------------------------------------------------------ calls

    async def exchange(
        self, prepared: PreparedMessage, params: Any, ctx: CallContext, record: CallRecord
    ) -> Any:
        link = self._link
        if link is None:
            raise BackendUnavailable(f"backend {self.backend} is not open")
        body = self.encode_body(params)
        properties = self._properties(prepared, ctx)
        message = prepared.message
        publish = record.begin(
            prepared.kind,
            {
                "exchange": message.exchange,
                "routing_key": message.routing_key,
                "mandatory": True,
                "properties": {k: v for k, v in properties.items() if k != "timestamp"},
                **self.body_record(prepared, body),
            },
        )
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        try:
            link.hand_over(_Outgoing(prepared, body, properties, ctx.call_id, done, loop))
            outcome = await asyncio.wait_for(done, ctx.timeout_s)
        except TimeoutError:
            correlation = properties.get("correlation_id", "")
            link.gave_up_on(correlation)
            waited = f"{ctx.timeout_s:g} s"
            if prepared.kind == "request_reply":
                raise LegacyTimeout(
                    f"no reply within {waited}; a late reply will be recorded with this call",
                    details={"correlation_id": correlation},
                ) from None
            raise LegacyTimeout(
                f"the broker did not confirm the message within {waited}; it may or may "
                "not have been delivered",
            ) from None
        publish.response = {"confirmed": True}
        if prepared.kind == "publish":
            return {"message_id": properties["message_id"], "confirmed": True}
        if prepared.kind == "submit":
            return Submitted(
                {"message_id": properties["message_id"], "correlation_id": ctx.call_id},
                reply_within_s=prepared.reply_within_s or self.config.reply_deadline_s,
            )
        record.then(
            Interaction(
                self.name,
                self.backend,
                "reply",
                ctx.attempt,
                {"correlation_id": properties["correlation_id"]},
                {
                    "properties": outcome["properties"],
                    **self.body_record(
                        prepared, outcome["body"], outcome["properties"].get("content_type")
                    ),
                },
                duration_ms=record.elapsed_ms(),
            )
        )
        return self.parse_answer(prepared, outcome["body"])

    def telemetry(self, interaction: Interaction) -> tuple[str, str, dict[str, Any]]:
        """Messaging conventions, system rabbitmq: a publish is ``send``, a reply ``receive``."""
        request = interaction.request
        if interaction.operation == "reply":
            response = interaction.response or {}
            properties = response.get("properties", {})
            return (
                "receive reply",
                "consumer",
                {
                    "messaging.system": "rabbitmq",
                    "messaging.operation.type": "receive",
                    "messaging.operation.name": "reply",
                    "messaging.message.conversation_id": request.get("correlation_id"),
                    "messaging.message.body.size": response.get("body_bytes"),
                    "messaging.message.id": properties.get("message_id"),
                },
            )
        properties = request.get("properties", {})
        destination = request.get("exchange") or request.get("routing_key") or "(default)"
        return (
            f"publish {destination}",
            "producer",
            {
                "messaging.system": "rabbitmq",
                "messaging.operation.type": "send",
                "messaging.operation.name": "publish",
                "messaging.destination.name": destination,
                "messaging.rabbitmq.destination.routing_key": request.get("routing_key"),
                "messaging.message.id": properties.get("message_id"),
                "messaging.message.conversation_id": properties.get("correlation_id"),
                "messaging.message.body.size": request.get("body_bytes"),
            },
        )

    def translate_error(self, exc: BaseException) -> GatewayError:
        if isinstance(exc, GatewayError):
            return exc
        return BackendUnavailable(f"backend {self.backend}: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    """An exception in a line; pika's connection errors keep their cause in ``args``."""
    tls = tls_failure(exc)
    if tls is not None:
        return tls
    text = str(exc) or "; ".join(repr(arg) for arg in exc.args)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
