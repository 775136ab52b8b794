"""Uplinks the network did not take, kept for a later ``20ce`` resend (T3 for
LoRaWAN).

With data retransmission on, a report whose uplink did not reach the network
server (no PUSH_ACK from it, no ACK of a confirmed uplink, not joined yet, or
still queued when the sensor stops) is stored as VS121 history records
(``reports.lorawan.as_history``: the report's own time, one record per
value). Once uplinks get through again, the stored records go up oldest
first, packed into uplinks of at most :data:`MAX_PAYLOAD` bytes, one every
``general.retransmission_interval_s`` so they do not crowd out live reports.

The store is a small JSON file in the state directory (written atomically,
0600). It is bounded: past :data:`LIMIT` records the oldest are dropped and
counted. An unreadable file is kept aside and a new one started, so a corrupt
store never stops the sensor.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from occusense.files import set_aside, write_atomic

log = logging.getLogger(__name__)

LIMIT = 2000
MAX_PAYLOAD = 51  # bytes: the smallest application payload of EU868/US915 at any DR


class HistoryStore:
    """Durable, ordered history records (bytes), shared by two threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.dropped = 0
        self._lock = threading.Lock()
        self._records = self._load()

    def _load(self) -> list[bytes]:
        try:
            return [bytes.fromhex(r) for r in json.loads(self.path.read_text())["records"]]
        except FileNotFoundError:
            return []
        except (ValueError, TypeError, KeyError) as exc:
            aside = set_aside(self.path)
            log.error("LoRaWAN history %s unreadable (%s): kept as %s, starting a new one",
                      self.path, exc, aside.name)
            return []

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def add(self, records: list[bytes]) -> None:
        with self._lock:
            self._records.extend(records)
            excess = len(self._records) - LIMIT
            if excess > 0:
                del self._records[:excess]
                self.dropped += excess
                log.warning("LoRaWAN history full: %d oldest record(s) dropped so far",
                            self.dropped)
            self._save()

    def batch(self, limit: int = MAX_PAYLOAD) -> list[bytes]:
        """The oldest records that fit one uplink of ``limit`` bytes."""
        out: list[bytes] = []
        size = 0
        with self._lock:
            for record in self._records:
                if size + len(record) > limit:
                    break
                out.append(record)
                size += len(record)
        return out

    def remove(self, count: int) -> None:
        """Forget the ``count`` oldest records (they were delivered)."""
        with self._lock:
            del self._records[:count]
            self._save()

    def _save(self) -> None:
        records = json.dumps({"records": [r.hex() for r in self._records]})
        write_atomic(self.path, records, private_folder=True)
