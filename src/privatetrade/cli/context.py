"""The system the CLI commands work with: the same builder as the server's."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from privatetrade.system import System

__all__ = ["migrated_system", "system"]


@lru_cache(maxsize=1)
def system() -> System:
    """Build the system from the environment's settings (nothing is started)."""
    from privatetrade.settings import Settings
    from privatetrade.system import build_system

    return build_system(Settings())


def migrated_system() -> System:
    """The system, with its database migrated to the newest schema first."""
    from privatetrade.db import migrate

    built = system()
    migrate.upgrade(built.engine)
    return built
