"""The ``device_info`` object of every report, filled from config or the host."""

from __future__ import annotations

import socket
import uuid

from occusense.config.device import DeviceInfo


def host_mac() -> str:
    node = uuid.getnode()
    return ":".join(f"{(node >> s) & 0xFF:02X}" for s in range(40, -1, -8))


def host_ip() -> str:
    """This host's address by name resolution (no packet is sent)."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def device_info(info: DeviceInfo) -> dict[str, str]:
    mac = info.mac_address or host_mac()
    serial = info.serial_number or str(int(mac.replace(":", ""), 16) % 10**12).zfill(12)
    return {
        "device": info.name,
        "device_sn": serial,
        "device_mac": mac,
        "ip_address": info.ip_address or host_ip(),
    }
