"""Settings: one pydantic-settings object; the defaults are a zero-setup single machine.

Every field can be set from the environment with the ``PRIVATETRADE_`` prefix, e.g.
``PRIVATETRADE_DATA_DIR=/srv/privatetrade``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_data_dir"]


def default_data_dir() -> Path:
    """Return ``~/.privatetrade``, the data directory when none is configured."""
    return Path.home() / ".privatetrade"


class Settings(BaseSettings):
    """Configuration of privatetrade.

    Attributes:
        data_dir: Where bars (Parquet), the symbol catalog and (later) the database live.
    """

    model_config = SettingsConfigDict(env_prefix="PRIVATETRADE_", extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)
