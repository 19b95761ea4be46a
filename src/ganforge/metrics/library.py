"""The registered metrics: thin wrappers from the evaluation pipeline to the pure functions.

The mathematics lives in one module per family (``frechet``, ``kid``,
``inception_score``, ``prdc``, ``ssim``, ``birthday``, ``modes``, ``toy``); each class
here only says what a metric needs from the pipeline (features, logits, images, real
data), which extractor it uses, which value is its headline and whether lower is
better, and calls the function. Constructor arguments are the metric's parameters
(``{name: kid, subset_size: 500}``); they are recorded on the card.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from ganforge.errors import ConfigError, GanforgeError
from ganforge.registry import METRICS

if TYPE_CHECKING:
    from ganforge.metrics.evaluate import Context, Needs


class Metric:
    """Base class of the registered metrics.

    Class attributes: ``primary`` (the headline value's key), ``lower_is_better``,
    ``needs_real`` (compares with real data), ``fake_needs`` / ``real_needs`` (what
    the pipeline must keep beyond running moments).
    """

    primary: ClassVar[str]
    lower_is_better: ClassVar[bool] = True
    needs_real: ClassVar[bool] = True
    uses_features: ClassVar[bool] = True

    @property
    def fake_needs(self) -> Needs:
        from ganforge.metrics.evaluate import Needs

        return Needs()

    @property
    def real_needs(self) -> Needs:
        return self.fake_needs

    def extractor(self, kind: str, default: str | dict[str, Any]) -> str | dict[str, Any] | None:
        """The extractor this metric runs on (None: it reads the samples themselves)."""
        return default if self.uses_features else None

    def card_extractor(self, ext_card: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """The extractor fields of this metric's card (called after :meth:`compute`)."""
        return ext_card

    def compute(self, ctx: Context) -> dict[str, Any]:
        raise NotImplementedError


def _needs(**kw: bool) -> Needs:
    from ganforge.metrics.evaluate import Needs

    return Needs(**kw)


class FeatureSetMetric(Metric):
    """A metric over every real and fake feature vector (not only their moments)."""

    @property
    def fake_needs(self) -> Needs:
        return _needs(features=True)


class SampleMetric(Metric):
    """A metric that reads the generated samples themselves (no extractor, no real data)."""

    needs_real = False
    uses_features = False

    @property
    def fake_needs(self) -> Needs:
        return _needs(images=True)

    def card_extractor(self, ext_card: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return {"extractor": None}


@METRICS.register("fid", paper="Heusel et al. 2017, GANs trained by a two time-scale update rule")
class FID(Metric):
    """Fréchet Inception Distance between real and fake feature Gaussians (lower is better)."""

    primary = "fid"

    def compute(self, ctx: Context) -> dict[str, Any]:
        from ganforge.metrics.frechet import frechet_distance

        assert ctx.real is not None and ctx.real.moments is not None
        r, f = ctx.real.moments, ctx.fake.moments
        assert f is not None
        return {"fid": frechet_distance(r.mean(), r.cov(), f.mean(), f.cov())}


@METRICS.register("kid", paper="Binkowski et al. 2018, Demystifying MMD GANs")
class KID(FeatureSetMetric):
    """Kernel Inception Distance: unbiased MMD^2, cubic polynomial kernel, mean +- std over subsets."""

    primary = "kid"

    def __init__(
        self,
        num_subsets: Annotated[int, Field(ge=1)] = 100,
        subset_size: Annotated[int, Field(ge=2)] = 1000,
    ) -> None:
        self.num_subsets, self.subset_size = num_subsets, subset_size

    def compute(self, ctx: Context) -> dict[str, Any]:
        from ganforge.metrics.kid import kid

        assert ctx.real is not None
        mean, std = kid(
            ctx.real.features,
            ctx.fake.features,
            num_subsets=self.num_subsets,
            subset_size=self.subset_size,
            seed=ctx.seed,
        )
        return {"kid": mean, "kid_std": std}


@METRICS.register("is", paper="Salimans et al. 2016, Improved techniques for training GANs")
class InceptionScore(Metric):
    """Inception Score exp(E KL(p(y|x) || p(y))): 10 splits, population std (higher is better)."""

    primary = "is"
    lower_is_better = False
    needs_real = False

    def __init__(self, splits: Annotated[int, Field(ge=1)] = 10) -> None:
        self.splits = splits

    @property
    def fake_needs(self) -> Needs:
        return _needs(logits=True)

    def compute(self, ctx: Context) -> dict[str, Any]:
        from ganforge.metrics.inception_score import inception_score

        mean, std = inception_score(ctx.fake.logits, splits=self.splits)
        return {"is": mean, "is_std": std}


@METRICS.register("mode-score", paper="Che et al. 2017, Mode regularized GANs")
class ModeScore(Metric):
    """Mode Score: the Inception Score corrected by KL(p(y) || p*(y)) to the training marginal.

    p*(y) is the label histogram of the reference data when the extractor is the
    classifier of that very dataset (its classes are the labels); otherwise the mean
    predicted class distribution of the extractor on the reference data.
    """

    primary = "mode_score"
    lower_is_better = False

    def __init__(self, splits: Annotated[int, Field(ge=1)] = 10) -> None:
        self.splits = splits

    @property
    def fake_needs(self) -> Needs:
        return _needs(logits=True)

    def compute(self, ctx: Context) -> dict[str, Any]:
        from ganforge.metrics.inception_score import mode_score

        assert ctx.real is not None and ctx.real.logits is not None
        ext_name = ctx.extractor.name if ctx.extractor else ""
        ref_name = ctx.real_source.dataset.name if ctx.real_source is not None else ""
        k = ctx.fake.logits.shape[1]  # type: ignore[union-attr]
        labels = ctx.real.labels
        if ext_name == f"classifier:{ref_name}" and labels is not None and int(labels.max()) < k:
            marginal = np.bincount(labels.numpy(), minlength=k).astype(np.float64)
            source = "labels"
        else:
            p = torch.from_numpy(ctx.real.logits).softmax(dim=1).numpy()
            marginal = p.mean(axis=0)
            source = "predicted"
        marginal = marginal / marginal.sum()
        mean, std = mode_score(
            torch.from_numpy(ctx.fake.logits).softmax(dim=1).numpy(),  # type: ignore[arg-type]
            marginal,
            splits=self.splits,
        )
        return {"mode_score": mean, "mode_score_std": std, "marginal": source}


@METRICS.register(
    "prdc",
    paper="Kynkäänniemi et al. 2019 (improved precision & recall); Naeem et al. 2020 (density & coverage)",
)
class PRDC(FeatureSetMetric):
    """Precision & recall (k=3) and density & coverage (k=5) of k-NN manifolds."""

    primary = "precision"
    lower_is_better = False

    def __init__(
        self,
        k_pr: Annotated[int, Field(ge=1)] = 3,
        k_dc: Annotated[int, Field(ge=1)] = 5,
    ) -> None:
        self.k_pr, self.k_dc = k_pr, k_dc

    def compute(self, ctx: Context) -> dict[str, Any]:
        from ganforge.metrics.prdc import prdc

        assert ctx.real is not None
        out = prdc(ctx.real.features, ctx.fake.features, k_pr=self.k_pr, k_dc=self.k_dc)
        return {k: float(v) for k, v in out.items()}


@METRICS.register(
    "ms-ssim", paper="Wang et al. 2003 (MS-SSIM); Odena et al. 2017 (AC-GAN diversity)"
)
class MSSSIMDiversity(SampleMetric):
    """Mean MS-SSIM over random pairs of samples (lower = more diverse); per class when labelled."""

    primary = "ms_ssim"

    def __init__(self, n_pairs: Annotated[int, Field(ge=1)] = 1000) -> None:
        self.n_pairs = n_pairs

    def card_extractor(self, ext_card: dict[str, Any], ctx: Context) -> dict[str, Any]:
        from ganforge.metrics.features import QUANTIZATION

        return {"extractor": None, "quantization": QUANTIZATION, "resize": "none"}

    def compute(self, ctx: Context) -> dict[str, Any]:
        from ganforge.metrics.features import to_uint8
        from ganforge.metrics.ssim import ms_ssim_diversity

        images = ctx.fake.images
        if images is None or images.dim() != 4:
            raise GanforgeError("ms-ssim scores images (N, C, H, W); these samples are not images.")
        # Labelled samples (an image folder with class sub-folders; later, conditional
        # generators) are also scored per class, as in the AC-GAN paper.
        labels_fn = getattr(ctx.fake_source, "labels", None)
        labels = labels_fn(len(images), ctx.seed) if labels_fn is not None else None
        out = ms_ssim_diversity(
            to_uint8(images), n_pairs=self.n_pairs, seed=ctx.seed, labels=labels
        )
        res: dict[str, Any] = {"ms_ssim": float(out["ms_ssim"])}
        if "per_class" in out:
            res["class_mean"] = float(out["class_mean"])
            res["per_class"] = {str(k): float(v) for k, v in out["per_class"].items()}
        return res


@METRICS.register("birthday", paper="Arora & Zhang 2017, Do GANs learn the distribution?")
class Birthday(Metric):
    """Birthday-paradox support size: the smallest batch with a near-duplicate pair half the time.

    The closest pairs are saved as ``birthday-pairs.png`` next to the card, for a person
    to confirm they really are duplicates.
    """

    primary = "support_size"
    lower_is_better = False
    needs_real = False
    uses_features = False

    def __init__(
        self,
        threshold: float | None = None,
        trials: Annotated[int, Field(ge=2)] = 20,
        max_batch: Annotated[int, Field(ge=4)] = 2048,
    ) -> None:
        self.threshold, self.trials, self.max_batch = threshold, trials, max_batch

    def card_extractor(self, ext_card: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return {"extractor": None, "distance": "Euclidean in pixel space, images in [-1, 1]"}

    def compute(self, ctx: Context) -> dict[str, Any]:
        from ganforge.metrics.birthday import birthday_test, save_pairs

        sample = getattr(ctx.fake_source, "sample", None)
        if sample is None:
            raise ConfigError("the birthday test draws fresh batches: it needs a generator.")
        ref = None
        if self.threshold is None and ctx.real_source is not None:
            ref = next(ctx.real_source.batches(min(1000, ctx.real_source.max_n()), 0, 1000))
            probe = sample(1, 0)
            if tuple(ref.shape[1:]) != tuple(probe.shape[1:]):
                raise ConfigError(
                    f"birthday: the reference images are {tuple(ref.shape[1:])} but the samples "
                    f"are {tuple(probe.shape[1:])}; give a reference at the samples' resolution "
                    "or a fixed threshold ({name: birthday, threshold: T})."
                )
        res = birthday_test(
            sample,
            threshold=self.threshold,
            trials=self.trials,
            max_batch=self.max_batch,
            seed=ctx.seed,
            reference=ref,
        )
        if ctx.out_dir is not None and res.get("pairs") is not None:
            res["pairs_image"] = str(save_pairs(res["pairs"], ctx.out_dir / "birthday-pairs.png"))
        return {k: v for k, v in res.items() if k != "pairs"}


@METRICS.register(
    "mode-coverage", paper="Srivastava et al. 2017 (VEEGAN); Lin et al. 2018 (PacGAN)"
)
class ModeCoverage(SampleMetric):
    """2-D mixtures: modes covered, % high-quality samples (within 3 std), reverse KL."""

    primary = "modes_covered"
    lower_is_better = False

    def __init__(self, threshold: Annotated[float, Field(gt=0)] = 3.0) -> None:
        self.threshold = threshold

    def compute(self, ctx: Context) -> dict[str, Any]:
        from ganforge.metrics.toy import mode_metrics

        info = ctx.real_source.dataset.info if ctx.real_source is not None else {}
        if "centers" not in info:
            raise ConfigError(
                "mode-coverage needs a 2-D mixture with known modes (ring8, grid25) as reference."
            )
        out = mode_metrics(ctx.fake.images, info["centers"], info["std"], self.threshold)
        out.pop("mode_counts")
        return out


@METRICS.register(
    "stacked-mnist", paper="Metz et al. 2017 (Unrolled GANs); Lin et al. 2018 (PacGAN)"
)
class StackedMNIST(SampleMetric):
    """Stacked MNIST: modes covered out of 1000 and KL to uniform, per-channel MNIST classifier."""

    primary = "modes_covered"
    lower_is_better = False

    def __init__(self, root: str | None = None) -> None:
        self.root = root

    def _classifier(self, ctx: Context, resolution: int) -> Any:
        from ganforge.metrics.features import build_extractor

        key = ("stacked-mnist-classifier", resolution)
        if key not in ctx.extras:
            ctx.extras[key] = build_extractor(
                "classifier:mnist", ctx.device, resolution=resolution, root=self.root
            )
        return ctx.extras[key]

    def card_extractor(self, ext_card: dict[str, Any], ctx: Context) -> dict[str, Any]:
        clf = [v for k, v in ctx.extras.items() if k[0] == "stacked-mnist-classifier"]
        card = clf[0].card() if clf else {"extractor": "classifier:mnist"}
        card["extractor"] += " (per channel)"
        return card

    def compute(self, ctx: Context) -> dict[str, Any]:
        from ganforge.metrics.modes import stacked_mnist_modes

        x = ctx.fake.images
        if x is None or x.dim() != 4 or x.shape[1] != 3:
            raise GanforgeError(
                "stacked-mnist scores 3-channel images, one MNIST digit per channel."
            )
        clf = self._classifier(ctx, int(x.shape[-1]))
        n = len(x)
        digits = clf(x.reshape(n * 3, 1, *x.shape[2:]))["logits"].argmax(dim=1).view(n, 3)
        out = stacked_mnist_modes(digits.numpy())
        return {k: v for k, v in out.items() if not isinstance(v, (list, np.ndarray))}


@METRICS.register(
    "conditional-accuracy",
    paper="Odena et al. 2017 (AC-GAN), sec. 4.1; Shmelkov et al. 2018 (How good is my GAN?)",
)
class ConditionalAccuracy(SampleMetric):
    """Class-conditional samples: fraction the dataset's classifier assigns to the asked class.

    The generator is asked for the classes in equal blocks; ``classifier:<dataset>``
    (default: the reference dataset's own classifier) labels every sample, and the
    score is the fraction whose predicted class is the requested one, overall and per
    class (``per_class``). A generator that ignores its label scores about 1/K.
    """

    primary = "accuracy"
    lower_is_better = False

    def __init__(self, classifier: str | None = None, root: str | None = None) -> None:
        self.classifier, self.root = classifier, root

    def _dataset(self, ctx: Context) -> str:
        from ganforge.metrics.classifier import CLASSIFIER_DATASETS

        name = self.classifier
        if name is None and ctx.real_source is not None and ctx.real_source.spec:
            name = ctx.real_source.spec.get("name")
        if name not in CLASSIFIER_DATASETS:
            raise ConfigError(
                f"conditional-accuracy needs a classifier for the data; {name!r} has none. "
                f"Set classifier to one of {', '.join(CLASSIFIER_DATASETS)}."
            )
        return str(name)

    def _model(self, ctx: Context, resolution: int) -> Any:
        from ganforge.metrics.features import build_extractor

        dataset = self._dataset(ctx)
        key = ("conditional-accuracy-classifier", dataset, resolution)
        if key not in ctx.extras:
            root, real = self.root, ctx.real_source
            if root is None and real is not None and (real.spec or {}).get("name") == dataset:
                root = (real.spec or {}).get("root")
            ctx.extras[key] = build_extractor(
                f"classifier:{dataset}", ctx.device, resolution=resolution, root=root
            )
        return ctx.extras[key]

    def card_extractor(self, ext_card: dict[str, Any], ctx: Context) -> dict[str, Any]:
        clf = [v for k, v in ctx.extras.items() if k[0] == "conditional-accuracy-classifier"]
        return clf[0].card() if clf else {"extractor": "classifier"}

    def compute(self, ctx: Context) -> dict[str, Any]:
        x = ctx.fake.images
        labels_fn = getattr(ctx.fake_source, "labels", None)
        labels = labels_fn(len(x), ctx.seed) if labels_fn is not None and x is not None else None
        if labels is None:
            raise ConfigError(
                "conditional-accuracy scores a class-conditional generator; this source "
                "has no requested labels."
            )
        model = self._model(ctx, int(x.shape[-1]))
        pred = torch.cat(
            [model(x[i : i + 500])["logits"].argmax(dim=1).cpu() for i in range(0, len(x), 500)]
        )
        hit = (pred == labels).float()
        k = int(labels.max()) + 1
        per_class = [float(hit[labels == c].mean()) for c in range(k) if bool((labels == c).any())]
        return {"accuracy": float(hit.mean()), "per_class": per_class, "n": len(x)}


@METRICS.register(
    "intra-fid", paper="Miyato & Koyama 2018, cGANs with Projection Discriminator (sec. 5)"
)
class IntraFID(FeatureSetMetric):
    """Intra-class FID: the FID between the samples of each class and the real images of
    that class, averaged over classes (lower is better).

    A conditional generator that draws good images of the wrong class has a low FID but a
    high intra-FID. Needs a class-conditional generator (classes in equal blocks) and a
    labelled reference; ``per_class`` holds each class's FID. With n samples and K classes
    each class has about n / K samples, so the estimate is biased upwards more than FID
    at the same n (FID's bias grows as d^2 / n).
    """

    primary = "intra_fid"

    def compute(self, ctx: Context) -> dict[str, Any]:
        from ganforge.metrics.frechet import frechet_distance

        assert ctx.real is not None and ctx.fake.features is not None
        labels_fn = getattr(ctx.fake_source, "labels", None)
        f_lab = labels_fn(ctx.fake.n, ctx.seed) if labels_fn is not None else None
        r_lab = ctx.real.labels
        if f_lab is None or r_lab is None:
            raise ConfigError(
                "intra-fid needs class labels on both sides: a class-conditional generator "
                "and a labelled reference dataset."
            )
        f_lab, r_lab = f_lab.numpy(), r_lab.numpy()
        fake, real = (
            np.asarray(ctx.fake.features, np.float64),
            np.asarray(ctx.real.features, np.float64),
        )
        per_class = []
        for c in np.unique(f_lab):
            fc, rc = fake[f_lab == c], real[r_lab == c]
            if len(fc) < 2 or len(rc) < 2:
                raise ConfigError(
                    f"intra-fid: class {int(c)} has {len(fc)} samples and {len(rc)} real "
                    "images; at least 2 of each are needed (use a larger --n)."
                )
            per_class.append(
                frechet_distance(
                    rc.mean(0), np.cov(rc, rowvar=False), fc.mean(0), np.cov(fc, rowvar=False)
                )
            )
        return {"intra_fid": float(np.mean(per_class)), "per_class": per_class}
