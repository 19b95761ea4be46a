"""ganforge: generative adversarial networks as small, tested, composable parts."""

from __future__ import annotations

__version__ = "0.1.0"
