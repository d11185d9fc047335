"""Authorise stage: may this caller call this tool? A refusal is on the record."""

from __future__ import annotations

import uuid

from gateway.audit.records import RecordContext
from gateway.errors import Forbidden
from gateway.pipeline.call import Call
from gateway.pipeline.store import CallStore


def authorise(call: Call, store: CallStore) -> None:
    """Check the caller's scopes for the tool; the call then runs as the caller's name.

    Without a caller (the CLI, the demo, an approved call run again) the front's principal
    stands. An agent reaching for a tool outside its scopes is worth an auditor's eye, so the
    refusal is written as ``call.forbidden`` before it is raised.
    """
    caller = call.caller
    if caller is None:
        return
    tool = call.tool
    try:
        caller.require_tool(tool.name, tool.config.tags)
    except Forbidden as exc:
        exc.call_id = str(uuid.uuid4())
        store.append(
            "call.forbidden",
            exc.call_id,
            {"tool": tool.name, "principal": caller.name, "scopes": list(caller.scopes),
             "error": exc.to_dict()},
            RecordContext(
                principal=caller.name,
                config_version=call.generation.registry.config.version,
            ),
        )  # fmt: skip
        raise
    call.principal = caller.name
