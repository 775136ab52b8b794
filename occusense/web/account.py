"""The admin account's pages and API (G1 activation, login, logout, forgotten
password, password change, API tokens), for one sensor or for a site.

A sensor (``occusense run``) keeps its account in its configuration's
``users`` section; a site (``occusense serve``) keeps one account for every
camera in its own state folder. Both go through :class:`Account`, so the
routes, the throttling and the session rules are written once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from occusense.config import config_to_dict
from occusense.config.device import PrivacyMode, UserSettings
from occusense.documents import DocumentError, load_yaml
from occusense.errors import ConfigError
from occusense.files import write_atomic
from occusense.web import auth
from occusense.web.state import SensorState

PRIVACY_MODES = ("normal", "blur")


class Account(Protocol):
    """Where the admin account is kept."""

    @property
    def users(self) -> UserSettings: ...

    def save(self, users: dict[str, Any], origin: str, privacy_mode: str | None = None) -> None:
        """Keep a new ``users`` section (and, at activation, the privacy mode)."""


class SensorAccount:
    """One sensor's account: its configuration's ``users`` section."""

    def __init__(self, state: SensorState) -> None:
        self.state = state

    @property
    def users(self) -> UserSettings:
        return self.state.config.users

    def save(self, users: dict[str, Any], origin: str, privacy_mode: str | None = None) -> None:
        data = config_to_dict(self.state.config, include_secrets=True)
        data["users"] = users
        if privacy_mode is not None:
            data["privacy_mode"] = privacy_mode
        self.state.apply(data, origin, privacy_change=privacy_mode is not None)


class SiteAccount:
    """A site's one account (``state/site/account.yaml``, private), for
    every camera of the service, and the privacy mode chosen when the site
    was activated.

    Args:
        path: the account file.
        on_privacy: told the site's privacy mode at activation (it applies
            to every camera, those added later included).
    """

    def __init__(self, path: Path, on_privacy: Callable[[PrivacyMode], None]) -> None:
        self.path = path
        self.on_privacy = on_privacy
        self._users, self.privacy_mode = self._load()

    def _load(self) -> tuple[UserSettings, PrivacyMode | None]:
        if not self.path.exists():
            return UserSettings(), None
        try:
            data = load_yaml(self.path.read_bytes(), str(self.path))
            if not isinstance(data, dict):
                raise ValueError("not a mapping")
            mode = data.get("privacy_mode")
            return (UserSettings.model_validate(data.get("users", {})),
                    PrivacyMode(mode) if mode else None)
        except (OSError, DocumentError, ValidationError, ValueError) as exc:
            raise ConfigError(f"{self.path}: the site account is unreadable ({exc}); "
                              "restore it from a backup, or delete it to activate again") from None

    @property
    def users(self) -> UserSettings:
        return self._users

    def save(self, users: dict[str, Any], origin: str, privacy_mode: str | None = None) -> None:
        import yaml

        checked = UserSettings.model_validate(users)
        mode = PrivacyMode(privacy_mode) if privacy_mode else self.privacy_mode
        document = {"users": users, "privacy_mode": mode.value if mode else None}
        write_atomic(self.path, yaml.safe_dump(document, sort_keys=False), private_folder=True)
        self._users, self.privacy_mode = checked, mode
        if privacy_mode is not None and mode is not None:  # P5: at activation, every camera
            self.on_privacy(mode)


@dataclass
class AccountPages:
    """What the account routes need from the app around them.

    Attributes:
        page: renders a template with the app's common context.
        check_csrf: raises 403 unless the request carries the session's token.
        user: the guard of logged-in routes.
        end_every_session: every session and API token ends.
        home: where a login lands.
        password_path: where the password-change form posts.
        password_page: the page that shows that form (for its errors).
    """

    page: Callable[..., HTMLResponse]
    check_csrf: Callable[[Request], Awaitable[None]]
    user: Callable[[Request], Awaitable[str]]
    end_every_session: Callable[[], None]
    home: str
    password_path: str
    password_page: str


def add_account_routes(app: FastAPI, account: Account, pages: AccountPages,
                       throttle: auth.Throttle, tokens: auth.Tokens) -> None:
    """Activation, login, logout, forgotten password, password change and
    API tokens on ``app`` for ``account``."""
    page, check_csrf, user = pages.page, pages.check_csrf, pages.user

    @app.get("/activate", include_in_schema=False)
    async def activate_page(request: Request):
        if account.users.activated:
            return RedirectResponse("/login", status_code=303)
        return page(request, "activate.html", questions=auth.SECURITY_QUESTIONS)

    @app.post("/activate", include_in_schema=False)
    async def activate(request: Request, password: str = Form(...), confirm: str = Form(...),
                       privacy_mode: str = Form("normal")):
        await check_csrf(request)
        if account.users.activated:
            raise HTTPException(409, "already activated")
        form = await request.form()
        problems = {}  # every problem at once, each by its field
        if problem := auth.password_problem(password):
            problems["password"] = problem
        if password != confirm:
            problems["confirm"] = "the two passwords differ"
        if privacy_mode not in PRIVACY_MODES:
            problems["privacy_mode"] = "choose Normal or Blur"
        questions = _questions(form)
        asked = [auth.normalise_answer(q["question"]) for q in questions]
        if len(set(asked)) < len(asked):
            problems["questions"] = "choose a different question for each answer"
        if problems:
            typed = {k: str(v) for k, v in form.items()
                     if k.startswith(("question", "custom", "answer")) or k == "privacy_mode"}
            count = len(problems)
            return page(request, "activate.html", 400, problems=problems, typed=typed,
                        error=f"Not activated: {count} thing{'s' if count > 1 else ''} to "
                              "correct (marked below).",
                        questions=auth.SECURITY_QUESTIONS)
        for question in questions:
            question["answer_hash"] = await auth.hash_later(question["answer_hash"])
        account.save({"activated": True, "password_hash": await auth.hash_later(password),
                      "security_questions": questions}, "activation", privacy_mode)
        request.session.clear()
        request.session["user"] = "admin"
        return RedirectResponse(pages.home, status_code=303)

    @app.get("/login", include_in_schema=False)
    async def login_page(request: Request, reset: bool = False):
        if not account.users.activated:
            return RedirectResponse("/activate", status_code=303)
        message = "Your password was reset: log in with the new one." if reset else ""
        return page(request, "login.html", message=message)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request, password: str = Form(...), username: str = Form("admin")):
        await check_csrf(request)
        client = request.client.host if request.client else "?"
        wait = throttle.blocked_for(client)
        if wait > 0:
            return page(request, "login.html", 429,
                        error=f"too many failed logins; try again in {wait:.0f} s")
        if username != "admin" or not await auth.verify_later(account.users.password_hash,
                                                              password):
            throttle.failed(client)
            return page(request, "login.html", 401, error="wrong user name or password")
        throttle.succeeded(client)
        request.session.clear()  # a new session: no fixation
        request.session["user"] = "admin"
        return RedirectResponse(pages.home, status_code=303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request, _: str = Depends(user)):
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/forgot", include_in_schema=False)
    async def forgot_page(request: Request):
        questions = [q.question for q in account.users.security_questions]
        return page(request, "forgot.html", questions=questions)

    @app.post("/forgot", include_in_schema=False)
    async def forgot(request: Request, password: str = Form(...), confirm: str = Form(...)):
        await check_csrf(request)
        client = request.client.host if request.client else "?"
        questions = account.users.security_questions
        shown = [q.question for q in questions]
        wait = throttle.blocked_for(client)
        if wait > 0:  # before any hash: a locked-out client costs nothing
            return page(request, "forgot.html", 429, questions=shown,
                        error=f"too many attempts; try again in {wait:.0f} s")
        problem = auth.password_problem(password) or (
            "the passwords differ" if password != confirm else None)
        if problem:
            return page(request, "forgot.html", 400, questions=shown, error=problem)
        form = await request.form()
        right = bool(questions)
        for i, q in enumerate(questions):  # stops at the first wrong answer
            given = auth.normalise_answer(str(form.get(f"answer{i}", "")))
            if not await auth.verify_later(q.answer_hash, given):
                right = False
                break
        if not right:
            throttle.failed(client)
            return page(request, "forgot.html", 400, questions=shown, error="wrong answers")
        throttle.succeeded(client)
        await _set_password(account, password)
        pages.end_every_session()
        return RedirectResponse("/login?reset=true", status_code=303)

    @app.post(pages.password_path, include_in_schema=False)
    async def password_page(request: Request, current: str = Form(...),
                            password: str = Form(...), confirm: str = Form(...),
                            _: str = Depends(user)):
        problem = await change_password(account, current, password, confirm)
        if problem:
            return page(request, pages.password_page, 400, error=problem)
        pages.end_every_session()
        request.session.clear()
        return page(request, "login.html", message="password changed: log in with the new one")

    @app.post("/api/token", tags=["auth"])
    async def token(request: Request, password: str = Form(..., min_length=1)):
        """A bearer token for scripts (valid until restart or password change)."""
        client = request.client.host if request.client else "?"
        if throttle.blocked_for(client) > 0:
            raise HTTPException(429, "too many failed logins")
        if not await auth.verify_later(account.users.password_hash, password):
            throttle.failed(client)
            raise HTTPException(401, "wrong password")
        throttle.succeeded(client)
        return {"token": tokens.issue(), "token_type": "bearer"}

    @app.post("/api/password", tags=["auth"])
    async def password_api(current: str = Form(..., min_length=1),
                           password: str = Form(..., min_length=1),
                           confirm: str = Form(..., min_length=1),
                           _: str = Depends(user)) -> dict:
        """Change the password (``current`` must be the password now: a rule no
        schema can state, answered 400 in words)."""
        problem = await change_password(account, current, password, confirm)
        if problem:
            raise HTTPException(400, problem)
        pages.end_every_session()
        return {"changed": True}


def _questions(form: Any) -> list[dict[str, str]]:
    """The activation form's answered security questions, each with its
    normalised answer under ``answer_hash`` (hashed by the caller)."""
    questions = []
    for i in range(3):
        answer = str(form.get(f"answer{i}", "")).strip()
        text = str(form.get(f"custom{i}", "")).strip() or str(form.get(f"question{i}", ""))
        if answer:
            questions.append({"question": text, "answer_hash": auth.normalise_answer(answer)})
    return questions


async def _set_password(account: Account, password: str) -> None:
    users = account.users.model_dump(mode="json")
    users["password_hash"] = await auth.hash_later(password)
    account.save(users, "password")


async def change_password(account: Account, current: str, password: str,
                          confirm: str) -> str | None:
    """Change the password; the problem in words, or None when changed."""
    if not await auth.verify_later(account.users.password_hash, current):
        return "the current password is wrong"
    problem = auth.password_problem(password)
    if problem:
        return problem
    if password != confirm:
        return "the passwords differ"
    await _set_password(account, password)
    return None
