"""The site's web GUI and REST API (issue 20): every camera in one place.

| path | what |
|---|---|
| ``/cameras`` | every camera: live thumbnail, counts, frame rate, delivery |
| ``/cameras/<id>/…`` | that camera's own pages (Live, Regions, Line, …) |
| ``/cameras/<id>/file`` | its camera file, edited in place |
| ``/account`` | the site's one account (password) |
| ``/api/cameras`` | GET the list, POST a new camera |
| ``/api/cameras/<id>`` | GET one, PUT its configuration, DELETE it |
| ``/api/cameras/<id>/…`` | that camera's REST API (``status``, ``config/…``, ``history``…) |
| ``/metrics`` | Prometheus, every camera (label ``camera``) |

Each camera's pages and API are the single sensor's app
(:func:`occusense.web.app.create_app`) with the site's account, sessions and
tokens (:class:`~occusense.web.app.SiteLink`); :class:`CameraApps` hands them
their requests, and follows the service as cameras come and go.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any
from urllib.parse import urlencode

import cv2
import numpy as np
import yaml
from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse, Response
from starlette._utils import get_route_path
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from occusense.config import DeviceConfig, config_to_dict, parse_config
from occusense.config.io import PLACEHOLDER, placeholders
from occusense.config.merge import changed, leaves
from occusense.config.running import forget_seed_settings, seed_settings
from occusense.documents import DocumentError, load_json, load_yaml
from occusense.errors import OccusenseError
from occusense.fleet.service import Camera, FleetService
from occusense.fleet.site import SiteFolder, SiteSettings, check_id
from occusense.history import QUERIES
from occusense.spaces import MAX_SPACES, SpaceSettings
from occusense.web import auth, metrics
from occusense.web.account import AccountPages, SiteAccount, add_account_routes
from occusense.web.app import SiteLink, _jpeg, _licences, _version, create_app
from occusense.web.common import Access, WebKit, occupancy_asked, serve_securely
from occusense.web.openapi import (
    API_ERRORS,
    MOMENT_SCHEMA,
    OCCUPANCY_BODY,
    camera_paths,
    json_body,
    model_schema,
)
from occusense.web.overlay import render
from occusense.web.sessions import SessionStore
from occusense.web.state import SensorState, region_counts, stream_url

THUMBNAIL_WIDTH = 320
NEW_CAMERA = {"type": "object", "required": ["id", "config"], "properties": {
    "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"},
    "config": {"type": "object", "description": "a whole sensor configuration"}}}

SPACE_SCHEMA, SPACE_DEFINITIONS = model_schema(SpaceSettings)  # PUT /api/spaces, item by item


class CameraApps:
    """ASGI: ``<mount>/<id>/<rest>`` to camera ``id``'s app as ``<prefix><rest>``.

    Args:
        prefix: put before the rest of the path ("" for pages, "/api" for the API).
    """

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.apps: dict[str, FastAPI] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rest = get_route_path(scope)
        camera, _, tail = rest.lstrip("/").partition("/")
        app = self.apps.get(camera)
        if app is None:  # the site's handler answers (a page for a browser, else JSON)
            raise StarletteHTTPException(404, f"no camera {camera!r}")
        path = f"{self.prefix}/{tail}"
        inner = dict(scope, path=path, raw_path=path.encode(), root_path="")
        await app(inner, receive, send)


def camera_summary(camera: Camera, host: str = "127.0.0.1") -> dict[str, Any]:
    """What the cameras page and ``GET /api/cameras`` say of a camera
    (``host``: the address the client used, for the stream's URL)."""
    state = camera.state
    out: dict[str, Any] = {"id": camera.id, "status": camera.status, "error": camera.error,
                           "file": camera.path.name, "resolution": camera.resolution}
    source = camera.runner.source if camera.runner is not None else None
    if source is not None:  # a live camera's size is known from its first frame
        out["resolution"] = (f"{source.width}x{source.height} @ {source.fps:.1f} fps"
                             if source.width else "waiting for the camera")
    if state is None:
        return out | {"name": camera.id}
    run, view = state.run, state.snapshot()
    recipients = [{k: r[k] for k in ("name", "connected", "queued", "delivered", "last_error")}
                  for r in state.transport_status]
    return out | {
        "name": state.config.device.name,
        "counts": dict(state.counts),
        "regions": " · ".join(f"{k} {v}" for k, v in region_counts(state.counts).items()),
        "frame_rate": round(run.frame_rate, 2),
        "lag_s": round(run.lag_s, 1),
        "frames": run.frames,
        "dropped": run.dropped,
        "inference_ms": round(1000 * run.inference_s / run.frames, 1) if run.frames else None,
        "last_frame": view.timestamp or None,
        "detector": state.detector,
        "recipients": recipients,
        "delivery": delivery_state(recipients),
        "delivery_text": DELIVERY_WORDS[delivery_state(recipients)],
        "delivery_detail": delivery_detail(recipients),
        "privacy_mode": state.config.privacy_mode.value,
        "source_problem": state.source_problem,
        "notice": state.notice,
        "stream": stream_url(state, host),
    }


DELIVERY_WORDS = {"none": "no recipient set (console and file only)", "ok": "delivered",
                  "queued": "waiting to be sent", "failing": "failing"}


def delivery_state(recipients: list[dict[str, Any]]) -> str:
    """One word for a camera's reports: none, ok, queued or failing."""
    if not recipients:
        return "none"
    if any(r["connected"] is False for r in recipients):
        return "failing"
    return "queued" if any(r["queued"] for r in recipients) else "ok"


def delivery_detail(recipients: list[dict[str, Any]]) -> str:
    """Why reports wait, in words: each recipient not reached, and its last error."""
    waiting = sum(r["queued"] or 0 for r in recipients)
    failing = [f"{r['name']}: {r['last_error'] or 'not reached'}" for r in recipients
               if r["connected"] is False]
    parts = failing + ([f"{waiting} report(s) waiting"] if waiting else [])
    return " · ".join(parts)


def file_view(camera: Camera, site: SiteFolder) -> tuple[str, bool]:
    """The camera file for its page: as written, or, when it holds secrets
    (passwords, keys), its settings with each secret shown as the export's
    placeholder (comments are then not shown). True when masked."""
    text = camera.path.read_text(encoding="utf-8")
    try:
        raw = load_yaml(text, camera.path.name)
        masked = config_to_dict(parse_config(site.with_defaults(camera.id, raw),
                                             camera.path.name))
    except (DocumentError, OccusenseError):
        return text, False  # a file that does not load is shown as it is, to be mended
    hidden = _mask_like(raw, masked)
    if hidden == raw:
        return text, False
    return yaml.safe_dump(hidden, sort_keys=False, allow_unicode=True), True


def _mask_like(raw: Any, masked: Any) -> Any:
    """``raw`` with the values ``masked`` (the model's export) hides."""
    if isinstance(raw, dict) and isinstance(masked, dict):
        return {k: _mask_like(v, masked.get(k)) for k, v in raw.items()}
    if isinstance(raw, list) and isinstance(masked, list) and len(raw) == len(masked):
        return [_mask_like(a, b) for a, b in zip(raw, masked, strict=True)]
    return PLACEHOLDER if masked == PLACEHOLDER and raw not in ("", None) else raw


def gui_changes(camera: Camera) -> list[tuple[str, str]]:
    """The settings changed on the camera's pages (or its API) since its file
    was last read, each with its running value (secrets as the placeholder)."""
    if camera.state is None:
        return []
    config = camera.state.config
    base = seed_settings(config.state_dir)
    if base is None:
        return []
    running = config_to_dict(config, include_secrets=True)
    shown = {".".join(k): v for k, v in leaves(config_to_dict(config)).items()}
    return [(path, _short(shown.get(path, PLACEHOLDER))) for path in changed(base, running)
            if not path.startswith("users.")]


def _short(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    text = text.removesuffix("...").strip()
    return text if len(text) <= 160 else text[:157] + "..."


def with_secrets_kept(camera: Camera, text: str) -> str:
    """The page's text with each placeholder back to the file's secret."""
    try:
        posted = load_yaml(text, "the camera file")
    except DocumentError:
        return text  # the check says what is wrong
    if not placeholders(posted) or not isinstance(posted, dict):
        return text
    try:
        current = load_yaml(camera.path.read_bytes(), camera.path.name)
    except (OSError, DocumentError):
        return text
    return yaml.safe_dump(_restore(posted, current), sort_keys=False, allow_unicode=True)


def _restore(posted: Any, current: Any) -> Any:
    """``posted`` with each placeholder replaced by ``current``'s value there
    (a placeholder with nothing behind it stays, and the check names it)."""
    if isinstance(posted, dict):
        known = current if isinstance(current, dict) else {}
        return {k: _restore(v, known.get(k)) for k, v in posted.items()}
    if isinstance(posted, list):
        same = isinstance(current, list) and len(current) == len(posted)
        return [_restore(v, current[i] if same else None) for i, v in enumerate(posted)]
    if posted == PLACEHOLDER and isinstance(current, str) and current:
        return current
    return posted


def waiting_picture() -> bytes:
    """The thumbnail of a camera that has sent no picture yet: grey, saying so."""
    picture = np.full((240, THUMBNAIL_WIDTH, 3), 225, np.uint8)
    cv2.putText(picture, "waiting for the camera", (38, 126), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                (90, 90, 90), 1, cv2.LINE_AA)
    return _jpeg(picture, quality=70) or b""


def _thumbnail(camera: Camera) -> bytes | None:
    state = camera.state
    if state is None:
        return None
    view = state.snapshot()
    if view.image is None:
        return None
    # the live picture as the camera's Live page shows it (blurred in Blur mode)
    picture = render(view.image, state.config, view.people, {}, True)
    height = round(picture.shape[0] * THUMBNAIL_WIDTH / picture.shape[1])
    small = cv2.resize(picture, (THUMBNAIL_WIDTH, height), interpolation=cv2.INTER_AREA)
    return _jpeg(small, quality=70) or None


def site_account(service: FleetService) -> SiteAccount:
    """The site's account, its privacy mode applied to the service (before
    the cameras start, so that a Blur site never shows a camera unblurred)."""
    account = SiteAccount(service.site.state_dir / "site" / "account.yaml",
                          service.set_privacy)
    if account.privacy_mode is not None:
        service.set_privacy(account.privacy_mode)
    return account


class SiteWeb:
    """The site's app, following the service's cameras.

    Args:
        service: the running cameras.
        settings: ``site.yaml`` (its name and web section).
        account: the site's account (read from its state folder when omitted).
    """

    def __init__(self, service: FleetService, settings: SiteSettings,
                 account: SiteAccount | None = None) -> None:
        self.service = service
        self.settings = settings
        self.access = Access(SessionStore(service.site.state_dir / "site" / "sessions.json"))
        self.account = account or site_account(service)
        self.pages, self.api = CameraApps(""), CameraApps("/api")
        self._lock = threading.Lock()
        self.app = self._build()
        service.on_change = self.follow
        self.follow()

    def follow(self) -> None:
        """A camera's app for each running camera (rebuilt when it restarted)."""
        with self._lock:
            apps = {}
            for camera in list(self.service.cameras.values()):
                if camera.state is None:
                    continue
                known = self.pages.apps.get(camera.id)
                if known is not None and known.state.sensor is camera.state:
                    apps[camera.id] = known
                    continue
                link = SiteLink(f"/cameras/{camera.id}", camera.id, self.settings.name,
                                self.account, self.access)
                apps[camera.id] = create_app(camera.state, link)
            self.pages.apps = apps
            self.api.apps = apps

    def _build(self) -> FastAPI:
        app = FastAPI(title="occusense site", version=_version(), docs_url=None, redoc_url=None,
                      openapi_url="/api/openapi.json", responses=API_ERRORS)
        app.openapi = lambda: self._openapi(app)  # type: ignore[method-assign]
        serve_securely(app, self.access, self.settings.web.secure_cookies)
        kit = WebKit(self.account, self.access.tokens,
                     lambda request: {"site_name": self.settings.name, "device_name": ""})
        kit.install(app)
        add_account_routes(app, self.account, AccountPages(
            kit.page, kit.check_csrf, kit.user, self.access.end_every_session,
            home="/cameras", password_path="/account/password", password_page="account.html"),
            auth.Throttle(), self.access.tokens)
        self._pages(app, kit)
        self._rest(app, kit)
        app.mount("/api/cameras", self.api)  # after the site's own /api/cameras routes
        app.mount("/cameras", self.pages)
        return app

    def _openapi(self, app: FastAPI) -> dict[str, Any]:
        """The site's routes and, under ``/api/cameras/{camera}/``, a camera's API
        (the same for every camera: made once from a camera app of defaults)."""
        if app.openapi_schema is None:
            site = get_openapi(title=app.title, version=app.version, routes=app.routes)
            link = SiteLink("/cameras/{camera}", "{camera}", self.settings.name, self.account,
                            self.access)
            camera_api = create_app(SensorState(DeviceConfig()), link).openapi()
            described = camera_paths(site, camera_api)
            described["components"]["schemas"].update(SPACE_DEFINITIONS)
            app.openapi_schema = described
        return app.openapi_schema

    # ------------------------------------------------------------------ pages
    def _pages(self, app: FastAPI, kit: WebKit) -> None:
        service, page, user = self.service, kit.page, kit.user

        @app.get("/", include_in_schema=False)
        async def home(request: Request):
            if not self.account.users.activated:
                return RedirectResponse("/activate", status_code=303)
            return RedirectResponse("/cameras" if request.session.get("user") else "/login", 303)

        @app.get("/cameras", include_in_schema=False)
        async def cameras(request: Request, _: str = Depends(user), message: str = "",
                          error: str = ""):
            host = request.url.hostname or "127.0.0.1"
            summaries = [camera_summary(c, host) for c in list(service.cameras.values())]
            return page(request, "cameras.html", cameras=summaries, problems=service.problems,
                        spaces=list(service.spaces.snapshot().values()),
                        message=message, error=error, title="Cameras")

        @app.post("/cameras", include_in_schema=False)
        async def add_camera(request: Request, camera: str = Form(...), uri: str = Form(...),
                             name: str = Form(""), _: str = Depends(user)):
            document = {"device": {"name": name.strip() or camera}, "source": {"uri": uri.strip()}}
            try:
                check_id(camera)
                added = service.add(camera, yaml.safe_dump(document, sort_keys=False))
            except (OccusenseError, FileExistsError) as exc:
                return await cameras(request, "admin", error=str(exc))
            if added.error:  # said in red at once, not "added" in green before the card fails
                said = {"error": f"camera {camera} was added but cannot start: {added.error}. "
                                 "Correct its source on its File page, or remove it."}
            elif added.status == "camera lost":
                said = {"message": f"camera {camera} added; it does not answer yet "
                                   f"({added.state.source_problem if added.state else ''}): "
                                   "the sensor keeps trying"}
            else:
                said = {"message": f"camera {camera} added"}
            return RedirectResponse("/cameras?" + urlencode(said), 303)

        @app.get("/cameras/{camera}/file", include_in_schema=False)
        async def camera_file(request: Request, camera: str, _: str = Depends(user),
                              message: str = "", error: str = "", text: str | None = None):
            known = self._camera(camera)
            body, masked = (text, False) if text is not None else file_view(known, service.site)
            return page(request, "camera_file.html", camera=camera, text=body, masked=masked,
                        status=camera_summary(known), message=message, error=error,
                        title=f"Camera {camera}", changes=gui_changes(known))

        @app.post("/cameras/{camera}/file", include_in_schema=False)
        async def save_camera_file(request: Request, camera: str, text: str = Form(...),
                                   gui_changes: str = Form("keep"), _: str = Depends(user)):
            known = self._camera(camera)
            if gui_changes not in ("keep", "discard"):
                return await camera_file(request, camera, "admin", text=text,
                                         error="choose whether to keep the changes made on "
                                               "the camera's pages")
            try:
                if gui_changes == "discard" and known.state is not None:
                    forget_seed_settings(known.state.config.state_dir)
                service.replace(camera, with_secrets_kept(known, text))
            except OccusenseError as exc:
                return await camera_file(request, camera, "admin", error=str(exc), text=text)
            return RedirectResponse(f"/cameras/{camera}/file?"
                                    + urlencode({"message": "saved and applied"}), 303)

        @app.get("/spaces", include_in_schema=False)
        async def spaces_page(request: Request, _: str = Depends(user), message: str = "",
                              error: str = "", text: str | None = None):
            settings = [s.model_dump(mode="json") for s in service.spaces.settings.values()]
            body = text if text is not None else yaml.safe_dump(settings, sort_keys=False,
                                                                allow_unicode=True)
            return page(request, "spaces.html", title="Spaces", text=body,
                        cameras=sorted(service.cameras), message=message, error=error,
                        spaces=list(service.spaces.snapshot().values()))

        @app.post("/spaces", include_in_schema=False)
        async def save_spaces(request: Request, text: str = Form(""), _: str = Depends(user)):
            try:
                spaces = load_yaml(text, "the spaces") or []
                if not isinstance(spaces, list):
                    raise OccusenseError("the spaces: a list, one entry per space (- id: ...)")
                service.set_spaces(spaces)
            except (OccusenseError, DocumentError) as exc:
                return await spaces_page(request, "admin", error=str(exc), text=text)
            return RedirectResponse("/spaces?" + urlencode(
                {"message": f"{len(service.spaces.settings)} space(s) saved and counting"}), 303)

        @app.post("/spaces/{space}", include_in_schema=False)
        async def set_space_page(request: Request, space: str, occupancy: str = Form(...),
                                 _: str = Depends(user)):
            try:
                people = int(occupancy)
                state = service.spaces.set(space, people)
            except KeyError:
                return await cameras(request, "admin", error=f"no space {space!r}")
            except ValueError:
                return await cameras(request, "admin",
                                     error="the people inside: a whole number from 0")
            return RedirectResponse("/cameras?" + urlencode(
                {"message": f"{state['name']}: {people} people inside now"}), 303)

        @app.post("/cameras/{camera}/remove", include_in_schema=False)
        async def remove_camera(request: Request, camera: str, _: str = Depends(user)):
            self._camera(camera)
            form = await request.form()
            if form.get("confirm") != "yes":
                return page(request, "confirm.html", heading=f"Remove camera {camera}",
                            question=f"Stop camera {camera} and take it off the site?",
                            consequences=[
                                "it stops counting and reporting now",
                                "its file moves to cameras/removed/ (put it back to restore)",
                                "its state folder stays: saved settings, reports waiting in "
                                "its outbox, LoRaWAN session"],
                            action=f"/cameras/{camera}/remove", verb="Remove", fields={},
                            cancel="/cameras")
            moved = service.remove(camera)
            return RedirectResponse("/cameras?" + urlencode(
                {"message": f"camera {camera} removed (its file is now {moved.name})"}), 303)

        @app.get("/cameras/{camera}/thumbnail.jpg", include_in_schema=False)
        async def thumbnail(camera: str, _: str = Depends(user)) -> Response:
            jpg = _thumbnail(self._camera(camera)) or waiting_picture()
            return Response(jpg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

        @app.get("/account", include_in_schema=False)
        async def account_page(request: Request, _: str = Depends(user)):
            return page(request, "account.html", title="Account")

        @app.get("/about", include_in_schema=False)
        async def about(request: Request, _: str = Depends(user)):
            pool = self.service.pool
            return page(request, "site_about.html", version=_version(), licences=_licences(),
                        pool=pool.describe(), title="About")

    # ------------------------------------------------------------------- REST
    def _rest(self, app: FastAPI, kit: WebKit) -> None:
        service, user = self.service, kit.user
        registry = metrics.registry_for_cameras(self._labelled_states, service.pool.stats,
                                                service.spaces.snapshot)

        @app.get("/api/spaces", tags=["spaces"])
        async def list_spaces(_: str = Depends(user)) -> dict:
            """Each space of the site: the people in it now (never below 0), its
            capacity and whether it is over it, entries and exits counted."""
            return {"spaces": list(service.spaces.snapshot().values())}

        @app.put("/api/spaces", tags=["spaces"],
                 openapi_extra=json_body({"type": "array", "items": SPACE_SCHEMA,
                                          "maxItems": MAX_SPACES,
                                          "description": "the spaces, as site.yaml's spaces:"}))
        async def put_spaces(request: Request, _: str = Depends(user)) -> dict:
            """Replace the site's spaces (``site.yaml`` rewritten after validation;
            each space kept by id keeps its occupancy)."""
            body = await _json_body(request, list)
            try:
                service.set_spaces(body)
            except OccusenseError as exc:
                raise HTTPException(422, str(exc)) from None
            return {"spaces": list(service.spaces.snapshot().values())}

        @app.put("/api/spaces/{space}", tags=["spaces"],
                 openapi_extra=json_body(OCCUPANCY_BODY))
        async def set_space(space: str, request: Request, _: str = Depends(user)) -> dict:
            """Correct a space's occupancy by hand: ``{"occupancy": 12}``."""
            occupancy = occupancy_asked(await _json_body(request))
            try:
                return service.spaces.set(space, occupancy)
            except KeyError:
                raise HTTPException(404, f"no space {space!r}") from None
            except ValueError as exc:
                raise HTTPException(422, str(exc)) from None

        @app.get("/api/cameras", tags=["cameras"])
        async def list_cameras(request: Request, _: str = Depends(user)) -> dict:
            """Every camera: status, counts, frame rate, delivery, RTSP stream."""
            host = request.url.hostname or "127.0.0.1"
            return {"cameras": [camera_summary(c, host) for c in list(service.cameras.values())],
                    "problems": service.problems}

        @app.post("/api/cameras", tags=["cameras"], status_code=201,
                  openapi_extra=json_body(NEW_CAMERA))
        async def add_camera(request: Request, _: str = Depends(user)) -> dict:
            """A new camera: ``{"id": "lobby", "config": {...a whole sensor config...}}``."""
            body = await _json_body(request)
            camera, config = body.get("id"), body.get("config")
            if not isinstance(camera, str) or not isinstance(config, dict):
                raise HTTPException(400, 'send {"id": "<camera id>", "config": {...}}')
            try:
                check_id(camera)
                added = service.add(camera, yaml.safe_dump(config, sort_keys=False))
            except FileExistsError as exc:
                raise HTTPException(409, str(exc)) from None
            except OccusenseError as exc:
                raise HTTPException(422, str(exc)) from None
            return camera_summary(added)

        @app.get("/api/cameras/{camera}", tags=["cameras"])
        async def get_camera(camera: str, request: Request, _: str = Depends(user)) -> dict:
            return camera_summary(self._camera(camera), request.url.hostname or "127.0.0.1")

        @app.put("/api/cameras/{camera}", tags=["cameras"],
                 openapi_extra=json_body({"type": "object",
                                          "description": "a whole sensor configuration"}))
        async def put_camera(camera: str, request: Request, _: str = Depends(user)) -> dict:
            """Replace the camera's file (a whole sensor config); applied to it alone."""
            self._camera(camera)
            config = await _json_body(request)
            try:
                changed = service.replace(camera, yaml.safe_dump(config, sort_keys=False))
            except OccusenseError as exc:
                raise HTTPException(422, str(exc)) from None
            return camera_summary(changed)

        @app.delete("/api/cameras/{camera}", tags=["cameras"])
        async def delete_camera(camera: str, _: str = Depends(user)) -> dict:
            """Stop the camera; its file moves to cameras/removed/, its state stays."""
            self._camera(camera)
            return {"removed": camera, "file": service.remove(camera).name}

        @app.get("/api/history", tags=["cameras"], response_model=None,
                 responses={200: {"content": {"application/json": {}, "text/csv": {}},
                                  "description": "the site's buckets: every camera summed"}})
        async def site_history(
            _: str = Depends(user),
            series: str = Query(..., max_length=160, description="people, region:<name>, "
                                "line:in, line:out, flow:<entry>-<exit>"),
            from_: str | None = Query(None, alias="from", max_length=40,
                                      json_schema_extra=MOMENT_SCHEMA),
            to: str | None = Query(None, max_length=40, json_schema_extra=MOMENT_SCHEMA),
            bucket: str = Query("hour", pattern="^(minute|hour|day|week)$"),
            format_: str = Query("json", alias="format", pattern="^(json|csv)$"),
        ) -> Any:
            """A series summed over every camera of the site (each camera's own:
            ``/api/cameras/<id>/history``). Peaks are summed per bucket: an upper
            bound of the site's peak."""
            return await QUERIES.run(self._site_history, series, from_, to, bucket, format_)

        @app.get("/metrics", tags=["live"], response_class=Response,
                 responses={200: {"content": {metrics.CONTENT_TYPE: {}},
                                  "description": "Prometheus text format"}})
        async def prometheus(request: Request) -> Response:
            """Every camera's metrics, labelled ``camera``; with the session, an API
            token or ``site.yaml`` ``web.metrics_token``."""
            scrape_token = self.settings.web.metrics_token.get_secret_value()
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not (scrape_token and given and secrets.compare_digest(given, scrape_token)):
                await user(request)
            return Response(metrics.exposition(registry), media_type=metrics.CONTENT_TYPE)

    def _site_history(self, series: str, since: str | None, until: str | None, bucket: str,
                      form: str) -> Any:
        from occusense.clock import DeviceClock
        from occusense.history import (
            HistoryError,
            HistoryUnavailable,
            query_period,
            sum_buckets,
            to_csv,
        )

        if series.startswith("space:"):  # the site's own store: its spaces
            space = series.removeprefix("space:")
            store = self.service.space_history
            if store is None or space not in self.service.spaces.settings:
                raise HTTPException(404, f"no space {space!r} keeps a history")
            stores, timezone = [store], self.settings.time.timezone
        else:
            states = [s for _, s in self._labelled_states() if s.history_store is not None]
            if not states:
                raise HTTPException(404, "no camera keeps a history yet")
            stores = [s.history_store for s in states]
            timezone = states[0].config.time.timezone
        clock = DeviceClock(timezone)
        try:
            start, end = query_period(since, until, clock)
            rows = sum_buckets([store.query(series, start, end, bucket, clock)
                                for store in stores])
        except HistoryUnavailable:
            raise  # 503, by the app's handler
        except HistoryError as exc:
            raise HTTPException(400, str(exc)) from None
        if form == "csv":
            return Response(to_csv(rows), media_type="text/csv")
        answer: dict[str, Any] = {"series": series, "bucket": bucket, "timezone": timezone,
                                  "buckets": rows}
        if not series.startswith("space:"):
            answer["cameras"] = len(stores)
        return answer

    def _labelled_states(self) -> list:
        return [(c.id, c.state) for c in list(self.service.cameras.values())
                if c.state is not None]

    def _camera(self, camera: str) -> Camera:
        try:
            return self.service.camera(camera)
        except KeyError:
            raise HTTPException(404, f"no camera {camera!r}") from None


async def _json_body(request: Request, kind: type = dict) -> Any:
    try:
        body = load_json(await request.body(), "body")
    except DocumentError as exc:
        raise HTTPException(400, str(exc)) from None
    if not isinstance(body, kind):
        raise HTTPException(400, f"the body must be a JSON {'object' if kind is dict else 'list'}")
    return body
