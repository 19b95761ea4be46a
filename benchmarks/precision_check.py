"""Mixed precision with a gradient penalty: does fp16 / bf16 compute the same penalty?

WGAN-GP's penalty contains a gradient, d D(x) / dx, back-propagated through the critic's
half-precision activations. With fp16 and no care, its small entries flush to zero (and
large ones overflow); ganforge scales the score by the GradScaler's scale before that
inner backward and unscales the result (``ganforge.nn.precision``). This script checks it
on the SNGAN ResNet critic (``resnet-d``, 128 channels, 32x32; the recipe
``sngan-cifar10``'s networks) with CIFAR-10 images (the JPEG copy, or random images where
it is absent).

**Part 1: one batch, the same weights.** The penalty (Gulrajani et al. 2017, lambda 10,
on interpolates of a real and a generated batch, the same eps) and its gradient with
respect to the critic's parameters under

- ``fp32``: the reference;
- ``bf16``: bf16 autocast (8 exponent bits: no underflow problem, ~3 significant digits);
- ``fp16 scaled``: fp16 autocast, the inner gradient d D / dx taken with the loss scale
  and the outer backward scaled too, as ganforge's trainer runs it;
- ``fp16 unscaled``: fp16 autocast, only the outer backward scaled (a plain autocast
  loop with a GradScaler around the total loss).

(Scaling the inner gradient without the outer one would be wrong: the double backward
then passes through the division by S and its small entries underflow instead — the
first GPU run of this script, which did that, read a gradient cosine of 0.963.)

Printed: relative error of the penalty value, cosine and relative norm error of the
parameter gradient against fp32, and the fraction of input-gradient entries that are
exactly zero (fp32 has none).

**Part 2: training.** ``wgan-gp`` with the same networks, ``--steps`` engine steps per
precision from the same seed through ganforge's Trainer (fp16 with its GradScaler):
images/s, the last logged losses, the final loss scale and whether it diverged.

    python benchmarks/precision_check.py --device cuda --out benchmarks/results/precision_gpu.md
    python benchmarks/precision_check.py --device cpu --batch 8 --steps 4   # pipeline check
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ganforge.config import load_config
from ganforge.engine.run import _trainer, build
from ganforge.errors import TrainingDiverged
from ganforge.nn.precision import active_loss_scale
from ganforge.penalties import input_gradient
from ganforge.penalties.gradient import gradient_norm_penalty
from throughput import MODELS, data_spec

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
MODES = ("fp32", "bf16", "fp16 scaled", "fp16 unscaled")
LAMBDA = 10.0


def recipe(batch: int, device: str, precision: str, data: dict[str, Any]) -> dict[str, Any]:
    m = MODELS["resnet-32"]
    adam = {"name": "adam", "lr": 1.0e-4, "betas": [0.5, 0.9]}
    return {
        "recipe": "precision-check",
        "seed": 0,
        "data": data,
        "nets": copy.deepcopy(m["nets"]),
        "algorithm": {"name": "unconditional", "latent_dim": m["latent_dim"], "n_critic": 5},
        "objective": {"name": "wgan-gp", "weight": LAMBDA},
        "optim": {"g": dict(adam), "d": dict(adam)},
        "train": {
            "batch_size": batch,
            "device": device,
            "ema": None,
            "precision": precision,
            "log_every": 10,
            "tensorboard": False,
        },
    }


def autocast(device: torch.device, mode: str) -> contextlib.AbstractContextManager[Any]:
    if mode == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if mode == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def one_batch(built: Any, batch: int, scale: float) -> list[dict[str, float]]:
    """Part 1: the penalty and its parameter gradient per mode on one fixed batch."""
    device = built.device
    g, d = built.algorithm.nets["g"], built.algorithm.nets["d"]
    d.train()
    real = built.dataset.tensors["real"][:batch].to(device).float().div(127.5).sub(1.0)
    gen = torch.Generator(device=device).manual_seed(1)
    with torch.no_grad():
        fake = g(
            torch.randn(batch, MODELS["resnet-32"]["latent_dim"], generator=gen, device=device)
        )
        eps = torch.rand(batch, 1, 1, 1, generator=gen, device=device)
    x_hat = eps * real + (1 - eps) * fake

    params = [p for p in d.parameters() if p.requires_grad]
    # spectral norm's power iteration updates buffers on every training-mode call: every
    # mode starts from the same buffers so that they see the same weights
    buffers0 = {k: v.clone() for k, v in d.state_dict().items()}
    out: list[dict[str, float]] = []
    ref_val = ref_grad = None
    for mode in MODES:
        d.load_state_dict(buffers0)
        s = torch.tensor(scale, device=device) if mode == "fp16 scaled" else None
        with autocast(device, mode), active_loss_scale(s):
            grad_x = input_gradient(d, x_hat)
            penalty = LAMBDA * gradient_norm_penalty(grad_x)
        zeros = float((grad_x == 0).float().mean())
        # the outer backward as a GradScaler loop does it: fp16 scales the loss by S
        # before backward and divides the parameter gradients by S (both fp16 modes; they
        # differ only in the inner gradient d D / dx)
        outer = scale if mode.startswith("fp16") else 1.0
        grads = torch.autograd.grad(penalty * outer, params, allow_unused=True)
        flat = torch.cat(
            [(gp if gp is not None else torch.zeros_like(p)).double().flatten()
             for gp, p in zip(grads, params, strict=True)]
        ) / outer  # fmt: skip
        val = float(penalty.detach())
        if ref_val is None:
            ref_val, ref_grad = val, flat
        assert ref_grad is not None
        cos = float(torch.nn.functional.cosine_similarity(flat, ref_grad, dim=0))
        norm_err = float((flat.norm() - ref_grad.norm()).abs() / ref_grad.norm())
        out.append(
            {
                "mode": mode,  # type: ignore[dict-item]
                "penalty": val,
                "rel_err": abs(val - ref_val) / abs(ref_val),
                "cos": cos,
                "norm_err": norm_err,
                "zeros": zeros,
            }
        )
    d.load_state_dict(buffers0)
    return out


def training(args: argparse.Namespace, data: dict[str, Any], precision: str) -> dict[str, Any]:
    """Part 2: ``args.steps`` engine steps of wgan-gp at one precision."""
    cfg = load_config(recipe(args.batch, args.device, precision, data))
    built = build(cfg)
    trainer = _trainer(built, [])
    if built.device.type != "cuda" and precision == "fp16":  # CPU pipeline check only
        trainer.precision, trainer.scaler = "fp16", torch.amp.GradScaler("cpu")
    sync = torch.cuda.synchronize if built.device.type == "cuda" else (lambda: None)
    trainer.run(min(10, args.steps))  # warm-up (cuDNN autotune)
    sync()
    t0 = time.perf_counter()
    row: dict[str, Any] = {"precision": precision}
    try:
        trainer.run(args.steps)
        trainer.flush_scalars()
        trainer.check_finite(weights=True)
        row["diverged"] = "no"
    except TrainingDiverged as e:
        row["diverged"] = str(e).split(". ")[0]
    sync()
    dt = time.perf_counter() - t0
    done = trainer.step - min(10, args.steps)
    row["img_s"] = done * args.batch / dt if dt > 0 else float("nan")
    s = trainer.last_scalars
    row["loss_d"] = s.get("loss/d", float("nan"))
    row["loss_g"] = s.get("loss/g", float("nan"))
    gp = [v for k, v in s.items() if "penalty" in k or k.endswith("/gp")]
    row["gp"] = gp[0] if gp else float("nan")
    row["scale"] = s.get("perf/loss_scale", float("nan"))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument(
        "--steps", type=int, default=500, help="engine steps per precision (0: part 1 only)"
    )
    ap.add_argument("--scale", type=float, default=2.0**14, help="loss scale in part 1")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA GPU is available.")
    data_root = SHARED if SHARED.is_dir() else None
    lines = [f"$ python {shlex.join(sys.argv)}", ""]

    def write() -> None:
        text = "\n".join(lines) + "\n"
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(text, encoding="utf-8")

    with tempfile.TemporaryDirectory() as tmp:
        data = data_spec(32, max(256, args.batch), data_root, Path(tmp))
        built = build(load_config(recipe(args.batch, args.device, "fp32", data)))
        lines += [
            f"Part 1: one batch of {args.batch}, resnet-d critic at initialisation, "
            f"lambda {LAMBDA:g}, fp16 loss scale {args.scale:g}",
            "",
            "| mode | penalty | rel. error | grad cosine | grad norm error | zero input-grad entries |",
            "|---|---|---|---|---|---|",
        ]
        for r in one_batch(built, args.batch, args.scale):
            lines.append(
                f"| {r['mode']} | {r['penalty']:.6g} | {r['rel_err']:.2e} | {r['cos']:.6f} "
                f"| {r['norm_err']:.2e} | {100 * r['zeros']:.2f}% |"
            )
        print("\n".join(lines), flush=True)
        write()
        if args.steps <= 0:
            return
        lines += [
            "",
            f"Part 2: wgan-gp training, {args.steps} engine steps (n_critic 5), batch "
            f"{args.batch}, seed 0, after 10 warm-up steps",
            "",
            "| precision | img/s | loss/d | loss/g | penalty | loss scale | diverged |",
            "|---|---|---|---|---|---|---|",
        ]
        for precision in ("fp32", "bf16", "fp16"):
            r = training(args, data, precision)
            lines.append(
                f"| {precision} | {r['img_s']:.1f} | {r['loss_d']:.4g} | {r['loss_g']:.4g} "
                f"| {r['gp']:.4g} | {r['scale']:g} | {r['diverged']} |"
            )
            print(lines[-1], flush=True)
            write()


if __name__ == "__main__":
    main()
