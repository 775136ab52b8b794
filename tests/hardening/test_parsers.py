"""Issue 16: downlinks, LoRaWAN history records, MOT files and command-line
arguments refuse bad input with one clear error (each reproduction of the
issue raised TypeError, struct.error or a NumPy traceback before)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from occusense.errors import OccusenseError
from occusense.evaluation.mot import load_mot
from occusense.reports import downlink, lorawan
from occusense.reports.downlink import DownlinkError

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "occusense.cli", *args], capture_output=True,
                          text=True, check=False, cwd=REPO, timeout=120)


@pytest.mark.parametrize("commands", [5, "adr_enable", None, 1.5, True])
def test_encode_refuses_a_top_level_that_is_not_an_object_or_list(commands):
    with pytest.raises(DownlinkError, match="expected a command object or a list of them"):
        downlink.encode(commands)


@pytest.mark.parametrize("value", [{"a": 1}, ["once_result_change"], 1])
def test_encode_refuses_an_object_or_list_where_a_choice_is_meant(value):
    with pytest.raises(DownlinkError, match="people_counting_report_mode: expected one of"):
        downlink.encode({"people_counting_report_mode": value})


def test_the_two_byte_report_interval_of_milesights_encoder_is_read_when_alone():
    assert downlink.decode(bytes.fromhex("ff032c01")) == [{"from_now_on_report_interval": 300}]
    assert downlink.decode(bytes.fromhex("ff032c0100")) == [{"from_now_on_report_interval": 300}]
    # what we write stays the guide's 3-byte form
    assert downlink.encode({"from_now_on_report_interval": 300}).hex() == "ff032c0100"


def test_the_two_byte_form_is_not_guessed_inside_a_longer_downlink():
    with pytest.raises(DownlinkError, match="from_now_on_report_interval at byte 0"):
        downlink.decode(bytes.fromhex("ff032c01ff4001"))


def test_cli_encode_downlink_names_the_problem():
    done = cli("lorawan", "encode-downlink", "5")
    assert done.returncode == 2
    assert "expected a command object or a list of them, got int" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("ts", [-1, 2**32, float("nan"), float("inf")])
def test_history_records_refuse_a_time_outside_four_bytes(ts):
    with pytest.raises(lorawan.CodecError, match="outside the 4-byte range"):
        lorawan.as_history(bytes.fromhex("04c901020304"), ts)


def test_history_records_take_the_last_four_byte_time():
    [record] = lorawan.as_history(bytes.fromhex("04c901020304"), 2**32 - 1)
    assert record[2:6] == b"\xff\xff\xff\xff"


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        ("1,1,1,1,1,1,1\ninf,1,1,1,1,1,1\n", "data row 2 has a value that is not a finite number"),
        ("0,1,1,1,1,1,1\n", "data row 1 has a frame number that is not a whole number"),
        ("1.5,1,1,1,1,1,1\n", "data row 1 has a frame number"),
        ("1,1,1,1,-4,1,1\n", "data row 1 has a negative width or height"),
        ("1,2,3\n", "MOT rows need at least 6 columns, got 3"),
        ("\xff\xfe", "not a MOT CSV file"),
    ],
)
def test_mot_files_name_their_first_bad_row(tmp_path, rows, says):
    path = tmp_path / "gt.txt"
    path.write_bytes(rows.encode("latin-1"))
    with pytest.raises(OccusenseError, match=says):
        load_mot(path)


def test_mot_rows_are_grouped_by_frame_in_file_order(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("2,7,0,0,1,1,1\n1,5,0,0,1,1,1\n2,3,0,0,1,1,1\n1,9,0,0,1,1,0\n")
    tracks = load_mot(path)
    assert tracks.at(2)[0].tolist() == [7, 3]
    assert tracks.at(1)[0].tolist() == [5]
    assert tracks.ignored_at(1).tolist() == [[0, 0, 1, 1]]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("run", "--start-time", "garbage"), "--start-time: expected an ISO date and time"),
        (("run", "--out", "/proc/none/r.jsonl"), "cannot write reports to /proc/none/r.jsonl"),
        (("eval", "--gt", "x", "--tracks", "x", "--line", "nan,1,2,3"),
         "--line: numbers separated by commas, got 'nan,1,2,3'"),
    ],
    ids=["start-time", "out", "line"],
)
def test_bad_command_line_arguments_are_named(tmp_path, args, says):
    if args[0] == "run":
        (tmp_path / "c.yaml").write_text(f"state_dir: {tmp_path / 'state'}\n")
        args = (*args, "--config", str(tmp_path / "c.yaml"), "--no-web", "--max-frames", "1")
    done = cli(*args)
    assert done.returncode == 2
    assert says in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------ fuzzing
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40) | st.sampled_from([b"\xff\x03", b"\xf9\x95", b"\xff\x10"]).flatmap(
    lambda head: st.binary(max_size=12).map(lambda tail: head + tail)))
def test_fuzz_downlink_bytes_decode_or_say_why(payload):
    try:
        commands = downlink.decode(payload)
    except DownlinkError:
        return
    assert downlink.decode(downlink.encode(commands)) == commands


names = st.sampled_from([c.name for c in downlink.COMMANDS])
values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 300) | st.text(max_size=6)
    | st.sampled_from(["enable", "disable", "yes", "no", "mon", "00ff", "on_the_dot"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["enable", "mode", "region", "time", "index", "command", "x"]), inner,
        max_size=4),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names, values, max_size=3) | st.lists(st.dictionaries(names, values),
                                                             max_size=3) | values)
def test_fuzz_command_objects_encode_or_say_why(commands):
    try:
        downlink.encode(commands)
    except DownlinkError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_fuzz_uplinks_decode_or_say_why(payload):
    try:
        lorawan.decode(payload)
    except lorawan.CodecError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["1", "0", "-1", "2.5", "nan", "inf", "1e30", "x", ""]),
                         min_size=1, max_size=9).map(",".join), max_size=6).map("\n".join))
def test_fuzz_mot_files_load_or_say_why(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("mot") / "gt.txt"
    path.write_text(text)
    try:
        load_mot(path)
    except OccusenseError:
        pass
