"""Checkpoints: the full training state in one safetensors file, written atomically.

Format (version 1): a safetensors file whose tensors are every tensor of the state
tree (networks, EMA copies, optimizer moments, RNG states, ...) under flat keys, and
whose metadata holds

- ``ganforge.state``: the rest of the tree as JSON, tensors replaced by
  ``{"__tensor__": key}`` (so loading never unpickles anything);
- ``ganforge.format``: the format version;
- ``ganforge.sha256``: a digest of the JSON and of every tensor's bytes, so that a
  truncated or edited file is refused with a clear message instead of being trained on.

Saving goes temp file -> fsync -> ``os.replace`` -> ``latest`` pointer -> rotation: a
crash at any point leaves the previous checkpoint intact and pointed to.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from ganforge.errors import CheckpointError, DiskFullError
from ganforge.io import atomic_write_bytes, atomic_write_text, remove_stale_temps

FORMAT_VERSION = 1
CKPT_RE = re.compile(r"^step-(\d{8,})\.safetensors$")
LATEST = "latest"
# errno values that mean "the disk (or the user's quota) is full"
DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG})


# -- state tree <-> (tensors, JSON) -------------------------------------------------------
def flatten_state(tree: Any) -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested state (dicts, lists, tensors, numbers, strings) into flat tensors
    and a JSON-able skeleton. Dicts with non-string keys (optimizer states are keyed by
    parameter index) are stored as ``{"__items__": [[key, value], ...]}``."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(x: Any, key: str) -> Any:
        if isinstance(x, torch.Tensor):
            # clone: safetensors refuses tensors that share storage
            tensors[key] = x.detach().to("cpu", copy=True).contiguous()
            return {"__tensor__": key}
        if isinstance(x, dict):
            if all(isinstance(k, str) for k in x):
                return {k: walk(v, f"{key}/{k}") for k, v in x.items()}
            return {"__items__": [[k, walk(v, f"{key}/{k}")] for k, v in x.items()]}
        if isinstance(x, list | tuple):
            return [walk(v, f"{key}/{i}") for i, v in enumerate(x)]
        if x is None or isinstance(x, bool | int | float | str):
            return x
        raise TypeError(f"cannot checkpoint a {type(x).__name__} at {key!r}")

    return tensors, walk(tree, "s")


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(skeleton, dict):
        if set(skeleton) == {"__tensor__"}:
            return tensors[skeleton["__tensor__"]]
        if set(skeleton) == {"__items__"}:
            return {k: unflatten_state(v, tensors) for k, v in skeleton["__items__"]}
        return {k: unflatten_state(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    return skeleton


TRAINING_PARTS = ("nets", "ema", "optim", "rng", "sampler")


def state_differences(
    a: dict[str, Any], b: dict[str, Any], parts: tuple[str, ...] = TRAINING_PARTS
) -> list[str]:
    """The flat keys whose tensors differ (bitwise) between two states' ``parts``.

    Keys present in only one state count as different. An exact resume, and ranks of a
    data-parallel run before a checkpoint, must give an empty list.
    """
    ta, _ = flatten_state({k: a[k] for k in parts if k in a})
    tb, _ = flatten_state({k: b[k] for k in parts if k in b})
    diff = sorted(ta.keys() ^ tb.keys())
    diff += [k for k in ta.keys() & tb.keys() if not torch.equal(ta[k], tb[k])]
    return diff


def _digest(state_json: str, tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(state_json.encode("utf-8"))
    for key in sorted(tensors):
        t = tensors[key]
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def encode(state: dict[str, Any]) -> bytes:
    """Serialise a state tree to checkpoint bytes."""
    tensors, skeleton = flatten_state(state)
    state_json = json.dumps(skeleton, sort_keys=True)
    meta = {
        "ganforge.format": str(FORMAT_VERSION),
        "ganforge.state": state_json,
        "ganforge.sha256": _digest(state_json, tensors),
    }
    return safetensors.torch.save(tensors, metadata=meta)


def decode(data: bytes, source: str = "checkpoint") -> dict[str, Any]:
    """Checkpoint bytes -> state tree; raises CheckpointError on any damage."""
    what = f"{source} is damaged (truncated or edited)"
    fix = " Resume from another checkpoint (see `checkpoints/`) or retrain."
    try:
        tensors = safetensors.torch.load(data)
        meta = _read_meta(data)
    except Exception as e:
        raise CheckpointError(
            f"{what}: it is not a readable safetensors file ({e}).{fix}"
        ) from None
    if meta.get("ganforge.format") is None:
        raise CheckpointError(f"{source} is a safetensors file but not a ganforge checkpoint.")
    if meta["ganforge.format"] != str(FORMAT_VERSION):
        raise CheckpointError(
            f"{source} has checkpoint format {meta['ganforge.format']}, this ganforge reads "
            f"format {FORMAT_VERSION}. Use the ganforge version that wrote it."
        )
    state_json = meta.get("ganforge.state", "")
    if _digest(state_json, tensors) != meta.get("ganforge.sha256"):
        raise CheckpointError(f"{what}: its sha256 digest does not match its contents.{fix}")
    return unflatten_state(json.loads(state_json), tensors)


def _read_meta(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of safetensors bytes (8-byte little-endian header size, JSON)."""
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]).get("__metadata__", {}) or {}


# -- files in a run dir -------------------------------------------------------------------
def checkpoint_path(folder: Path, step: int) -> Path:
    return folder / f"step-{step:08d}.safetensors"


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``folder`` as (step, path), oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = CKPT_RE.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def save_checkpoint(folder: Path, step: int, state: dict[str, Any], keep_last: int = 3) -> Path:
    """Write ``state`` as the checkpoint of ``step``: atomic file, then ``latest``, then rotation.

    The order matters: the old checkpoint is deleted only after the new one and the
    pointer to it are safely on disk.
    """
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(folder)
    path = checkpoint_path(folder, step)
    try:
        atomic_write_bytes(path, encode(state))
        atomic_write_text(folder / LATEST, path.name + "\n")
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        found = [p for _, p in list_checkpoints(folder) if p != path]
        before = f"the previous one, {found[-1].name}, is intact" if found else "none before it"
        raise DiskFullError(
            f"No space left on the device while writing {path} "
            f"({os.strerror(e.errno or 0)}): this checkpoint is not saved and {before}. "
            f"Free space, then continue with `ganforge resume {folder.parent}`."
        ) from None
    for _, old in list_checkpoints(folder)[:-keep_last]:
        if old != path:
            old.unlink(missing_ok=True)
    return path


def latest_checkpoint(folder: Path) -> Path:
    """The checkpoint ``latest`` points to (or the newest one if the pointer is gone)."""
    pointer = folder / LATEST
    if pointer.is_file():
        name = pointer.read_text("utf-8").strip()
        if CKPT_RE.match(name) and (folder / name).is_file():
            return folder / name
    found = list_checkpoints(folder)
    if not found:
        raise CheckpointError(
            f"No checkpoint in {folder}. The run stopped before its first checkpoint "
            "(train.ckpt_every); start it again with `ganforge train`."
        )
    return found[-1][1]


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read and verify a checkpoint file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"Checkpoint {path} cannot be read: {e}.") from None
    return decode(data, source=f"Checkpoint {path}")


def read_safetensors_weights(path: Path) -> dict[str, torch.Tensor]:
    """Plain safetensors weights (exported generators); clear error when damaged."""
    try:
        return safetensors.torch.load_file(str(path))
    except (safetensors.SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors file: {e}.") from None
