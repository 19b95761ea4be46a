"""Unreadable files: a :class:`DataError` that names the file, or a skip with a warning.

Datasets made of many independent files (image folders, paired / unpaired folders, the
CIFAR-10 JPEG copy) take ``skip_bad_files`` (``--set data.skip_bad_files=true``, CLI
``--skip-bad-files``): an unreadable file is then left out with one
:class:`SkippedFileWarning` naming it, a summary warning counts them, and the load still
fails when nothing readable remains. Single-file formats (MNIST's idx files, CIFAR-10's
pickled batches) cannot leave one image out; their errors say so
(:func:`cannot_skip`).
"""

from __future__ import annotations

import warnings

from ganforge.errors import DataError

#: How to skip, appended to the error of an unreadable file of a many-file dataset.
SKIP_HINT = (
    "or set data.skip_bad_files=true (CLI: --skip-bad-files) to leave unreadable files out "
    "with a warning"
)


class SkippedFileWarning(UserWarning):
    """An unreadable dataset file was left out because ``skip_bad_files`` is set."""


def cannot_skip(holds: str) -> str:
    """The sentence for single-file formats: skipping the file cannot help."""
    return (
        f"data.skip_bad_files cannot leave this file out: it is one container that holds {holds}."
    )


class BadFiles:
    """Collects the unreadable files of one load: raise at the first, or skip each.

    Args:
        dataset: the registry name, first word of every message.
        where: the folder or zip read (for the summary).
        skip: ``skip_bad_files``.
        unit: what one file stands for in the summary ("image", "pair").
    """

    def __init__(self, dataset: str, where: str, skip: bool, unit: str = "image") -> None:
        self.dataset, self.where, self.skip, self.unit = dataset, where, skip, unit
        self.skipped: list[str] = []
        self.first_problem = ""

    def bad(
        self, member: str, shown: str, verb: str, detail: str, fix: str, also: str = ""
    ) -> None:
        """File ``member`` (named ``shown`` to the user) is unreadable: raise or record it.

        The error reads "<dataset>: <verb> <shown> (<detail>). <fix>, or set
        data.skip_bad_files=true ..."; ``fix`` is a sentence without its final period.
        ``also``: what else is left out when skipping (the other file of a pair).
        """
        if not self.skip:
            raise DataError(f"{self.dataset}: {verb} {shown} ({detail}). {fix}, {SKIP_HINT}.")
        if not self.skipped:
            self.first_problem = f"{verb} {shown} ({detail})"
        self.skipped.append(member)
        warnings.warn(
            f"{self.dataset}: skipped {shown}: {verb} it ({detail}){also}.",
            SkippedFileWarning,
            stacklevel=3,
        )

    def finish(self, total: int, kept: int) -> None:
        """Warn how many were skipped; raise when none of ``total`` could be read."""
        if not self.skipped:
            return
        if kept == 0:
            raise DataError(
                f"{self.dataset}: none of the {total} {self.unit}(s) in {self.where} could be "
                f"read (data.skip_bad_files left out all {len(self.skipped)}); the first: "
                f"{self.first_problem}. Check that the files are images that open in an image "
                f"viewer, and that data.path / data.root points at the right folder."
            )
        warnings.warn(
            f"{self.dataset}: skipped {len(self.skipped)} unreadable file(s) in {self.where} "
            f"(data.skip_bad_files); loaded {kept} of {total} {self.unit}(s).",
            SkippedFileWarning,
            stacklevel=3,
        )
