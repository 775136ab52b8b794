"""Device-wide settings: identity, time, privacy, algorithm, I/O, web, LoRaWAN."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, SecretStr, field_validator, model_validator

from occusense.config.base import RelCoord, StrictModel

_HEX = re.compile(r"^[0-9A-Fa-f]*$")


def _hex_of(length: int):
    def check(value: str) -> str:
        if len(value) != length or not _HEX.match(value):
            raise ValueError(f"must be {length} hexadecimal characters")
        return value.upper()

    return check


class DeviceInfo(StrictModel):
    """G6 and E1 device_info: what every report says about the sensor."""

    name: str = Field("Workplace Sensor", min_length=1, max_length=64)
    model: str = "VS121-P"
    serial_number: str = Field("", description="empty = derived from the MAC address")
    mac_address: str = Field("", description="empty = this host's MAC address")
    ip_address: str = Field(
        "", description="empty = this host's address, resolved from its host name"
    )
    hardware_version: str = "V1.0"


# the IANA names this machine knows: what the validation accepts
TIMEZONES: list[Any] = sorted(available_timezones())


class TimeSettings(StrictModel):
    """G6 time zone; the clock itself is the host's (NTP is the host's job)."""

    timezone: str = Field("UTC", description="IANA name, e.g. Europe/Paris",
                          json_schema_extra={"enum": TIMEZONES})

    @field_validator("timezone")
    @classmethod
    def _known(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
        return name


class PrivacyMode(StrEnum):
    """P5: chosen at activation; only a factory reset changes it."""

    normal = "normal"
    blur = "blur"


class RecognitionScheme(StrEnum):
    """P2: Algorithm 1 for cluttered offices, Algorithm 2 for clean rooms."""

    algorithm_1 = "algorithm_1"
    algorithm_2 = "algorithm_2"


class PositionRule(StrEnum):
    """L1: where a person is: the feet (bottom-centre) or the box centre."""

    feet = "feet"
    centre = "centre"


class Mount(StrEnum):
    """How the camera is mounted: looking ahead (oblique) or straight down."""

    oblique = "oblique"
    ceiling = "ceiling"


class Lens(StrEnum):
    rectilinear = "rectilinear"
    fisheye = "fisheye"


class MountSettings(StrictModel):
    """Camera mounting; a ceiling camera is unwrapped around its nadir."""

    mount: Mount = Mount.oblique
    lens: Lens = Lens.fisheye
    nadir: tuple[RelCoord, RelCoord] | None = Field(
        None, description="the point straight below the camera; empty = the picture's centre"
    )
    inner_radius: float = Field(
        0.15, ge=0.0, le=0.6, description="fraction of the radius skipped around the nadir"
    )
    nadir_ring: bool = Field(
        True, description="a second unwrapped ring from close to the nadir (people near or "
        "under the camera): about twice the inference cost",
    )
    fov_deg: float = Field(120.0, gt=10, lt=179, description="rectilinear lens field of view")
    height_m: float | None = Field(
        None, ge=1.5, le=10.0, description="mounting height, for the installer's records"
    )


class PowerLineFrequency(StrEnum):
    hz50 = "50"
    hz60 = "60"


class ModelFamily(StrEnum):
    """The output layout of an ONNX detector (see ``detect.families``)."""

    auto = "auto"
    nanodet = "nanodet"
    yolox = "yolox"
    yolo = "yolo"
    detr = "detr"


class InputNorm(StrEnum):
    """How a frame's pixels are scaled for the model."""

    auto = "auto"
    unit = "unit"
    imagenet = "imagenet"
    raw = "raw"


class DetectorInput(StrEnum):
    """How a frame becomes the detector's input (see ``detect.detector``)."""

    whole = "whole"
    tiles = "tiles"
    stretched = "stretched"


class Scene(StrEnum):
    """What the camera looks at, which chooses the person finder (issue 25)."""

    auto = "auto"
    room = "room"
    walkway = "walkway"


# ``detect_every`` is measured to count as well as every frame down to 3.5
# detections a second (PETS09-S2L1 at 7 frames/s); slower cameras get more
MIN_DETECTIONS_PER_S = 3.0


class DetectorSettings(StrictModel):
    """Which detector runs and how (P2); thresholds come from the scheme."""

    scene: Scene = Field(
        Scene.auto, description="room = the room finder (people seated side by side: "
        "CenterNet, 4 views fused, ~8 detections/s on 2 cores); walkway = NanoDet on every "
        "frame (people walking, lines); auto = room when the camera counts regions only, "
        "walkway when it counts a line or a flow",
    )
    heads: bool = Field(
        True, description="room finder: people found by their faces too (FaceBoxes on the "
        "frame enlarged 4x, on a thread of its own, 1-4 s a 1080p frame on 2 cores): a full "
        "room's back rows are heads and shoulders; off = bodies only")
    model: str = Field(
        "", description="an ONNX detector file (NanoDet, YOLOX, YOLO v5/v8/v11, RT-DETR, "
        "D-FINE, RF-DETR exports); empty = the bundled NanoDet (walkway) or CenterNet (room)",
    )
    family: ModelFamily = Field(
        ModelFamily.auto, description="the model's output layout; auto = recognised from "
        "its output shapes",
    )
    person_class: int = Field(
        0, ge=0, le=1000, description="index of 'person' among the model's classes "
        "(0 for COCO exports; 1 for RF-DETR)",
    )
    input_norm: InputNorm = Field(
        InputNorm.auto, description="how pixels are scaled for the model: auto = the "
        "family's (RGB 0..1; BGR 0..255 for YOLOX); imagenet for RF-DETR",
    )
    providers: str = Field(
        "auto", description="ONNX Runtime execution providers, e.g. CUDAExecutionProvider; "
        "auto = TensorRT, CUDA or OpenVINO when installed, else the CPU",
    )
    remote_url: str = Field(
        "", description="KServe v2 / Triton model URL (http(s)://host:8000/v2/models/NAME); "
        "empty = run the model here",
    )
    remote_binary: bool = Field(True, description="tensors as raw bytes (Triton); off = JSON")
    remote_timeout_s: float = Field(5.0, gt=0, le=60)
    remote_ca_file: str = Field("", description="PEM CA bundle of a private HTTPS server")
    threads: int = Field(2, ge=1, le=64)
    score_threshold: float | None = Field(
        None, ge=0.05, le=0.95, description="how sure the detector must be that it sees a "
        "person (0.05-0.95); empty = the algorithm's own"
    )
    input: DetectorInput = Field(
        DetectorInput.whole,
        description="whole = the frame at its own aspect in one inference; tiles = "
        "overlapping square tiles (2-3 inferences a frame: more people found in crowds, "
        "2-3x slower); stretched = squeezed into one square (fastest, less accurate)",
    )
    short_side: int = Field(
        416,
        ge=160,
        le=1088,
        multiple_of=32,
        description="pixels of the frame's short side at the model (smaller = faster, "
        "misses small people)",
    )
    # 1: every frame detected, the measured best on PETS09-S2L1 at real time
    # (bench/RESULTS.md, seventh session); 2 doubles the frame rate
    detect_every: int = Field(
        1,
        ge=1,
        le=5,
        description="run the detector on every n-th analysed frame (but at least "
        f"{MIN_DETECTIONS_PER_S:g} times a second); in between, people stay where the last "
        "detection saw them",
    )
    frame_stride: int = Field(
        1, ge=1, le=10, description="analyse every n-th frame (a fast camera on a slow box)"
    )
    hold_missed_s: float = Field(
        0.4,
        ge=0.0,
        le=2.0,
        description="a person the detector misses (hidden behind another, a weak "
        "detection) still counts where last seen for this long; 0 = only people detected",
    )

    @field_validator("remote_url")
    @classmethod
    def _url(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("the inference server URL starts with http:// or https://")
        return url.rstrip("/")

    @model_validator(mode="before")
    @classmethod
    def _legacy_keys(cls, data: Any) -> Any:
        """Older configs said ``tiling: true|false`` (now ``input``),
        ``backend: nanodet`` and ``model_path`` (now ``family`` and ``model``)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "tiling" in data:
            tiling = data.pop("tiling")
            if tiling is not None and "input" not in data:
                data["input"] = "tiles" if tiling else "stretched"
        if "model_path" in data:
            data.setdefault("model", data.pop("model_path"))
        if "backend" in data:
            data.setdefault("family", data.pop("backend"))
        return data


class GeneralSettings(StrictModel):
    """5.3.4 General settings."""

    recognition_scheme: RecognitionScheme = RecognitionScheme.algorithm_2
    position: PositionRule | None = Field(
        None, description="automatic = the feet for cameras on a wall, the box centre for "
        "ceiling cameras"
    )
    location_push_enabled: bool = False
    location_push_port: int = Field(8600, ge=1, le=65535)
    retransmission_enabled: bool = True
    retransmission_interval_s: int = Field(
        600, ge=30, le=1200, description="LoRaWAN: least gap between two stored (history) uplinks"
    )
    power_line_frequency: PowerLineFrequency = PowerLineFrequency.hz50
    wide_dynamic_range: bool = False


class SecurityQuestion(StrictModel):
    question: str
    answer_hash: str = ""


class UserSettings(StrictModel):
    """G1/G2: the admin account (stored hashed, never in plain text)."""

    activated: bool = False
    password_hash: str = Field("", description="argon2 hash; export leaves it out")
    security_questions: Annotated[list[SecurityQuestion], Field(max_length=3)] = Field(
        default_factory=list
    )


class WebSettings(StrictModel):
    """Where the web GUI and REST API listen (G)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    secure_cookies: bool = Field(
        True, description="Secure session cookie (browsers allow it on localhost and HTTPS)"
    )
    metrics_token: SecretStr = Field(
        SecretStr(""), description="a bearer token for Prometheus scrapes of /metrics "
        "(empty: /metrics takes the admin session or an API token)",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, max_length=16,
        description="addresses (or networks, e.g. 10.0.0.0/24) of reverse proxies whose "
        "X-Forwarded-For names the client (for login throttling); empty = trust none",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network") from None
        return proxies


class HomeAssistantSettings(StrictModel):
    """Home Assistant MQTT discovery (opt-in): the counts as HA sensors."""

    enabled: bool = False
    host: str = Field("", description="the MQTT broker Home Assistant listens to")
    port: int = Field(1883, ge=1, le=65535)
    username: str = ""
    password: SecretStr = SecretStr("")
    prefix: str = Field("homeassistant", min_length=1, description="HA's discovery prefix")
    node_id: str = Field("", description="the device's id in topics; empty = from its name")
    off_delay_s: int = Field(30, ge=0, le=3600, description="a region's occupancy stays on "
                             "this long after the last person has left it")

    @model_validator(mode="after")
    def _needs_host(self) -> HomeAssistantSettings:
        if self.enabled and not self.host:
            raise ValueError("home_assistant needs the broker's host")
        return self


class RtspPacketMode(StrEnum):
    """The guide's "RTP packet": over the RTSP TCP connection, or over UDP."""

    compatibility = "compatibility"  # "better compatibility": RTP interleaved in RTSP/TCP
    performance = "performance"  # "better performance": RTP over UDP


class RtspSettings(StrictModel):
    """N1: the sensor's own stream, rtsp://HOST:PORT/main (Normal privacy mode only)."""

    enabled: bool = Field(False, description="serve the stream (in a site: at /<id> on the "
                          "site's RTSP port)")
    port: int = Field(554, ge=1, le=65535, description="below 1024 needs root or "
                      "CAP_NET_BIND_SERVICE; 8554 is the usual unprivileged choice")
    rtp_packet: RtspPacketMode = Field(
        RtspPacketMode.compatibility, description="compatibility = RTP over the RTSP TCP "
        "connection (through firewalls); performance = RTP over UDP")
    multicast_group: str = Field("", description="e.g. 239.255.1.1: clients may join it "
                                 "(UDP multicast); empty = unicast only")
    dscp: int = Field(0, ge=0, le=63, description="QoS DSCP of the stream's packets; 0 = none")
    bitrate_kbps: int = Field(2000, ge=100, le=20000, description="H.264 bitrate")
    overlays: bool = Field(False, description="also serve rtsp://HOST:PORT/overlay with the "
                           "regions, line and people drawn")

    @field_validator("multicast_group")
    @classmethod
    def _multicast(cls, group: str) -> str:
        if group:
            try:
                address = ipaddress.ip_address(group)
            except ValueError:
                raise ValueError(f"{group!r} is not an IP address") from None
            if not address.is_multicast:
                raise ValueError(f"{group} is not a multicast address (224.0.0.0/4, ff00::/8)")
        return group


class DigitalIO(StrictModel):
    """DI/DO: a software pin, or a Linux GPIO line where one exists."""

    backend: Literal["software", "gpio"] = "software"
    gpio_chip: str = "/dev/gpiochip0"
    di_line: int = Field(-1, ge=-1, description="GPIO line offset of DI; -1 = none")
    do_line: int = Field(-1, ge=-1, description="GPIO line offset of DO; -1 = none")


class LoraJoinType(StrEnum):
    otaa = "otaa"
    abp = "abp"


class LoRaWANSettings(StrictModel):
    """W3 LoRaWAN end device (guide 4.3.1 defaults)."""

    enabled: bool = False
    dev_eui: str = "24E124C0002A0000"
    app_eui: str = "24E124C0002A0001"
    join_type: LoraJoinType = LoraJoinType.otaa
    app_key: SecretStr = SecretStr("5572404C696E6B4C6F52613230313823")
    dev_addr: str = "00000000"
    nwk_s_key: SecretStr = SecretStr("5572404C696E6B4C6F52613230313823")
    app_s_key: SecretStr = SecretStr("5572404C696E6B4C6F52613230313823")
    confirmed: bool = False
    adr: bool = True
    rejoin: bool = Field(
        False, description="OTAA only: LinkCheckReq every 30 min; join again when unanswered"
    )
    rejoin_link_checks: int = Field(
        32, ge=1, le=255, description="link checks without an answer before joining again"
    )
    rx2_frequency_hz: int = Field(
        0, ge=0, le=1_000_000_000,
        description="the second receive window's frequency; 0 = the region's default"
    )
    rx2_data_rate: int | None = Field(
        None, ge=0, le=15,
        description="the second receive window's data rate (DR index); empty = the region's "
        "default"
    )
    application_port: int = Field(85, ge=1, le=223)
    spreading_factor: int = Field(10, ge=7, le=12)
    version: str = Field("1.0.3", pattern=r"^1\.0\.[23]$")
    region: Literal["EU868", "IN865", "US915", "AU915"] = "EU868"
    gateway_eui: str = "0000000000000000"
    server_host: str = "127.0.0.1"
    server_port: int = Field(1700, ge=1, le=65535)
    tx_power: int = Field(0, ge=0, le=15, description="TX power index of the region (0 = max)")
    report_with_timestamp: bool = Field(
        False, description="add the report's Unix time (channel 0f85) to each uplink"
    )
    channel_masks: Annotated[list[int], Field(min_length=6, max_length=6)] = Field(
        default_factory=lambda: [0xFFFF] * 6,
        description="the channels in use, one number per 16 channels (65535 = all 16 on; "
        "each bit a channel: bit i of the k-th number = channel 16k + i)",
    )

    @field_validator("channel_masks")
    @classmethod
    def _masks(cls, masks: list[int]) -> list[int]:
        if any(not 0 <= m <= 0xFFFF for m in masks):
            raise ValueError("each channel mask is 16 bits (0-65535)")
        return masks

    _dev_eui = field_validator("dev_eui", "app_eui", "gateway_eui")(
        classmethod(lambda cls, v: _hex_of(16)(v))
    )
    _dev_addr = field_validator("dev_addr")(classmethod(lambda cls, v: _hex_of(8)(v)))

    @model_validator(mode="before")
    @classmethod
    def _legacy_interval(cls, data: Any) -> Any:
        """0.2 had an unused ``reporting_interval_s`` here: the VS121's report
        intervals are the counting features' (``*.report.interval_s``)."""
        if isinstance(data, dict) and "reporting_interval_s" in data:
            data = {k: v for k, v in data.items() if k != "reporting_interval_s"}
        return data


class D2DSettings(StrictModel):
    """W4 D2D controller."""

    enabled: bool = False
    key: SecretStr = Field(
        SecretStr("5572404C696E6B4C6F52613230313823"),
        description="16 bytes, or 8 (Milesight's downlink sets 8; zero-padded for the MIC)",
    )
    occupied_enabled: bool = True
    occupied_command: str = "0000"
    vacant_enabled: bool = True
    vacant_command: str = "0001"
    vacant_delay_s: int = Field(60, ge=1, le=3600)
    udp_host: str = Field("255.255.255.255", description="where D2D frames go (UDP)")
    udp_port: int = Field(9696, ge=1, le=65535)

    _commands = field_validator("occupied_command", "vacant_command")(
        classmethod(lambda cls, v: _hex_of(4)(v))
    )

    @field_validator("key")
    @classmethod
    def _key(cls, key: SecretStr) -> SecretStr:
        value = key.get_secret_value()
        if value == "*" * 10:  # an export's placeholder: an import keeps the current key
            return key
        if len(value) not in (16, 32) or not _HEX.match(value):
            raise ValueError("the D2D key is 16 or 32 hexadecimal characters")
        return SecretStr(value.upper())

    @property
    def key_bytes(self) -> bytes:
        """The AES-128 key of the D2D MIC (an 8-byte key zero-padded)."""
        return bytes.fromhex(self.key.get_secret_value()).ljust(16, b"\0")
