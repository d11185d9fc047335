"""Pydantic models of the YAML config: backends and tools.

Each adapter extends ``BackendConfig`` with its own keys (``adapters.soap.SoapBackendConfig``
and so on) and ``ToolSettings`` with the tool keys only it reads; the loader picks both
models from the backend's ``adapter`` name.
"""

from __future__ import annotations

import re
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
VARIANT_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
BASELINE = "baseline"  # the variant name of a tool as declared, on the record


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


class VariantConfig(StrictModel):
    """Another version of a tool, tried on part of its traffic or in its shadow.

    The keys given replace the tool's own; the rest are the tool's. A variant is checked as a
    whole tool of its own when the config loads.
    """

    weight: float = Field(
        0.0, ge=0, le=1, description="Share of the tool's calls this variant answers (0 to 1)."
    )
    shadow: bool = Field(
        False,
        description="Run on the same arguments after the live variant answers (read tools "
        "only); its result is compared field by field on the record, never shown to the agent.",
    )
    description: str | None = Field(None, min_length=1)
    operation: str | None = Field(None, min_length=1)
    timeout_s: float | None = Field(None, gt=0, le=3600)
    input: dict[str, InputField] | None = None
    input_json_schema: dict[str, Any] | None = None
    output: OutputSpec | None = None
    request: RequestSpec | None = None
    examples: list[dict[str, Any]] | None = None
    result_examples: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _shadow_takes_no_traffic(self) -> VariantConfig:
        if self.shadow and self.weight:
            raise ValueError("a shadow variant answers no calls: leave its weight out")
        return self

    def overrides(self) -> dict[str, Any]:
        """The tool keys this variant replaces."""
        own = self.model_fields_set - {"weight", "shadow"}
        return {key: getattr(self, key) for key in own if getattr(self, key) is not None}


class GuardSpec(StrictModel):
    """When a variant stops by itself: its error rate over its calls so far."""

    max_error_rate: float = Field(gt=0, le=1, description="Stop the variant above this rate.")
    min_calls: int = Field(20, ge=1, description="Calls the variant makes before it is judged.")


class ExperimentConfig(StrictModel):
    """How a tool's traffic is split between its variants."""

    sticky: Literal["session", "agent"] = Field(
        "session",
        description="session: a call's context.session_id keeps its variant (its agent's when "
        "it sends none); agent: every call of one agent sees one variant.",
    )
    guard: GuardSpec | None = Field(
        None, description="Stop a variant whose calls fail too often; its traffic returns."
    )
    window: str | None = Field(
        None,
        pattern=r"^[0-9]{1,3}[hdw]$",
        description="How far back the report looks for this tool when not told (1h, 24h, "
        "7d, 1w): how fast its loop from calls to decisions turns.",
    )


class ReviewPolicy(StrictModel):
    """Which of a tool's calls go to the review queue, for people with the ``review`` scope."""

    share: float = Field(
        0.0, ge=0, le=1, description="Share of calls sampled for review (0 to 1), at random."
    )
    every_write: bool = Field(False, description="Every call of a write tool.")
    every_error: bool = Field(False, description="Every call that ends in an error.")
    slower_than_ms: float | None = Field(
        None, gt=0, description="Every call that took longer than this."
    )
    every_anomaly: bool = Field(
        False,
        description="Every call an anomaly alert on the tool or its backend covers: the calls "
        "of the window that raised it, and the tool's calls while it stays open.",
    )


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

    variants: dict[str, VariantConfig] = Field(
        default_factory=dict,
        description="Other versions of this tool (mapping, operation, description, examples) "
        "tried on part of its traffic or in its shadow; the tool itself is the baseline.",
    )
    experiment: ExperimentConfig = Field(default_factory=ExperimentConfig)
    review: ReviewPolicy | None = Field(
        None, description="Put calls of this tool in the review queue (a sample, or by rule)."
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

    @model_validator(mode="after")
    def _variants_are_safe(self) -> ToolConfig:
        if sum(variant.weight for variant in self.variants.values()) > 1:
            raise ValueError("the variants' weights add up to more than 1")
        for name, variant in self.variants.items():
            if re.fullmatch(VARIANT_PATTERN, name) is None or name == BASELINE:
                raise ValueError(
                    f"variant '{name}': names are lower_snake_case, at most 32 characters, "
                    f"and not '{BASELINE}' (the tool itself)"
                )
            if variant.shadow and self.effect != "read":
                # A shadow runs the call a second time: never for a write.
                raise ValueError(f"variant '{name}': shadow runs are for read tools only")
        return self

    def variant(self, name: str) -> ToolConfig:
        """The tool as variant ``name`` declares it: its keys over the tool's."""
        changed = self.model_copy(update={**self.variants[name].overrides(), "variants": {}})
        return changed.with_settings(self.settings)

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
