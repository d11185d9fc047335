"""The FastAPI application: routers, the error handlers, and the gateway's life cycle."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from gateway.api import approvals, audit, calls, experiments, health, observe, overview, tools
from gateway.api.deps import authenticate
from gateway.api.fastpath import FastCallPath
from gateway.api.mcp_endpoint import McpEndpoint
from gateway.api.openapi import install as install_openapi
from gateway.api.responses import JSON, error_response
from gateway.config.models import ReviewPolicy
from gateway.console import page as console_page
from gateway.console.live import Console
from gateway.errors import GatewayError, InvalidArguments, MethodNotAllowed, RouteNotFound
from gateway.experiments.flagged import AlertReviews
from gateway.runtime import Gateway


def create_app(
    gateway_factory: Callable[[], Gateway], watch_config_s: float | None = None
) -> FastCallPath:
    """An app serving the gateway built by ``gateway_factory`` at start-up; with
    ``watch_config_s``, it reloads the config directory when its files change."""

    mcp = McpEndpoint(lambda: app.state.gateway)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            gateway = gateway_factory()
            await gateway.start(watch_config_s)
        except Exception as exc:
            # The server reports this one line instead of the traceback (FastCallPath).
            app.state.startup_error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            raise
        app.state.gateway = gateway

        def policy_of(name: str) -> ReviewPolicy | None:
            served = gateway.tools.get(name)
            return served.config.review if served is not None else None

        flagged = AlertReviews(gateway.store, policy_of, lambda: gateway.config.version)
        app.state.console = Console(gateway.store, gateway.metrics.registry, reviews=flagged)
        if gateway.recovery is not None:
            recovery = gateway.recovery
            app.state.console.posts_alerts = lambda: recovery.posts_alerts
        app.state.console.start()
        try:
            async with mcp.running():
                yield
        finally:
            await app.state.console.stop()
            await gateway.stop()

    app = FastAPI(
        title="legacy-gateway",
        version="1",
        summary="Legacy systems as typed, recorded agent tools.",
        lifespan=lifespan,
        default_response_class=JSON,
        # A trailing slash is another path: a 404 in the error shape, never a bodiless 307.
        redirect_slashes=False,
        docs_url=None,  # /docs and /redoc come from the package's own files (no CDN)
        redoc_url=None,
    )
    install_openapi(app)
    authenticated = [Depends(authenticate)]
    app.include_router(tools.router, dependencies=authenticated)
    app.include_router(calls.router, dependencies=authenticated)
    app.include_router(audit.router, dependencies=authenticated)
    app.include_router(approvals.router, dependencies=authenticated)
    app.include_router(observe.router, dependencies=authenticated)
    app.include_router(overview.router, dependencies=authenticated)
    app.include_router(experiments.router, dependencies=authenticated)
    app.include_router(health.router)
    app.include_router(console_page.router)
    app.mount("/console/static", console_page.static)

    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> JSON:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSON:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()
        ]
        return error_response(InvalidArguments(errors))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSON:
        if exc.status_code == 405:
            return error_response(
                MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
            )
        if exc.status_code == 404:
            return error_response(RouteNotFound(f"no such endpoint: {request.url.path}"))
        error = GatewayError(str(exc.detail))
        return JSON(
            {"error": {**error.to_dict(), "code": "http_error"}}, status_code=exc.status_code
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSON:
        return error_response(GatewayError(f"internal error: {type(exc).__name__}"))

    return FastCallPath(app, mcp)
