"""Training throughput: ganforge's Trainer vs a hand-written PyTorch loop, per precision.

For each model, batch size and mode, the same networks (same initial weights) train
through

- **ganforge**: ``ganforge.engine.run.build`` + the Trainer exactly as ``ganforge
  train`` constructs it (``engine.run._trainer``: EMA, loss accumulation, the NaN
  guard read every ``train.log_every`` steps, precision, channels-last batches), with
  ``train.precision`` / ``train.channels_last`` / ``train.compile`` set per mode;
  no file-writing callbacks;
- **plain**: a minimal loop written by hand for the same networks and loss: sample a
  real batch from the same in-memory uint8 tensor, one critic step (fakes drawn
  without a graph through G), one generator step with the critic's parameters frozen
  (as BigGAN-PyTorch's ``toggle_grad``), Adam, the same EMA update of G; the same
  autocast / channels-last / ``torch.compile`` as the mode.

Both run in one process, interleaved in blocks (ganforge, plain, ganforge, ...) so
that machine noise hits both alike; the first block of each (warm-up, and compilation
with ``compile``) is not counted. One training step = one critic step + one generator
step (``n_critic`` 1 here, whatever the recipe says), so

    images/s = batch size x steps / s

(each step the critic reads a real and a fake batch, the generator a fake batch).

Models (the recipes' networks and optimisers):

- ``dcgan-32``: dcgan-g / dcgan-d (base 64) at 32x32, NS loss, Adam 2e-4 (0.5, 0.999);
- ``dcgan-64``: the same at 64x64;
- ``resnet-32``: resnet-g (256) / resnet-d (128, spectral norm) at 32x32 (SNGAN,
  ``sngan-cifar10``), hinge loss, Adam 2e-4 (0, 0.9).

Modes: ``fp32``; ``fp32-cl`` (channels-last); ``bf16-cl`` (bf16 autocast +
channels-last); ``bf16-cl-compile`` (and ``torch.compile`` of every network). On CPU
the Trainer trains in fp32 whatever ``train.precision`` says (autocast is a CUDA
setting in ganforge), so only the fp32 modes are run there.

Data: the CIFAR-10 JPEG copy (``--data-root``, default ``../shared/datasets``) read
through the ``image-folder`` dataset (resized to 64x64 for ``dcgan-64``), or, where it
is absent, a synthetic folder of random PNGs written to a temp dir: the content does
not change the step time, and both loops index the same in-memory tensor.

    python benchmarks/throughput.py --device cpu --batch 64 --models dcgan-32,resnet-32
    python benchmarks/throughput.py --device cuda --out benchmarks/results/throughput_gpu.md
"""

from __future__ import annotations

import argparse
import copy
import platform
import shlex
import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from _bench import interleaved_seconds
from ganforge.config import load_config
from ganforge.engine.run import Built, _trainer, build
from ganforge.engine.trainer import Trainer

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
CIFAR_ZIP = "cifar10-jpeg/cifar10-jpeg75.zip"

MODELS: dict[str, dict[str, Any]] = {
    "dcgan-32": {
        "side": 32,
        "nets": {"g": {"name": "dcgan-g", "base_channels": 64},
                 "d": {"name": "dcgan-d", "base_channels": 64}},
        "objective": "ns",
        "betas": [0.5, 0.999],
        "latent_dim": 128,
    },
    "dcgan-64": {
        "side": 64,
        "nets": {"g": {"name": "dcgan-g", "base_channels": 64},
                 "d": {"name": "dcgan-d", "base_channels": 64}},
        "objective": "ns",
        "betas": [0.5, 0.999],
        "latent_dim": 128,
    },
    "resnet-32": {
        "side": 32,
        "nets": {"g": {"name": "resnet-g", "channels": 256},
                 "d": {"name": "resnet-d", "channels": 128, "spectral_norm": True}},
        "objective": "hinge",
        "betas": [0.0, 0.9],
        "latent_dim": 128,
    },
}  # fmt: skip

#: mode -> (train.precision, train.channels_last, train.compile)
MODES: dict[str, tuple[str, bool, bool]] = {
    "fp32": ("fp32", False, False),
    "fp32-cl": ("fp32", True, False),
    "bf16-cl": ("bf16", True, False),
    "bf16-cl-compile": ("bf16", True, True),
}
CPU_MODES = ("fp32", "fp32-cl")
EMA_DECAY = 0.999


# -- data -------------------------------------------------------------------------------------
def synthetic_folder(root: Path, n: int, side: int) -> Path:
    """``n`` random RGB PNGs (side x side) in ``root``: offline data for image-folder."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pixels = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"{i:05d}.png")
    return root


def data_spec(side: int, n: int, data_root: Path | None, tmp: Path) -> dict[str, Any]:
    if data_root is not None and (data_root / CIFAR_ZIP).is_file():
        return {"name": "image-folder", "path": str(data_root / CIFAR_ZIP), "split": "train",
                "resolution": side, "max_images": n}  # fmt: skip
    folder = tmp / f"synthetic-{side}"
    if not folder.is_dir():
        synthetic_folder(folder, n, side)
    return {"name": "image-folder", "path": str(folder), "resolution": side}


def recipe(model: str, batch: int, mode: str, device: str, data: dict[str, Any]) -> dict:
    m = MODELS[model]
    precision, channels_last, compile_ = MODES[mode]
    adam = {"name": "adam", "lr": 2.0e-4, "betas": m["betas"]}
    return {
        "recipe": f"throughput-{model}",
        "seed": 0,
        "data": data,
        "nets": copy.deepcopy(m["nets"]),
        "algorithm": {"name": "unconditional", "latent_dim": m["latent_dim"], "n_critic": 1},
        "objective": {"name": m["objective"]},
        "optim": {"g": dict(adam), "d": dict(adam)},
        "train": {
            "batch_size": batch,
            "device": device,
            "ema": EMA_DECAY,
            "precision": precision,
            "channels_last": channels_last,
            "compile": compile_,
            "tensorboard": False,
        },
    }


# -- the hand-written loop --------------------------------------------------------------------
def d_loss_fn(objective: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if objective == "hinge":  # relu(1 - D(x)) + relu(1 + D(G(z)))
        return lambda r, f: F.relu(1 - r.float()).mean() + F.relu(1 + f.float()).mean()
    # ns: -log sigmoid(D(x)) - log(1 - sigmoid(D(G(z))))
    return lambda r, f: F.softplus(-r.float()).mean() + F.softplus(f.float()).mean()


def g_loss_fn(objective: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if objective == "hinge":  # -D(G(z))
        return lambda f: -f.float().mean()
    return lambda f: F.softplus(-f.float()).mean()  # -log sigmoid(D(G(z)))


class PlainLoop:
    """What a researcher writes by hand: sample, D step, G step, EMA. Nothing else."""

    def __init__(
        self,
        g: nn.Module,
        d: nn.Module,
        images_uint8: torch.Tensor,
        batch: int,
        latent_dim: int,
        objective: str,
        betas: tuple[float, float],
        mode: str,
        device: torch.device,
    ) -> None:
        precision, self.channels_last, compile_ = MODES[mode]
        if self.channels_last:
            g = g.to(memory_format=torch.channels_last)
            d = d.to(memory_format=torch.channels_last)
        self.ema_g = copy.deepcopy(g).eval().requires_grad_(False)
        self.g, self.d = g, d
        self.opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=betas)
        self.opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=betas)
        self.g_fwd: Callable[..., Any] = torch.compile(g) if compile_ else g
        self.d_fwd: Callable[..., Any] = torch.compile(d) if compile_ else d
        self.x = images_uint8
        self.batch, self.latent_dim, self.device = batch, latent_dim, device
        self.d_loss, self.g_loss = d_loss_fn(objective), g_loss_fn(objective)
        use_bf16 = precision == "bf16" and device.type == "cuda"
        self.autocast: Callable[[], AbstractContextManager[Any]] = (
            (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_bf16 else nullcontext
        )

    def run(self, steps: int) -> None:
        self.g.train()
        self.d.train()
        for _ in range(steps):
            self.step()

    def step(self) -> None:
        idx = torch.randint(len(self.x), (self.batch,), device=self.x.device)
        real = self.x[idx].float().div_(127.5).sub_(1.0)
        if self.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        # critic step
        self.g.requires_grad_(False)
        self.d.requires_grad_(True)
        with self.autocast():
            fake = self.g_fwd(torch.randn(self.batch, self.latent_dim, device=self.device))
            loss_d = self.d_loss(self.d_fwd(real).score, self.d_fwd(fake).score)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # generator step
        self.g.requires_grad_(True)
        self.d.requires_grad_(False)
        with self.autocast():
            fake = self.g_fwd(torch.randn(self.batch, self.latent_dim, device=self.device))
            loss_g = self.g_loss(self.d_fwd(fake).score)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        with torch.no_grad():  # EMA of G: parameters averaged, buffers copied
            ema_p, cur_p = list(self.ema_g.parameters()), list(self.g.parameters())
            torch._foreach_lerp_(ema_p, cur_p, 1.0 - EMA_DECAY)
            for be, b in zip(self.ema_g.buffers(), self.g.buffers(), strict=True):
                be.copy_(b)


# -- measurement ------------------------------------------------------------------------------
@dataclass
class Row:
    model: str
    batch: int
    mode: str
    ganforge: float | None = None  # images/s
    plain: float | None = None
    note: str = ""


def measure(
    model: str, batch: int, mode: str, args: argparse.Namespace, data: dict[str, Any]
) -> Row:
    row = Row(model, batch, mode)
    cfg = load_config(recipe(model, batch, mode, args.device, data))
    built: Built = build(cfg)
    device = built.device
    trainer: Trainer = _trainer(built, [])
    # The plain loop's networks: the same recipe built without the mode's flags (same
    # seed, so the same initial weights), then given the mode's settings by hand.
    raw = cfg.model_copy(
        update={"train": cfg.train.model_copy(update={"channels_last": False, "compile": False})}
    )
    ref = build(raw)
    m = MODELS[model]
    plain = PlainLoop(
        ref.algorithm.nets["g"],
        ref.algorithm.nets["d"],
        built.dataset.tensors["real"],
        batch,
        m["latent_dim"],
        m["objective"],
        tuple(m["betas"]),
        mode,
        device,
    )
    runs = {
        "ganforge": lambda: trainer.run(trainer.step + args.steps),
        "plain": lambda: plain.run(args.steps),
    }
    times = interleaved_seconds(runs, args.rounds, device)
    n = args.steps * args.rounds * batch
    row.ganforge, row.plain = n / times["ganforge"], n / times["plain"]
    return row


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine() or "cpu"


def table(rows: list[Row]) -> str:
    fp32 = {(r.model, r.batch): r for r in rows if r.mode == "fp32"}
    lines = [
        "| model | batch | mode | ganforge img/s | plain img/s | ganforge/plain | "
        "ganforge vs fp32 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.ganforge is None or r.plain is None:
            lines.append(f"| {r.model} | {r.batch} | {r.mode} | - | - | - | {r.note} |")
            continue
        base = fp32.get((r.model, r.batch))
        speedup = (
            f"{r.ganforge / base.ganforge:.2f}x" if base is not None and base.ganforge else "-"
        )
        lines.append(
            f"| {r.model} | {r.batch} | {r.mode} | {r.ganforge:.1f} | {r.plain:.1f} | "
            f"{r.ganforge / r.plain:.3f} | {speedup} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="cpu", help="cpu or cuda (cuda:1, ...)")
    ap.add_argument("--batch", default="64,256", help="comma-separated batch sizes")
    ap.add_argument("--models", default="dcgan-32,dcgan-64,resnet-32", help=", ".join(MODELS))
    ap.add_argument(
        "--modes",
        default=None,
        help=f"comma-separated, of {', '.join(MODES)} (default: all on CUDA, "
        f"{', '.join(CPU_MODES)} on CPU)",
    )
    ap.add_argument("--steps", type=int, default=20, help="training steps per timed block")
    ap.add_argument("--rounds", type=int, default=3, help="timed blocks per loop (+1 warm-up)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--images", type=int, default=1024, help="images held in memory")
    ap.add_argument("--data-root", default=str(SHARED) if SHARED.is_dir() else None)
    ap.add_argument("--out", default=None, help="also write the table (markdown) here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA GPU is available.")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    batches = [int(b) for b in args.batch.split(",")]
    modes = args.modes.split(",") if args.modes else list(MODES if cuda else CPU_MODES)
    for name in models:
        if name not in MODELS:
            sys.exit(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    for mode in modes:
        if mode not in MODES:
            sys.exit(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        if not cuda and mode not in CPU_MODES:
            sys.exit(
                f"mode {mode!r} is a CUDA setting: on CPU the trainer trains in fp32 "
                f"(choose from {', '.join(CPU_MODES)})"
            )
    data_root = Path(args.data_root) if args.data_root else None
    source = (
        "CIFAR-10 JPEG copy" if data_root and (data_root / CIFAR_ZIP).is_file() else "synthetic"
    )
    header = [
        f"$ python {shlex.join(sys.argv)}",
        f"# device: {args.device} ({device_name(args.device)}), threads "
        f"{torch.get_num_threads()}, torch {torch.__version__}, data: {source}",
        f"# {args.steps} steps per block, {args.rounds} timed blocks per loop, interleaved "
        f"(+1 warm-up); one step = 1 critic + 1 generator step; images/s = batch x steps/s",
    ]
    if cuda:
        header.append(
            "# Adam: ganforge fused (its default on CUDA); plain loop torch's default (foreach)"
        )
    else:
        header.append("# CPU: fp32 only (the Trainer ignores train.precision on CPU)")
    rows: list[Row] = []

    def write(final: bool) -> str:
        out = "\n".join(header) + "\n\n" + table(rows) + "\n"
        if not final:
            out += "\n(partial: the run was still going)\n"
        if args.out:  # after every row, so an interrupted run keeps what it measured
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(out, encoding="utf-8")
        return out

    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            data = data_spec(MODELS[model]["side"], args.images, data_root, Path(tmp))
            for batch in batches:
                for mode in modes:
                    try:
                        row = measure(model, batch, mode, args, data)
                    except Exception as e:  # e.g. torch.compile unsupported here
                        msg = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
                        row = Row(model, batch, mode, note=f"failed ({msg})")
                    rows.append(row)
                    print(table(rows).splitlines()[-1], flush=True)
                    write(final=False)
                    if cuda:
                        torch.cuda.empty_cache()
    print()
    print(write(final=True))


if __name__ == "__main__":
    main()
