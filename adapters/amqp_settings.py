"""The keys of an AMQP tool beyond the shared ones: where its message goes, how it travels,
and how long a submitted call waits for its reply."""

from __future__ import annotations

from pydantic import Field

from gateway.config.models import ToolSettings
from gateway.mapping.spec import StrictModel


class MessageSpec(StrictModel):
    """Where a queue tool's message goes, and how it travels (AMQP and the like)."""

    exchange: str = Field("", description="Exchange to publish to; empty: the default one.")
    routing_key: str = Field(
        min_length=1, description="Routing key (the queue's name for the default exchange)."
    )
    content_type: str = Field(
        "application/json",
        description="application/json, application/xml or application/octet-stream (a "
        "record); how the body is written and how replies are read.",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Fixed message headers.")
    persistent: bool = Field(True, description="Delivery mode 2: the broker keeps it on disk.")


class AmqpToolSettings(ToolSettings):
    message: MessageSpec | None = Field(
        None, description="For queue backends: exchange, routing key and content type."
    )
    reply_deadline_s: float | None = Field(
        None,
        gt=0,
        le=30 * 86400,
        description="Submit tools: how long a submitted call waits for its reply before it "
        "ends as reply_overdue (a later reply is still recorded); default: the backend's.",
    )
