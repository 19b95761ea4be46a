"""Engine overhead: ganforge's trainer vs a minimal hand-written PyTorch loop.

Both train the same DCGAN-32 (the ``dcgan-g``/``dcgan-d`` networks, same initial
weights) on MNIST padded to 32x32, batch 64, non-saturating loss, Adam(2e-4, 0.5,
0.999), one critic step per generator step. The two loops run in the same process,
interleaved in blocks (ganforge, plain, ganforge, plain, ...) so that machine noise
hits both alike; the first block of each is a warm-up and is not counted.

ganforge runs as ``ganforge train`` would: the real Trainer with its metrics writer,
sample and checkpoint callbacks (cadences set beyond the measured window), loss
accumulation and the NaN guard read every ``log_every`` steps, and the EMA of the
generator (the plain loop does the same EMA update, so that the ratio measures the
engine's overhead, not a feature the plain loop lacks).

Prints the throughput ratio ganforge / plain (goal >= 0.95).

    python benchmarks/engine_overhead.py                      # CPU, small
    python benchmarks/engine_overhead.py --device cuda --block 50 --rounds 5
"""

from __future__ import annotations

import argparse
import copy
import platform
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from _bench import interleaved_seconds
from ganforge.config import load_config
from ganforge.engine.callbacks import Checkpointer, MetricsWriter, SampleWriter
from ganforge.engine.run import build
from ganforge.engine.trainer import Trainer

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"


def recipe(device: str, batch: int, data_root: str | None) -> dict:
    data = {"name": "mnist", "resolution": 32}
    if data_root:
        data["root"] = data_root
    return {
        "recipe": "bench-dcgan32",
        "data": data,
        "nets": {"g": {"name": "dcgan-g"}, "d": {"name": "dcgan-d"}},
        "algorithm": {"name": "unconditional", "latent_dim": 100},
        "objective": {"name": "ns"},
        "optim": {"g": {"name": "adam"}, "d": {"name": "adam"}},
        "train": {
            "batch_size": batch,
            "device": device,
            "ema": 0.999,
            "log_every": 50,
            "tensorboard": False,
        },
    }


class PlainLoop:
    """What a researcher writes by hand: sample, D step, G step, EMA. Nothing else."""

    def __init__(self, g, d, ema_g, images_uint8, batch, latent_dim, device) -> None:
        self.g, self.d, self.ema_g = g, d, ema_g
        self.x = images_uint8
        self.batch, self.latent_dim, self.device = batch, latent_dim, device
        self.opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def step(self) -> None:
        idx = torch.randint(len(self.x), (self.batch,), device=self.x.device)
        real = self.x[idx].float() / 127.5 - 1
        z = torch.randn(self.batch, self.latent_dim, device=self.device)
        with torch.no_grad():
            fake = self.g(z)
        loss_d = F.softplus(-self.d(real).score).mean() + F.softplus(self.d(fake).score).mean()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        z = torch.randn(self.batch, self.latent_dim, device=self.device)
        loss_g = F.softplus(-self.d(self.g(z)).score).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        with torch.no_grad():
            for pe, p in zip(self.ema_g.parameters(), self.g.parameters(), strict=True):
                pe.lerp_(p, 1 - 0.999)
            for be, b in zip(self.ema_g.buffers(), self.g.buffers(), strict=True):
                be.copy_(b)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--block", type=int, default=10, help="steps per timed block")
    ap.add_argument("--rounds", type=int, default=4, help="timed blocks per loop (after a warm-up)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-root", default=str(SHARED) if SHARED.is_dir() else None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg = load_config(recipe(args.device, args.batch, args.data_root))
    built = build(cfg)
    device = built.device
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        big = 10**9  # cadences beyond the window: the callbacks still run their checks
        metrics = MetricsWriter(run_dir, tensorboard=False)
        callbacks = [
            metrics,
            SampleWriter(run_dir, big, 16, 0, "images"),
            Checkpointer(run_dir, big, 1, {}),
        ]
        trainer = Trainer(
            built.algorithm,
            built.optimizers,
            built.dataset,
            built.sampler,
            ema_decay=0.999,
            log_every=cfg.train.log_every,
            callbacks=callbacks,
        )
        g0, d0 = built.algorithm.nets["g"], built.algorithm.nets["d"]
        plain = PlainLoop(
            copy.deepcopy(g0),
            copy.deepcopy(d0),
            copy.deepcopy(g0).eval(),
            built.dataset.tensors["real"],
            args.batch,
            100,
            device,
        )

        def plain_block() -> None:
            for _ in range(args.block):
                plain.step()

        runs = {"ganforge": lambda: trainer.run(trainer.step + args.block), "plain": plain_block}
        times = interleaved_seconds(runs, args.rounds, device)
        metrics.close()

    n = args.block * args.rounds
    ips = {k: n * args.batch / v for k, v in times.items()}
    ratio = ips["ganforge"] / ips["plain"]
    dev = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu"
    )
    print(
        f"# engine overhead: DCGAN-32 MNIST batch {args.batch}, {n} steps each, interleaved "
        f"in {args.rounds} blocks of {args.block} (+1 warm-up)"
    )
    print(
        f"# device: {device} ({dev}), threads {torch.get_num_threads()}, torch {torch.__version__}"
    )
    print("| loop | images/s | steps/s |")
    print("|---|---|---|")
    for k in ("ganforge", "plain"):
        print(f"| {k} | {ips[k]:.1f} | {ips[k] / args.batch:.2f} |")
    print(
        f"\nthroughput ratio ganforge/plain = {ratio:.3f} (goal >= 0.95: "
        f"{'met' if ratio >= 0.95 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
