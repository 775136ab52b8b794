"""Many cameras in one service (issue 20): ``occusense serve --site DIR``.

Each camera is a whole sensor: its own :class:`~occusense.web.state.
SensorState` (config model, live counts, history), its own
:class:`~occusense.runner.SensorRunner` (pipeline, reports, outbox,
LoRaWAN session, Home Assistant device) on its own thread, and its own state
folder, locked as ``occusense run`` locks it. The cameras share the process
and the detector pool (:mod:`occusense.detect.shared`).

Why threads in one process, not a process per camera: measured on 2 cores
(bench/fleet_bench.py, RESULTS), a camera added to the service costs 29-40
MB, while a process per camera loads Python, NumPy, OpenCV and ONNX Runtime
again (409 MB for one camera alone) and cannot share the detector.
Inference, decoding and image work release the GIL.

The service follows the site folder: :meth:`FleetService.sync` (every 2 s)
starts a camera whose file appeared, stops one whose file went, and applies
an edited file to that camera alone (its pipeline is rebuilt as after a GUI
change; a new source reopens only that camera). A camera that fails (its
file is invalid, its video is missing) is shown with the reason and tried
again when its file changes or a minute later; the others run on.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from occusense.config.device import PrivacyMode
from occusense.config.io import config_to_dict, load_config, save_config
from occusense.config.model import DeviceConfig
from occusense.config.running import running_config
from occusense.detect.shared import DetectorPool
from occusense.errors import ConfigError, OccusenseError
from occusense.files import StateLock, write_atomic
from occusense.fleet.site import MAX_CAMERAS, SiteFolder, SiteSettings, check_id
from occusense.history import HistoryStore, open_store
from occusense.pipeline import Sink
from occusense.rtsp import SiteStreams
from occusense.runner import SensorRunner
from occusense.sources import open_source, redact
from occusense.spaces import Spaces
from occusense.transports.homeassistant import SpacePublisher
from occusense.transports.local import local_sinks
from occusense.web.state import SensorState

log = logging.getLogger(__name__)

SYNC_S = 2.0  # how often the site folder is looked at
SPACES_S = 0.5  # how often the spaces look at the cameras' counts
RETRY_S = 60.0  # a failed (or crashed) camera is tried again this often (or when its file changes)
STOP_S = 6.0  # how long the cameras may take to stop (a container runtime kills at 10 s)

@dataclass
class Camera:
    """One camera of the site: its file, its sensor and its thread."""

    id: str
    path: Path
    digest: str = ""
    state: SensorState | None = None
    runner: SensorRunner | None = None
    thread: threading.Thread | None = None
    lock: StateLock | None = None
    sinks: list[Sink] = field(default_factory=list)
    error: str = ""
    failed_at: float = 0.0
    failed_version: int = -1  # its settings' version when it failed
    resolution: str = ""

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @property
    def status(self) -> str:
        if self.error:
            return "failed"
        if self.running:
            return "running" if self.state is None or self.state.source_up else "camera lost"
        return "ended" if self.thread is not None else "starting"


def _open_space_history(folder: Path) -> HistoryStore | None:
    """The site's own history store (SQLite in ``state/site``): the spaces'
    occupancy minute by minute (``space:<id>``)."""
    try:
        return open_store("", folder, "site")
    except OccusenseError as exc:
        log.error("%s; the spaces are counted without a history", exc)
        return None


def _saved_privacy(seed: DeviceConfig) -> PrivacyMode | None:
    """The privacy mode the camera last ran in (its saved configuration)."""
    try:
        return load_config(Path(seed.state_dir) / "config.yaml").privacy_mode
    except (OccusenseError, OSError):
        return None


def file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


class FleetService:
    """The cameras of a site folder, each a full sensor, one detector pool.

    Args:
        site: the site folder.
        pool: the shared detector pool.
        console: print the cameras' reports (each says its device name and
            serial) besides writing each camera's JSONL file.
        loop_files: replay video files for ever (sample cameras).
        on_change: called after each look at the folder (the web GUI's
            routes follow the cameras).
        streams: the site's RTSP server (default: on ``site.yaml``'s
            ``rtsp.port``, started when a camera first enables its stream).
    """

    def __init__(self, site: SiteFolder, pool: DetectorPool, console: bool = False,
                 loop_files: bool = True,
                 on_change: Callable[[], None] | None = None,
                 streams: SiteStreams | None = None) -> None:
        self.site = site
        settings = site.settings()
        if streams is None:
            streams = SiteStreams(settings.rtsp.port, settings.rtsp.host)
        self.streams = streams
        self.space_publisher: SpacePublisher | None = None
        self.space_history: HistoryStore | None = None  # space:<id> minute by minute
        self._spaces_thread: threading.Thread | None = None
        self.spaces = self._spaces_of(settings)
        self.pool = pool
        self.console = console
        self.loop_files = loop_files
        self.on_change = on_change
        self.cameras: dict[str, Camera] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.stop_phase = ""  # what a stop waits for (said if it is slow)
        self.problems: list[str] = []  # files that are not cameras, and why
        self.privacy: PrivacyMode | None = None  # the site's, chosen at activation

    # -------------------------------------------------------------- the folder
    def sync(self) -> None:
        """Bring the running cameras in line with the site folder."""
        with self._lock:
            files = self._camera_files()
            for camera in [c for c in self.cameras if c not in files]:
                self._stop_camera(self.cameras.pop(camera))
                log.info("camera %s: its file is gone, stopped (its state folder is kept)",
                         camera)
            for camera, path in files.items():
                known = self.cameras.get(camera)
                if known is None:
                    self.cameras[camera] = self._start(Camera(camera, path))
                elif known.digest != file_digest(path):
                    self._apply_file(known)
                elif known.lock is not None and known.lock.lost():
                    self._state_folder_lost(known)
                elif known.error and (time.monotonic() - known.failed_at > RETRY_S
                                      or self._settings_changed(known)):
                    self._restart(known)
        if self.on_change is not None:
            self.on_change()

    @staticmethod
    def _settings_changed(camera: Camera) -> bool:
        """A failed camera's settings were changed (over the API) since it failed."""
        return camera.state is not None and camera.state.version != camera.failed_version

    def _camera_files(self) -> dict[str, Path]:
        problems: list[str] = []
        files: dict[str, Path] = {}
        for camera, path in self.site.camera_files().items():
            try:
                check_id(camera)
            except OccusenseError as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            if len(files) >= MAX_CAMERAS:
                problems.append(f"{path.name}: more than {MAX_CAMERAS} cameras in one service")
                continue
            files[camera] = path
        if problems != self.problems:
            for problem in problems:
                log.error("site folder: %s", problem)
        self.problems = problems
        return files

    def add(self, camera: str, text: str) -> Camera:
        """A new camera from a configuration document (validated first: a bad
        one is refused and no file is written)."""
        path = self.site.file_for(camera)
        with self._lock:
            if camera in self.cameras or path.exists():
                raise FileExistsError(f"camera {camera} exists already")
            self._check(camera, path, text)
            write_atomic(path, text)
            self.sync()
            return self.cameras[camera]

    def replace(self, camera: str, text: str) -> Camera:
        """A camera's file replaced (validated first), applied to it alone."""
        with self._lock:
            known = self.cameras.get(camera)
            if known is None:
                raise KeyError(camera)
            self._check(camera, known.path, text)
            write_atomic(known.path, text)
            self.sync()
            return self.cameras[camera]

    def remove(self, camera: str) -> Path:
        """Stop a camera and set its file aside (``cameras/removed/``); its
        state folder, outbox included, stays."""
        with self._lock:
            known = self.cameras.get(camera)
            if known is None:
                raise KeyError(camera)
            aside = self.site.cameras_dir / "removed"
            aside.mkdir(exist_ok=True)
            target = aside / f"{camera}-{time.strftime('%Y%m%d-%H%M%S')}{known.path.suffix}"
            known.path.rename(target)
            self.sync()
            return target

    def _check(self, camera: str, path: Path, text: str) -> None:
        probe = path.with_name(f".{camera}.check{path.suffix}")
        try:
            write_atomic(probe, text)
            config = self.site.camera_config(camera, probe)
        finally:
            probe.unlink(missing_ok=True)
        known = self.cameras.get(camera)
        running = known.state.config.privacy_mode if known and known.state else None
        if running is PrivacyMode.blur and config.privacy_mode is not PrivacyMode.blur:
            raise ConfigError(f"privacy_mode: camera {camera} runs in blur privacy mode; "
                              "only a factory reset changes it")

    # ------------------------------------------------------------- the cameras
    def _start(self, camera: Camera) -> Camera:
        camera.digest = file_digest(camera.path)
        try:
            seed = self.site.camera_config(camera.id, camera.path)
            camera.lock = StateLock(seed.state_dir).acquire()
            before = _saved_privacy(seed)
            config, saved_to = running_config(seed, camera.path)
            config = self._private(config, saved_to, before)
            camera.state = SensorState(config, saved_to)
            camera.state.privacy_fixed = True  # the site's, or Blur once a camera had it
            camera.sinks = list(local_sinks(config.output, console=self.console))
            source = open_source(config.source.uri, time.time(), config.source.realtime,
                                 max_backoff_s=config.source.reconnect_max_s,
                                 loop=self.loop_files)
        except OccusenseError as exc:
            return self._failed(camera, str(exc))
        camera.resolution = (f"{source.width}x{source.height} @ {source.fps:.1f} fps"
                             if source.width else "")
        camera.runner = SensorRunner(camera.state, source, time.time(), camera.sinks, self.pool,
                                     camera.id, self.streams)
        camera.thread = threading.Thread(target=self._run, args=(camera,), daemon=True,
                                         name=f"camera {camera.id}")
        camera.thread.start()
        log.info("camera %s: %s (%s)", camera.id, redact(config.source.uri),
                 camera.resolution or "waiting for the camera")
        return camera

    def _failed(self, camera: Camera, error: str) -> Camera:
        log.error("camera %s: %s", camera.id, error)
        camera.error, camera.failed_at = error, time.monotonic()
        camera.failed_version = camera.state.version if camera.state is not None else -1
        for sink in camera.sinks:
            sink.close()
        if camera.lock is not None:
            camera.lock.release()
            camera.lock = None
        return camera

    def _run(self, camera: Camera) -> None:
        assert camera.runner is not None
        try:
            camera.runner.run()
        except Exception as exc:  # one camera's failure must not end the service
            log.exception("camera %s stopped", camera.id)
            camera.error, camera.failed_at = f"stopped: {exc}", time.monotonic()
            camera.failed_version = camera.state.version if camera.state is not None else -1
        finally:
            for sink in camera.sinks:
                sink.close()

    def _restart(self, camera: Camera) -> None:
        """Stop what is left of ``camera`` (its thread, its state folder's
        lock) and start it again from its file."""
        self._stop_camera(camera)
        self.cameras[camera.id] = self._start(Camera(camera.id, camera.path))

    def _state_folder_lost(self, camera: Camera) -> None:
        """A camera's state folder deleted while it ran: its lock, outbox,
        settings and counts were in it. It is written again (the running
        settings, the counts it holds) and the camera restarted on it."""
        state = camera.state
        folder = camera.lock.path.parent if camera.lock is not None else None
        why = (f"its state folder {folder} was deleted while it ran: made again with the "
               "running settings and counts, and the camera restarted (reports waiting in "
               "its outbox then were lost)")
        log.error("camera %s: %s", camera.id, why)
        self._stop_camera(camera)  # its counts saved in a new folder
        if state is not None and state.path is not None:
            try:
                save_config(state.config, state.path)
            except OSError as exc:
                log.error("camera %s: its settings cannot be saved again: %s", camera.id, exc)
        self.cameras[camera.id] = restarted = self._start(Camera(camera.id, camera.path))
        if restarted.state is not None:
            restarted.state.notice = f"{time.strftime('%Y-%m-%d %H:%M')}: {why}"

    def _apply_file(self, camera: Camera) -> None:
        """An edited camera file: the new settings for this camera alone."""
        if camera.error or camera.state is None or camera.runner is None:
            self._restart(camera)
            return
        camera.digest = file_digest(camera.path)
        try:
            seed = self.site.camera_config(camera.id, camera.path)
            config, saved_to = running_config(seed, camera.path)
            config = self._private(config, saved_to)
        except OccusenseError as exc:
            # the camera runs on with what it had; the file is read again when it changes
            log.error("camera %s: its edited file is not applied: %s", camera.id, exc)
            return
        # P5: Blur holds (a file asking for Normal again keeps Blur, and says so)
        config = self._private(config, saved_to, camera.state.config.privacy_mode)
        if config.source != camera.state.config.source or (
                config.state_dir != camera.state.config.state_dir):
            log.info("camera %s: a new source: reopening it", camera.id)
            self._restart(camera)
            return
        try:
            camera.state.apply(config_to_dict(config, include_secrets=True),
                               f"cameras/{camera.id}", trusted=True,
                               privacy_change=config.privacy_mode is PrivacyMode.blur)
        except OccusenseError as exc:
            log.error("camera %s: its edited file is not applied: %s", camera.id, exc)
            save_config(camera.state.config, saved_to)
            return
        log.info("camera %s: its edited file is applied", camera.id)

    def set_privacy(self, mode: PrivacyMode) -> None:
        """The site's privacy mode (P5, chosen when the site was activated):
        Blur holds for every camera, those added later included; with Normal
        a camera's own file may still choose Blur."""
        with self._lock:
            self.privacy = mode
            for state in [c.state for c in self.cameras.values() if c.state is not None]:
                wanted = self._mode_for(state.config)
                if wanted is not state.config.privacy_mode:
                    data = config_to_dict(state.config, include_secrets=True)
                    data["privacy_mode"] = wanted.value
                    state.apply(data, "the site's privacy mode", privacy_change=True,
                                trusted=True)

    def _mode_for(self, config: DeviceConfig, before: PrivacyMode | None = None) -> PrivacyMode:
        """Blur when the site or the camera's own file says Blur, or when the
        camera ran in Blur before (P5: only a factory reset brings Normal back)."""
        if PrivacyMode.blur in (self.privacy, config.privacy_mode, before):
            return PrivacyMode.blur
        return config.privacy_mode

    def _private(self, config: DeviceConfig, saved_to: Path,
                 before: PrivacyMode | None = None) -> DeviceConfig:
        """``config`` in the site's privacy mode (saved as the running one)."""
        mode = self._mode_for(config, before)
        if before is PrivacyMode.blur and config.privacy_mode is not mode:
            log.warning("%s: privacy_mode stays blur: only a factory reset changes it", saved_to)
        if mode is config.privacy_mode:
            return config
        changed = config.model_copy(update={"privacy_mode": mode})
        save_config(changed, saved_to)
        return changed

    def _stop_camera(self, camera: Camera, deadline: float | None = None) -> None:
        """Stop one camera, waiting until ``deadline`` (monotonic; default
        ``STOP_S`` from now) for its thread."""
        if camera.runner is not None:
            camera.runner.stop()
        if camera.thread is not None:
            deadline = time.monotonic() + STOP_S if deadline is None else deadline
            camera.thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if camera.thread.is_alive():
                log.warning("camera %s: still stopping (waiting for %s)", camera.id,
                            camera.runner.stop_phase if camera.runner else "its thread")
        if camera.lock is not None:
            camera.lock.release()
            camera.lock = None

    # --------------------------------------------------------------- service
    def _spaces_of(self, settings: SiteSettings) -> Spaces:
        """The site's spaces, counted from the cameras' live counts (their
        saved occupancies kept), published when a broker is set."""
        spaces = Spaces(settings.spaces, self.site.state_dir / "site" / "spaces.json",
                        settings.time.timezone)
        if settings.spaces and self.space_history is None:
            self.space_history = _open_space_history(self.site.state_dir / "site")
        if self.space_history is not None:
            store = self.space_history
            spaces.listeners.append(lambda now: store.record(
                time.time(), {f"space:{k}": v["occupancy"] for k, v in now.items()}))
        if settings.spaces and settings.home_assistant.enabled:
            self.space_publisher = SpacePublisher(
                settings.home_assistant, settings.name,
                [(s.id, s.title, s.capacity) for s in settings.spaces])
            spaces.listeners.append(self.space_publisher.update)
        return spaces

    def set_spaces(self, spaces: list[dict]) -> Spaces:
        """New spaces from the GUI or the API: ``site.yaml`` rewritten
        (validated first), the spaces counted on from what they kept."""
        settings = self.site.save_spaces(spaces)
        old, publisher = self.spaces, self.space_publisher
        old.close()  # its state saved: the new spaces start from it
        self.space_publisher = None
        self.spaces = self._spaces_of(settings)
        if publisher is not None:
            publisher.retract(self.space_publisher)  # removed spaces leave Home Assistant
            publisher.close()
        self._start_space_counting()
        log.info("spaces: %s", ", ".join(self.spaces.settings) or "none")
        return self.spaces

    def _start_space_counting(self) -> None:
        if self.spaces.settings and (self._spaces_thread is None
                                     or not self._spaces_thread.is_alive()):
            self._spaces_thread = threading.Thread(target=self.count_spaces, daemon=True,
                                                   name="spaces")
            self._spaces_thread.start()

    def count_spaces(self) -> None:
        """Bring the spaces up to date with the cameras' counts (twice a second,
        until :meth:`stop`)."""
        while not self._stop.wait(SPACES_S):
            if self.spaces.settings:
                self.spaces.observe(self.live_counts())

    def live_counts(self) -> dict[str, dict]:
        """Each running camera's live counts."""
        with self._lock:
            cameras = list(self.cameras.values())
        return {c.id: dict(c.state.counts) for c in cameras
                if c.state is not None and c.running and c.state.source_up}

    def run(self) -> None:
        """Follow the site folder (and count the spaces) until :meth:`stop`."""
        self._start_space_counting()
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception:  # the folder unreadable a moment: look again
                log.exception("site folder")
            self._stop.wait(SYNC_S)

    def stop(self) -> None:
        """Stop every camera (at once, each settling its tracks and closing
        its transports), then the detector pool."""
        self._stop.set()
        with self._lock:
            cameras = list(self.cameras.values())
            for camera in cameras:
                if camera.runner is not None:
                    camera.runner.stop()
            deadline = time.monotonic() + STOP_S  # one wait for all of them, not one each
            for camera in cameras:
                self.stop_phase = f"camera {camera.id}"
                self._stop_camera(camera, deadline)
        self.stop_phase = "the site's spaces and history"
        self.streams.close()
        self.spaces.close()
        if self.space_publisher is not None:
            self.space_publisher.close()
        if self.space_history is not None:
            self.space_history.close()
        self.pool.close()

    def camera(self, camera: str) -> Camera:
        with self._lock:
            return self.cameras[camera]
