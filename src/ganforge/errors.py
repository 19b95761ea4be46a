"""Errors that teach.

Every error a user can cause derives from :class:`GanforgeError`. Its message says
what was wrong and what to do; the CLI prints it without a traceback (``--debug``
shows one) and exits with a non-zero code.
"""

from __future__ import annotations


class GanforgeError(Exception):
    """A problem the user can fix. The message is shown as is, without traceback."""

    exit_code: int = 2


class ConfigError(GanforgeError):
    """A recipe, an override or a component spec is invalid."""


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup with a name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(GanforgeError):
    """A dataset is missing, unreadable, of the wrong shape or fails its checksum."""


class CheckpointError(GanforgeError):
    """A checkpoint is missing, truncated, edited or from an incompatible version."""


class TrainingDiverged(GanforgeError):
    """A loss or a weight became NaN or infinite; training stopped."""

    exit_code = 3


class RunLockedError(GanforgeError):
    """Another process is training into the same run dir."""


class DiskFullError(CheckpointError):
    """A write into the run dir failed for lack of space; the previous checkpoint is intact."""


class TrainingInterrupted(GanforgeError):
    """SIGINT or SIGTERM stopped training; a checkpoint of the last step was written."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum  # the shell's convention (130 for Ctrl-C, 143 TERM)
