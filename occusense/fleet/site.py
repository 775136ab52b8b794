"""A site folder: the service's settings and one file per camera (issue 20).

::

    site/
      site.yaml           # optional: the service (web GUI, detector pool)
      cameras/
        lobby.yaml        # a whole sensor configuration, as for `occusense run`
        entrance.yaml
      state/              # made by the service: the site account, and each
        site/             #   camera's running config, outbox, LoRaWAN session
        lobby/

A camera file is the configuration of one sensor (the same typed model as
``occusense run --config``); the file name is the camera's id in the GUI, the
REST API, /metrics and Home Assistant. What a camera file leaves out and one
service must not share between cameras gets a per-camera default: its state
folder (``state/<id>``), its report file (``state/<id>/reports.jsonl``), its
name (the id) and its serial number (derived from this host and the id, so
MQTT client ids, Home Assistant devices and reports stay apart). Relative
paths in a camera file are relative to the site folder.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from occusense.config.base import StrictModel
from occusense.config.device import HomeAssistantSettings, TimeSettings, WebSettings
from occusense.config.io import describe, load_config, read_bounded
from occusense.config.model import DeviceConfig
from occusense.documents import DocumentError, load_yaml
from occusense.errors import ConfigError
from occusense.reports.device import host_mac
from occusense.spaces import MAX_SPACES, SpaceSettings, check_spaces

CAMERA_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_CAMERAS = 64
CAMERA_SUFFIXES = (".yaml", ".yml", ".json")
URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class PoolSettings(StrictModel):
    """The detector pool the cameras share (``detect.shared``)."""

    workers: int = Field(2, ge=1, le=16, description="inferences at once (one per core on a CPU)")
    max_batch: int = Field(0, ge=0, le=64,
                           description="most cameras' inputs in one inference; 1 = no batching, "
                           "0 = auto (batches of 8 on an accelerator; none on the CPU, "
                           "where batching was measured to buy nothing)")
    linger_ms: float = Field(2.0, ge=0.0, le=100.0,
                             description="how long an inference waits for more cameras' inputs")


class SiteRtspSettings(StrictModel):
    """The site's RTSP server: every camera whose file enables ``rtsp`` is
    served on this one port at ``rtsp://HOST:PORT/<id>`` (the camera's own
    ``rtsp.port`` is not used in a site; its other RTSP settings are)."""

    port: int = Field(8554, ge=1, le=65535, description="one port for every camera's stream; "
                      "below 1024 needs root or CAP_NET_BIND_SERVICE")
    host: str = Field("0.0.0.0", min_length=1, max_length=64,
                      description="the address to listen on (0.0.0.0 = every interface)")


class SiteSettings(StrictModel):
    """``site.yaml``: the service around the cameras."""

    name: str = Field("Site", min_length=1, max_length=64)
    web: WebSettings = Field(default_factory=WebSettings)
    pool: PoolSettings = Field(default_factory=PoolSettings)
    rtsp: SiteRtspSettings = Field(default_factory=SiteRtspSettings)
    time: TimeSettings = Field(default_factory=TimeSettings)
    spaces: list[SpaceSettings] = Field(
        default_factory=list, max_length=MAX_SPACES,
        description="one occupancy each for a floor, shop or building (occusense.spaces)")
    home_assistant: HomeAssistantSettings = Field(
        default_factory=HomeAssistantSettings,
        description="the spaces on MQTT (their own topics) and in Home Assistant")

    @field_validator("spaces")
    @classmethod
    def _spaces(cls, spaces: list[SpaceSettings]) -> list[SpaceSettings]:
        return check_spaces(spaces)


class SiteFolder:
    """Reads a site folder. Args: root: the folder (it must exist; its
    ``cameras/`` is made if missing)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.cameras_dir = self.root / "cameras"
        self.state_dir = self.root / "state"
        if not self.root.is_dir():
            raise ConfigError(f"{root}: no such folder (a site folder holds site.yaml and "
                              "cameras/; examples/site is one to start from)")
        self.cameras_dir.mkdir(exist_ok=True)

    def settings(self) -> SiteSettings:
        path = self.root / "site.yaml"
        if not path.exists():
            return SiteSettings()
        try:
            data = load_yaml(read_bounded(path), str(path))
            return SiteSettings.model_validate(data or {})
        except DocumentError as exc:
            raise ConfigError(str(exc)) from None
        except ValidationError as exc:
            raise ConfigError(describe(exc, str(path))) from None

    def save_spaces(self, spaces: list[dict[str, Any]]) -> SiteSettings:
        """``site.yaml`` with its ``spaces:`` replaced (validated first: a bad
        list raises :class:`ConfigError` and the file is left as it was)."""
        import yaml

        from occusense.files import write_atomic

        path = self.root / "site.yaml"
        data = load_yaml(read_bounded(path), str(path)) if path.exists() else {}
        data = dict(data or {})
        data["spaces"] = spaces
        try:
            settings = SiteSettings.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(describe(exc, "spaces")) from None
        try:
            write_atomic(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        except OSError as exc:  # a full disk or a read-only folder: nothing changes
            raise ConfigError(f"{path} cannot be written ({exc.strerror or exc}); the spaces "
                              "stay as they were") from None
        return settings

    def camera_files(self) -> dict[str, Path]:
        """Each camera's id and file (ids that are not valid raise in :meth:`check_id`)."""
        files = sorted(p for p in self.cameras_dir.iterdir()
                       if p.suffix in CAMERA_SUFFIXES and not p.name.startswith("."))
        return {p.stem: p for p in files}

    def file_for(self, camera: str) -> Path:
        return self.cameras_dir / f"{check_id(camera)}.yaml"

    def camera_config(self, camera: str, path: Path) -> DeviceConfig:
        """The camera's configuration with the per-camera defaults filled in."""
        check_id(camera)
        return load_config(path, lambda data: self.with_defaults(camera, data))

    def with_defaults(self, camera: str, data: Any) -> Any:
        """``data`` (a camera file's content) with the per-camera defaults."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            return data  # parse_config says what is wrong
        out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
        state = Path(str(out.get("state_dir") or self.state_dir / camera))
        state = state if state.is_absolute() else self.root / state
        out["state_dir"] = str(state)
        device = out.setdefault("device", {})
        if isinstance(device, dict):
            device.setdefault("name", camera)
            device.setdefault("serial_number", camera_serial(camera))
        output = out.setdefault("output", {})
        if isinstance(output, dict) and "jsonl_path" not in output:
            output["jsonl_path"] = str(state / "reports.jsonl")
        source = out.get("source")
        if isinstance(source, dict):
            uri = str(source.get("uri") or "")
            if not uri:
                raise ConfigError(f"cameras/{camera}: source.uri: say which camera or video "
                                  "this is (a file, an rtsp:// or http:// URL, a webcam index)")
            if not URL.match(uri) and not uri.isdigit() and not Path(uri).is_absolute():
                source["uri"] = str(self.root / uri)
        else:
            raise ConfigError(f"cameras/{camera}: a camera needs a source section with its uri")
        return out


# names the site folder uses itself: state/site is the site account's folder,
# cameras/removed/ holds the files of removed cameras
RESERVED_IDS = frozenset({"site", "removed"})


def check_id(camera: str) -> str:
    if not CAMERA_ID.match(camera):
        raise ConfigError(f"camera id {camera!r}: use 1-32 lower-case letters, digits, - or _, "
                          "starting with a letter or digit")
    if camera in RESERVED_IDS:
        raise ConfigError(f"camera id {camera!r} is the site's own folder name; "
                          f"choose another (not {', '.join(sorted(RESERVED_IDS))})")
    return camera


def camera_serial(camera: str) -> str:
    """A 12-digit serial number of this host's camera ``camera``: stable
    across restarts, different for every camera and host."""
    digest = hashlib.sha256(f"{host_mac()}/{camera}".encode()).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**12).zfill(12)

