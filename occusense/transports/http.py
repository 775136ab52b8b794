"""HTTP(S) report recipients (SPEC T1) on httpx.

A report is delivered when the server answers 2xx; anything else — refused
connection, TLS failure, timeout, 4xx/5xx — raises :class:`TransportError`
naming the URL (without its password) and what failed. TLS is verified by
default, against the system CAs or a custom CA file.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit, urlunsplit

import httpx

from occusense.config.reporting import HttpRecipient
from occusense.errors import TransportError
from occusense.transports import TEST_TIMEOUT_S


def redact(url: str) -> str:
    """The URL without user name or password, for logs and errors."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


class HttpSender:
    """POSTs JSON reports to one URL.

    Args:
        settings: URL, basic auth, TLS verification, CA file, timeout.
    """

    kind = "http"

    def __init__(self, settings: HttpRecipient) -> None:
        self.settings = settings
        self.name = redact(settings.url)
        verify: bool | ssl.SSLContext = settings.verify_tls
        if settings.verify_tls and settings.ca_file:
            verify = ssl.create_default_context(cafile=settings.ca_file)
        auth = None
        if settings.username:
            auth = httpx.BasicAuth(settings.username, settings.password.get_secret_value())
        self._client = httpx.Client(verify=verify, auth=auth, timeout=settings.timeout_s)
        self.connected: bool | None = None
        self.last_error = ""

    def deliver(self, body: str, timeout_s: float | None = None) -> None:
        try:
            response = self._client.post(
                self.settings.url,
                content=body.encode(),
                headers={"Content-Type": "application/json"},
                timeout=timeout_s or self.settings.timeout_s,
            )
        except httpx.HTTPError as exc:
            self._failed(_reason(exc))
        if not 200 <= response.status_code < 300:
            self._failed(f"HTTP {response.status_code} {response.reason_phrase}")
        self.connected, self.last_error = True, ""

    def _failed(self, reason: str):
        self.connected, self.last_error = False, reason
        raise TransportError(f"{self.name}: {reason}")

    def test(self) -> str:
        """The connection test: POST a small test report, say what happened."""
        self.deliver('{"event": "Connection Test", "device_info": {}}',
                     timeout_s=min(TEST_TIMEOUT_S, self.settings.timeout_s))
        return f"{self.name}: OK"

    def close(self) -> None:
        self._client.close()


def _reason(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return f"TLS certificate not trusted ({text})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({text})"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return text
