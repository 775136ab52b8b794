"""Issue 29: overcrowding and stays that last too long as events for
automations, on their own MQTT topic (``<topic>/events``) with their own
event names, so that the VS121-P reports stay as they are."""

from __future__ import annotations

import time

import numpy as np

from occusense.analytics.dwell import DwellTimer
from occusense.config import load_config
from occusense.runner import SensorRunner
from occusense.sources import open_source
from occusense.transports.local import JsonlSink
from occusense.web.state import SensorState
from tests.conftest import REPO, SAMPLE_VIDEO, check_shapes
from tests.transports.conftest import Subscriber, broker, ca, wait_for  # noqa: F401 - fixtures


def test_a_long_stay_is_told_once_while_it_goes_on():
    timer = DwellTimer(regions=1, min_dwell_s=1, debounce_s=1, long_stay_s=3)
    inside, told = np.array([[True]]), []
    for t in range(8):
        timer.update(float(t), np.array([7]), inside)
        told += timer.long_stays()
    assert [(p, r, s) for p, r, s, _ in told] == [(7, 1, 0.0)]  # once, at 3 s
    timer.update(10.0, np.zeros(0, int), np.zeros((0, 1), bool))  # gone: the stay ends
    for t in range(11, 16):  # back later: a new stay, told again once it is long
        timer.update(float(t), np.array([7]), inside)
        told += timer.long_stays()
    assert len(told) == 2 and told[1][2] == 11.0


def test_overcrowding_and_long_stays_reach_their_own_topic(broker, tmp_path):  # noqa: F811
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir = str(tmp_path / "state")
    config.output.jsonl_path = ""
    config.detector.scene = "walkway"  # type: ignore[assignment]
    rc = config.region_counting
    rc.overcrowding.enabled, rc.overcrowding.threshold = True, 2
    rc.dwell.long_stay_s = 3
    rc.report.protocol = "mqtt"  # type: ignore[assignment]
    rc.report.mqtt.host, rc.report.mqtt.port = "127.0.0.1", broker.port
    rc.report.mqtt.topic = "site/lobby"
    events = Subscriber(broker.port, "site/lobby/events")
    reports = Subscriber(broker.port, "site/lobby", qos=1)  # another client id
    jsonl = tmp_path / "reports.jsonl"
    runner = SensorRunner(SensorState(config), open_source(str(SAMPLE_VIDEO), time.time()),
                          time.time(), [JsonlSink(jsonl)])
    try:
        runner.run(max_frames=250)
        assert wait_for(lambda: {"Overcrowding", "Long Stay"}
                        <= {m["event"] for m in events.messages}, timeout=20)
    finally:
        events.close()
        reports.close()
    crowded = [m for m in events.messages if m["event"] == "Overcrowding"]
    assert crowded[0]["state"] == "start" and crowded[0]["current_total"] > 2
    assert crowded[0]["threshold"] == 2 and crowded[0]["device_info"]["device_sn"]
    stay = next(m for m in events.messages if m["event"] == "Long Stay")
    assert stay["duration_s"] >= 3 and stay["region"] in (1, 2) and stay["stay_start_time"]
    # the VS121-P reports go on as before: no event on their topic or in their file
    assert reports.messages and all(m["event"].startswith(("Region", "Dwell"))
                                    for m in reports.messages)
    assert check_shapes(jsonl).returncode == 0


def test_the_longest_stay_going_on_in_each_region():
    timer = DwellTimer(regions=2, min_dwell_s=1, debounce_s=1)
    for t in range(5):
        timer.update(float(t), np.array([1, 2]), np.array([[True, False], [True, False]]))
    timer.update(5.0, np.array([3]), np.array([[False, True]]))
    assert timer.longest_now() == [4.0, 0.0]  # region 2's stay has just begun


def test_events_reach_http_recipients_with_their_own_names():
    from occusense.config import parse_config
    from occusense.reports.reporter import Report
    from occusense.transports.dispatcher import Dispatcher
    from tests.transports.conftest import Receiver

    receiver = Receiver()
    config = parse_config({"region_counting": {
        "overcrowding": {"enabled": True},
        "report": {"protocol": "http", "http": [{"enabled": True, "url": receiver.url}, {}, {}]}}})
    dispatcher = Dispatcher(config)
    try:
        dispatcher.send(Report("region", {"event": "Region People Counting"}))
        dispatcher.send(Report("region", {"event": "Overcrowding", "state": "start"}, "event"))
        assert wait_for(lambda: len(receiver.bodies) == 2)
        assert [b["event"] for b in receiver.bodies] == ["Region People Counting",
                                                         "Overcrowding"]
    finally:
        dispatcher.close()
        receiver.stop()
