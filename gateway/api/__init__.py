"""The agent-facing HTTP API (FastAPI): ``/v1`` tools and calls, health."""

from gateway.api.app import create_app

__all__ = ["create_app"]
