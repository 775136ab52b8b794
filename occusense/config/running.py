"""The running sensor's configuration lives in its state directory.

``occusense run --config FILE`` seeds ``<state_dir>/config.yaml`` from FILE;
from then on the web GUI, the REST API and downlinks change the copy in the
state directory, never FILE (an installer's file keeps its comments and
stays as written). The copy remembers which FILE content it came from
(``config.seed``, a SHA-256) and FILE's settings as they were then
(``config.seed.json``): when FILE is edited, what it changed is merged into
the saved settings (``config.merge``): the GUI's changes to other settings
are kept, a setting both changed takes FILE's value and is named in the
log. Without the earlier settings (a state folder of an older version, or
"the file replaces everything" chosen on a site camera's File page), FILE's
settings replace the saved ones (the activated account is kept). While FILE
is unchanged, the sensor starts from what was saved.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from occusense.config.io import config_to_dict, load_config, parse_config, save_config
from occusense.config.merge import three_way
from occusense.config.model import DeviceConfig
from occusense.errors import ConfigError
from occusense.files import write_atomic

log = logging.getLogger(__name__)

RUNNING = "config.yaml"
SEED = "config.seed"
SEED_SETTINGS = "config.seed.json"  # the file's settings when last read (the merge's base)


def running_config(seed: DeviceConfig, seed_path: Path | None) -> tuple[DeviceConfig, Path]:
    """The configuration to run and the file where changes are saved."""
    state = Path(seed.state_dir)
    running, seed_file = state / RUNNING, state / SEED
    digest = hashlib.sha256(seed_path.read_bytes()).hexdigest() if seed_path else ""
    saved = _saved(running)
    known = seed_file.read_text().strip() if seed_file.exists() else None
    if saved is not None and known == digest:
        if seed_settings(state) is None:  # a state folder of an older version
            try:
                _remember_seed(state, seed)
            except OSError:  # a full disk or a read-only folder: merged from the next save
                pass
        return saved, running
    config = seed
    base = seed_settings(state) if known is not None else None
    if saved is not None and base is not None:
        config = _merged(seed, saved, base, seed_path) or _keep_account(seed, saved)
    elif saved is not None:
        if seed_path is not None:
            log.info("%s changed since the sensor last started from it: its settings replace "
                     "those saved in %s (the account is kept)", seed_path, running)
        config = _keep_account(seed, saved)
    try:
        save_config(config, running)
        write_atomic(seed_file, digest + "\n", private_folder=True)
        _remember_seed(state, seed)
    except OSError as exc:  # a full disk: run it, save it with the next change
        log.error("the configuration cannot be saved in %s (%s): running it from memory",
                  state, exc.strerror or exc)
    return config, running


def seed_settings(state_dir: str | Path) -> dict[str, Any] | None:
    """The configuration file's settings as they were when last read, or None."""
    try:
        data = json.loads((Path(state_dir) / SEED_SETTINGS).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _remember_seed(state: Path, seed: DeviceConfig) -> None:
    write_atomic(state / SEED_SETTINGS, json.dumps(config_to_dict(seed, include_secrets=True)),
                 private_folder=True)


def forget_seed_settings(state_dir: str | Path) -> None:
    """The next edit of the file replaces the saved settings instead of
    merging into them ("the file replaces everything")."""
    (Path(state_dir) / SEED_SETTINGS).unlink(missing_ok=True)


def _merged(seed: DeviceConfig, saved: DeviceConfig, base: dict[str, Any],
            seed_path: Path | None) -> DeviceConfig | None:
    """The file's changes since ``base`` merged into the saved settings; None
    when the result does not validate (the file's settings then replace them)."""
    merged = three_way(base, config_to_dict(seed, include_secrets=True),
                       config_to_dict(saved, include_secrets=True))
    if saved.users.activated:  # P5: only a factory reset changes the privacy mode
        merged.data["privacy_mode"] = saved.privacy_mode.value
    try:
        config = parse_config(merged.data, "the merged settings")
    except ConfigError as exc:
        log.warning("%s changed, and its changes do not combine with those made in the GUI "
                    "(%s): its settings replace them", seed_path, exc)
        return None
    kept = [k for k in merged.kept if not k.startswith("users.")]
    log.info("%s changed since the sensor last started from it: %d of its settings applied; "
             "%d changed in the GUI kept%s", seed_path, len(merged.from_file), len(kept),
             f" ({', '.join(kept[:8])}{', ...' if len(kept) > 8 else ''})" if kept else "")
    if merged.conflicts:
        log.warning("%s and the GUI both changed %s: the file's value is used", seed_path,
                    ", ".join(merged.conflicts))
    return config


def _saved(path: Path) -> DeviceConfig | None:
    if not path.exists():
        return None
    try:
        return load_config(path)
    except ConfigError as exc:
        log.error("the saved configuration is unreadable (%s): starting from the seed", exc)
        return None


def _keep_account(seed: DeviceConfig, saved: DeviceConfig) -> DeviceConfig:
    """The seed's settings with the saved account and privacy mode (P5: only
    a factory reset changes it) when the seed has no account of its own."""
    if seed.users.activated or not saved.users.activated:
        return seed
    data = config_to_dict(seed, include_secrets=True)
    kept = config_to_dict(saved, include_secrets=True)
    data["users"], data["privacy_mode"] = kept["users"], kept["privacy_mode"]
    return parse_config(data, "the saved account")
