"""The evaluation pipeline: samples -> quantised pixels -> features (streamed) -> metrics -> cards.

Metrics take a sampling function ``sample(n, seed)`` or a dataset, never a trainer
(DESIGN.md), so ``ganforge eval`` works on any exported generator, image folder or
training-time EMA generator alike.

Streaming. Samples are drawn and passed through the extractor batch by batch; the
first and second moments go into float64 running sums
(:class:`~ganforge.metrics.frechet.RunningMoments`), so FID over 50,000 samples uses
the memory of one batch plus a D x D matrix. Metrics that need every feature vector
(KID, PRDC) or the images (MS-SSIM) ask for them, and only then are they kept (float32).

Seeds. A generator stream is drawn in chunks of :data:`SAMPLE_CHUNK` samples; chunk ``b``
of a stream with seed ``s`` is drawn with the seed ``SeedSequence([s, b])`` (a 63-bit
integer). The samples are therefore reproducible and independent of any batch size
(the extractor batches on its own), and distinct seeds never share chunks. A dataset source
takes the first ``n`` items of a permutation seeded with ``s`` (all items, in order, when
``n`` is the dataset size).

Reference statistics (real data) are cached under ``<cache_dir>/stats/<hash>.safetensors``
where the hash covers the dataset spec, split and subset, the extractor with its
weights' sha256 and preprocessing, and ``n``; written atomically, never pickled.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge import registry
from ganforge.data.base import TensorDataset
from ganforge.data.download import cache_dir, progress_bar
from ganforge.errors import ConfigError, GanforgeError
from ganforge.io import atomic_write_bytes
from ganforge.metrics.cards import Card
from ganforge.metrics.features import FeatureExtractor, build_extractor, default_extractor
from ganforge.metrics.frechet import RunningMoments
from ganforge.nn.conditional import balanced_labels
from ganforge.nn.parallel import Shard

SampleFn = Callable[[int, int], torch.Tensor]

#: Samples drawn per call of ``sample(n, seed)`` (fixed: it determines which samples a
#: stream seed gives).
SAMPLE_CHUNK = 256

#: Bumped when cached reference statistics change meaning.
STATS_FORMAT = 1


def batch_seed(seed: int, index: int) -> int:
    """The seed of batch ``index`` of a stream seeded ``seed`` (see the module docstring)."""
    return (
        int(np.random.SeedSequence([seed, index]).generate_state(2, np.uint32).view(np.uint64)[0])
        >> 1
    )


# -- sources ------------------------------------------------------------------------------
class GeneratorSource:
    """Samples from ``sample(n, seed)``: float (n, C, H, W) in [-1, 1] or (n, D) points.

    Args:
        sample: the sampling function (an exported :class:`~ganforge.engine.run.Generator`'s
            ``sample``, or a trainer's).
        kind: ``"images"`` or ``"points"``.
        info: recorded on the card as ``fake`` (run dir, step, ...).
    """

    cacheable = False

    def __init__(
        self,
        sample: SampleFn,
        kind: str,
        info: dict[str, Any] | None = None,
        num_classes: int = 0,
    ) -> None:
        self.sample, self.kind, self.info = sample, kind, dict(info or {})
        self.num_classes = num_classes

    def labels(self, n: int, seed: int) -> torch.Tensor | None:
        """The classes a conditional generator was asked for, in stream order (None when
        unconditional): each chunk of :data:`SAMPLE_CHUNK` holds the classes in equal
        blocks, as :meth:`ganforge.engine.run.Generator.sample` draws them by default."""
        if not self.num_classes:
            return None
        k = self.num_classes
        sizes = [min(SAMPLE_CHUNK, n - s) for s in range(0, n, SAMPLE_CHUNK)]
        return torch.cat([balanced_labels(m, k) for m in sizes]) if sizes else None

    def max_n(self) -> int | None:
        return None

    def batches(
        self,
        n: int,
        seed: int,
        batch_size: int = SAMPLE_CHUNK,
        select: Callable[[int], bool] | None = None,
    ) -> Iterator[torch.Tensor]:
        """``n`` samples in chunks of :data:`SAMPLE_CHUNK` (``batch_size`` is not used: the
        chunking fixes the samples); ``select(b)`` False skips chunk ``b`` (sharding)."""
        for b, start in enumerate(range(0, n, SAMPLE_CHUNK)):
            if select is not None and not select(b):
                continue
            m = min(SAMPLE_CHUNK, n - start)
            x = self.sample(m, batch_seed(seed, b))
            if len(x) != m:
                raise GanforgeError(f"the sampler returned {len(x)} samples, {m} were asked for.")
            yield x.detach()

    def describe(self, n: int, seed: int) -> dict[str, Any]:
        return dict(self.info, seed=seed)


class DatasetSource:
    """Items of a dataset (``real`` tensor): the reference, or an image folder of fakes.

    Args:
        dataset: the loaded dataset.
        spec: the registry spec it was built from (``{"name": "mnist", "split": "test"}``),
            recorded on cards and hashed for the statistics cache (None: not cached).
    """

    def __init__(self, dataset: TensorDataset, spec: dict[str, Any] | None = None) -> None:
        self.dataset, self.spec = dataset, spec
        self.kind = dataset.kind
        self.cacheable = spec is not None and "path" not in spec

    def max_n(self) -> int:
        return len(self.dataset)

    def indices(self, n: int, seed: int) -> torch.Tensor:
        total = len(self.dataset)
        if n > total:
            raise ConfigError(
                f"asked for {n} samples of {self.spec or self.dataset.name} but it has only "
                f"{total}; use a smaller --n / --n-real (or a larger split)."
            )
        if n == total:
            return torch.arange(total)
        return torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n]

    def batches(self, n: int, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
        idx = self.indices(n, seed)
        real = self.dataset.tensors["real"]
        for start in range(0, n, batch_size):
            yield real[idx[start : start + batch_size]].cpu()

    def labels(self, n: int, seed: int) -> torch.Tensor | None:
        lab = self.dataset.tensors.get("label")
        return None if lab is None else lab[self.indices(n, seed)].cpu()

    def describe(self, n: int, seed: int) -> dict[str, Any]:
        spec = {k: v for k, v in (self.spec or {"name": self.dataset.name}).items() if k != "root"}
        subset = (
            "all, in order" if n == len(self.dataset) else f"first {n} of randperm(seed={seed})"
        )
        return {"data": spec, "subset": subset}


# -- extraction ---------------------------------------------------------------------------
@dataclass
class Features:
    """What one pass of an extractor over ``n`` samples leaves behind.

    ``moments``: float64 running mean / covariance of the features (always);
    ``features`` (N, D) float32, ``logits`` (N, K) float32 and ``images`` (uint8 or
    float, as sampled) only when a metric asked for them.
    """

    n: int
    moments: RunningMoments | None = None
    features: np.ndarray | None = None
    logits: np.ndarray | None = None
    images: torch.Tensor | None = None
    labels: torch.Tensor | None = None


@dataclass
class Needs:
    """What the metrics of one pass need kept, beyond the running moments."""

    features: bool = False
    logits: bool = False
    images: bool = False

    def __or__(self, other: Needs) -> Needs:
        return Needs(
            self.features or other.features,
            self.logits or other.logits,
            self.images or other.images,
        )


def extract(
    source: GeneratorSource | DatasetSource,
    extractor: FeatureExtractor | None,
    n: int,
    seed: int,
    needs: Needs,
    batch_size: int = 250,
    progress: bool = True,
    label: str = "",
    shard: Shard | None = None,
) -> Features | None:
    """Stream ``n`` samples of ``source`` through ``extractor``; keep what ``needs`` says.

    ``shard`` (data-parallel training, a :class:`GeneratorSource` only): rank ``r`` of
    ``W`` samples and extracts the chunks ``b`` with ``b % W == r``; rank 0 gathers them
    and assembles them in chunk order, so its result is the one-process result, and the
    other ranks get None.
    """
    if shard is not None and shard.world > 1 and isinstance(source, GeneratorSource):
        return _extract_sharded(source, extractor, n, seed, needs, progress, label, shard)
    with progress_bar(label or "features", n, enabled=progress) as advance:
        parts = []
        for x in source.batches(n, seed, batch_size):
            parts.append(_chunk_features(x, extractor, needs))
            advance(len(x))
    return _assemble(parts, extractor, needs)


def _chunk_features(
    x: torch.Tensor, extractor: FeatureExtractor | None, needs: Needs
) -> dict[str, Any]:
    """What ``extract`` keeps of one chunk of samples."""
    part: dict[str, Any] = {"n": len(x)}
    if needs.images:
        part["images"] = x.cpu()
    if extractor is not None:
        if x.is_floating_point() and not torch.isfinite(x).all():
            raise GanforgeError(
                "the samples contain NaN or infinite values: the generator has "
                "diverged; evaluate an earlier checkpoint."
            )
        out = extractor(x)
        part["features"] = out["features"].double().numpy()
        if needs.logits:
            if "logits" not in out:
                raise GanforgeError(
                    f"{extractor.name} gives no class logits with these weights, "
                    "which this metric needs (for inception-fid: use pytorch-fid's "
                    "pt_inception-2015-12-05 weights, which have the 1008-way layer)."
                )
            part["logits"] = out["logits"].double().numpy()
    return part


def _extract_sharded(
    source: GeneratorSource,
    extractor: FeatureExtractor | None,
    n: int,
    seed: int,
    needs: Needs,
    progress: bool,
    label: str,
    shard: Shard,
) -> Features | None:
    import torch.distributed as dist

    mine = []
    with progress_bar(label or "features", n, enabled=progress and shard.rank == 0) as advance:
        chunks = source.batches(n, seed, select=lambda b: b % shard.world == shard.rank)
        ids = range(shard.rank, -(-n // SAMPLE_CHUNK), shard.world)
        for b, x in zip(ids, chunks, strict=True):
            mine.append((b, _chunk_features(x, extractor, needs)))
            advance(len(x) * shard.world)
    gathered: list[Any] | None = [None] * shard.world if shard.rank == 0 else None
    dist.gather_object(mine, gathered, dst=0)  # our own ranks' arrays, not outside data
    if gathered is None:
        return None
    parts = [p for _, p in sorted((bp for rank in gathered for bp in rank), key=lambda t: t[0])]
    return _assemble(parts, extractor, needs)


def _assemble(
    parts: list[dict[str, Any]], extractor: FeatureExtractor | None, needs: Needs
) -> Features:
    """Features of chunks in stream order (moments accumulated chunk by chunk, as always)."""
    moments = RunningMoments() if extractor is not None else None
    feats, logits, images, seen = [], [], [], 0
    for part in parts:
        if "images" in part:
            images.append(part["images"])
        if "features" in part:
            f = part["features"]
            moments.update(f)  # type: ignore[union-attr]
            if needs.features:
                feats.append(f.astype(np.float32))
        if "logits" in part:
            logits.append(part["logits"])
        seen += part["n"]
    return Features(
        n=seen,
        moments=moments,
        features=np.concatenate(feats) if feats else None,
        logits=np.concatenate(logits) if logits else None,
        images=torch.cat(images) if images else None,
    )


# -- the reference statistics cache ----------------------------------------------------------
def _stats_key(source: DatasetSource, extractor: FeatureExtractor, n: int, seed: int) -> str:
    blob = json.dumps(
        {
            "format": STATS_FORMAT,
            "source": source.describe(n, seed),
            "extractor": extractor.card(),
            "n": n,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _save_stats(path: Path, f: Features, meta: dict[str, Any]) -> None:
    from safetensors.torch import save

    assert f.moments is not None
    tensors = {
        f"moments.{k}": torch.as_tensor(np.asarray(v)) for k, v in f.moments.state_dict().items()
    }
    if f.features is not None:
        tensors["features"] = torch.from_numpy(f.features)
    if f.logits is not None:
        tensors["logits"] = torch.from_numpy(f.logits)
    data = save(tensors, metadata={"ganforge": json.dumps(meta, sort_keys=True, default=str)})
    atomic_write_bytes(path, data)


def _load_stats(path: Path, needs: Needs) -> Features | None:
    """The cached statistics at ``path`` if readable and complete for ``needs``, else None."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        t = load_file(str(path))
        state = {k[8:]: t[k].numpy() for k in t if k.startswith("moments.")}
        state = {k: (v.item() if v.ndim == 0 else v) for k, v in state.items()}
        moments = RunningMoments.from_state_dict(state)
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, RuntimeError):
        return None
    if (needs.features and "features" not in t) or (needs.logits and "logits" not in t):
        return None
    return Features(
        n=moments.n,
        moments=moments,
        features=t["features"].numpy() if "features" in t else None,
        logits=t["logits"].numpy().astype(np.float64) if "logits" in t else None,
    )


def reference_features(
    source: DatasetSource,
    extractor: FeatureExtractor,
    n: int,
    seed: int,
    needs: Needs,
    *,
    cache: bool = True,
    batch_size: int = 250,
    progress: bool = True,
) -> Features:
    """Features of the real data, from the cache when computed the same way before."""
    path = None
    if cache and source.cacheable and not needs.images:
        path = cache_dir() / "stats" / f"{_stats_key(source, extractor, n, seed)}.safetensors"
        hit = _load_stats(path, needs)
        if hit is not None:
            hit.labels = source.labels(n, seed)
            return hit
    f = extract(source, extractor, n, seed, needs, batch_size, progress, "real features")
    f.labels = source.labels(n, seed)
    if path is not None:
        meta = {"source": source.describe(n, seed), "extractor": extractor.card(), "n": n}
        _save_stats(path, f, meta)
    return f


# -- evaluate -----------------------------------------------------------------------------
@dataclass
class Context:
    """Everything a metric may use; built by :func:`evaluate`."""

    fake: Features
    real: Features | None
    extractor: FeatureExtractor | None
    fake_source: GeneratorSource | DatasetSource
    real_source: DatasetSource | None
    seed: int
    device: str
    out_dir: Path | None
    progress: bool = True
    extras: dict[str, Any] = field(default_factory=dict)


def _metric_specs(metrics: Sequence[str | dict[str, Any]]) -> list[dict[str, Any]]:
    specs = []
    for m in metrics:
        spec = {"name": m} if isinstance(m, str) else dict(m)
        specs.append(registry.METRICS.validate(spec, "metrics"))
    return specs


def as_source(x: Any, what: str) -> GeneratorSource | DatasetSource:
    """Coerce what the Python API accepts into a source.

    A source passes through; an exported :class:`~ganforge.engine.run.Generator` (or
    anything with ``sample(n, seed)`` and ``kind``) or a plain ``sample(n, seed)``
    function becomes a :class:`GeneratorSource`; a :class:`TensorDataset`, a dataset
    spec dict or a dataset name becomes a :class:`DatasetSource`.
    """
    if isinstance(x, (GeneratorSource, DatasetSource)):
        return x
    if isinstance(x, TensorDataset):
        return DatasetSource(x, None)
    if isinstance(x, (str, dict)):
        registry.load_all()
        spec = registry.DATASETS.validate({"name": x} if isinstance(x, str) else x, what)
        return DatasetSource(registry.DATASETS.build(spec, what), spec)
    if hasattr(x, "sample") and hasattr(x, "kind"):
        return GeneratorSource(x.sample, x.kind, {"source": getattr(x, "meta", {}).get("recipe")})
    if callable(x):
        probe = x(1, 0)
        return GeneratorSource(x, "images" if probe.dim() == 4 else "points")
    raise ConfigError(
        f"{what} must be a generator (ganforge.load(run)), a sample(n, seed) function, a "
        f"dataset or a dataset name; got {type(x).__name__}."
    )


def _classifier_root(ext_key: Any, real: DatasetSource | None) -> str | None:
    """A ``classifier:<dataset>`` trains on the reference data's local copy when they match."""
    if real is None or not real.spec or ext_key is None:
        return None
    from ganforge.metrics.features import parse_spec

    ext_key = parse_spec(ext_key)
    if ext_key.get("name") == "classifier" and ext_key.get("dataset") == real.spec.get("name"):
        return real.spec.get("root")
    return None


def evaluate(
    fake: Any,
    real: Any,
    metrics: Sequence[str | dict[str, Any]],
    *,
    n: int = 10_000,
    n_real: int | None = None,
    seed: int = 0,
    real_seed: int = 0,
    extractor: str | dict[str, Any] | None = None,
    inception_weights: str | None = None,
    device: str = "cpu",
    batch_size: int = 250,
    cache: bool = True,
    progress: bool = True,
    out_dir: Path | str | None = None,
    shard: Shard | None = None,
) -> list[Card]:
    """Score ``fake`` against ``real`` with each metric; return one card per metric.

    Args:
        fake: a :class:`GeneratorSource` (``sample(n, seed)``) or a :class:`DatasetSource`.
        real: the reference data (None only for metrics that need none, e.g. IS).
        metrics: names (``"fid"``) or specs (``{"name": "kid", "subset_size": 500}``).
        n: fake samples; ``n_real``: real samples (default: ``n``, or the whole split
            when smaller).
        seed: fake-sample stream seed and metric seed (KID subsets, pairs).
        real_seed: seed of the real subset (fixed by default so that every run is
            compared with the same reference images).
        extractor: for all feature metrics (default: inception-fid for images,
            identity for points); a metric that fixes its own extractor keeps it.
        inception_weights: a weight file for inception-fid.
        out_dir: where metrics may write pictures (the birthday test's closest pairs).
        shard: data-parallel training: every rank calls ``evaluate`` and extracts its share
            of the generated chunks; rank 0 computes the metrics and returns the cards,
            the other ranks return [].

    Cards are returned, not saved: the caller decides where they go.

    ``fake`` and ``real`` may also be given as anything :func:`as_source` accepts::

        cards = ganforge.evaluate(ganforge.load("runs/gan-digits-0001"), "digits",
                                  ["fid", "kid"], extractor="classifier:digits", n=1000)
    """
    registry.load_all()
    fake = as_source(fake, "fake")
    real = None if real is None else as_source(real, "real")
    if not isinstance(real, (DatasetSource, type(None))):
        raise ConfigError("the reference (real) data must be a dataset, not a generator.")
    specs = _metric_specs(metrics)
    if not specs:
        raise ConfigError("no metrics given; e.g. --metrics fid,kid")
    built = [registry.METRICS.build(s, "metrics") for s in specs]
    if real is not None and n_real is None:
        n_real = min(n, real.max_n())
    ext_spec = extractor or default_extractor(fake.kind)
    # group metrics by the extractor they use: one streaming pass per extractor
    groups: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    for spec, metric in zip(specs, built):
        key = metric.extractor(fake.kind, ext_spec)
        groups.setdefault(json.dumps(key, sort_keys=True), []).append((spec, metric))
    cards = []
    resolution = None
    if fake.kind == "images" and real is not None:
        resolution = int(real.dataset.shape[-1])
    for key, members in groups.items():
        ext_key = json.loads(key)
        ext = (
            None
            if ext_key is None
            else build_extractor(
                ext_key,
                device,
                resolution=resolution,
                weights=inception_weights,
                root=_classifier_root(ext_key, real),
            )
        )
        fneeds = Needs()
        rneeds = Needs()
        for _, m in members:
            fneeds = fneeds | m.fake_needs
            rneeds = rneeds | m.real_needs
        needs_real = any(m.needs_real for _, m in members)
        if needs_real and real is None:
            names = ", ".join(s["name"] for s, m in members if m.needs_real)
            raise ConfigError(f"{names} compare with real data: give a reference (--ref / --real).")
        label = f"fake {ext.name if ext else 'samples'}"
        if ext is None and not fneeds.images:
            fake_f = Features(n=0)  # the metric draws its own samples (birthday test)
        else:
            got = extract(fake, ext, n, seed, fneeds, batch_size, progress, label, shard)
            if got is None:  # a data-parallel rank other than 0: its share is sent
                continue
            fake_f = got
        real_f = None
        if needs_real and real is not None:
            assert n_real is not None
            if ext is None:
                real_f = extract(
                    real, None, n_real, real_seed, rneeds, batch_size, progress, "real"
                )
            else:
                real_f = reference_features(
                    real,
                    ext,
                    n_real,
                    real_seed,
                    rneeds,
                    cache=cache,
                    batch_size=batch_size,
                    progress=progress,
                )
        ctx = Context(
            fake_f,
            real_f,
            ext,
            fake,
            real,
            seed,
            device,
            Path(out_dir) if out_dir else None,
            progress,
        )
        ext_card = ext.card() if ext is not None else {}
        for spec, metric in members:
            values = metric.compute(ctx)
            bad = [k for k, v in values.items() if isinstance(v, float) and math.isnan(v)]
            card_ext = metric.card_extractor(ext_card, ctx)
            cards.append(
                Card(
                    metric=spec["name"],
                    values=values,
                    primary=metric.primary,
                    extractor=card_ext.get("extractor"),
                    weights_sha256=card_ext.get("weights_sha256"),
                    preprocessing={
                        k: v
                        for k, v in card_ext.items()
                        if k not in ("extractor", "weights_sha256")
                    },
                    n_real=real_f.n if (real_f is not None and metric.needs_real) else None,
                    n_fake=fake_f.n,
                    reference=(
                        real.describe(n_real, real_seed)
                        if (real is not None and metric.needs_real and n_real)
                        else None
                    ),
                    fake=fake.describe(n, seed),
                    params={k: v for k, v in spec.items() if k != "name"},
                    seeds={"fake": seed, "real_subset": real_seed, "metric": seed},
                )
            )
            if bad:
                cards[-1].values["warning"] = f"NaN in {', '.join(bad)}"
    return cards


# -- runs, folders, comparisons ------------------------------------------------------------
def reference_source(data: dict[str, Any], split: str | None) -> DatasetSource:
    """The reference dataset of a run's ``data`` spec, at ``split`` when it has splits."""
    registry.load_all()
    spec = dict(data)
    if split is not None:
        params = registry.DATASETS.parameters(spec["name"])
        if "split" not in params:
            raise ConfigError(
                f"dataset {spec['name']!r} has no splits; leave out --ref "
                "(its training data is the reference)."
            )
        spec["split"] = split
    spec = registry.DATASETS.validate(spec, "reference data")
    return DatasetSource(registry.DATASETS.build(spec, "reference data"), spec)


def evaluate_run(
    run_dir: Path | str,
    metrics: Sequence[str | dict[str, Any]],
    *,
    n: int = 10_000,
    ref: str | None = "train",
    save: bool = True,
    **kwargs: Any,
) -> list[Card]:
    """Evaluate a run's exported generator against its dataset; save cards in ``run_dir/cards``.

    Args:
        ref: the reference split (``train``/``test``; None: the recipe's own data spec;
            ignored for datasets without splits, e.g. ``digits`` or toy mixtures).
        kwargs: passed to :func:`evaluate` (``n_real``, ``seed``, ``extractor``, ...).
    """
    from ganforge.config import load_config
    from ganforge.engine.run import load

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise GanforgeError(f"{run_dir} is not a ganforge run dir (no config.yaml).")
    cfg = load_config(str(run_dir / "config.yaml"))
    gen = load(run_dir, device=kwargs.get("device", "cpu"))
    has_split = "split" in registry.DATASETS.parameters(cfg.data["name"])
    real = reference_source(cfg.data, ref if has_split else None)
    info = {"source": str(run_dir), "step": gen.meta.get("step"), "ema": gen.meta.get("ema")}
    fake = GeneratorSource(gen.sample, gen.kind, info, num_classes=gen.num_classes)
    cards = evaluate(fake, real, metrics, n=n, out_dir=run_dir / "cards", **kwargs)
    if save:
        for c in cards:
            c.save(run_dir / "cards")
    return cards


def evaluate_folders(
    real_dir: Path | str,
    fake_dir: Path | str,
    metrics: Sequence[str | dict[str, Any]],
    *,
    n: int | None = None,
    channels: int = 3,
    **kwargs: Any,
) -> list[Card]:
    """Score a folder (or .zip) of generated images against a folder of real ones.

    Both are read with the ``image-folder`` loader at their native size; ``n`` fake
    images (default: all) against all real ones (or ``n_real``).
    """
    registry.load_all()
    srcs = []
    for d in (real_dir, fake_dir):
        spec = {"name": "image-folder", "path": str(d), "channels": channels}
        srcs.append(DatasetSource(registry.DATASETS.build(spec, "image folder"), spec))
    real, fake = srcs
    n = n or fake.max_n()
    kwargs.setdefault("n_real", real.max_n())
    return evaluate(fake, real, metrics, n=n, **kwargs)
