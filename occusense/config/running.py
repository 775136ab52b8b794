"""The running sensor's configuration lives in its state directory.

``occusense run --config FILE`` seeds ``<state_dir>/config.yaml`` from FILE;
from then on the web GUI, the REST API and downlinks change the copy in the
state directory, never FILE (an installer's file keeps its comments and
stays as written). The copy remembers which FILE content it came from
(``config.seed``, a SHA-256): when FILE is edited, its settings replace the
saved ones at the next start (the activated account is kept); while FILE is
unchanged, the sensor starts from what was saved.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from occusense.config.io import config_to_dict, load_config, parse_config, save_config
from occusense.config.model import DeviceConfig
from occusense.errors import ConfigError
from occusense.files import write_atomic

log = logging.getLogger(__name__)

RUNNING = "config.yaml"
SEED = "config.seed"


def running_config(seed: DeviceConfig, seed_path: Path | None) -> tuple[DeviceConfig, Path]:
    """The configuration to run and the file where changes are saved."""
    state = Path(seed.state_dir)
    running, seed_file = state / RUNNING, state / SEED
    digest = hashlib.sha256(seed_path.read_bytes()).hexdigest() if seed_path else ""
    saved = _saved(running)
    known = seed_file.read_text().strip() if seed_file.exists() else None
    if saved is not None and known == digest:
        return saved, running
    config = seed
    if saved is not None:
        if seed_path is not None:
            log.info("%s changed since the sensor last started from it: its settings replace "
                     "those saved in %s (the account is kept)", seed_path, running)
        config = _keep_account(seed, saved)
    try:
        save_config(config, running)
        write_atomic(seed_file, digest + "\n", private_folder=True)
    except OSError as exc:  # a full disk: run it, save it with the next change
        log.error("the configuration cannot be saved in %s (%s): running it from memory",
                  state, exc.strerror or exc)
    return config, running


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
