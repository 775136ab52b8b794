"""The device configuration: one typed model, its files and its errors."""

from occusense.config.io import config_to_dict, load_config, parse_config, save_config
from occusense.config.model import DeviceConfig

__all__ = ["DeviceConfig", "config_to_dict", "load_config", "parse_config", "save_config"]
