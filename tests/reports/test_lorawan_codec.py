"""W1: the guide's four uplink examples, byte for byte, and the decoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from occusense.analytics.line import LineTotals
from occusense.analytics.regions import RegionState
from occusense.reports import lorawan


def test_device_information_example() -> None:
    payload = lorawan.device_info("6600b0940976", (1, 0), (31, 7, 0, 75))
    assert payload.hex() == "ff0101ff086600b0940976ff090100ff1f1f07004b"
    assert lorawan.decode(payload) == {
        "protocol_version": 1,
        "sn": "6600b0940976",
        "hardware_version": "1.0",  # as Milesight's decoder gives it
        "firmware_version": "31.7.0.75",
    }


def test_occupancy_example() -> None:
    # 3 people, 8 regions, regions 1, 6 and 8 occupied; maximum 5
    occupancy = [1, 0, 0, 0, 0, 1, 0, 1]
    state = RegionState(3, (1, 0, 0, 0, 0, 1, 0, 1))
    payload = lorawan.periodic_uplink(state, 5, occupancy=True)
    assert payload.hex() == "04c9030800a1" + "06cd05"
    assert payload == lorawan.region_counter(3, 8, occupancy) + lorawan.max_counter(5)
    decoded = lorawan.decode(payload)
    assert decoded["people_count_all"] == 3 and decoded["region_count"] == 8
    assert [decoded[f"region_{i}"] for i in range(1, 9)] == occupancy
    assert decoded["people_count_max"] == 5


def test_region_people_counting_example() -> None:
    state = RegionState(4, (0, 1, 0, 0, 0, 0, 0, 3))
    payload = lorawan.periodic_uplink(state, 5, occupancy=False)
    assert payload.hex() == "07d50001000000000003" + "06cd05"
    decoded = lorawan.decode(payload)
    assert decoded["region_2_count"] == 1 and decoded["region_8_count"] == 3


def test_line_cross_example() -> None:
    payload = lorawan.line_counter(2, 1)
    assert payload.hex() == "05cc02000100"
    assert lorawan.decode(payload) == {"people_in": 2, "people_out": 1}


def test_newer_channels_round_trip() -> None:
    names = ["A", "B", "C", "D"]
    matrix = {f"{a}-{b}": i for i, (a, b) in enumerate((a, b) for a in names for b in names)}
    payload = (
        lorawan.region_counts(list(range(1, 11)))
        + lorawan.flow_matrix(matrix, names)
        + lorawan.total_counter(LineTotals(300, 299))
        + lorawan.dwell(2, 61.4, 900)
        + lorawan.timestamp(1_795_000_000)
    )
    decoded = lorawan.decode(payload)
    assert decoded["region_10_count"] == 10 and decoded["region_16_count"] == 0
    assert decoded["a_to_a"] == 0 and decoded["d_to_d"] == 15 and decoded["b_to_c"] == 6
    assert (decoded["people_total_in"], decoded["people_total_out"]) == (300, 299)
    assert (decoded["dwell_time_avg"], decoded["dwell_time_max"]) == (61, 900)
    assert decoded["timestamp"] == 1_795_000_000


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("04c90308", "needs 4 bytes"),
        ("04", "truncated"),
        ("abcd00", "unknown channel"),
        ("05cc0200010006", "truncated"),
    ],
)
def test_malformed_payloads_are_rejected(payload, message) -> None:
    with pytest.raises(lorawan.CodecError, match=message):
        lorawan.decode(bytes.fromhex(payload))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: lorawan.line_counter(70000, 0), "two bytes"),
        (lambda: lorawan.device_info("12345", (1, 0), (1, 0, 0, 0)), "12 hex digits"),
        (lambda: lorawan.region_counts([0] * 17), "at most 16"),
    ],
)
def test_out_of_range_values_are_refused(call, message) -> None:
    with pytest.raises(lorawan.CodecError, match=message):
        call()


@given(
    total=st.integers(0, 255),
    occupancy=st.lists(st.integers(0, 1), max_size=16),
    inward=st.integers(0, 65535),
    outward=st.integers(0, 65535),
    peak=st.integers(0, 255),
)
def test_encode_then_decode(total, occupancy, inward, outward, peak) -> None:
    payload = (
        lorawan.region_counter(total, len(occupancy), occupancy)
        + lorawan.line_counter(inward, outward)
        + lorawan.max_counter(peak)
    )
    decoded = lorawan.decode(payload)
    assert decoded["people_count_all"] == total
    assert [decoded[f"region_{i + 1}"] for i in range(len(occupancy))] == occupancy
    assert (decoded["people_in"], decoded["people_out"], decoded["people_count_max"]) == (
        inward,
        outward,
        peak,
    )
