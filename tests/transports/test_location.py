"""T4 realtime location push: real TCP clients, a slow one never stalls."""

from __future__ import annotations

import json
import socket

from occusense.config import load_config
from occusense.pipeline import Pipeline, run_source
from occusense.sources import open_source
from occusense.transports.location import LocationServer
from tests.conftest import REPO
from tests.transports.conftest import wait_for


def test_clients_receive_every_tracked_person(sample_video) -> None:
    server = LocationServer(0, host="127.0.0.1")
    client = socket.create_connection(("127.0.0.1", server.port))
    assert wait_for(lambda: server.clients == 1)
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.output.jsonl_path = ""
    source = open_source(str(sample_video), start_ts=0.0)
    pipeline = Pipeline(config, source.width, source.height, source.fps, 0.0, location=server)
    run_source(pipeline, source, max_frames=30)
    client.settimeout(5)
    data = b""
    while data.count(b"\n") < 30:
        data += client.recv(65536)
    lines = [json.loads(line) for line in data.splitlines()[:30]]
    assert [line["frame"] for line in lines] == list(range(30))
    people = [p for line in lines for p in line["people"]]
    assert people and set(people[0]) == {"id", "box", "centre", "region"}
    assert any(p["region"] for p in people)  # someone stood in a mapped region
    x1, _y1, x2, y2 = people[0]["box"]
    assert x1 <= people[0]["centre"][0] <= x2 and y2 - 0.5 <= people[0]["centre"][1] <= y2 + 0.5
    client.close()
    server.close()


def test_a_client_that_never_reads_does_not_slow_the_push() -> None:
    server = LocationServer(0, host="127.0.0.1")
    stalled = socket.create_connection(("127.0.0.1", server.port))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader = socket.create_connection(("127.0.0.1", server.port))
    assert wait_for(lambda: server.clients == 2)
    line = json.dumps({"people": [{"id": 1, "box": [0, 0, 10, 10]}] * 50})
    for _ in range(5000):
        server.push(line)  # would block for good if it wrote to the stalled socket
    assert server.dropped > 0  # the stalled client lost its oldest lines instead
    reader.settimeout(5)
    got = reader.recv(65536)
    assert got.startswith(b'{"people"')
    stalled.close()
    reader.close()
    server.close()
