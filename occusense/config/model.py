"""The one typed device configuration.

Every setting of SPEC.md lives here with the guide's default and range; the
CLI, the web GUI, the REST API, export/import and LoRaWAN downlinks all read
and write this object, so validation happens in one place.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from occusense.config.base import StrictModel
from occusense.config.device import (
    D2DSettings,
    DetectorSettings,
    DeviceInfo,
    DigitalIO,
    GeneralSettings,
    HomeAssistantSettings,
    LoRaWANSettings,
    Mount,
    MountSettings,
    PositionRule,
    PrivacyMode,
    RtspSettings,
    TimeSettings,
    UserSettings,
    WebSettings,
)
from occusense.config.features import (
    LineCrossing,
    PeopleFlow,
    PrivacyMasks,
    RegionCounting,
    SensorSpace,
)
from occusense.config.reporting import RecipientsFrom, ReportSettings

# the features whose reports have recipients (FEATURE_SETTINGS' sections)
RECIPIENT_SECTIONS = ("region_counting", "line_crossing", "people_flow")


class SourceSettings(StrictModel):
    """P1: where frames come from (a CLI ``--source`` overrides it)."""

    uri: str = Field("", description="file, image folder, webcam index, rtsp:// or http:// URL")
    realtime: bool | None = Field(
        None, description="play files at their own frame rate; automatic = only live cameras"
    )
    reconnect_max_s: float = Field(30.0, ge=1.0, le=3600.0)


class OutputSettings(StrictModel):
    """Where reports go besides their transports: the console and a JSONL file."""

    console: bool = True
    jsonl_path: str = Field("occusense-reports.jsonl", description="empty = no file")


class HistorySettings(StrictModel):
    """X7: the history store, every report and the counts minute by minute
    (``occusense/history``); a change applies at the next start."""

    enabled: bool = True
    url: SecretStr = Field(
        SecretStr(""), description="empty = SQLite in the state directory (history.sqlite); "
        "postgresql://user:password@host/db = one database for a site's cameras",
        # answered masked (**********), which a change may send back to keep it
        json_schema_extra={"pattern": r"^(\*{10}|((postgresql|postgresql\+psycopg)://|sqlite:///)"
                                      r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*|)$"},
    )
    retention_days: int = Field(400, ge=1, le=3650, description="older data is dropped")
    max_mb: int = Field(1024, ge=16, le=1_000_000,
                        description="SQLite: the oldest days go past this size")

    @field_validator("url")
    @classmethod
    def _database(cls, url: SecretStr) -> SecretStr:
        text = url.get_secret_value()
        if text and not text.startswith(("postgresql://", "postgresql+psycopg://",
                                         "sqlite:///")):
            raise ValueError("a postgresql://user:password@host/database URL, or empty for "
                             "SQLite in the state directory")
        return url


class DeviceConfig(StrictModel):
    """The whole sensor configuration."""

    version: int = Field(1, description="config file format version")
    state_dir: str = Field(
        ".occusense",
        description="the sensor's own files: retransmission store, software DI/DO pins",
    )
    device: DeviceInfo = Field(default_factory=DeviceInfo)
    time: TimeSettings = Field(default_factory=TimeSettings)
    privacy_mode: PrivacyMode = PrivacyMode.normal
    source: SourceSettings = Field(default_factory=SourceSettings)
    detector: DetectorSettings = Field(default_factory=DetectorSettings)
    general: GeneralSettings = Field(default_factory=GeneralSettings)
    mounting: MountSettings = Field(default_factory=MountSettings)
    region_counting: RegionCounting = Field(default_factory=RegionCounting)
    line_crossing: LineCrossing = Field(default_factory=LineCrossing)
    people_flow: PeopleFlow = Field(default_factory=PeopleFlow)
    space: SensorSpace = Field(default_factory=SensorSpace)
    privacy_masks: PrivacyMasks = Field(default_factory=PrivacyMasks)
    output: OutputSettings = Field(default_factory=OutputSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    users: UserSettings = Field(default_factory=UserSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    rtsp: RtspSettings = Field(default_factory=RtspSettings)
    digital_io: DigitalIO = Field(default_factory=DigitalIO)
    lorawan: LoRaWANSettings = Field(default_factory=LoRaWANSettings)
    d2d: D2DSettings = Field(default_factory=D2DSettings)
    home_assistant: HomeAssistantSettings = Field(default_factory=HomeAssistantSettings)

    @model_validator(mode="after")
    def _shared_recipients(self) -> DeviceConfig:
        """A feature that takes another's recipients points at one with its own."""
        for section in RECIPIENT_SECTIONS:
            target = getattr(self, section).report.same_as
            if target is RecipientsFrom.own:
                continue
            if target.value == section:
                raise ValueError(f"{section}.report.same_as: a feature cannot take its "
                                 "recipients from itself; choose own")
            further = getattr(self, target.value).report.same_as
            if further is not RecipientsFrom.own:
                raise ValueError(f"{section}.report.same_as: {target.value} takes its "
                                 f"recipients from {further.value}; choose {further.value}")
        return self

    def recipients_of(self, section: str) -> ReportSettings:
        """The report settings whose protocol, MQTT and HTTP recipients
        ``section``'s reports go to (its own, or those it shares)."""
        report: ReportSettings = getattr(self, section).report
        if report.same_as is RecipientsFrom.own:
            return report
        shared: ReportSettings = getattr(self, report.same_as.value).report
        return shared

    @property
    def uses_box_centre(self) -> bool:
        """SPEC L1: a person's point is the box centre for ceiling cameras
        (unless set explicitly), the bottom-centre (feet) otherwise."""
        position = self.general.position
        if position is None:
            return self.mounting.mount is Mount.ceiling
        return position is PositionRule.centre
