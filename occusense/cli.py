"""The ``occusense`` command: run, config, eval.

Scripts drive it; these flags are stable: ``run --source --config --out
--max-frames --no-web`` and ``eval --gt (--tracks | --source) --line
--region --json``.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from occusense.config import DeviceConfig, config_to_dict, load_config, parse_config
from occusense.config.running import running_config
from occusense.errors import OccusenseError
from occusense.files import StateLock

SAMPLE_VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
config_app = typer.Typer(no_args_is_help=True, help="Print or check configurations.")
app.add_typer(config_app, name="config")
io_app = typer.Typer(no_args_is_help=True, help="Read or drive the digital input/output.")
app.add_typer(io_app, name="io")
lora_app = typer.Typer(no_args_is_help=True, help="VS121 LoRaWAN payloads.")
app.add_typer(lora_app, name="lorawan")
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    # the message as written: a pattern such as [a-z0-9] is not rich markup
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, markup=True)
    return typer.Exit(code)


def _load(path: Path | None, detector: str | None = None) -> DeviceConfig:
    """The config file (or the defaults), with ``--detector`` applied."""
    try:
        config = load_config(path) if path else DeviceConfig()
        if detector is None:
            return config
        data = config_to_dict(config, include_secrets=True)
        data["detector"]["remote_url"] = "" if detector == "local" else detector
        return parse_config(data, "--detector")
    except OccusenseError as exc:
        raise _fail(str(exc)) from None


DetectorOption = Annotated[
    str | None,
    typer.Option(
        "--detector",
        help="'local' (default), or a KServe v2 / Triton model URL, "
        "e.g. http://gpu-box:8000/v2/models/nanodet",
    ),
]


@app.command()
def run(
    source: Annotated[str | None, typer.Option(help="file, folder, webcam index or URL")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML or JSON config file")] = None,
    out: Annotated[Path | None, typer.Option(help="append reports to this JSONL file")] = None,
    max_frames: Annotated[int | None, typer.Option(min=1, help="stop after N frames")] = None,
    no_web: Annotated[bool, typer.Option("--no-web", help="do not serve the web GUI")] = False,
    realtime: Annotated[
        bool | None, typer.Option("--realtime/--no-realtime", help="pace files at their fps")
    ] = None,
    start_time: Annotated[
        str | None, typer.Option(help="ISO time of the first frame of a file (default: now)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no reports on the console")] = False,
    detector: DetectorOption = None,
    loop: Annotated[bool, typer.Option("--loop", help="replay a video file for ever")] = False,
    host: Annotated[
        str | None, typer.Option(help="the web GUI's address (default web.host, 127.0.0.1)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="the web GUI's port (default web.port)")
    ] = None,
) -> None:
    """Count people in a video source and emit VS121-P reports."""
    from occusense.stopping import SignalStop

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    stopper = SignalStop().install()  # SIGTERM and SIGINT: a clean stop
    cfg = _load(config, detector)
    try:
        lock = StateLock(cfg.state_dir).acquire()
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    try:
        running, saved_to = running_config(cfg, config)
        if detector is not None:  # the command line wins over what was saved
            running = running.model_copy(update={"detector": cfg.detector})
        listen = (host or running.web.host, running.web.port if port is None else port)
        _run_sensor(running, saved_to, source, out, max_frames, no_web, realtime, start_time,
                    quiet, loop, listen, stopper)
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    finally:
        lock.release()


def _run_sensor(
    cfg: DeviceConfig, saved_to: Path, source: str | None, out: Path | None,
    max_frames: int | None, no_web: bool, realtime: bool | None, start_time: str | None,
    quiet: bool, loop: bool = False, listen: tuple[str, int] | None = None,
    stopper: Any = None,
) -> None:
    """``run`` once the state directory is this process's."""
    from occusense.runner import SensorRunner
    from occusense.sources import open_source, redact
    from occusense.transports.local import local_sinks
    from occusense.web.state import SensorState

    uri = source or cfg.source.uri or SAMPLE_VIDEO
    start = _start_time(start_time)
    pace = realtime if realtime is not None else cfg.source.realtime
    _ready_kernels()
    try:
        src = open_source(uri, start, pace, max_backoff_s=cfg.source.reconnect_max_s, loop=loop)
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    jsonl = out or (Path(cfg.output.jsonl_path) if cfg.output.jsonl_path else None)
    try:
        sinks: list = local_sinks(cfg.output, out, console=not quiet)
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    state = SensorState(cfg, saved_to)
    host, port = listen or (cfg.web.host, cfg.web.port)
    web = _start_web(state, host, port) if cfg.web.enabled and not no_web else None
    size = (f"{src.width}x{src.height} @ {src.fps:.1f} fps" if src.width
             else "waiting for the camera")
    err.print(f"occusense: {redact(uri)} ({size}) -> {jsonl or 'console'}")
    runner = SensorRunner(state, src, start, sinks)
    if stopper is not None:  # a signal before this raised KeyboardInterrupt
        stopper.target = runner
    began = time.perf_counter()
    try:
        with _progress(max_frames or src.frame_count, src.live) as (progress, task):
            runner.run(max_frames, on_frame=lambda f: progress.update(task, advance=1))
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    finally:
        runner.stop_phase = "the web GUI to close"
        for sink in sinks:
            sink.close()
        if web is not None:
            web.stop()
        if stopper is not None:
            stopper.finished()
    stopping = time.perf_counter() - began - runner.frames_s
    sent = runner.pipeline.times.reports_sent if runner.pipeline else 0
    dropped = f" ({state.run.dropped} dropped)" if state.run.dropped else ""
    err.print(
        f"done: {runner.frames} frames{dropped} in {runner.frames_s:.1f} s "
        f"({runner.frames / max(runner.frames_s, 1e-9):.1f} fps), {sent} reports; "
        f"stopped in {stopping:.1f} s"
        + (f" (on {stopper.signal_name})" if stopper is not None and stopper.requested else "")
    )


@app.command()
def serve(
    site: Annotated[Path, typer.Option("--site", "--sites",
                                       help="the site folder: site.yaml and cameras/*.yaml")],
    host: Annotated[str | None, typer.Option(help="the web GUI's address (site.yaml web.host)")]
    = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="the web GUI's port")] = None,
    no_web: Annotated[bool, typer.Option("--no-web", help="do not serve the web GUI")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no reports on the console")] = False,
    loop: Annotated[bool, typer.Option("--loop/--no-loop",
                                       help="replay video files for ever")] = True,
) -> None:
    """Run every camera of a site folder in one service, with one web GUI."""
    import threading

    from occusense.detect.shared import DetectorPool
    from occusense.fleet.service import FleetService
    from occusense.fleet.site import SiteFolder
    from occusense.stopping import SignalStop

    # which camera a line is about: its thread's name ("camera lobby")
    logging.basicConfig(level=logging.INFO,
                        format="%(levelname)s [%(threadName)s] %(name)s: %(message)s")
    stopper = SignalStop().install()  # SIGTERM (systemd, containers) and SIGINT: a clean stop
    try:
        folder = SiteFolder(site)
        settings = folder.settings()
        lock = StateLock(folder.state_dir / "site").acquire()
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    _ready_kernels()
    pool = settings.pool
    detectors = DetectorPool(pool.workers, pool.max_batch, pool.linger_ms / 1000)
    service = FleetService(folder, detectors, console=not quiet, loop_files=loop)
    web = None
    stop = threading.Event()
    stopper.target = _ServiceStop(stop, service)
    try:
        account = _site_account(service)
        service.sync()
        if settings.web.enabled and not no_web and account is not None:
            web = _start_site_web(service, settings, account, host, port)
        follower = threading.Thread(target=service.run, name="site folder", daemon=True)
        follower.start()
        err.print(f"occusense serve: {len(service.cameras)} camera(s) from {folder.root}")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        began = time.perf_counter()
        if web is not None:
            web.stop()
        service.stop()
        lock.release()
        stopper.finished()
        err.print(f"stopped {len(service.cameras)} camera(s) in "
                  f"{time.perf_counter() - began:.1f} s")


class _ServiceStop:
    """What a signal stops in ``serve``: its wait loop, then the service."""

    def __init__(self, event, service) -> None:
        self.event, self.service = event, service

    def stop(self) -> None:
        self.event.set()

    @property
    def stop_phase(self) -> str:
        return self.service.stop_phase


def _site_account(service):
    """The site's account and privacy mode, read before the cameras start."""
    from occusense.fleet.web import site_account

    try:
        return site_account(service)
    except OccusenseError as exc:  # the cameras count on, each in its file's privacy mode
        err.print(f"[yellow]web GUI off:[/yellow] {escape(str(exc))}")
        return None


def _start_site_web(service, settings, account, host: str | None, port: int | None):
    from occusense.fleet.web import SiteWeb

    listen = (host or settings.web.host, settings.web.port if port is None else port)
    first = "" if account.users.activated else " (first start: activate the site there)"
    return _serve_web(lambda: SiteWeb(service, settings, account).app, *listen, first,
                      settings.web.trusted_proxies)


def _start_time(text: str | None) -> float:
    """``--start-time`` as a timestamp (now when not given)."""
    if not text:
        return time.time()
    try:
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError):
        raise _fail(
            f"--start-time: expected an ISO date and time such as 2026-11-23T09:00:00+01:00, "
            f"got {text!r}"
        ) from None


def _start_web(state, host: str, port: int):
    from occusense.web.app import create_app

    first = "" if state.config.users.activated else " (first start: activate it there)"
    return _serve_web(lambda: create_app(state), host, port, first,
                      state.config.web.trusted_proxies)


def _serve_web(make_app: Callable[[], Any], host: str, port: int, note: str,
               trusted_proxies: list[str] | None = None):
    """The web GUI on ``host:port``, or None and the reason on the console
    (the sensor or the site counts on without it)."""
    from occusense.web.server import WebServer

    try:
        web = WebServer(make_app(), host, port, trusted_proxies)
    except (OSError, OccusenseError) as exc:
        err.print(f"[yellow]web GUI off:[/yellow] {escape(str(exc))}")
        return None
    err.print(f"web GUI: {web.url}{note}")
    return web


class _RateColumn(ProgressColumn):
    """Frames a second, once rich has measured some."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text("" if speed is None else f"{speed:5.1f} fps")


class _progress:
    """A progress bar on stderr for files; nothing for live sources."""

    def __init__(self, total: int | None, live: bool) -> None:
        self.progress = Progress(
            TextColumn("frames"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            _RateColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=live or not err.is_terminal,
        )
        self.total = total

    def __enter__(self):
        self.progress.start()
        return self.progress, self.progress.add_task("run", total=self.total)

    def __exit__(self, *exc) -> None:
        self.progress.stop()


def _ready_kernels() -> None:
    """Load (or, without the installer's cache, compile) the counting kernels
    before a live camera opens, so that its first frames are not dropped
    while the compiler runs."""
    from occusense.analytics.warmup import warm_up

    began = time.perf_counter()
    warm_up()
    if (took := time.perf_counter() - began) > 5:
        logging.getLogger("occusense").info("counting kernels compiled in %.0f s", took)


@app.command("test-connection")
def test_connection(
    config: Annotated[Path, typer.Option(help="YAML or JSON config file")],
) -> None:
    """Send a test message to every configured recipient; say what failed."""
    from occusense.transports.dispatcher import Dispatcher, has_recipients

    cfg = _load(config)
    if not has_recipients(cfg):
        raise _fail("no MQTT or HTTP recipient is configured")
    try:
        dispatcher = Dispatcher(cfg, client_suffix="-test")
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    results = dispatcher.test()
    dispatcher.close()
    for _name, ok, message in results:
        typer.echo(("ok    " if ok else "FAIL  ") + message)
    if not all(ok for _, ok, _ in results):
        raise typer.Exit(1)


@config_app.command("defaults")
def config_defaults(
    fmt: Annotated[str, typer.Option("--format", help="yaml or json")] = "yaml",
) -> None:
    """Print the default configuration (every setting, with its default)."""
    import yaml

    # the default keys are the guide's published ones, not secrets: a file
    # made from this output must load as it is
    data = config_to_dict(DeviceConfig(), include_secrets=True)
    typer.echo(
        json.dumps(data, indent=2) if fmt == "json" else yaml.safe_dump(data, sort_keys=False)
    )


@config_app.command("validate")
def config_validate(path: Path) -> None:
    """Check a config file; print each problem with its field, exit 2 if any."""
    _load(path)
    typer.echo(f"{path}: valid")


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON schema of the configuration."""
    typer.echo(json.dumps(DeviceConfig.model_json_schema(), indent=2))


@app.command()
def detect(
    target: Annotated[Path, typer.Argument(help="an image or a folder of images")],
    config: Annotated[Path | None, typer.Option(help="YAML or JSON config file")] = None,
    mount: Annotated[
        str | None, typer.Option(help="ceiling or oblique (overrides the config)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per image")] = False,
) -> None:
    """Detect people in still images: an installer's check of a camera view."""
    from occusense.detect.still import detect_images

    cfg = _load(config)
    if mount is not None:
        if mount not in ("ceiling", "oblique"):
            raise _fail(f"--mount must be ceiling or oblique, got {mount!r}")
        cfg.mounting.mount = mount  # type: ignore[assignment]
    try:
        for result in detect_images(target, cfg):
            if as_json:
                typer.echo(json.dumps(result))
            else:
                points = ", ".join(f"({d['x']:.0f}, {d['y']:.0f})" for d in result["detections"])
                typer.echo(f"{result['image']}: {result['people']} people {points}")
    except OccusenseError as exc:
        raise _fail(str(exc)) from None


@lora_app.command("decode")
def lorawan_decode(payload: Annotated[str, typer.Argument(help="uplink bytes in hex")]) -> None:
    """Decode a VS121 uplink payload (hex) into JSON fields."""
    from occusense.reports.lorawan import decode

    _print_decoded(payload, decode)


def _print_decoded(payload: str, decode: Callable[[bytes], Any]) -> None:
    """Hex in, JSON out; a bad payload exits 2 with the offset and reason."""
    try:
        typer.echo(json.dumps(decode(bytes.fromhex(payload.replace(" ", "")))))
    except (ValueError, OccusenseError) as exc:
        raise _fail(f"cannot decode {payload!r}: {exc}") from None


@lora_app.command("decode-downlink")
def lorawan_decode_downlink(
    payload: Annotated[str, typer.Argument(help="downlink bytes in hex, e.g. ff4001")],
) -> None:
    """Decode a VS121 downlink (hex) into Milesight's command objects (JSON)."""
    from occusense.reports.downlink import decode

    _print_decoded(payload, decode)


@lora_app.command("encode-downlink")
def lorawan_encode_downlink(
    commands: Annotated[
        str, typer.Argument(help='command objects, e.g. \'{"adr_enable": "enable"}\' or a list')
    ],
) -> None:
    """Encode Milesight command objects (JSON) into VS121 downlink bytes (hex)."""
    from occusense.documents import load_json
    from occusense.reports.downlink import encode

    try:
        payload = encode(load_json(commands, "commands"))
    except OccusenseError as exc:
        raise _fail(f"cannot encode {commands!r}: {exc}") from None
    typer.echo(payload.hex())


@lora_app.command("downlink")
def lorawan_downlink(
    payload: Annotated[str, typer.Argument(help="downlink bytes in hex, e.g. ff4001")],
    config: Annotated[Path, typer.Option(help="the config file to change")],
) -> None:
    """Validate a VS121 downlink and apply it to a config file (all or nothing)."""
    from occusense.config import save_config
    from occusense.reports.downlink import DownlinkError
    from occusense.transports.lorawan.commands import apply

    cfg = _load(config)
    try:
        result = apply(cfg, bytes.fromhex(payload.replace(" ", "")))
    except (ValueError, DownlinkError) as exc:
        raise _fail(f"downlink {payload!r} rejected: {exc}") from None
    save_config(result.config, config)
    typer.echo(json.dumps({"applied": result.commands, "reboot": result.reboot,
                           "rejoin": result.rejoin, "notes": result.notes}))


def _pins(config: Path | None):
    from occusense.dio import open_pins

    try:
        cfg = _load(config)
        return open_pins(cfg.digital_io, cfg.state_dir)
    except OccusenseError as exc:
        raise _fail(str(exc)) from None


@io_app.command("get")
def io_get(
    pin: Annotated[str, typer.Argument(help="di or do")],
    config: Annotated[Path | None, typer.Option(help="config file (digital_io)")] = None,
) -> None:
    """Print a pin's value (0 or 1)."""
    try:
        typer.echo(_pins(config).read(pin))
    except OccusenseError as exc:
        raise _fail(str(exc)) from None


@io_app.command("set")
def io_set(
    pin: Annotated[str, typer.Argument(help="di (software pins only) or do")],
    value: Annotated[int, typer.Argument(help="0 or 1")],
    config: Annotated[Path | None, typer.Option(help="config file (digital_io)")] = None,
) -> None:
    """Set a pin."""
    try:
        _pins(config).write(pin, value)
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{pin} = {value}")


@io_app.command("pulse")
def io_pulse(
    width_ms: Annotated[int, typer.Option(min=10, max=10000, help="pulse length")] = 500,
    config: Annotated[Path | None, typer.Option(help="config file (digital_io)")] = None,
) -> None:
    """Pulse the software DI (0 -> 1 -> 0), as the staff button would (L5)."""
    pins = _pins(config)
    try:
        pins.write("di", 1)
        time.sleep(width_ms / 1000)
        pins.write("di", 0)
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"di pulsed for {width_ms} ms")


def _points(text: str, what: str) -> list[tuple[float, float]]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = [math.nan]
    if not all(math.isfinite(v) for v in values):
        raise _fail(f"{what}: numbers separated by commas, got {text!r}")
    if len(values) % 2 or len(values) < 4:
        raise _fail(f"{what}: give x,y pairs (at least 2 points), got {len(values)} numbers")
    return list(zip(values[::2], values[1::2], strict=True))


@app.command("eval")
def eval_command(
    gt: Annotated[Path | None, typer.Option(help="ground truth, MOT CSV")] = None,
    line: Annotated[str | None, typer.Option(help="x1,y1,x2,y2[,x3,y3...] in pixels")] = None,
    region: Annotated[list[str] | None, typer.Option(help="x1,y1,x2,y2,x3,y3... (repeat)")] = None,
    flow: Annotated[str | None, typer.Option(help="3 or 4 corners x1,y1,...")] = None,
    tracks: Annotated[Path | None, typer.Option(help="tracker output, MOT CSV")] = None,
    source: Annotated[str | None, typer.Option(help="the video or image folder of --gt")] = None,
    config: Annotated[Path | None, typer.Option(help="detector settings for --source")] = None,
    fps: Annotated[
        float, typer.Option(min=0.1, max=1000, help="frame rate of --tracks (sources know theirs)")
    ] = 10.0,
    debounce: Annotated[float, typer.Option(help="region debounce (s) for the comparison")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    suite: Annotated[
        bool, typer.Option("--suite", help="the accuracy table over every shared sequence")
    ] = False,
    data: Annotated[Path, typer.Option(help="the shared data folder, for --suite")] = Path(
        "../shared/data"
    ),
    detector: DetectorOption = None,
    images: Annotated[Path | None, typer.Option(
        help="still frames of a room, with --boxes or --heads")] = None,
    boxes: Annotated[Path | None, typer.Option(
        help="person boxes of --images: {image: [[x1, y1, x2, y2, cls], ...]}")] = None,
    heads: Annotated[Path | None, typer.Option(
        help="head points of --images: {image: [[x, y], ...]} (a person is found when a "
        "detection's box holds their head)")] = None,
) -> None:
    """Compare the sensor's counts with counts derived from ground truth."""
    from occusense.evaluation.evaluate import EvalSpec
    from occusense.evaluation.runner import evaluate

    if suite:
        _eval_suite(data, _load(config, detector), as_json)
        return
    if images is not None or boxes is not None or heads is not None:
        _eval_stills(images, boxes, heads, _load(config, detector), as_json)
        return
    if gt is None:
        raise _fail("give --gt (or --suite)")
    if (tracks is None) == (source is None):
        raise _fail("give exactly one of --tracks or --source")
    spec = EvalSpec(
        line=_points(line, "--line") if line else None,
        regions=[_points(r, "--region") for r in region or []],
        flow=_points(flow, "--flow") if flow else None,
        fps=fps,
        debounce_s=debounce,
    )
    try:
        result = evaluate(spec, gt, tracks=tracks, source=source, config=_load(config, detector))
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result))
    else:
        _print_eval(result)


@app.command("history")
def history_command(
    state: Annotated[Path, typer.Option("--state", help="the sensor's state directory")],
    series: Annotated[str | None, typer.Option(
        help="people, region:<name>, line:in, line:out, flow:<entry>-<exit> "
        "(none: list the series kept)")] = None,
    since: Annotated[str | None, typer.Option("--from", help="ISO date/time or unix s "
                                              "(default: a day before --to)")] = None,
    until: Annotated[str | None, typer.Option("--to", help="default: now")] = None,
    bucket: Annotated[str, typer.Option(help="minute, hour, day or week")] = "hour",
    output: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    camera: Annotated[list[str] | None, typer.Option(
        help="a site's camera id in a shared database (repeat to sum)")] = None,
) -> None:
    """The history a sensor kept: a series in buckets of its time zone."""
    from occusense.clock import DeviceClock
    from occusense.config.running import RUNNING
    from occusense.history import HistoryError, engine_for, query_period, to_csv
    from occusense.history import HistoryStore as Store

    saved = state / RUNNING
    try:
        config = load_config(saved) if saved.is_file() else DeviceConfig(state_dir=str(state))
        if output not in ("table", "json", "csv"):
            raise HistoryError(f"--format: table, json or csv, got {output!r}")
        url = config.history.url.get_secret_value()
        if not url and not (state / "history.sqlite").is_file():
            raise HistoryError(f"{state} holds no history (history.sqlite)")
        store = Store(engine_for(url, state), (camera or [""])[0])
        if series is None:
            typer.echo("\n".join(store.series_names(camera)))
            return
        clock = DeviceClock(config.time.timezone)
        start, end = query_period(since, until, clock)  # the API's rules and words
        rows = store.query(series, start, end, bucket, clock, camera)
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    if output == "json":
        typer.echo(json.dumps(rows))
    elif output == "csv":
        typer.echo(to_csv(rows), nl=False)
    else:
        for row in rows:
            value = (f"{row['total']:6d}" if "total" in row
                     else f"mean {row['mean']:7.2f}  peak {row['peak']:4.0f}")
            typer.echo(f"{row['start']}  {value}")


def _eval_stills(images: Path | None, boxes: Path | None, heads: Path | None,
                 config: DeviceConfig, as_json: bool) -> None:
    from occusense.evaluation.stills import evaluate_stills

    if images is None or (boxes is None) == (heads is None):
        raise _fail("give --images (a folder) and either --boxes (its person boxes) or "
                    "--heads (its head points)")
    try:
        truth, rule = (heads, "heads") if heads is not None else (boxes, "boxes")
        assert truth is not None
        result = evaluate_stills(images, truth, config, rule)
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result))
        return
    full = result["full_rooms"]
    typer.echo(f"{result['images']} images, {result['people']} people: "
               f"{result['recall']:.1%} found, {result['false_per_frame']:.2f} false people "
               f"a frame, count error {result['count_error']:.2f} a frame "
               f"({result['count_error_share']:.1%} of the people), "
               f"{result['fps']} frames/s ({result['detector']})")
    if full["images"]:
        typer.echo(f"{full['images']} full rooms (more than 28 people), {full['people']} "
                   f"people: {full['recall']:.1%} found, count error "
                   f"{full['count_error_share']:.1%} of the people")


def _eval_suite(data: Path, config: DeviceConfig, as_json: bool) -> None:
    from occusense.evaluation.suite import markdown, run_suite

    if not (data / "PETS09-S2L1").is_dir():
        raise _fail(f"{data} does not hold the shared sequences (PETS09-S2L1, TUD-Campus)")
    try:
        results = run_suite(data, config)
    except OccusenseError as exc:
        raise _fail(str(exc)) from None
    typer.echo(json.dumps(results) if as_json else markdown(results))


def _print_eval(result: dict) -> None:
    out = Console()
    if "line" in result:
        ln = result["line"]
        for d in ("in", "out"):
            out.print(
                f"line {d:>3}: truth {ln['truth'][d]:4d}  occusense {ln['counted'][d]:4d} "
                f"({ln['accuracy'][d]:.1%})  LineZone {ln['linezone']['counted'][d]:4d} "
                f"({ln['linezone']['accuracy'][d]:.1%})"
            )
    for reg in result.get("regions", []):
        out.print(
            f"region {reg['region']}: mean truth {reg['mean_truth']:.2f}  "
            f"mean counted {reg['mean_counted']:.2f}  MAE {reg['mae']:.3f}"
        )
    if "flow" in result:
        out.print(f"flow truth {result['flow']['truth']}\nflow counted {result['flow']['counted']}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
