"""What every app of the web GUI shares (one sensor's, a site's, and a
site's cameras'): the templates, CSRF tokens, and the guard of routes that
need the admin."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from occusense.history import HistoryUnavailable
from occusense.web import auth
from occusense.web.account import Account
from occusense.web.bodylimit import BodyLimit
from occusense.web.headers import SecurityHeaders
from occusense.web.sessions import SessionMiddleware, SessionStore

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")


@dataclass
class Access:
    """The browser sessions and API tokens of one app (a sensor's or a site's)."""

    sessions: SessionStore
    tokens: auth.Tokens = field(default_factory=auth.Tokens)

    def end_every_session(self) -> None:
        """A password change, a password reset or a factory reset: every
        browser session and API token ends."""
        self.sessions.end_all()
        self.tokens.revoke_all()


def serve_securely(app: FastAPI, access: Access, secure_cookies: bool) -> None:
    """What an app that faces browsers needs around its routes: sessions,
    security headers, the body limit, the static files and the favicon."""
    app.add_middleware(SessionMiddleware, store=access.sessions, secure=secure_cookies)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit)  # the outermost: before sessions or routes read a body
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response((HERE / "static" / "favicon.svg").read_bytes(),
                        media_type="image/svg+xml")


class Unauthorised(Exception):
    """Raised by the guard; pages redirect, the API answers 401."""


class WebKit:
    """Pages, CSRF and the admin guard for one app.

    Args:
        account: the admin account the guard checks.
        tokens: the API bearer tokens in force.
        context: the template values every page of the app gets.
    """

    def __init__(self, account: Account, tokens: auth.Tokens,
                 context: Callable[[Request], dict[str, Any]]) -> None:
        self.account = account
        self.tokens = tokens
        self.context = context

    def install(self, app: FastAPI) -> None:
        """Unauthorised pages redirect to activation or login; the API gets 401."""

        @app.exception_handler(Unauthorised)
        async def _unauthorised(request: Request, exc: Unauthorised):
            path = request.url.path
            if "/api/" in path or path.endswith(".mjpg") or path.endswith("/metrics"):
                return JSONResponse({"detail": str(exc)}, status_code=401)
            target = "/activate" if not self.account.users.activated else "/login"
            return RedirectResponse(target, status_code=303)

        @app.exception_handler(HistoryUnavailable)
        async def _history_away(request: Request, exc: HistoryUnavailable):
            """The history store's server is away, or too many queries at once."""
            return JSONResponse({"detail": str(exc)}, status_code=503,
                                headers={"Retry-After": "5"})

        @app.exception_handler(StarletteHTTPException)
        async def _not_found(request: Request, exc: StarletteHTTPException):
            """A browser that asks for a page that is not there gets a page
            saying so; the API and other clients get the JSON error."""
            wants_page = "text/html" in request.headers.get("accept", "")
            if exc.status_code == 404 and wants_page and "/api/" not in request.url.path:
                return self.page(request, "not_found.html", status_code=404,
                                 title="Page not found", path=request.url.path)
            return await http_exception_handler(request, exc)

    @staticmethod
    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(32)
        return token

    def page(self, request: Request, name: str, status_code: int = 200,
             **extra: Any) -> HTMLResponse:
        context = {
            "title": name.split(".")[0].title(),
            "logged_in": bool(request.session.get("user")),
            "csrf": self.csrf_token(request),
            "base": "",
        } | self.context(request)
        return TEMPLATES.TemplateResponse(request, name, context | extra, status_code=status_code)

    @staticmethod
    async def check_csrf(request: Request) -> None:
        sent: object = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = (await request.form()).get("csrf_token")
        expected = request.session.get("csrf")
        if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
            raise HTTPException(403, "missing or wrong CSRF token")

    async def user(self, request: Request) -> str:
        """Session (with CSRF on changes) or bearer token; else Unauthorised."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and self.tokens.valid(header[7:].strip()):
            return "admin"
        if not self.account.users.activated:
            raise Unauthorised("the sensor is not activated yet")
        if request.session.get("user") != "admin":
            raise Unauthorised("log in first")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            await self.check_csrf(request)
        return "admin"


def occupancy_asked(body: Any) -> int:
    """``{"occupancy": 12}``: the people inside now, a whole number from 0 (12.0
    is JSON's 12 too); anything else is a 422 in words."""
    occupancy = body.get("occupancy") if isinstance(body, dict) else None
    if isinstance(occupancy, float) and occupancy.is_integer():
        occupancy = int(occupancy)
    if not isinstance(occupancy, int) or isinstance(occupancy, bool) or not (
            0 <= occupancy <= 1_000_000):
        raise HTTPException(422, 'send {"occupancy": <people inside now, 0 to 1000000>}')
    return occupancy
