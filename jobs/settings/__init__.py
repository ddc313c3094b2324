"""Configuration: one pydantic schema that is also the documentation.

``model`` declares every key with its type, default, description and example; ``load`` finds the
file, applies ``SUSDB_MAINT_<SECTION>_<KEY>`` overrides and reports every problem at once;
``render`` turns the schema into the commented example config and the README reference.
"""

from jobs.settings.load import load_settings, locate_config_file
from jobs.settings.model import Settings

__all__ = ["Settings", "load_settings", "locate_config_file"]
