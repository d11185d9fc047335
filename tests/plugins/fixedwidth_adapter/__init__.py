"""A fixed-width record over TCP: an adapter written against ``adapters.contract`` only.

Legacy hosts still take one request line of fixed-width fields (a transaction code, then
each field padded to its width) and answer one line cut the same way. A backend is the
host's address; a tool is a transaction code with the layouts of its request and answer::

    backends:
      accounts:
        adapter: fixedwidth
        host: 10.0.0.7
        port: 7300
    tools:
      get_account:
        backend: accounts
        operation: ACCINQ            # the transaction code, at most 8 characters
        request_layout: [{name: ACCNO, width: 10}]
        answer_layout: [{name: STATUS, width: 2}, {name: NAME, width: 20}]

It is installed only through the ``legacy_gateway.adapters`` entry point, as any adapter
that lives outside the gateway is.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from adapters.contract import (
    Adapter,
    BackendConfig,
    BackendSetupError,
    BackendUnavailable,
    CallContext,
    CallRecord,
    GatewayError,
    Health,
    InvalidArguments,
    LegacyBadResponse,
    LegacyFault,
    LegacyTimeout,
    ToolConfig,
    ToolSettings,
)

CODE_WIDTH = 8
# The answer's first two characters: "00" is success, anything else the host's error code.
OK = "00"


class FixedWidthBackendConfig(BackendConfig):
    """A host that takes one fixed-width request line per connection."""

    host: str = Field(description="Host name or address of the legacy host.")
    port: int = Field(ge=1, le=65535)
    encoding: str = Field("ascii", description="Character set of the lines.")


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    width: int = Field(ge=1, le=4096)


class FixedWidthToolSettings(ToolSettings):
    request_layout: list[Column] = Field(
        default_factory=list, description="Fixed-width fields of the request, in order."
    )
    answer_layout: list[Column] = Field(
        default_factory=list,
        description="Fixed-width fields of the answer after its two-character return code.",
    )


@dataclass(frozen=True)
class PreparedRecord:
    transaction: str
    request_layout: tuple[Column, ...]
    answer_layout: tuple[Column, ...]
    xml_answer: bool = False


class FixedWidthAdapter(Adapter[FixedWidthBackendConfig, PreparedRecord]):
    name: ClassVar[str] = "fixedwidth"
    config_model: ClassVar[type[BackendConfig]] = FixedWidthBackendConfig
    tool_model: ClassVar[type[ToolSettings]] = FixedWidthToolSettings

    def load(self) -> None:
        return  # no metadata: the layouts are in the tools

    def operations(self) -> list[str]:
        return []  # any transaction code

    def prepare(self, tool: ToolConfig) -> PreparedRecord:
        settings = FixedWidthToolSettings.of(tool)
        code = tool.operation.strip()
        if len(code) > CODE_WIDTH:
            raise BackendSetupError("operation", f"a transaction code has {CODE_WIDTH} characters")
        if not settings.answer_layout:
            raise BackendSetupError("answer_layout", "declare the fields of the answer")
        names = {column.name for column in settings.request_layout}
        for field, spec in tool.input.items():
            target = spec.to or field
            if target not in names:
                raise BackendSetupError(("input", field), f"{target} is not in request_layout")
        return PreparedRecord(code, tuple(settings.request_layout), tuple(settings.answer_layout))

    async def open(self) -> None:
        return  # one connection per call, as these hosts expect

    async def close(self) -> None:
        return

    def line(self, prepared: PreparedRecord, params: dict[str, Any]) -> bytes:
        parts = [prepared.transaction.ljust(CODE_WIDTH)]
        for column in prepared.request_layout:
            value = "" if params.get(column.name) is None else str(params[column.name])
            if len(value) > column.width:
                message = f"longer than its {column.width} characters"
                raise InvalidArguments([{"field": column.name, "message": message}])
            parts.append(value.ljust(column.width))
        return ("".join(parts) + "\n").encode(self.config.encoding)

    def render(self, prepared: PreparedRecord, params: dict[str, Any]) -> dict[str, Any]:
        return {"line": self.line(prepared, params).decode(self.config.encoding)}

    async def exchange(
        self,
        prepared: PreparedRecord,
        params: dict[str, Any],
        ctx: CallContext,
        record: CallRecord,
    ) -> Any:
        request = self.line(prepared, params)
        interaction = record.begin(
            prepared.transaction, {"line": request.decode(self.config.encoding)}
        )
        async with asyncio.timeout(ctx.timeout_s):
            reader, writer = await asyncio.open_connection(self.config.host, self.config.port)
            try:
                writer.write(request)
                await writer.drain()
                answer = await reader.readline()
            finally:
                writer.close()
        text = answer.decode(self.config.encoding).rstrip("\r\n")
        interaction.response = {"line": text}
        return self.read(prepared, text)

    def read(self, prepared: PreparedRecord, text: str) -> dict[str, str]:
        # A refusal is its code and a message, whatever the width of the answer's fields.
        if text[: len(OK)] != OK:
            raise LegacyFault(text[: len(OK)], text[len(OK) :].strip() or "refused")
        width = len(OK) + sum(column.width for column in prepared.answer_layout)
        if len(text) != width:
            raise LegacyBadResponse(f"the answer has {len(text)} characters, not {width}")
        values: dict[str, str] = {}
        offset = len(OK)
        for column in prepared.answer_layout:
            values[column.name] = text[offset : offset + column.width]
            offset += column.width
        return values

    async def check(self) -> Health:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(2):
                _, writer = await asyncio.open_connection(self.config.host, self.config.port)
                writer.close()
        except Exception as exc:
            detail = self.translate_error(exc).message
            return Health(False, detail, (time.perf_counter() - started) * 1000)
        return Health(True, "accepting connections", (time.perf_counter() - started) * 1000)

    def translate_error(self, exc: BaseException) -> GatewayError:
        if isinstance(exc, GatewayError):
            return exc
        if isinstance(exc, TimeoutError):
            return LegacyTimeout(f"no answer from backend {self.backend} within the timeout")
        if isinstance(exc, OSError):
            return BackendUnavailable(f"cannot reach backend {self.backend}: {exc}")
        if isinstance(exc, UnicodeError):
            return LegacyBadResponse(f"the answer is not {self.config.encoding}: {exc}")
        return GatewayError(f"unexpected error calling {self.backend}: {exc}")
