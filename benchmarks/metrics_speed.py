"""Speed and memory of ganforge's FID pipeline next to a plain reference pipeline.

Three measurements, each side by side in this one process (ratios, not absolute times:
the machine is shared):

1. **Inception images/s** on 32x32 uint8 images. ganforge: ``extract()`` with the
   ``inception-fid`` extractor (uint8 quantisation, TF1 resize, channels-last network
   with folded batch norm, float64 running moments). Plain reference, written the
   straightforward way: ``F.interpolate(bilinear)`` to 299, the same network in the
   default (contiguous) layout, features appended to a list, ``numpy.cov`` at the end.
   Rounds alternate between the two so that load changes hit both.
2. **The FID matrix step at d = 2048**: ``trace_sqrt_product`` (eigenvalues of
   sigma1 @ sigma2) against ``scipy.linalg.sqrtm`` on the same covariances (from 5,000
   feature vectors each). Goal: ours <= 1/3 of scipy's time.
3. **Memory for 50k samples**: peak RSS of a child process streaming N samples through
   ``extract()`` with a 2048-d feature map (a fixed random projection of the images:
   Inception itself would take an hour for 50k images on a CPU; the pipeline's memory
   does not depend on which network makes the features), for N = 5,000 and 50,000.
   Flat means streaming: the ratio should be ~1.

    python benchmarks/metrics_speed.py --out benchmarks/results/metrics_speed.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO.parent / "shared" / "weights" / "inception-2015-12-05-tfnames-torchscript.pt"


def _images(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)


def inception_speed(n: int, rounds: int, batch: int) -> dict[str, float]:
    from ganforge.metrics.evaluate import DatasetSource, Needs, extract
    from ganforge.metrics.features import build_extractor
    from ganforge.metrics.inception import load_inception

    ours = build_extractor({"name": "inception-fid", "weights": str(WEIGHTS), "batch_size": batch})
    plain_net = load_inception(str(WEIGHTS))
    plain_net.channels_last = False  # the default layout: what a plain pipeline gets
    from ganforge.data.base import TensorDataset

    times: dict[str, list[float]] = {"ganforge": [], "plain": []}
    for r in range(rounds):
        x = _images(n, r)
        src = DatasetSource(TensorDataset("random", "images", {"real": x}))
        for name in ("ganforge", "plain") if r % 2 == 0 else ("plain", "ganforge"):
            t0 = time.perf_counter()
            if name == "ganforge":
                extract(src, ours, n, 0, Needs(), batch_size=batch, progress=False)
            else:
                feats = []
                with torch.no_grad():
                    for i in range(0, n, batch):
                        b = x[i : i + batch].float()
                        b = F.interpolate(b, size=(299, 299), mode="bilinear", align_corners=False)
                        b = (b - 128) / 128
                        feats.append(plain_net.forward_normalized(b)["pool"].numpy())
                f = np.concatenate(feats).astype(np.float64)
                np.mean(f, axis=0), np.cov(f, rowvar=False)
            times[name].append(time.perf_counter() - t0)
    return {k: n * len(v) / sum(v) for k, v in times.items()}


def matrix_step(d: int, n: int, repeats: int) -> dict[str, float]:
    from ganforge.metrics.frechet import sqrtm_trace_reference, trace_sqrt_product

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, d))
    b = rng.standard_normal((n, d)) @ (np.eye(d) + 0.1 * rng.standard_normal((d, d)) / np.sqrt(d))
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    out: dict[str, list[float]] = {"eig": [], "scipy": []}
    vals = {}
    for r in range(repeats):
        for name in ("eig", "scipy") if r % 2 == 0 else ("scipy", "eig"):
            t0 = time.perf_counter()
            v = trace_sqrt_product(s1, s2) if name == "eig" else sqrtm_trace_reference(s1, s2)
            out[name].append(time.perf_counter() - t0)
            vals[name] = v
    res = {f"{k}_s": float(np.median(v)) for k, v in out.items()}
    res["eig_value"], res["scipy_value"] = vals["eig"], vals["scipy"]
    return res


def _memory_child(n: int) -> None:
    """Stream n random 32x32 images through extract() with a 2048-d projection; print peak RSS."""
    from ganforge.metrics.evaluate import GeneratorSource, Needs, extract
    from ganforge.metrics.features import FeatureExtractor

    class Projection(FeatureExtractor):
        name, dim = "projection-2048", 2048

        def __init__(self) -> None:
            g = torch.Generator().manual_seed(0)
            self.w = torch.randn(3 * 32 * 32, 2048, generator=g) / 55.0

        def extract(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"features": batch.flatten(1).float() @ self.w}

    def sample(m: int, seed: int) -> torch.Tensor:
        return torch.rand(m, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1

    t0 = time.perf_counter()
    f = extract(GeneratorSource(sample, "images"), Projection(), n, 0, Needs(), progress=False)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": f.n, "peak_rss_mb": peak_mb, "seconds": time.perf_counter() - t0}))


def memory(ns: list[int]) -> list[dict[str, float]]:
    out = []
    for n in ns:
        env = dict(os.environ, OMP_NUM_THREADS="2")
        res = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(n)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        out.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "benchmarks/results/metrics_speed.md")
    p.add_argument("--n", type=int, default=128, help="images per inception round")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    torch.set_num_threads(2)
    if a.memory_child is not None:
        _memory_child(a.memory_child)
        return
    mem = memory([5_000, 50_000])
    print("memory", mem, flush=True)
    mat = matrix_step(2048, 5000, 5)
    print("matrix", mat, flush=True)
    speed = inception_speed(a.n, a.rounds, a.batch)
    print("speed", speed, flush=True)
    ratio_mat = mat["eig_s"] / mat["scipy_s"]
    lines = [
        "# FID pipeline: speed and memory, side by side",
        "",
        f"Command: `python benchmarks/metrics_speed.py --n {a.n} --rounds {a.rounds} "
        f"--batch {a.batch}`",
        f"Machine: {platform.machine()}, 2 torch threads, torch {torch.__version__}, "
        f"numpy {np.__version__}. Date: {time.strftime('%Y-%m-%d')}. Shared machine: "
        "read the ratios.",
        "",
        "## Inception-FID feature extraction (32x32 uint8 -> 299, 2048-d), images/s",
        "",
        "| pipeline | images/s |",
        "|---|---|",
        f"| ganforge (quantise, TF1 resize, channels-last, folded BN, running moments) | "
        f"{speed['ganforge']:.1f} |",
        f"| plain (torch resize, same network NCHW, list of features, numpy cov) | "
        f"{speed['plain']:.1f} |",
        f"| ratio ganforge / plain | {speed['ganforge'] / speed['plain']:.2f} |",
        "",
        "## FID matrix step, d = 2048 (median of 5)",
        "",
        "| route | seconds | Tr sqrt(S1 S2) |",
        "|---|---|---|",
        f"| eigenvalues of S1 S2 (ganforge) | {mat['eig_s']:.3f} | {mat['eig_value']:.6f} |",
        f"| scipy.linalg.sqrtm | {mat['scipy_s']:.3f} | {mat['scipy_value']:.6f} |",
        f"| ratio ours / scipy (goal <= 0.33) | {ratio_mat:.3f} | |",
        "",
        "## Peak memory while streaming 2048-d features (child process, RSS)",
        "",
        "| samples | peak RSS (MB) | seconds |",
        "|---|---|---|",
        *[f"| {m['n']} | {m['peak_rss_mb']:.0f} | {m['seconds']:.1f} |" for m in mem],
        f"| ratio 50k / 5k | {mem[1]['peak_rss_mb'] / mem[0]['peak_rss_mb']:.3f} | |",
        "",
        "Holding the 50,000 x 2048 features in float64 instead would take 819 MB.",
    ]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
