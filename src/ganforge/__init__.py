"""ganforge: generative adversarial networks as small, tested, composable parts.

The Python API mirrors the command line::

    import ganforge
    run_dir = ganforge.train("gan-ring8", ["train.steps=2000"], seed=1)
    ganforge.resume(run_dir, steps=4000)
    x = ganforge.load(run_dir).sample(64, seed=0)
    cards = ganforge.evaluate(ganforge.load(run_dir), "ring8", ["fid", "mode-coverage"])
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {
    "train": "ganforge.engine.run",
    "resume": "ganforge.engine.run",
    "load": "ganforge.engine.run",
    "load_config": "ganforge.config",
    "evaluate": "ganforge.metrics.evaluate",
}


def __getattr__(name: str) -> Any:
    # Lazy: `import ganforge` stays cheap; the API pulls in torch only when used.
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'ganforge' has no attribute {name!r}")


__all__ = ["__version__", "evaluate", "load", "load_config", "resume", "train"]
