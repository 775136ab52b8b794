"""VS121 downlink commands applied to the configuration (SPEC W2).

:func:`apply` decodes a downlink (``reports.downlink``), applies every
command to a copy of the configuration and validates the result with the one
config model before anything changes, so a malformed, unknown or
out-of-range command rejects the whole downlink with its reason and never
half-applies.

How the commands map (the last command of a downlink wins):

* The report commands of Milesight's newer firmware that speak of "region /
  line crossing / people flow counting" (``from_now_on_report_interval``,
  ``on_the_dot_report_interval``, ``periodic_report_scheme``,
  ``periodic_report_enable``, ``work_schedule``) change all three features;
  the guide's ``ff43/44/45`` and the trigger switches change region counting;
  ``time_schedule`` and ``time_schedule_config`` name their feature.
* One dwell setting covers every region (``region_dwell_config`` changes it
  for all, with a note); D2D conditions are on the total count, so the D2D
  condition commands take region 1 only; one reset schedule (every day or
  one weekday) is kept, as the VS121-P guide has it.
* ``clear_cumulative_count`` / ``clear_all_cumulative_count`` and ``reboot``
  restart the pipeline: its counters start again from zero.
* What a software sensor has no hardware for (Wi-Fi, LED, the device clock
  and its numeric time zone, detection duration, obstacle masks) is accepted
  and logged as not applicable, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from occusense.config import DeviceConfig, config_to_dict, parse_config
from occusense.errors import ConfigError, OccusenseError
from occusense.reports.downlink import (
    ON_THE_DOT_INTERVALS,
    ON_THE_DOT_SECONDS,
    DownlinkError,
    decode,
)
from occusense.transports.lorawan.mac import plan_for

FEATURES = ("region_counting", "line_crossing", "people_flow")
FEATURE_OF = {
    "region_people_counting": "region_counting",
    "line_crossing_counting": "line_crossing",
    "people_flow_analysis": "people_flow",
}
DAY_NAMES = {
    "sun": "sunday", "mon": "monday", "tue": "tuesday", "wed": "wednesday",
    "thu": "thursday", "fri": "friday", "sat": "saturday",
}
RESULT_MODE = {"zero_to_nonzero": "zero_nonzero", "once_result_change": "every_change"}
NOT_APPLICABLE = {
    "wifi_enable": "Wi-Fi does not apply to occusense (no access point)",
    "led_indicator_enable": "occusense has no LED indicator",
    "device_time": "occusense uses the host clock (keep it NTP-synchronised)",
    "time_config": "occusense uses the host clock (keep it NTP-synchronised)",
    "time_zone": "set time.timezone (an IANA name) instead of Milesight's numeric zone",
    "detect_duration_mode": "detection runs on every analysed frame; no detection duration",
    "detect_duration": "detection runs on every analysed frame; no detection duration",
    "obstacle_mask_enable": "use privacy masks to hide areas from detection",
}


@dataclass
class Applied:
    """The result of a downlink: the new configuration and what to do now."""

    config: DeviceConfig
    commands: list[dict[str, Any]]
    reboot: bool = False  # restart the pipeline (reboot, cleared counters)
    rejoin: bool = False
    log_level: str | None = None
    notes: list[str] = field(default_factory=list)


def apply(config: DeviceConfig, payload: bytes) -> Applied:
    """Validate and apply a downlink; the input config is never modified."""
    commands = decode(payload)
    data = config_to_dict(config, include_secrets=True)
    result = Applied(config, commands)
    for command in commands:
        ((name, value),) = command.items()
        if name in NOT_APPLICABLE:
            result.notes.append(f"{name}: {NOT_APPLICABLE[name]}; ignored")
            continue
        try:
            HANDLERS[name](data, value, result)
        except OccusenseError as exc:
            raise DownlinkError(f"{name}: {exc}") from None
    try:
        result.config = parse_config(data, "downlink")
    except ConfigError as exc:
        raise DownlinkError(str(exc)) from None
    return result


Handler = Callable[[dict, Any, Applied], None]


def _set(*path: str, rejoin: bool = False) -> Handler:
    """Put the value (``enable`` -> True) at ``path`` of the config dict."""

    def handle(data: dict, value: Any, result: Applied) -> None:
        _put(data, path, _plain(value))
        result.rejoin |= rejoin

    return handle


def _every_feature(key: str, convert: Callable[[Any], Any] = lambda v: v) -> Handler:
    def handle(data: dict, value: Any, result: Applied) -> None:
        for feature in FEATURES:
            data[feature]["report"][key] = convert(_plain(value))

    return handle


def _plain(value: Any) -> Any:
    return {"enable": True, "disable": False, "yes": True, "no": False}.get(value, value) \
        if isinstance(value, str) else value


def _on(value: dict) -> bool:
    return bool(value["enable"] == "enable")


def _put(data: dict, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def _restart(data: dict, value: Any, result: Applied) -> None:
    result.reboot = True


def _report_interval(seconds: int, scheme: str, data: dict) -> None:
    for feature in FEATURES:
        data[feature]["report"].update(interval_s=seconds, periodic_scheme=scheme)


def _from_now_on(data: dict, value: int, result: Applied) -> None:
    _report_interval(value, "from_now_on", data)


def _on_the_dot(data: dict, value: str, result: Applied) -> None:
    _report_interval(ON_THE_DOT_SECONDS[ON_THE_DOT_INTERVALS.index(value)], "on_the_dot", data)


def _channel_mask(data: dict, value: dict, result: Applied) -> None:
    masks = list(data["lorawan"]["channel_masks"])
    masks[value["id"] - 1] = value["mask"]
    data["lorawan"]["channel_masks"] = masks
    result.rejoin = True


def _jitter(data: dict, value: dict, result: Applied) -> None:
    data["region_counting"]["debounce_s"] = float(value["time"]) if _on(value) else 0.0


def _rejoin(data: dict, value: dict, result: Applied) -> None:
    data["lorawan"].update(rejoin=_on(value), rejoin_link_checks=value["max_count"])


def _data_rate(data: dict, value: int, result: Applied) -> None:
    plan = plan_for(data["lorawan"]["region"])
    if value >= len(plan.data_rates) or plan.data_rates[value][1] != 125:
        raise DownlinkError(f"{plan.name} has no 125 kHz data rate DR{value}")
    data["lorawan"]["spreading_factor"] = plan.data_rates[value][0]
    result.rejoin = True


def _log_level(data: dict, value: str, result: Applied) -> None:
    result.log_level = value


def _version(data: dict, value: str, result: Applied) -> None:
    data["lorawan"]["version"] = value.removeprefix("v")
    result.rejoin = True


def _d2d_condition(state: str) -> Handler:
    def handle(data: dict, value: dict, result: Applied) -> None:
        if value["region"] != 1:
            raise DownlinkError("occusense's D2D conditions are on the total count: region 1 only")
        d2d = data["d2d"]
        d2d[f"{state}_enabled"] = _on(value)
        d2d[f"{state}_command"] = value["command"].upper()
        if "delay_time" in value:
            d2d["vacant_delay_s"] = value["delay_time"]

    return handle


def _dwell(data: dict, value: dict, result: Applied) -> None:
    dwell = data["region_counting"]["dwell"]
    dwell.update(enabled=_on(value), min_dwell_s=value["min_dwell_time"])


def _region_dwell(data: dict, value: dict, result: Applied) -> None:
    _dwell(data, value, result)
    result.notes.append(
        f"region_dwell_config: one dwell setting covers all regions; region {value['region']}'s "
        "applies to every region"
    )


def _max_dwell(data: dict, value: dict, result: Applied) -> None:
    on = _on(value)
    data["region_counting"]["dwell"]["max_dwell_s"] = value["max_dwell_time"] if on else 0


def _reset_schedule(data: dict, value: dict, result: Applied) -> None:
    reset = data["line_crossing"]["reset"]
    if value["mode"] == "delete":
        reset["enabled"] = False
        return
    if value["index"] != 1:
        raise DownlinkError("occusense keeps one reset schedule: index 1 only")
    days = [DAY_NAMES[d] for d, state in value["week_cycle"].items() if state == "enable"]
    if len(days) not in (1, 7):
        given = ", ".join(days) or "no day"
        raise DownlinkError(f"the reset runs every day or on one weekday; got {given}")
    hour, minute = divmod(value["time"], 60)
    reset.update(
        enabled=True, day=days[0] if len(days) == 1 else "everyday", hour=hour, minute=minute
    )


def _detect_region(data: dict, value: dict, result: Applied) -> None:
    rc = data["region_counting"]
    rc.update(
        customize_area=_on(value),
        area_mode={"mapped_region": "mapped", "unmapped_region": "non_mapped"}[
            value["detection_type"]
        ],
        reporting_type=value["reporting_type"],
    )


def _schedule_switch(data: dict, value: dict, result: Applied) -> None:
    """Off: the feature runs all day every day again (its periods are reset)."""
    if value["enable"] == "disable":
        data[FEATURE_OF[value["people_counting_type"]]]["schedule"] = {}


def _period(day: dict, value: dict, on: bool) -> None:
    """Set (or clear to the unused 00:00-00:00) period 1-3 of one day."""
    periods = list(day.get("periods", []))
    periods += [{"start": "00:00", "end": "00:00"}] * (3 - len(periods))
    end = f"{value['end_hour']:02d}:{value['end_minute']:02d}"
    span = {
        "start": f"{value['start_hour']:02d}:{value['start_minute']:02d}",
        # hours stop at 23 on the wire: 23:59 is the end of the day
        "end": "24:00" if end == "23:59" else end,
    }
    periods[value["period"] - 1] = span if on else {"start": "00:00", "end": "00:00"}
    day.update(enabled=True, periods=periods)


def _time_schedule(data: dict, value: dict, result: Applied) -> None:
    schedule = data[FEATURE_OF[value["people_counting_type"]]]["schedule"]
    _period(schedule[DAY_NAMES[value["weekday"]]], value, on=True)


def _work_schedule(data: dict, value: dict, result: Applied) -> None:
    for feature in FEATURES:
        day = data[feature]["schedule"][DAY_NAMES[value["weekday"]]]
        _period(day, value, on=_on(value))


def _trigger(data: dict, value: dict, result: Applied) -> None:
    report = data["region_counting"]["report"]
    report.update(report_by_result=_on(value), result_mode=RESULT_MODE[value["mode"]])


HANDLERS: dict[str, Handler] = {
    "from_now_on_report_interval": _from_now_on,
    "confirm_mode_enable": _set("lorawan", "confirmed"),
    "lora_channel_mask": _channel_mask,
    "reboot": _restart,
    "d2d_key": _set("d2d", "key"),
    "adr_enable": _set("lorawan", "adr"),
    "lora_port": _set("lorawan", "application_port", rejoin=True),
    "report_regularly_enable": _set("region_counting", "report", "periodic_enabled"),
    "people_count_change_report_enable": _set("region_counting", "report", "report_by_result"),
    "people_counting_report_mode": lambda d, v, r: _put(
        d, ("region_counting", "report", "result_mode"), RESULT_MODE[v]
    ),
    "people_count_jitter_config": _jitter,
    "line_detect_enable": _set("line_crossing", "enabled"),
    "region_people_counting_enable": _set("region_counting", "enabled"),
    "clear_cumulative_count": _restart,
    "retransmission_enable": _set("general", "retransmission_enabled"),
    "retransmission_interval": _set("general", "retransmission_interval_s"),
    "d2d_enable": _set("d2d", "enabled"),
    "periodic_report_scheme": _every_feature("periodic_scheme"),
    "on_the_dot_report_interval": _on_the_dot,
    "line_detect_report_enable": _set("line_crossing", "report", "periodic_enabled"),
    "rejoin_config": _rejoin,
    "data_rate": _data_rate,
    "tx_power_level": _set("lorawan", "tx_power"),
    "log_level": _log_level,
    "lorawan_version": _version,
    "rx2_data_rate": _set("lorawan", "rx2_data_rate", rejoin=True),
    "rx2_frequency": _set("lorawan", "rx2_frequency_hz", rejoin=True),
    "d2d_occupied_config": _d2d_condition("occupied"),
    "d2d_vacant_config": _d2d_condition("vacant"),
    "region_people_counting_dwell_config": _dwell,
    "report_with_timestamp": _set("lorawan", "report_with_timestamp"),
    "timed_reset_cumulative_enable": _set("line_crossing", "reset", "enabled"),
    "reset_cumulative_schedule": _reset_schedule,
    "detect_region_config": _detect_region,
    "time_schedule_config": _schedule_switch,
    "filter_u_turn_enable": _set("line_crossing", "uturn_filter"),
    "time_schedule": _time_schedule,
    "region_people_counting_max_dwell_config": _max_dwell,
    "privacy_mask_enable": _set("privacy_masks", "enabled"),
    "detect_region_enable": _set("region_counting", "customize_area"),
    "periodic_report_enable": _every_feature("periodic_enabled"),
    "trigger_report_config": _trigger,
    "region_dwell_config": _region_dwell,
    "work_schedule": _work_schedule,
    "clear_all_cumulative_count": _restart,
    "d2d_vacant_enable": _set("d2d", "vacant_enabled"),
    "d2d_occupied_enable": _set("d2d", "occupied_enabled"),
}
