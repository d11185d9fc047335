"""Everything an adapter written outside this repository imports, in one place.

An out-of-tree adapter depends on this module only; the names here keep their meaning
across releases (``docs/writing-an-adapter.md`` shows how they fit together)::

    from adapters.contract import Adapter, BackendConfig, CallRecord, ToolSettings, ...

Errors an adapter may raise from ``exchange`` (or return from ``translate_error``)::

    GatewayError                                 anything else (500)
    ├── DependencyMissing   dependency_missing   the adapter's driver is not installed
    ├── InvalidArguments    invalid_arguments    arguments the backend cannot take (422)
    ├── StatementInvalid    statement_invalid    the tool's operation is wrong for the backend
    └── LegacyError
        ├── LegacyFault         legacy_fault         the legacy system answered with a fault
        ├── LegacyHTTPError     legacy_http_error    an HTTP error status instead of an answer
        ├── LegacyBadResponse   legacy_bad_response  an answer that cannot be read
        ├── LegacyConflict      legacy_conflict      the backend refused a conflicting write
        ├── UnexpectedRowCount  unexpected_row_count a write touched other rows than expected
        ├── MessageUnroutable   message_unroutable   nothing takes the message
        ├── LegacyTimeout       legacy_timeout       no answer in time (retryable)
        └── BackendUnavailable  backend_unavailable  cannot reach the backend (retryable)

``BackendSetupError`` (from ``load`` or ``prepare``) and ``OperationUnknown`` (from
``prepare``) are config mistakes: the operator sees them with file and line.
"""

from __future__ import annotations

from adapters.base import (
    Adapter,
    BackendSetupError,
    CallContext,
    CallRecord,
    Health,
    Interaction,
    OperationUnknown,
    Page,
    Prepared,
    Reply,
    Submitted,
)
from adapters.installed import ENTRY_POINT_GROUP as REGISTRY_GROUP
from gateway.config.models import BackendConfig, ToolConfig, ToolSettings
from gateway.errors import (
    BackendUnavailable,
    DependencyMissing,
    GatewayError,
    InvalidArguments,
    LegacyBadResponse,
    LegacyConflict,
    LegacyError,
    LegacyFault,
    LegacyHTTPError,
    LegacyTimeout,
    MessageUnroutable,
    StatementInvalid,
    UnexpectedRowCount,
)
from gateway.limits import cap_field
from gateway.mapping.redaction import Commitments

# The entry point group an installed adapter registers its class in.
ENTRY_POINT_GROUP = REGISTRY_GROUP

__all__ = [
    "ENTRY_POINT_GROUP",
    "Adapter",
    "BackendConfig",
    "BackendSetupError",
    "BackendUnavailable",
    "CallContext",
    "CallRecord",
    "Commitments",
    "DependencyMissing",
    "GatewayError",
    "Health",
    "Interaction",
    "InvalidArguments",
    "LegacyBadResponse",
    "LegacyConflict",
    "LegacyError",
    "LegacyFault",
    "LegacyHTTPError",
    "LegacyTimeout",
    "MessageUnroutable",
    "OperationUnknown",
    "Page",
    "Prepared",
    "Reply",
    "StatementInvalid",
    "Submitted",
    "ToolConfig",
    "ToolSettings",
    "UnexpectedRowCount",
    "cap_field",
]
