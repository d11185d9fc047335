"""The console page, its sign-in, and the API docs pages, all from files in this package.

No CDN: legacy sites are often air-gapped. Every page is served with a strict
Content-Security-Policy (scripts and styles from this origin only; the docs pages also allow
the inline styles their libraries inject).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from gateway.api.deps import authorization, gateway_of
from gateway.api.responses import JSON
from gateway.console.signin import COOKIE, csrf_token
from gateway.errors import Unauthorized

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
# Swagger UI and Redoc set inline styles, and Redoc searches in a worker it makes from a blob.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
           "cache-control": "no-store"}  # fmt: skip

router = APIRouter(include_in_schema=False)
static = StaticFiles(directory=STATIC)


def page(name: str, csp: str = CSP) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html; charset=utf-8",
                        headers={**HEADERS, "content-security-policy": csp})  # fmt: skip


@router.get("/console")
async def console() -> Response:
    return page("console.html")


@router.get("/docs")
async def docs() -> Response:
    return page("docs.html", DOCS_CSP)


@router.get("/redoc")
async def redoc() -> Response:
    return page("redoc.html", DOCS_CSP)


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    key: str = Field(min_length=1, max_length=4096, description="An API key (or a JWT)")


def _who(request: Request, header: str | None) -> dict[str, object]:
    gateway = gateway_of(request)
    caller = gateway.auth.principal(header)
    return {
        "mode": gateway.auth.mode,
        "principal": caller.name,
        "scopes": ["*"] if caller.everything else list(caller.scopes),
    }


@router.post("/console/session")
async def sign_in(body: SignIn, request: Request) -> JSON:
    """Check the key and hold it in the console's cookie; answer with the CSRF token."""
    # 401 for a wrong or revoked key, in open mode too: there a bad key would otherwise sign
    # the person in as anonymous, who then may not approve what the agent (also anonymous)
    # asked for, with nothing saying that the key was the problem.
    gateway_of(request).auth.holder(f"Bearer {body.key}")
    who = _who(request, f"Bearer {body.key}")
    answer = JSON({**who, "csrf": csrf_token(body.key)})
    answer.set_cookie(COOKIE, body.key, httponly=True, samesite="strict",
                      secure=request.url.scheme == "https", path="/")  # fmt: skip
    return answer


@router.delete("/console/session")
async def sign_out() -> JSON:
    answer = JSON({"signed_out": True})
    answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return answer


@router.get("/console/me")
async def me(request: Request) -> JSON:
    """Who the console is signed in as; ``signed_in`` false (not a 401, which browsers log
    as an error) when keys are checked and it holds none, or one no longer valid."""
    try:
        who = _who(request, authorization(request))
    except Unauthorized:
        return JSON({"mode": gateway_of(request).auth.mode, "signed_in": False})
    key = request.cookies.get(COOKIE)
    return JSON({**who, "signed_in": True, "csrf": csrf_token(key) if key else None})
