"""The web GUI and REST API (SPEC G1-G3, G5-G9), a FastAPI app factory.

Every page and API route needs the admin session (or, for the API, a bearer
token from ``POST /api/token``) except activation, login and forgot-password.
The web layer reads the live state and edits the configuration only through
:class:`~occusense.web.state.SensorState`, i.e. the one typed config model.
No asset comes from a CDN: templates, CSS and JS ship in the package; the
OpenAPI document is at ``/api/openapi.json``.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import cv2
import numpy as np
import yaml
from fastapi import Depends, FastAPI, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.responses import StreamingResponse

from occusense.clock import DeviceClock
from occusense.config import DeviceConfig, config_to_dict
from occusense.config.device import PrivacyMode
from occusense.config.reporting import ReportSettings
from occusense.config.schedule import WEEKDAYS, Schedule
from occusense.documents import DocumentError, load_json, load_yaml
from occusense.errors import ConfigError, OccusenseError
from occusense.history import QUERIES
from occusense.reports.device import device_info
from occusense.web import auth, forms, metrics
from occusense.web.account import Account, AccountPages, SensorAccount, add_account_routes
from occusense.web.common import Access, WebKit, occupancy_asked, serve_securely
from occusense.web.openapi import (
    API_ERRORS,
    DAY_SCHEMA,
    JSON_OR_YAML_BODY,
    MOMENT_SCHEMA,
    OCCUPANCY_BODY,
    config_sections,
    json_body,
    one_of,
)
from occusense.web.overlay import render
from occusense.web.sessions import SessionStore
from occusense.web.state import (
    SensorState,
    count_labels,
    merge_config,
    region_labels,
    stream_url,
)

LICENCE_PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "numpy",
    "opencv-python-headless",
    "onnxruntime",
    "shapely",
    "scipy",
    "supervision",
    "trackers",
    "paho-mqtt",
    "httpx",
    "argon2-cffi",
    "jinja2",
    "typer",
    "rich",
    "pyyaml",
)


# the guide's feature pages: (section, heading, what it is, drawing tools)
FEATURE_PAGES = {
    "region": ("region_counting", "Region people counting",
               "How many people are in each region now, how long they stay, and when a "
               "region is too full. Draw up to 16 regions on the picture and name them.",
               ("region",)),
    "line": ("line_crossing", "Line crossing",
             "People crossing a line of up to 4 segments, in and out (the In arrow points "
             "to the left of the drawing direction), with a U-turn filter area.",
             ("line", "uturn")),
    "flow": ("people_flow", "People flow",
             "Where people enter and leave an area (a triangle or convex quadrangle with "
             "named edges): the counts from each edge to each other.",
             ("flow",)),
}
ALL_TOOLS = [("region", "Region (up to 16)"), ("line", "Detection line (up to 4 segments)"),
             ("uturn", "U-turn area"), ("flow", "Flow area (triangle or convex quadrangle)"),
             ("mask", "Privacy mask (up to 8)")]
DRAWN_OR_SCHEDULED = frozenset({"schedule", "regions", "line", "uturn_area", "area"})
# a feature page leaves the recipients to the Recipients page (one place for them)
RECIPIENT_FIELDS = frozenset({"report.same_as", "report.protocol", "report.mqtt", "report.http"})
# the System page in groups, the first open, the others (the last for integrators)
# folded until clicked or linked to
SYSTEM_GROUPS = (
    ("This sensor", ("device", "time", "web")),
    ("Camera and detection", ("source", "detector", "mounting", "general", "privacy_masks")),
    ("The room its line watches, reports, stream and history",
     ("space", "output", "rtsp", "history")),
    ("Advanced: wired inputs and outputs, LoRaWAN, sensor to sensor", ("digital_io", "lorawan",
                                                                        "d2d")),
)
SYSTEM_SECTIONS = tuple(name for _, names in SYSTEM_GROUPS for name in names)
# the API's path parameters, with the values they take (described in OpenAPI)
SECTIONS = [name for name in DeviceConfig.model_fields if name != "users"]
Section = Annotated[str, PathParam(json_schema_extra=one_of(SECTIONS))]
Feature = Annotated[str, PathParam(json_schema_extra=one_of(["region", "line", "flow"]))]
Weekday = Annotated[str, Query(json_schema_extra=one_of(list(WEEKDAYS)))]
BACK_PAGES = {"/settings", "/schedule", "/recipients", "/system", "/region", "/line", "/flow"}


@dataclass
class SiteLink:
    """What a camera's app takes from the site around it (``occusense serve``):
    its place in the site's URLs, and the site's account, sessions and tokens.

    Attributes:
        base: the camera's URL prefix, e.g. ``/cameras/lobby``.
        camera: the camera's id.
        site_name: shown in the header, with a link to every camera.
        account: the site's admin account.
        access: the site's sessions and API tokens (a factory reset of one
            camera ends none of them).
    """

    base: str
    camera: str
    site_name: str
    account: Account
    access: Access


def create_app(state: SensorState, site: SiteLink | None = None) -> FastAPI:
    """The app for one sensor; with ``site``, one camera's part of a site's
    app (no account, sessions or static files of its own)."""
    app = FastAPI(
        title="occusense",
        version=_version(),
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        responses=API_ERRORS,
    )
    app.state.sensor = state
    app.openapi = lambda: _described(app)  # type: ignore[method-assign]
    if site is None:
        account: Account = SensorAccount(state)
        access = _standalone(app, state)
        base = ""
    else:
        account, access, base = site.account, site.access, site.base
    tokens, end_every_session = access.tokens, access.end_every_session

    def context(request: Request) -> dict[str, Any]:
        names = {"device_name": state.config.device.name, "base": base}
        if site is not None:
            names |= {"site_name": site.site_name, "camera": site.camera}
        return names

    kit = WebKit(account, tokens, context)
    kit.install(app)
    page, user = kit.page, kit.user

    def go(path: str, status_code: int = 303) -> RedirectResponse:
        """A redirect to one of this camera's pages."""
        return RedirectResponse(f"{base}{path}", status_code=status_code)

    if site is None:
        add_account_routes(app, account, AccountPages(
            page, kit.check_csrf, user, end_every_session, home="/live",
            password_path="/maintenance/password", password_page="maintenance.html"),
            auth.Throttle(), tokens)

    # ---------------------------------------------------------------- pages
    @app.get("/", include_in_schema=False)
    async def home(request: Request):
        if not account.users.activated:
            return RedirectResponse("/activate", status_code=303)
        return go("/live") if request.session.get("user") else RedirectResponse("/login", 303)

    @app.get("/live", include_in_schema=False)
    async def live(request: Request, _: str = Depends(user)):
        return page(request, "live.html", normal=state.config.privacy_mode is PrivacyMode.normal)

    @app.get("/history", include_in_schema=False)
    async def history_page(request: Request, _: str = Depends(user),
                           period: str = Query("day", pattern="^(day|week|month)$"),
                           date: str = Query("", max_length=10, json_schema_extra=DAY_SCHEMA)):
        """A day, week or month: occupancy and in/out charts, utilisation per region."""
        view = await QUERIES.run(history_view, state, period, date)
        return page(request, "history.html", title="History", **view)

    @app.get("/heatmap", include_in_schema=False)
    async def heatmap_page(request: Request, _: str = Depends(user)):
        """Where people were over a period, over the live picture (blurred in Blur mode)."""
        return page(request, "heatmap.html", title="Heatmap",
                    blur=state.config.privacy_mode is not PrivacyMode.normal)

    @app.put("/api/space", tags=["live"],
             openapi_extra=json_body(OCCUPANCY_BODY))
    async def set_space(request: Request, _: str = Depends(user)) -> dict:
        """Correct the sensor's own space by hand: ``{"occupancy": 12}`` people
        are inside now (``space.enabled``)."""
        if state.space is None:
            raise HTTPException(404, "the sensor counts no space (space.enabled)")
        try:
            body = load_json(await request.body(), "the body")
        except DocumentError as exc:
            raise HTTPException(400, str(exc)) from None
        return state.space.set("space", occupancy_asked(body))

    @app.get("/api/heatmap", tags=["live"], response_model=None,
             responses={200: {"content": {"application/json": {}, "image/png": {}},
                              "description": "the grid (JSON) or its picture (PNG)"}})
    async def heatmap(
        _: str = Depends(user),
        from_: str | None = Query(None, alias="from", max_length=40,
                                  json_schema_extra=MOMENT_SCHEMA,
                                  description="ISO date/time or unix s (default: a day ago)"),
        to: str | None = Query(None, max_length=40, json_schema_extra=MOMENT_SCHEMA,
                                description="default: now"),
        format_: str = Query("json", alias="format", pattern="^(json|png)$"),
    ) -> Any:
        """Where people were from ``from`` to ``to`` (whole hours): person-seconds
        in each cell of a grid over the frame (row 0 at the top), as JSON, or
        as a PNG to lay over the camera's picture."""
        return await QUERIES.run(heatmap_answer, state, from_, to, format_)

    @app.get("/api/utilisation", tags=["live"], response_model=None,
             responses={200: {"content": {"application/json": {}, "text/csv": {}},
                              "description": "one row per region and all"}})
    async def utilisation_api(
        _: str = Depends(user),
        period: str = Query("day", pattern="^(day|week|month)$"),
        date: str = Query("", max_length=10, json_schema_extra=DAY_SCHEMA,
                          description="a day of the period (default today)"),
        format_: str = Query("json", alias="format", pattern="^(json|csv)$"),
    ) -> Any:
        """Per region: share of the scheduled hours occupied, mean and peak people,
        busiest hour and weekday, mean dwell."""
        from occusense.history.utilisation import to_csv

        view = await QUERIES.run(history_view, state, period, date)
        if format_ == "csv":
            return Response(to_csv(view["rows"]), media_type="text/csv", headers={
                "Content-Disposition": f"attachment; filename=utilisation-{view['file_name']}.csv"})
        return {"period": period, "from": view["since"], "to": view["until"],
                "regions": view["rows"]}

    @app.get("/draw", include_in_schema=False)
    async def draw(request: Request, _: str = Depends(user)):
        return page(request, "draw.html", tools=ALL_TOOLS, naming=True)

    def shown(request: Request) -> dict[str, Any]:
        """The configuration as a form shows it: after a refused save, with
        what was typed in place of the saved values (nothing typed is lost)."""
        data = config_to_dict(state.config)
        for section, values in getattr(request.state, "draft", {}).items():
            if isinstance(data.get(section), dict) and isinstance(values, dict):
                data[section] = merge_config(data[section], values)
        return data

    def field_errors(request: Request) -> dict[str, str]:
        return getattr(request.state, "field_errors", {})

    def feature_page(request: Request, key: str, message: str, error: str) -> HTMLResponse:
        """One of the guide's feature pages: its drawing and its settings."""
        section, heading, intro, tools = FEATURE_PAGES[key]
        model = DeviceConfig.model_fields[section].annotation
        values = shown(request)[section]
        form = forms.render(model, values, section,  # type: ignore[arg-type]
                            skip=DRAWN_OR_SCHEDULED | RECIPIENT_FIELDS,
                            errors=field_errors(request))
        own = getattr(state.config, section).report.same_as.value
        recipients = forms.describe_recipients(state.config.recipients_of(section),
                                               "" if own == "own" else own)
        return page(request, "feature.html", title=heading, heading=heading, intro=intro,
                    section=section,
                    tools=[t for t in ALL_TOOLS if t[0] in tools],
                    naming=section == "region_counting", form=form, back=f"/{key}",
                    message=message, error=error, recipients=recipients)

    def feature_route(key: str):
        async def show(request: Request, _: str = Depends(user), message: str = "",
                       error: str = ""):
            return feature_page(request, key, message, error)

        return show

    for key in FEATURE_PAGES:  # /region, /line, /flow
        app.add_api_route(f"/{key}", feature_route(key), methods=["GET"],
                          include_in_schema=False)

    @app.get("/recipients", include_in_schema=False)
    async def recipients_page(request: Request, _: str = Depends(user), message: str = "",
                              error: str = ""):
        """Report/Recipients: each feature's protocol, recipients and report switches."""
        data = shown(request)
        sections = [(section, heading, forms.render(ReportSettings, data[section]["report"],
                                                    f"{section}.report",
                                                    errors=field_errors(request)))
                    for section, heading, *_ in FEATURE_PAGES.values()]
        return page(request, "recipients.html", sections=sections, message=message,
                    error=error)

    @app.get("/system", include_in_schema=False)
    async def system_page(request: Request, _: str = Depends(user), error: str = "",
                          message: str = ""):
        return settings_view(request, error, message, False, SYSTEM_SECTIONS, "System")

    @app.get("/settings", include_in_schema=False)
    async def settings_page(request: Request, _: str = Depends(user), error: str = "",
                            message: str = "", as_json: bool = Query(False, alias="json")):
        return settings_view(request, error, message, as_json, None, "Settings")

    def settings_view(request: Request, error: str, message: str, as_json: bool,
                      only: tuple[str, ...] | None, heading: str) -> HTMLResponse:
        """Forms (or JSON) for the config sections ``only`` names, or all."""
        data = shown(request)
        data.pop("users", None)
        sections = []
        for name, value in data.items():
            if not isinstance(value, dict) or (only is not None and name not in only):
                continue
            model = DeviceConfig.model_fields[name].annotation
            body = (json.dumps(value, indent=2) if as_json
                    else forms.render(model, value, name,  # type: ignore[arg-type]
                                      errors=field_errors(request)))
            sections.append((name, forms.human(name), body))
        groups = ([(title, [sec for sec in sections if sec[0] in names])
                   for title, names in SYSTEM_GROUPS] if only else [("", sections)])
        return page(request, "settings.html", sections=sections, groups=groups, error=error,
                    message=message, weekdays=WEEKDAYS, as_json=as_json, heading=heading,
                    back="/system" if only else "/settings", title=heading)

    @app.get("/schedule", include_in_schema=False)
    async def schedule_page(request: Request, _: str = Depends(user), message: str = "",
                            error: str = ""):
        data = config_to_dict(state.config)
        features = [("region_counting", "Region people counting"),
                    ("line_crossing", "Line crossing"), ("people_flow", "People flow")]
        return page(request, "schedule.html", features=features, weekdays=WEEKDAYS,
                    schedules={s: data[s]["schedule"] for s, _ in features},
                    message=message, error=error)

    @app.post("/settings/{section}", include_in_schema=False)
    async def settings_save(request: Request, section: str, _: str = Depends(user)):
        form = await request.form()
        as_json = "json" in form
        values: Any = None
        try:
            if section == "users" or section not in DeviceConfig.model_fields:
                raise ValueError(f"no editable section {section!r}")
            if as_json:
                values = load_json(str(form["json"]), f"{section} (JSON)")
                if not isinstance(values, dict):
                    raise ValueError(f"{section} must be a JSON object")
            else:
                fields = {key: [str(v) for v in form.getlist(key)] for key in form.keys()}
                model = DeviceConfig.model_fields[section].annotation
                values = forms.parse(model, fields, section)  # type: ignore[arg-type]
            # off the event loop: a new detector is tried before it is applied
            await asyncio.to_thread(state.edit, section, values)
        except (ValueError, OccusenseError, KeyError) as exc:
            back_to = str(form.get("back", ""))
            error = refused_in_words(section, exc)
            if isinstance(values, dict):  # the page shows what was typed, not the saved values
                request.state.draft = {section: values}
            request.state.field_errors = dict(getattr(exc, "problems", []) or [])
            if back_to == "/schedule":
                return await schedule_page(request, "admin", error=error)
            if back_to.lstrip("/") in FEATURE_PAGES:
                return feature_page(request, back_to.lstrip("/"), "", error)
            if back_to == "/recipients":
                return await recipients_page(request, "admin", error=error)
            if back_to == "/system":
                return await system_page(request, "admin", error=error)
            return await settings_page(request, "admin", error=error, as_json=as_json)
        # back to the section just saved, not to the top of the page
        back = str(form.get("back", "/settings"))
        back = back if back in BACK_PAGES else "/settings"
        where = f"{back}?" + urlencode({"message": f"{forms.human(section)} saved and applied"})
        return go(f"{where}{'&json=true' if as_json else ''}#{section}")

    @app.get("/maintenance", include_in_schema=False)
    async def maintenance(request: Request, _: str = Depends(user)):
        return page(request, "maintenance.html")

    @app.post("/maintenance/import", include_in_schema=False)
    async def import_page(request: Request, file: UploadFile, _: str = Depends(user)):
        try:
            imported = _import(state, await file.read())
        except ConfigError as exc:
            return page(request, "maintenance.html", 400, error=str(exc))
        return page(request, "maintenance.html", message=f"imported {imported}")

    @app.post("/maintenance/reset", include_in_schema=False)
    async def reset_page(request: Request, _: str = Depends(user)):
        form = await request.form()
        keep_users, keep_network = bool(form.get("keep_users")), bool(form.get("keep_network"))
        if form.get("confirm") != "yes":
            return page(request, "confirm.html", heading="Reset to factory defaults",
                        question="Reset the sensor to its factory defaults?",
                        consequences=_reset_losses(state, keep_users or site is not None,
                                                   keep_network, site is not None),
                        action=f"{base}/maintenance/reset", verb="Reset now",
                        fields={k: "on" for k, v in (("keep_users", keep_users),
                                                     ("keep_network", keep_network)) if v})
        if site is not None:  # the account is the site's: this camera's reset keeps it
            _reset(state, True, keep_network)
            return go("/live")
        _reset(state, keep_users, keep_network)
        end_every_session()
        request.session.clear()
        return RedirectResponse("/login" if keep_users else "/activate", status_code=303)

    @app.post("/maintenance/restart", include_in_schema=False)
    async def restart_page(request: Request, _: str = Depends(user)):
        form = await request.form()
        if form.get("confirm") != "yes":
            return page(request, "confirm.html", heading="Restart",
                        question="Restart the counting pipeline?",
                        consequences=["the counts of this report period start again from zero",
                                      "the live view pauses for a few seconds"],
                        action=f"{base}/maintenance/restart", verb="Restart now", fields={})
        # a new config version makes the run loop build a fresh pipeline
        state.apply(config_to_dict(state.config, include_secrets=True), "restart")
        return page(request, "maintenance.html", message="restarting the pipeline")

    @app.get("/about", include_in_schema=False)
    async def about(request: Request, _: str = Depends(user)):
        return page(
            request,
            "about.html",
            version=_version(),
            licences=_licences(),
            detector=state.detector or "starting",
            device=device_info(state.config.device) | {"model": state.config.device.model},
        )

    # ------------------------------------------------------------ live media
    @app.get("/stream.mjpg", include_in_schema=False)
    async def stream(request: Request, shapes: bool = True, _: str = Depends(user)):
        async def frames():
            last = -1
            while not await request.is_disconnected():
                view = state.snapshot()
                if view.image is None or view.frame == last:
                    await asyncio.sleep(0.05)
                    continue
                last = view.frame
                # no count bar: the numbers are beside the picture, in one place only
                # (a bar drawn at another moment than the list disagreed with it)
                jpg = _jpeg(render(view.image, state.config, view.people, {}, shapes))
                yield (
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(jpg)).encode()
                    + b"\r\n\r\n"
                    + jpg
                    + b"\r\n"
                )
                await asyncio.sleep(0.1)  # at most 10 pictures a second per viewer

        return StreamingResponse(frames(), media_type="multipart/x-mixed-replace; boundary=frame")

    @app.get("/snapshot.jpg", include_in_schema=False)
    async def snapshot(_: str = Depends(user)):
        if state.config.privacy_mode is not PrivacyMode.normal:
            raise HTTPException(403, "snapshots are off in Blur privacy mode")
        view = state.snapshot()
        if view.image is None:
            raise HTTPException(503, "no frame yet")
        # each snapshot its own file: the sensor's name and the picture's time
        when = DeviceClock(state.config.time.timezone).local(view.timestamp or time.time())
        name = re.sub(r"[^A-Za-z0-9_-]+", "-", state.config.device.name).strip("-") or "sensor"
        filename = f"snapshot-{name}-{when:%Y%m%d-%H%M%S}.jpg"
        return Response(_jpeg(view.image), media_type="image/jpeg",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    # -------------------------------------------------------------------- API
    @app.get("/api/status", tags=["live"])
    async def status(request: Request, _: str = Depends(user)) -> dict:
        """Current counts (``counts.people``: the people counted in the
        detection area) with what each means (``labels``), the features
        outside their schedule (``paused``), the flow counts of the report
        period, the people tracked in view (``people_in_view``; ``people`` is
        the same, kept for older scripts), the last frame's time, each
        recipient's status, the history store's (``history``: writing, or
        away with the minutes waiting and lost) and the RTSP output's URL."""
        view = state.snapshot()
        details = dict(state.details)
        return {
            "counts": state.counts,
            "labels": count_labels(state.config, state.counts, details),
            "paused": details.get("paused", []),
            "flow": details.get("flow"),
            "space": state.space.snapshot()["space"] if state.space else None,
            "timestamp": view.timestamp,
            "frame": view.frame,
            "people_in_view": len(view.people),
            "people": len(view.people),
            "recipients": state.transport_status,
            "source": {"up": state.source_up, "problem": state.source_problem,
                       "lag_s": round(state.run.lag_s, 3), "dropped": state.run.dropped},
            "notice": state.notice,
            "history": state.history_store.status() if state.history_store else None,
            "stream": stream_url(state, request.url.hostname or "127.0.0.1"),
        }

    metrics_registry = metrics.registry_for(state)

    @app.get("/metrics", tags=["live"], response_class=Response,
             responses={200: {"content": {metrics.CONTENT_TYPE: {}},
                              "description": "Prometheus text format"}})
    async def prometheus(request: Request) -> Response:
        """Prometheus metrics: with the API token or session, or with
        ``web.metrics_token`` as a bearer token (a scrape job's static key)."""
        scrape_token = state.config.web.metrics_token.get_secret_value()
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not (scrape_token and given and secrets.compare_digest(given, scrape_token)):
            await user(request)
        return Response(metrics.exposition(metrics_registry), media_type=metrics.CONTENT_TYPE)

    @app.get("/api/history", tags=["live"], response_model=None,
             responses={200: {"content": {"application/json": {}, "text/csv": {}},
                              "description": "the buckets (or, without series, the chart)"}})
    async def history(
        _: str = Depends(user),
        series: str | None = Query(None, max_length=160,
                                   description="people, region:<name>, line:in, line:out, "
                                   "flow:<entry>-<exit>; none = the live chart's points"),
        from_: str | None = Query(None, alias="from", max_length=40,
                                  json_schema_extra=MOMENT_SCHEMA,
                                  description="ISO date/time or unix s (default: a day ago)"),
        to: str | None = Query(None, max_length=40, json_schema_extra=MOMENT_SCHEMA,
                                description="default: now"),
        bucket: str = Query("hour", pattern="^(minute|hour|day|week)$"),
        format_: str = Query("json", alias="format", pattern="^(json|csv)$"),
    ) -> Any:
        """The history store's buckets of a series, in the device's time zone
        (JSON or CSV); without ``series``, the live chart's counts every 10 s
        over the last 24 hours."""
        if series is None:
            return {"points": list(state.history)}
        return await QUERIES.run(history_answer, state, series, from_, to, bucket, format_)

    @app.get("/api/config", tags=["config"])
    async def get_config(_: str = Depends(user)) -> dict:
        """The whole configuration, without password hashes or secrets."""
        return config_to_dict(state.config)

    @app.get("/api/schema", tags=["config"])
    async def schema(_: str = Depends(user)) -> dict:
        return DeviceConfig.model_json_schema()

    @app.get("/api/config/{section}", tags=["config"])
    async def get_section(section: Section, _: str = Depends(user)) -> Any:
        data = config_to_dict(state.config)
        if section not in data:
            raise HTTPException(404, f"no section {section!r}")
        return data[section]

    @app.put("/api/config/{section}", tags=["config"], openapi_extra=JSON_OR_YAML_BODY)
    async def put_section(section: Section, request: Request, _: str = Depends(user)) -> Any:
        """Change a section (JSON or YAML); validated with the whole config, checked
        that it can start, saved, applied live. A change that cannot start is
        refused (422) and the running configuration stays."""
        if section == "users":
            raise HTTPException(403, "change the password with /api/password")
        try:
            body = await request.body()
            yaml_body = "yaml" in request.headers.get("content-type", "")
            values = load_yaml(body, "body") if yaml_body else load_json(body, "body")
        except DocumentError as exc:
            raise HTTPException(400, str(exc)) from None
        try:
            await asyncio.to_thread(state.edit, section, values)
        except KeyError:
            raise HTTPException(404, f"no section {section!r}") from None
        except ConfigError as exc:
            raise HTTPException(422, str(exc)) from None
        return config_to_dict(state.config)[section]

    @app.post("/api/recording", tags=["live"])
    async def recording(action: str = Query(pattern="^(start|stop)$"),
                        _: str = Depends(user)) -> dict:
        """Start or stop recording the live view (Normal privacy mode only)."""
        if state.config.privacy_mode is not PrivacyMode.normal:
            raise HTTPException(403, "recording is off in Blur privacy mode")
        if action == "start":
            try:
                path = state.start_recording(Path(state.config.state_dir) / "recordings")
            except RuntimeError as exc:  # no frame yet: try again when the camera delivers
                raise HTTPException(409, str(exc)) from None
            except (OSError, OccusenseError) as exc:  # the state folder is full or read-only
                raise HTTPException(507, f"cannot record: {exc}") from None
            return {"recording": True, "file": path.name}
        stopped = state.stop_recording()
        return {"recording": False, "file": stopped.name if stopped else None}

    @app.get("/api/recordings/{name}", tags=["live"], response_class=Response,
             responses={200: {"content": {"video/x-msvideo": {}},
                              "description": "the recording (MJPEG in AVI)"}})
    async def recorded(name: str = PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"),
                       _: str = Depends(user)) -> Response:
        folder = (Path(state.config.state_dir) / "recordings").resolve()
        path = (folder / name).resolve()
        if path.parent != folder or not path.is_file():
            raise HTTPException(404, "no such recording")
        return Response(path.read_bytes(), media_type="video/x-msvideo",
                        headers={"Content-Disposition": f"attachment; filename={path.name}"})

    @app.post("/api/test-connection", tags=["transports"])
    async def test_connection(_: str = Depends(user)) -> dict:
        """Send a test message to every configured recipient; say what failed."""
        from occusense.transports.dispatcher import Dispatcher, has_recipients

        if not has_recipients(state.config):
            raise HTTPException(404, "no MQTT or HTTP recipient is configured")

        def run() -> list[tuple[str, bool, str]]:
            dispatcher = Dispatcher(state.config, client_suffix="-test")
            try:
                return dispatcher.test()
            finally:
                dispatcher.close()

        results = await asyncio.to_thread(run)
        return {"results": [{"recipient": n, "ok": ok, "message": m} for n, ok, m in results]}

    @app.post("/api/schedule/{feature}/copy", tags=["config"])
    async def copy_schedule(feature: Feature,
                            day: Weekday,
                            _: str = Depends(user)) -> dict:
        """P6 "Copy to Other Days": every day gets ``day``'s periods."""
        sections = {"region": "region_counting", "line": "line_crossing", "flow": "people_flow"}
        if feature not in sections or day not in WEEKDAYS:
            raise HTTPException(404, "feature is region, line or flow; day is a weekday name")
        section = getattr(state.config, sections[feature])
        copied = section.schedule.copy_day_to_others(day).model_dump(mode="json")
        state.edit(sections[feature], {"schedule": copied})
        return copied

    @app.delete("/api/schedule/{feature}", tags=["config"])
    async def reset_schedule(feature: Feature, _: str = Depends(user)) -> dict:
        """P6 "Reset": the feature's schedule back to always on."""
        sections = {"region": "region_counting", "line": "line_crossing", "flow": "people_flow"}
        if feature not in sections:
            raise HTTPException(404, "feature is region, line or flow")
        default = Schedule().model_dump(mode="json")
        state.edit(sections[feature], {"schedule": default})
        return default

    @app.get("/api/export", tags=["maintenance"], response_class=Response,
             responses={200: {"content": {"application/yaml": {}},
                              "description": "the configuration file (YAML)"}})
    async def export(
        secrets_: bool = Query(False, alias="secrets"), _: str = Depends(user)
    ) -> Response:
        """The configuration file; secrets and password hashes only if asked."""
        data = config_to_dict(state.config, include_secrets=secrets_)
        name = _export_name(state, secrets_)
        return Response(
            yaml.safe_dump(data, sort_keys=False),
            media_type="application/yaml",
            headers={"Content-Disposition": f"attachment; filename={name}"},
        )

    @app.post("/api/import", tags=["maintenance"])
    async def import_api(file: UploadFile, _: str = Depends(user)) -> dict:
        try:
            return {"imported": _import(state, await file.read())}
        except ConfigError as exc:
            raise HTTPException(422, str(exc)) from None

    return app


def _described(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI description, each config section with its own schema."""
    from fastapi.openapi.utils import get_openapi

    if app.openapi_schema is None:
        config = DeviceConfig.model_json_schema(ref_template="#/components/schemas/{model}")
        generic = get_openapi(title=app.title, version=app.version, routes=app.routes)
        app.openapi_schema = config_sections(generic, config, list(SECTIONS))
    return app.openapi_schema


def history_view(state: SensorState, period: str, day: str) -> dict[str, Any]:
    """The History page's period (a day, the week or the month of ``day``),
    its buckets and its utilisation table."""
    from datetime import date as Date
    from datetime import datetime, timedelta

    from occusense.clock import DeviceClock
    from occusense.history.utilisation import utilisation

    store = state.history_store
    if store is None:
        raise HTTPException(404, "the history store is off (history.enabled) or not open")
    clock = DeviceClock(state.config.time.timezone)
    try:
        chosen = Date.fromisoformat(day) if day else clock.local(time.time()).date()
        if not Date(1970, 1, 2) <= chosen <= Date(2999, 12, 1):
            raise ValueError
    except ValueError:
        raise HTTPException(400, f"date: a day from 1970-01-02 to 2999-12-01 as YYYY-MM-DD, "
                            f"got {day!r}") from None
    start = datetime.combine(chosen, datetime.min.time(), clock.zone)
    if period == "week":
        start -= timedelta(days=chosen.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = start.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        end = start + timedelta(days=1)
    labels = list(region_labels(state.config)) if state.config.region_counting.customize_area \
        else []
    rows = utilisation(store, state.config, labels, start.timestamp(), end.timestamp())
    bucket = "hour" if period == "day" else "day"
    return {"period": period, "date": chosen.isoformat(), "since": start.isoformat(),
            "until": end.isoformat(), "bucket": bucket, "rows": rows,
            "file_name": f"{period}-{start.date().isoformat()}",
            "series": ["people", *[f"region:{x}" for x in labels]],
            "previous": (start - timedelta(days=1)).date().isoformat(),
            "next": end.date().isoformat()}


def heatmap_answer(state: SensorState, start: str | None, end: str | None, form: str) -> Any:
    """A heatmap query over the sensor's hourly grids (``/api/heatmap``)."""
    from occusense.heatmap import COLUMNS, ROWS, HeatmapError, to_png
    from occusense.history import HistoryError, query_period

    store = state.heatmap
    if store is None:
        raise HTTPException(404, "the heatmap is not kept (its file could not be opened)")
    clock = DeviceClock(state.config.time.timezone)
    try:
        since, until = query_period(start, end, clock)
        grid = store.grid(since, until)
    except (HistoryError, HeatmapError) as exc:
        raise HTTPException(400, str(exc)) from None
    if form == "png":
        image = state.snapshot().image
        height, width = image.shape[:2] if image is not None else (480, 640)
        return Response(to_png(grid, width, height), media_type="image/png",
                        headers={"Cache-Control": "no-store"})
    return {"from": clock.iso(since), "to": clock.iso(until), "columns": COLUMNS, "rows": ROWS,
            "unit": "person-seconds", "total": round(float(grid.sum()), 1),
            "peak": round(float(grid.max()), 1), "cells": np.round(grid, 1).tolist()}


def refused_in_words(section: str, exc: Exception) -> str:
    """Why a form's save was refused, for the top of the page: each field
    named in words (its own message sits next to it)."""
    problems = getattr(exc, "problems", None)
    if not problems:
        return f"{forms.human(section)} not saved: {exc}"
    named = "; ".join(f"{field_name(path.removeprefix(section + '.'))}: {words}"
                      for path, words in problems)
    count = len(problems)
    return (f"{forms.human(section)} not saved: {count} setting{'s' if count > 1 else ''} "
            f"to correct (marked below). {named}")


def field_name(path: str) -> str:
    """``report.mqtt.port`` -> ``Port (report, MQTT)``."""
    parts = [p for p in path.split(".") if not p.isdigit()]
    if not parts:
        return "These settings"
    lower = lambda w: w if w[1:2].isupper() else w[:1].lower() + w[1:]  # noqa: E731 - MQTT stays
    where = ", ".join(lower(forms.human(p)) for p in parts[:-1])
    return forms.human(parts[-1]) + (f" ({where})" if where else "")


def history_answer(state: SensorState, series: str, start: str | None, end: str | None,
                   bucket: str, form: str, cameras: list[str] | None = None) -> Any:
    """A history query over the sensor's store (``/api/history``)."""
    from occusense.clock import DeviceClock
    from occusense.history import HistoryError, HistoryUnavailable, query_period, to_csv

    store = state.history_store
    if store is None:
        raise HTTPException(404, "the history store is off (history.enabled) or not open")
    clock = DeviceClock(state.config.time.timezone)
    try:
        since, until = query_period(start, end, clock)
        if until - since > 400 * 86400 * 2:
            raise HistoryError("at most two years in one query")
        rows = store.query(series, since, until, bucket, clock, cameras)
    except HistoryUnavailable:
        raise  # 503, by the app's handler
    except HistoryError as exc:
        raise HTTPException(400, str(exc)) from None
    if form == "csv":
        return Response(to_csv(rows), media_type="text/csv",
                        headers={"Content-Disposition": "attachment; filename=history.csv"})
    return {"series": series, "bucket": bucket, "timezone": state.config.time.timezone,
            "from": clock.iso(since), "to": clock.iso(until), "buckets": rows}


def _standalone(app: FastAPI, state: SensorState) -> Access:
    """A sensor's own app: its sessions (kept in its state folder) and API
    tokens, security headers, body limit and static files."""
    saved = Path(state.config.state_dir) / "sessions.json" if state.path is not None else None
    access = Access(SessionStore(saved))
    serve_securely(app, access, state.config.web.secure_cookies)
    return access


def _jpeg(image, quality: int = 75) -> bytes:
    ok, jpg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return jpg.tobytes() if ok else b""


def _import(state: SensorState, raw: bytes) -> str:
    """G7 import: a YAML or JSON export. Users and privacy mode stay as they are
    unless the file carries password hashes (an export with secrets)."""
    try:
        data = load_yaml(raw, "import")
    except DocumentError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(data, dict):
        raise ConfigError("import: the file must hold a mapping of sections")
    current = config_to_dict(state.config, include_secrets=True)
    data = merge_config(current, data)  # "**********" placeholders keep the secrets
    if not data.get("users", {}).get("password_hash"):
        data["users"] = current["users"]
    data["privacy_mode"] = current["privacy_mode"]  # P5: only a factory reset changes it
    data["state_dir"] = current["state_dir"]  # where this sensor lives, not the exporter
    state.apply(data, "import")
    return f"{len(data)} sections"


def _export_name(state: SensorState, with_secrets: bool) -> str:
    """``occusense-<device name>-<date>[-with-secrets].yaml``: the two exports
    must not overwrite each other in a Downloads folder."""
    name = re.sub(r"[^a-z0-9]+", "-", state.config.device.name.lower()).strip("-") or "sensor"
    day = time.strftime("%Y-%m-%d")
    return f"occusense-{name}-{day}{'-with-secrets' if with_secrets else ''}.yaml"


def _reset_losses(state: SensorState, keep_users: bool, keep_network: bool,
                  in_site: bool = False) -> list[str]:
    """What a factory reset would lose, in words, for its confirmation."""
    config = state.config
    lost = [
        f"{len(config.region_counting.regions)} region(s), the line, the U-turn and flow "
        f"areas and {len(config.privacy_masks.masks)} privacy mask(s)",
        "every report recipient (MQTT, HTTP), schedule and report setting",
        "the LoRaWAN and D2D settings",
    ]
    if not keep_network:
        lost.append("the web, RTSP and video source settings")
    if not keep_users:
        lost.append("the password and security questions: the sensor must be activated again")
    if not in_site:
        lost.append("every logged-in session and API token ends")
    return lost


def _reset(state: SensorState, keep_users: bool, keep_network: bool) -> None:
    """G7 factory reset, keeping the user information and/or network settings."""
    current = config_to_dict(state.config, include_secrets=True)
    fresh = config_to_dict(DeviceConfig(), include_secrets=True)
    if keep_users:
        fresh["users"] = current["users"]
        fresh["privacy_mode"] = current["privacy_mode"]
    if keep_network:
        for key in ("web", "rtsp", "source"):
            fresh[key] = current[key]
    fresh["state_dir"] = current["state_dir"]  # the sensor's own files stay where they are
    # the product's own defaults: trusted as a config file is
    state.apply(fresh, "factory reset", privacy_change=True, trusted=True)


def _version() -> str:
    try:
        return metadata.version("occusense")
    except metadata.PackageNotFoundError:
        return "0"


def _licences() -> list[tuple[str, str, str]]:
    out = []
    for name in LICENCE_PACKAGES:
        try:
            meta = metadata.metadata(name)
        except metadata.PackageNotFoundError:
            continue
        licence = meta["License-Expression"] or meta["License"] or ""
        if not licence or len(licence) > 40:
            classifiers = [
                c.split("::")[-1].strip()
                for c in meta.get_all("Classifier") or []
                if c.startswith("License ::")
            ]
            licence = ", ".join(classifiers) or licence[:40]
        out.append((name, meta["Version"] or "", licence))
    return out
