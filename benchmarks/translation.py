"""Image-to-image translation and super-resolution under a stated CPU budget.

Trains the shipped recipes at reduced width for ``--steps`` steps each and scores them on
the test split, with the conventions of :mod:`ganforge.metrics.paired` (uint8 [0, 255];
PSNR with the MSE over all channels, no border crop; SSIM 11 x 11 Gaussian, valid
positions, channels averaged):

- **pix2pix** edges -> Fashion-MNIST (``pix2pix-edges2fashion``, Sobel edges, 32 x 32)
  beside the **L1-only U-Net** baseline (the same recipe with ``algorithm.adv_weight=0``,
  Isola et al. Table 1's "L1" row): PSNR, SSIM and FID of the translated test set against
  the test images, on ``classifier:fashion-mnist`` features (ganforge's LeNet; 2,000
  images) — and on Inception features with ``--inception``. The paper's finding: L1+cGAN
  is sharper, with a lower FID and a slightly lower PSNR than L1 alone.
- **cyclegan** MNIST <-> coloured MNIST (``cyclegan-mnist2color``): digit preservation,
  the fraction of translated test digits that ``classifier:mnist`` (98.7% on MNIST test)
  assigns their source's digit, both ways (B -> A outputs are averaged to gray; A -> B
  outputs are de-coloured first by their distance to the image's border colour, and the
  same de-colouring of the real coloured test digits is scored as the ceiling), and the
  cycle error mean |F(G(a)) - a| in grey levels. Goal: >= 90%.
- **super-resolution** 4x on CIFAR-10 (``srgan-cifar10``, 8 x 8 -> 32 x 32; our CIFAR copy
  is JPEG): bicubic upsampling, **SRResNet** (the recipe with ``algorithm.adv_weight=0``:
  pixel MSE only) and **SRGAN** (MSE pre-training for half the steps, then content + 1e-3
  adversarial): PSNR, SSIM and Inception FID (1,000 test images; the paper's finding:
  SRGAN is below SRResNet in PSNR and better perceptually). ``srgan`` has the content
  loss in pixel space (the paper's SRGAN-MSE); ``srgan-features`` in the feature space of
  ganforge's CIFAR-10 LeNet (``classifier:cifar10``, layer conv2), in place of the paper's
  VGG19 (SRGAN-VGG54), which is not available without torchvision.

Each model trains in its own process with one thread (``--jobs`` at once). Panels
(input | output | target) go to ``--out-dir``; the cards of every score to ``--cards``.

    python benchmarks/translation.py --out benchmarks/results/translation.md \\
        --cards benchmarks/results/translation_cards.jsonl --out-dir benchmarks/results/translation
    python benchmarks/translation.py --only pix2pix --steps pix2pix=20 --n 200   # a quick check
"""

from __future__ import annotations

import argparse
import multiprocessing
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from _bench import SHARED_DATASETS, add_set_option, budget_overrides, parse_sets, write_cards

INCEPTION = SHARED_DATASETS.parent / "weights" / "inception-2015-12-05-tfnames-torchscript.pt"
MODELS = ("pix2pix", "l1-unet", "cyclegan", "srresnet", "srgan", "srgan-features")
RECIPES = {
    "pix2pix": "pix2pix-edges2fashion",
    "l1-unet": "pix2pix-edges2fashion",
    "cyclegan": "cyclegan-mnist2color",
    "srresnet": "srgan-cifar10",
    "srgan": "srgan-cifar10",
    "srgan-features": "srgan-cifar10",
}
ROOTS = {"pix2pix": "fashion-mnist", "l1-unet": "fashion-mnist", "cyclegan": "mnist"}
ROOTS.update(dict.fromkeys(("srresnet", "srgan", "srgan-features"), "cifar10-jpeg"))
# CPU widths (the recipes' are the papers'): stated in the table.
WIDTH = {
    "pix2pix": ["nets.g.base_channels=32", "nets.d.base_channels=32"],
    "cyclegan": [f"nets.{k}.base_channels=16" for k in ("g", "f")]
    + [f"nets.{k}.base_channels=32" for k in ("d_a", "d_b")],
    "srresnet": ["nets.g.base_channels=32", "nets.g.n_blocks=8", "nets.d.base_channels=32"],
}
WIDTH["l1-unet"] = WIDTH["pix2pix"]
WIDTH["srgan"] = WIDTH["srgan-features"] = WIDTH["srresnet"]
DEFAULT_STEPS = {
    "pix2pix": 3000,
    "l1-unet": 3000,
    "cyclegan": 2500,
    "srresnet": 3000,
    "srgan": 3000,
    "srgan-features": 3000,
}
SR = ("srresnet", "srgan", "srgan-features")
# SRGAN's feature content loss (the paper's SRGAN-VGG54) with ganforge's CIFAR-10 LeNet in
# place of VGG19: conv2 after its ReLU (the last convolution before the pool), weighted so
# that it starts on the pixel MSE's scale, as the paper's 1/12.75^2 does for VGG: on the
# bicubic upsamplings of the first 1,000 test images (JPEG copy) the pixel MSE is 0.0347
# and the conv2 feature MSE 0.237 (classifier 73.7% on CIFAR-10 test), ratio 0.146.
FEATURE_WEIGHT = 0.15


def overrides(model: str, steps: int, device: str) -> list[str]:
    out = WIDTH[model] + budget_overrides(steps, device) + ["train.lr_schedule=constant"]
    if model in ("l1-unet", "srresnet"):
        out.append("algorithm.adv_weight=0")
    if model == "srresnet":
        out.append("algorithm.pretrain_steps=0")
    if model in ("srgan", "srgan-features"):
        out.append(f"algorithm.pretrain_steps={steps // 2}")
    root = SHARED_DATASETS / ROOTS[model]
    if root.exists():  # the team's copy; the product downloads otherwise
        out.append(f"data.root={root}")
    if model == "srgan-features":
        out += ["algorithm.content=classifier:cifar10", "algorithm.content_layer=conv2"]
        out.append(f"algorithm.content_weight={FEATURE_WEIGHT}")
        if root.exists():  # trains the classifier there on first use (then cached)
            out.append(f"algorithm.content_root={root}")
    return out


def test_split(cfg: Any, n: int | None) -> Any:
    from ganforge import registry

    spec = dict(cfg.data, split="test", limit=n)
    return registry.DATASETS.build(spec, "data")


def save_panel(cols: list[Any], path: Path) -> None:
    """Rows of input | output | target (1-channel columns shown as gray RGB when mixed)."""
    import torch

    from ganforge.reports import save_image_grid

    c = max(x.shape[1] for x in cols)
    cols = [x.expand(-1, c, -1, -1) if x.shape[1] != c else x for x in cols]
    save_image_grid(torch.stack(cols, 1).flatten(0, 1).float(), path, nrow=len(cols))


def fid_card(translate: Any, source: Any, target: Any, extractor: str, n: int, tag: str) -> Any:
    """FID of translate(source[:n]) against target[:n] (every image once, in order)."""
    from ganforge.data.base import TensorDataset
    from ganforge.metrics.evaluate import evaluate
    from ganforge.metrics.paired import translation_source

    ref = TensorDataset("target", "images", {"real": target[:n]})
    spec: Any = extractor
    if extractor.startswith("classifier:"):  # trained on the bundled copy, never downloaded
        name = extractor.split(":", 1)[1]
        local = SHARED_DATASETS / name
        spec = {
            "name": "classifier",
            "dataset": name,
            "root": str(local) if local.exists() else None,
        }
    (card,) = evaluate(
        translation_source(translate, source[:n], {"model": tag}),
        ref,
        ["fid"],
        n=n,
        extractor=spec,
        inception_weights=str(INCEPTION) if extractor == "inception-fid" else None,
        progress=False,
        cache=False,
    )
    return card


def decolour(x: Any) -> Any:
    """Coloured digit images uint8 (N, 3, H, W) -> gray (N, 1, H, W) white-on-black: each
    pixel's colour distance to the image's border colour (median of the 1-pixel frame),
    scaled so the farthest pixel is 255."""
    import torch

    f = x.float()
    frame = torch.cat([f[:, :, 0], f[:, :, -1], f[:, :, :, 0], f[:, :, :, -1]], 2)  # (N, 3, 4H)
    bg = frame.median(2).values[:, :, None, None]
    d = (f - bg).square().sum(1, keepdim=True).sqrt()
    d = d / d.flatten(1).max(1).values.clamp_min(1e-6)[:, None, None, None]
    return (d * 255).round().to(torch.uint8)


def one_run(
    model: str,
    steps: int,
    n: int,
    inception: bool,
    device: str,
    out_dir: str | None,
    extra: tuple[str, ...] = (),
    threads: int = 1,
) -> dict:
    import torch

    torch.set_num_threads(threads)
    from ganforge.engine.run import load, train
    from ganforge.metrics.paired import cycle_error, label_preservation, paired_scores

    t0 = time.perf_counter()
    result: dict[str, Any] = {"model": model, "steps": steps, "cards": []}
    with tempfile.TemporaryDirectory() as tmp:
        run = train(
            RECIPES[model],
            [*overrides(model, steps, device), *extra],
            out=Path(tmp) / "run",
            progress=False,
        )
        result["train_seconds"] = time.perf_counter() - t0
        from ganforge.config import load_config

        cfg = load_config(str(run / "config.yaml"))
        test = test_split(cfg, None if model == "cyclegan" else max(n, 1000))
        gen = load(run, device=device)
        torch.manual_seed(0)  # pix2pix keeps dropout at test time: fixed draws

        def translate(x: torch.Tensor) -> torch.Tensor:
            return gen.translate(x.to(device)).float().cpu()

        if model in ("pix2pix", "l1-unet", *SR):
            key = "source" if "source" in test.tensors else "low"
            src, tgt = test.tensors[key][:n], test.tensors["real"][:n]
            result.update(paired_scores(translate, src, tgt))
            ext = "classifier:fashion-mnist" if model in ("pix2pix", "l1-unet") else "inception-fid"
            exts = [ext] + (["inception-fid"] if inception and ext != "inception-fid" else [])
            m = n if ext != "inception-fid" else min(n, 1000)
            for e in exts:
                card = fid_card(translate, src, tgt, e, m if e == ext else min(n, 1000), model)
                result[f"fid[{e}]"] = card.value
                result["cards"].append({**card.to_dict(), "recipe": RECIPES[model], "model": model})
            if out_dir:
                with torch.no_grad():
                    from ganforge.data.base import uint8_to_float

                    s = uint8_to_float(src[:8])
                    cols = [s, translate(s), uint8_to_float(tgt[:8])]
                if key == "low":
                    cols[0] = torch.nn.functional.interpolate(
                        cols[0], size=tgt.shape[-2:], mode="nearest"
                    )
                save_panel(cols, Path(out_dir) / f"{model}_panel.png")
        else:  # cyclegan
            from ganforge.engine.run import load_trained
            from ganforge.metrics.classifier import dataset_classifier, predict_logits

            algo, _ = load_trained(run, device=device)
            g, f = algo.nets["g"], algo.nets["f"]
            root = str(SHARED_DATASETS / "mnist") if (SHARED_DATASETS / "mnist").exists() else None
            clf = dataset_classifier("mnist", 32, root=root)

            def classify(u8: torch.Tensor) -> torch.Tensor:
                return predict_logits(clf, u8)[:, :10]

            def gray(u8: torch.Tensor) -> torch.Tensor:
                return u8.float().mean(1, keepdim=True).round().to(torch.uint8)

            a, la = test.tensors["a"][:n], test.tensors["label_a"][:n]
            b, lb = test.tensors["real"][:n], test.tensors["label"][:n]
            with torch.no_grad():
                ab = label_preservation(
                    lambda x: g(x.to(device)).cpu(), a, la, lambda u: classify(decolour(u))
                )
                ba = label_preservation(
                    lambda x: f(x.to(device)).cpu(), b, lb, lambda u: classify(gray(u))
                )
                ceiling = float((classify(decolour(b)).argmax(1) == lb).float().mean())
                result.update(
                    acc_ab=ab["accuracy"],
                    acc_ba=ba["accuracy"],
                    decolour_ceiling=ceiling,
                    cycle_a=cycle_error(
                        lambda x: g(x.to(device)).cpu(), lambda x: f(x.to(device)).cpu(), a
                    ),
                    cycle_b=cycle_error(
                        lambda x: f(x.to(device)).cpu(), lambda x: g(x.to(device)).cpu(), b
                    ),
                    n=len(a),
                )
                if out_dir:
                    from ganforge.data.base import uint8_to_float

                    xa, xb = uint8_to_float(a[:8]), uint8_to_float(b[:8])
                    ga, fb = g(xa).cpu(), f(xb).cpu()
                    save_panel(
                        [xa, ga, f(ga).cpu(), xb, fb, g(fb).cpu()],
                        Path(out_dir) / "cyclegan_panel.png",
                    )
    result["seconds"] = time.perf_counter() - t0
    return result


def bicubic(n: int) -> dict:
    """The bicubic baseline of super-resolution: no training."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    from ganforge.config import load_config
    from ganforge.metrics.paired import paired_scores

    cfg = load_config("srgan-cifar10", overrides("srgan", 1, "cpu"))
    test = test_split(cfg, max(n, 1000))
    src, tgt = test.tensors["low"][:n], test.tensors["real"][:n]
    scale = tgt.shape[-1] // src.shape[-1]

    def up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False).clamp(
            -1, 1
        )

    result: dict[str, Any] = {"model": "bicubic", "steps": 0, "train_seconds": 0.0, "cards": []}
    result.update(paired_scores(up, src, tgt))
    card = fid_card(up, src, tgt, "inception-fid", min(n, 1000), "bicubic")
    result["fid[inception-fid]"] = card.value
    result["cards"].append({**card.to_dict(), "model": "bicubic"})
    return result


def parse_steps(text: str | None) -> dict[str, int]:
    steps = dict(DEFAULT_STEPS)
    for part in (text or "").split(","):
        if part.strip():
            name, _, value = part.partition("=")
            if name.strip() not in steps or not value.strip().isdigit():
                raise SystemExit(f"--steps: expected model=N with model in {MODELS}, got {part!r}")
            steps[name.strip()] = int(value)
    return steps


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", default=None, help="per model, e.g. pix2pix=3000,cyclegan=2000")
    ap.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(MODELS)}")
    ap.add_argument("--n", type=int, default=2000, help="test images scored per model")
    ap.add_argument("--inception", action="store_true", help="also Inception FID for pix2pix")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per model")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--cards", type=Path, default=None)
    ap.add_argument("--out-dir", type=Path, default=None)
    add_set_option(ap, "cyclegan:algorithm.identity_weight=0.5")
    args = ap.parse_args()
    steps = parse_steps(args.steps)
    extra = parse_sets(ap, args.set, MODELS)
    models = [m.strip() for m in (args.only or ",".join(MODELS)).split(",") if m.strip()]
    if bad := [m for m in models if m not in MODELS]:
        ap.error(f"unknown model(s) {bad}; choose from {MODELS}")
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    out_dir = str(args.out_dir) if args.out_dir else None
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
        futures = [
            pool.submit(
                one_run,
                m,
                steps[m],
                args.n,
                args.inception,
                args.device,
                out_dir,
                tuple(extra.get(m, ())),
                args.threads,
            )
            for m in models
        ]
        if any(m in SR for m in models):
            futures.append(pool.submit(bicubic, args.n))
        results = {r["model"]: r for r in (f.result() for f in futures)}
    wall = time.perf_counter() - t0
    text = report(results, steps, args, wall)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    if args.cards:
        write_cards(args.cards, list(results.values()))  # each result's "cards"


def report(results: dict[str, dict], steps: dict[str, int], args: Any, wall: float) -> str:
    lines = [
        "## Image-to-image translation and super-resolution",
        "",
        f"Command: `python benchmarks/translation.py {shlex.join(sys.argv[1:])}`",
        "",
        f"Device {args.device}, {args.threads} thread(s) per model, {args.jobs} at once; "
        f"wall {wall / 60:.1f} min. "
        f"Scores on the first {args.n} test images (FID on Inception features: the first "
        f"{min(args.n, 1000)}).",
        "",
    ]
    paired = [m for m in ("pix2pix", "l1-unet") if m in results]
    if paired:
        lines += [
            "### pix2pix: Sobel edges -> Fashion-MNIST (32 x 32)",
            "",
            "| model | steps | train (min) | PSNR (dB) | SSIM | FID (classifier:fashion-mnist) |"
            + (" FID (Inception) |" if args.inception else ""),
            "|---|---|---|---|---|---|" + ("---|" if args.inception else ""),
        ]
        for m in paired:
            r = results[m]
            row = (
                f"| {m} | {r['steps']} | {r['train_seconds'] / 60:.1f} | {r['psnr']:.2f} | "
                f"{r['ssim']:.4f} | {r['fid[classifier:fashion-mnist]']:.3f} |"
            )
            if args.inception:
                row += f" {r['fid[inception-fid]']:.2f} |"
            lines.append(row)
        lines.append("")
    if "cyclegan" in results:
        r = results["cyclegan"]
        lines += [
            "### CycleGAN: MNIST <-> coloured MNIST (32 x 32)",
            "",
            "| steps | train (min) | digits kept A -> B | digits kept B -> A | goal | "
            "de-colouring ceiling | cycle error A, B (grey levels) |",
            "|---|---|---|---|---|---|---|",
            f"| {r['steps']} | {r['train_seconds'] / 60:.1f} | {100 * r['acc_ab']:.1f}% | "
            f"{100 * r['acc_ba']:.1f}% | >= 90% | {100 * r['decolour_ceiling']:.1f}% | "
            f"{r['cycle_a']:.1f}, {r['cycle_b']:.1f} |",
            "",
        ]
    sr = [m for m in ("bicubic", *SR) if m in results]
    if sr:
        lines += [
            "### Super-resolution 4x: CIFAR-10 8 x 8 -> 32 x 32 (JPEG copy)",
            "",
            "| model | steps | train (min) | PSNR (dB) | SSIM | FID (Inception, 1,000) |",
            "|---|---|---|---|---|---|",
        ]
        for m in sr:
            r = results[m]
            lines.append(
                f"| {m} | {r['steps']} | {r['train_seconds'] / 60:.1f} | {r['psnr']:.2f} | "
                f"{r['ssim']:.4f} | {r['fid[inception-fid]']:.2f} |"
            )
        lines.append("")
    widths = "; ".join(f"{m}: {' '.join(WIDTH[m])}" for m in results if m in WIDTH)
    lines += [f"Widths (CPU; the recipes hold the papers'): {widths}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
