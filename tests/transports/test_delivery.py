"""T1-T3 and E4-E5 against real mosquitto and real HTTP(S) servers."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import trustme

from occusense.config import parse_config
from occusense.reports.reporter import Report
from occusense.transports.dispatcher import Dispatcher
from occusense.transports.outbox import Outbox
from tests.transports.conftest import Receiver, Subscriber, free_port, wait_for


def report(n: int, feature: str = "line") -> Report:
    return Report(
        feature,
        {
            "event": "Line Crossing Counting",
            "report_type": "trigger",
            "line_trigger_data": {"in": 1, "out": 0},
            "n": n,
        },
    )


def mqtt_config(port: int, qos: int, protocol: str = "mqtt", **mqtt_extra) -> dict:
    return {
        "line_crossing": {
            "report": {
                "protocol": protocol,
                "mqtt": {
                    "host": "127.0.0.1",
                    "port": port,
                    "topic": "site/lobby/line",
                    "qos": qos,
                    **mqtt_extra,
                },
            }
        }
    }


def http_config(*urls: dict) -> dict:
    recipients = [{"enabled": True, **u} for u in urls]
    recipients += [{}] * (3 - len(recipients))
    return {"line_crossing": {"report": {"protocol": "http", "http": recipients}}}


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mqtt_delivers_in_order_to_a_real_subscriber(broker, qos) -> None:
    sub = Subscriber(broker.port, "site/lobby/line")
    dispatcher = Dispatcher(parse_config(mqtt_config(broker.port, qos)))
    for n in range(20):
        dispatcher.send(report(n))
    assert wait_for(lambda: len(sub.messages) == 20)
    assert [m["n"] for m in sub.messages] == list(range(20))
    assert dispatcher.status()[0].connected and dispatcher.status()[0].queued == 0
    dispatcher.close()
    sub.close()


def test_mqtts_with_own_ca_and_client_certificate(broker) -> None:
    sub = Subscriber(broker.port, "site/lobby/line")
    config = mqtt_config(
        broker.tls_port,
        1,
        "mqtts",
        certificate_type="self_signed",
        ca_file=str(broker.files["ca.pem"]),
        client_cert_file=str(broker.files["client.pem"]),
        client_key_file=str(broker.files["client.key"]),
    )
    dispatcher = Dispatcher(parse_config(config))
    dispatcher.send(report(1))
    assert wait_for(lambda: len(sub.messages) == 1)
    dispatcher.close()
    sub.close()


def test_mqtts_refuses_a_broker_signed_by_another_ca(broker, tmp_path) -> None:
    impostor = trustme.CA()  # a CA the sensor does not trust
    impostor.cert_pem.write_to_path(str(tmp_path / "other-ca.pem"))
    config = mqtt_config(
        broker.tls_port,
        1,
        "mqtts",
        certificate_type="self_signed",
        ca_file=str(tmp_path / "other-ca.pem"),
        client_cert_file=str(broker.files["client.pem"]),
        client_key_file=str(broker.files["client.key"]),
    )
    sub = Subscriber(broker.port, "site/lobby/line")
    dispatcher = Dispatcher(parse_config(config))
    dispatcher.send(report(1))
    assert not wait_for(lambda: len(sub.messages) > 0, timeout=3)
    status = dispatcher.status()[0]
    assert not status.connected and status.queued == 1
    dispatcher.close()
    sub.close()


def test_broker_down_then_back_loses_nothing(broker, tmp_path) -> None:
    dispatcher = Dispatcher(parse_config(mqtt_config(broker.port, 1)), tmp_path / "out.db")
    assert wait_for(lambda: dispatcher.status()[0].connected)
    broker.stop()
    assert wait_for(lambda: not dispatcher.status()[0].connected)
    for n in range(10):
        dispatcher.send(report(n))
    assert dispatcher.status()[0].queued == 10
    broker.start()
    sub = Subscriber(broker.port, "site/lobby/line")
    assert wait_for(lambda: len(sub.messages) == 10, timeout=60)
    assert [m["n"] for m in sub.messages] == list(range(10))
    dispatcher.close()
    sub.close()


def test_http_basic_auth_and_bodies() -> None:
    receiver = Receiver(auth=("sensor", "s3cret"))
    dispatcher = Dispatcher(
        parse_config(http_config({"url": receiver.url, "username": "sensor", "password": "s3cret"}))
    )
    for n in range(3):
        dispatcher.send(report(n))
    assert wait_for(lambda: len(receiver.bodies) == 3)
    assert [b["n"] for b in receiver.bodies] == [0, 1, 2]
    dispatcher.close()
    receiver.stop()


def test_http_wrong_password_keeps_the_report() -> None:
    receiver = Receiver(auth=("sensor", "s3cret"))
    dispatcher = Dispatcher(
        parse_config(http_config({"url": receiver.url, "username": "sensor", "password": "wrong"}))
    )
    dispatcher.send(report(1))
    assert wait_for(lambda: receiver.refused >= 1)
    status = dispatcher.status()[0]
    assert status.queued == 1 and "401" in status.last_error
    assert "wrong" not in status.last_error
    dispatcher.close()
    receiver.stop()


def test_https_with_custom_ca_and_refusal_without_it(ca, tmp_path) -> None:
    receiver = Receiver(tls=ca)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    trusted = Dispatcher(
        parse_config(http_config({"url": receiver.url, "ca_file": str(tmp_path / "ca.pem")}))
    )
    trusted.send(report(1))
    assert wait_for(lambda: len(receiver.bodies) == 1)
    trusted.close()
    untrusted = Dispatcher(parse_config(http_config({"url": receiver.url})))
    [(_, ok, message)] = untrusted.test()
    assert not ok and "certificate" in message.lower()
    untrusted.close()
    receiver.stop()


def test_receiver_down_then_up(tmp_path) -> None:
    port = free_port()
    dispatcher = Dispatcher(
        parse_config(http_config({"url": f"http://127.0.0.1:{port}/reports"})), tmp_path / "out.db"
    )
    for n in range(5):
        dispatcher.send(report(n))
    assert wait_for(lambda: dispatcher.status()[0].connected is False)
    receiver = Receiver(port=port)
    assert wait_for(lambda: len(receiver.bodies) == 5, timeout=60)
    assert [b["n"] for b in receiver.bodies] == list(range(5))
    dispatcher.close()
    receiver.stop()


def test_kill_9_with_reports_queued_loses_nothing(tmp_path) -> None:
    port = free_port()
    store = tmp_path / "out.db"
    script = textwrap.dedent(f"""
        import time
        from occusense.config import parse_config
        from occusense.reports.reporter import Report
        from occusense.transports.dispatcher import Dispatcher
        config = parse_config({http_config({"url": f"http://127.0.0.1:{port}/r"})!r})
        dispatcher = Dispatcher(config, {str(store)!r})
        for n in range(7):
            dispatcher.send(Report("line", {{"n": n}}))
        print("queued", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "queued"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    receiver = Receiver(port=port)
    dispatcher = Dispatcher(parse_config(http_config({"url": f"http://127.0.0.1:{port}/r"})), store)
    assert wait_for(lambda: len(receiver.bodies) == 7, timeout=30)
    assert [b["n"] for b in receiver.bodies] == list(range(7))
    dispatcher.close()
    receiver.stop()


def test_corrupt_store_is_kept_aside_and_a_new_one_starts(tmp_path) -> None:
    store = tmp_path / "out.db"
    store.write_bytes(b"this is not a database" * 100)
    outbox = Outbox(store)
    assert outbox.recovered_from is not None and outbox.recovered_from.exists()
    outbox.add("r", "{}")
    assert outbox.count() == 1
    outbox.close()


@pytest.mark.parametrize(
    ("per", "total", "adds", "left_a", "left_b"),
    [(5, 8, {"a": 7}, 5, 0), (5, 8, {"a": 5, "b": 5}, 3, 5)],
)
def test_store_limits_drop_the_oldest(tmp_path, per, total, adds, left_a, left_b) -> None:
    outbox = Outbox(tmp_path / "o.db", per_recipient=per, in_all=total)
    for name, count in adds.items():
        for n in range(count):
            outbox.add(name, f'{{"n": {n}}}')
    assert (outbox.count("a"), outbox.count("b")) == (left_a, left_b)
    oldest_a = outbox.oldest("a")
    if oldest_a:
        assert oldest_a[0][1] == f'{{"n": {adds["a"] - left_a}}}'
    outbox.close()


def test_default_limits_are_the_guides() -> None:
    outbox = Outbox(":memory:")
    assert (outbox.per_recipient, outbox.in_all) == (1000, 3000)


def test_snapshot_only_in_normal_mode_and_never_stored(tmp_path) -> None:
    receiver = Receiver()
    jpeg = base64.b64encode(b"\xff\xd8fake\xff\xd9").decode()
    for mode, expect in (("normal", True), ("blur", False)):
        config = parse_config(
            {"privacy_mode": mode} | http_config({"url": receiver.url, "snapshot": True})
        )
        dispatcher = Dispatcher(config, tmp_path / f"{mode}.db")
        assert dispatcher.wants_snapshot is expect
        dispatcher.send(report(1), jpeg if dispatcher.wants_snapshot else None)
        if expect:
            assert dispatcher.outbox.count() == 0  # in memory only
        assert wait_for(lambda: len(receiver.bodies) >= 1)
        body = receiver.bodies.pop()
        assert ("snapshot" in body) is expect
        dispatcher.close()
    receiver.stop()


def test_each_feature_goes_to_its_own_recipients(broker) -> None:
    receiver = Receiver()
    sub = Subscriber(broker.port, "site/#")
    config = parse_config(
        {
            "region_counting": {
                "report": {
                    "protocol": "http",
                    "http": [{"enabled": True, "url": receiver.url}, {}, {}],
                }
            },
            "line_crossing": {
                "report": {
                    "protocol": "mqtt",
                    "mqtt": {
                        "host": "127.0.0.1",
                        "port": broker.port,
                        "topic": "site/line",
                        "qos": 1,
                    },
                }
            },
            "people_flow": {
                "report": {
                    "protocol": "mqtt",
                    "mqtt": {
                        "host": "127.0.0.1",
                        "port": broker.port,
                        "topic": "site/flow",
                        "qos": 1,
                    },
                }
            },
        }
    )
    dispatcher = Dispatcher(config)
    dispatcher.send(Report("region", {"event": "Region People Counting"}))
    dispatcher.send(Report("line", {"event": "Line Crossing Counting"}))
    dispatcher.send(Report("flow", {"event": "People Flow Analysis"}))
    assert wait_for(lambda: len(sub.messages) == 2 and len(receiver.bodies) == 1)
    assert receiver.bodies[0]["event"] == "Region People Counting"
    assert {m["event"] for m in sub.messages} == {"Line Crossing Counting", "People Flow Analysis"}
    dispatcher.close()
    sub.close()
    receiver.stop()


def test_features_that_share_recipients_reach_them_over_one_connection(broker) -> None:
    """Issue 28 (4): the recipients set once (line crossing), used by the
    region and flow reports too."""
    sub = Subscriber(broker.port, "site/#")
    config = parse_config({
        "region_counting": {"report": {"same_as": "line_crossing"}},
        "people_flow": {"report": {"same_as": "line_crossing", "protocol": "http"}},
        **mqtt_config(broker.port, 1),
    })
    dispatcher = Dispatcher(config)
    assert len(dispatcher.connections) == 1  # one broker, one connection, one queue
    for feature in ("region", "line", "flow"):
        dispatcher.send(Report(feature, {"event": feature}))
    assert wait_for(lambda: len(sub.messages) == 3)
    assert sorted(m["event"] for m in sub.messages) == ["flow", "line", "region"]
    assert len(dispatcher.recipients()) == 1
    dispatcher.close()
    sub.close()


@pytest.mark.parametrize(("sections", "said"), [
    ({"line_crossing": {"report": {"same_as": "line_crossing"}}}, "from itself"),
    ({"line_crossing": {"report": {"same_as": "people_flow"}},
      "people_flow": {"report": {"same_as": "region_counting"}}},
     "people_flow takes its recipients from region_counting"),
])
def test_shared_recipients_point_at_a_feature_with_its_own(sections, said) -> None:
    from occusense.errors import ConfigError

    with pytest.raises(ConfigError, match=said):
        parse_config(sections)


@pytest.mark.timeout(15)  # one by one, with the delivery timeouts, it took over 20 s
def test_the_connection_test_names_refused_and_silent_recipients_at_once() -> None:
    from tests.hardening.test_state import SilentServer

    silent, closed = SilentServer(), free_port()
    config = parse_config({
        **http_config({"url": f"http://127.0.0.1:{silent.port}/a", "timeout_s": 60},
                      {"url": f"http://127.0.0.1:{closed}/b"}),
        "region_counting": {"report": {"protocol": "mqtt",
                                       "mqtt": {"host": "127.0.0.1", "port": closed}}},
    })
    dispatcher = Dispatcher(config)
    try:
        results = {name: (ok, message) for name, ok, message in dispatcher.test()}
    finally:
        dispatcher.close()
        silent.close()
    assert results[f"http://127.0.0.1:{silent.port}/a"] == (
        False, f"http://127.0.0.1:{silent.port}/a: timed out (ReadTimeout)")
    assert results[f"http://127.0.0.1:{closed}/b"][1].startswith(
        f"http://127.0.0.1:{closed}/b: cannot connect")
    mqtt_name = f"mqtt://127.0.0.1:{closed}/occusense/reports"
    assert results[mqtt_name] == (False, f"{mqtt_name}: cannot connect (Connection refused)")
