"""Penalties: regularisers that call the critic (one file per family)."""

from ganforge.penalties.base import Penalty

__all__ = ["Penalty"]
