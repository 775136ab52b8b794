"""Report timing and recipients of one feature (SPEC E2, E3, E5, T1, T2)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, SecretStr, field_validator

from occusense.config.base import StrictModel

MIN_INTERVAL_S = 5
MAX_INTERVAL_S = 86400


class PeriodicScheme(StrEnum):
    """E2: "From Now On" counts intervals from start; "On the Dot" aligns to the clock."""

    from_now_on = "from_now_on"
    on_the_dot = "on_the_dot"


class ResultMode(StrEnum):
    """E3: report on a zero/non-zero change, or on every change."""

    zero_nonzero = "zero_nonzero"
    every_change = "every_change"


class Protocol(StrEnum):
    mqtt = "mqtt"
    mqtts = "mqtts"
    http = "http"
    console = "console"


class CertificateType(StrEnum):
    ca_signed = "ca_signed"
    self_signed = "self_signed"


class HttpRecipient(StrictModel):
    """One of the three HTTP(S) notification URLs (T1)."""

    enabled: bool = False
    url: str = Field("", description="http:// or https:// URL the reports are POSTed to")
    username: str = ""
    password: SecretStr = SecretStr("")
    snapshot: bool = Field(False, description="attach a base64 JPEG (Normal mode only)")
    verify_tls: bool = True
    ca_file: str = Field("", description="PEM CA bundle for a private CA; empty = system")
    timeout_s: float = Field(10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("URL must start with http:// or https://")
        return url


def _three_urls() -> list[HttpRecipient]:
    return [HttpRecipient(), HttpRecipient(), HttpRecipient()]


class MqttSettings(StrictModel):
    """An MQTT(S) broker and topic (T2)."""

    host: str = ""
    port: int = Field(1883, ge=1, le=65535)
    client_id: str = ""
    username: str = ""
    password: SecretStr = SecretStr("")
    topic: str = Field("occusense/reports", min_length=1)
    qos: int = Field(0, ge=0, le=2)
    status_topic: str = Field(
        "", description="retained online / camera lost / offline (the last will); "
                        "empty = <topic>/status")
    certificate_type: CertificateType = CertificateType.ca_signed
    ca_file: str = ""
    client_cert_file: str = ""
    client_key_file: str = ""
    keepalive_s: int = Field(60, ge=5, le=3600)


class RecipientsFrom(StrEnum):
    """Whose recipients a feature's reports go to: its own, or another feature's
    (set once there, used by each feature that points at it)."""

    own = "own"
    region_counting = "region_counting"
    line_crossing = "line_crossing"
    people_flow = "people_flow"


class ReportSettings(StrictModel):
    """When a feature reports and where to (E2, E3, E5)."""

    periodic_enabled: bool = True
    periodic_scheme: PeriodicScheme = PeriodicScheme.from_now_on
    interval_s: int = Field(300, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)
    report_by_result: bool = False
    result_mode: ResultMode = ResultMode.every_change
    trigger_enabled: bool = True
    same_as: RecipientsFrom = Field(
        RecipientsFrom.own, description="own = the protocol, MQTT and HTTP settings below; or "
        "the recipients of another feature, set once there")
    protocol: Protocol = Protocol.console
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    http: Annotated[list[HttpRecipient], Field(min_length=3, max_length=3)] = Field(
        default_factory=_three_urls
    )
