"""Pydantic models of the YAML config: backends and tools.

Each adapter extends ``BackendConfig`` with its own keys (``adapters.soap.SoapBackendConfig``
and so on) and ``ToolSettings`` with the tool keys only it reads; the loader picks both
models from the backend's ``adapter`` name.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, PrivateAttr, field_validator, model_validator

from gateway.mapping.spec import (
    InputField,
    OutputSpec,
    RequestSpec,
    StrictModel,
    checked_json_schema,
)
from gateway.policy.protection import BreakerSpec, RateLimitSpec, RetrySpec

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class BackendConfig(StrictModel):
    """Keys every backend has, whatever its protocol."""

    adapter: str = Field(description="Protocol adapter name: soap, ...")
    description: str | None = None
    timeout_s: float = Field(10.0, gt=0, le=3600, description="Per-call timeout in seconds.")
    max_concurrency: int = Field(
        4, ge=1, le=1024, description="Calls in flight at once: legacy hosts break under load."
    )
    retries: RetrySpec | None = Field(
        None, description="Try idempotent calls again after failures that may pass."
    )
    circuit_breaker: BreakerSpec | None = Field(
        None, description="Leave the backend alone for a while after failures in a row."
    )
    rate_limit: RateLimitSpec | None = Field(None, description="Calls a second, per agent.")


class ToolSettings(StrictModel):
    """The keys of a tool that only its backend's adapter reads.

    Each adapter declares a subclass as its ``tool_model`` (AMQP's ``message``, ODBC's
    ``expect_rows``); the keys sit in the tool's YAML next to the shared ones, and the loader
    validates them with the model of the adapter the tool's backend uses. This base has no
    keys: the settings of an adapter that reads none.
    """

    @classmethod
    def of(cls, tool: ToolConfig) -> Self:
        """The tool's settings as this model (its defaults when the tool was built without
        an adapter, as a test may)."""
        settings = tool.settings
        if isinstance(settings, cls):
            return settings
        return cls.model_validate({})


class ToolConfig(StrictModel):
    """One tool an agent can call: a backend operation plus its input and output mappings."""

    description: str = Field(min_length=1, description="What the tool does, for the agent.")
    backend: str
    operation: str = Field(min_length=1, description="Operation, statement or queue to use.")
    effect: Literal["read", "write"] = "read"
    idempotent: bool | None = Field(
        None, description="Safe to retry; defaults to true for reads, false for writes."
    )
    timeout_s: float | None = Field(None, gt=0, le=3600)
    max_rows: int | None = Field(
        None, ge=1, description="Most rows (records) one call returns; more are paged."
    )
    max_bytes: int | None = Field(
        None, ge=1024, description="Most bytes of rows one call returns; more are paged."
    )
    approval: Literal["none", "required"] = Field(
        "none",
        description="required: a call answers 202 with a preview, and runs only once a person "
        "with the approve scope approves it (writes only).",
    )
    approval_ttl_s: int = Field(
        3600, ge=60, le=7 * 86400, description="How long a preview waits for its decision."
    )
    input: dict[str, InputField] = Field(default_factory=dict)
    input_json_schema: dict[str, Any] | None = Field(
        None,
        description="JSON Schema keywords added to the arguments' published schema, for "
        "rules across fields the mapping does not check itself (an XSD choice as oneOf).",
    )
    output: OutputSpec = Field(default_factory=OutputSpec)
    request: RequestSpec | None = Field(
        None, description="Serialise the request as an XML document or a record, not parameters."
    )
    tags: list[str] = Field(
        default_factory=list,
        description="Words that group tools (a SOAP service, an API's tags): agents list "
        "them with GET /v1/tools?tag=NAME.",
    )
    examples: list[dict[str, Any]] = Field(
        default_factory=list, description="Argument sets that work; shown to agents."
    )
    result_examples: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Results as the agent gets them; each must match the output schema.",
    )

    @field_validator("input_json_schema")
    @classmethod
    def _valid_rules(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return checked_json_schema(value)

    @model_validator(mode="after")
    def _approval_only_for_writes(self) -> ToolConfig:
        if self.approval == "required" and self.effect != "write":
            raise ValueError("approval: required is for tools with effect: write")
        return self

    # The keys of the backend's adapter (its ``tool_model``), set by the loader.
    _settings: ToolSettings = PrivateAttr(default_factory=ToolSettings)

    @property
    def settings(self) -> ToolSettings:
        """The adapter-specific keys; an adapter reads them with ``ItsModel.of(tool)``."""
        return self._settings

    def with_settings(self, settings: ToolSettings) -> ToolConfig:
        self._settings = settings
        return self

    @property
    def is_idempotent(self) -> bool:
        return self.idempotent if self.idempotent is not None else self.effect == "read"


CodeTable = dict[str, str]


class ConfigFile(StrictModel):
    """The top level of one YAML file (used for the published JSON Schema)."""

    backends: dict[str, Any] = Field(default_factory=dict)
    tools: dict[str, ToolConfig] = Field(default_factory=dict)
    code_tables: dict[str, CodeTable] = Field(
        default_factory=dict, description="Code tables shared by tools: codes: NAME uses one."
    )
