"""What a registered training technique may do: the hooks the algorithms call.

A technique is a plain object built from one line of a recipe's ``techniques`` list.
It implements only the hooks it needs; the algorithm finds them by name and calls them
at fixed points of its step, so techniques compose (several may be listed, and they are
applied in list order):

- ``critic_input(x, step) -> x'``: transform every critic input, real and fake, in both
  phases (instance noise, DiffAugment).
- ``critic_targets(t_real, t_fake, step) -> (t_real', t_fake')``: change the (N,)
  binary-cross-entropy targets of the critic loss, starting from 1 and 0 (label
  smoothing, label flipping). Only objectives whose critic loss is a BCE
  (``d_loss_with_targets``) accept them.
- ``replay(fake, step) -> fake'``: the generated batch the critic trains on, after the
  generator's samples are detached (experience replay).
- ``generator_loss(g_loss, out_real, out_fake) -> loss``: the generator's loss built
  from the objective's (feature matching).
- ``parameter_loss(net_key, net) -> loss`` and ``after_step(net_key, net)``: a term on
  the parameters of the network a phase updates, and a hook after its update
  (historical averaging).
- ``state_dict()`` / ``load_state_dict(state)``: tensors saved in every checkpoint, so a
  resumed run continues exactly.

Randomness comes from torch's global generators, which every checkpoint saves.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Technique:
    """Base class of registered techniques: the failure it targets, and empty state."""

    #: the training failure it targets (shown by ``ganforge zoo``)
    targets: ClassVar[str] = ""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} has no state but got {sorted(state)}")


#: Techniques that are options of networks, algorithms or the trainer rather than list
#: entries: (name, how to switch it on, paper, failure it targets). ``ganforge zoo``
#: lists them with the registered ones.
OPTIONS: tuple[tuple[str, str, str, str], ...] = (
    (
        "packing",
        "algorithm.pack: m",
        "Lin et al. 2018, PacGAN: The Power of Two Samples in GANs",
        "mode collapse",
    ),
    (
        "unrolled",
        "algorithm.name: unrolled (unroll_steps: k)",
        "Metz et al. 2017, Unrolled Generative Adversarial Networks",
        "mode collapse / oscillation",
    ),
    (
        "minibatch-discrimination",
        "nets.d.minibatch_discrimination: B (mlp-d, dcgan-d)",
        "Salimans et al. 2016, Improved Techniques for Training GANs",
        "mode collapse",
    ),
    (
        "minibatch-stddev",
        "nets.d.minibatch_std: group size (mlp-d, dcgan-d)",
        "Karras et al. 2018, Progressive Growing of GANs",
        "mode collapse (low variation)",
    ),
    (
        "spectral-norm",
        "nets.d.spectral_norm: true (any built-in network)",
        "Miyato et al. 2018, Spectral Normalization for GANs",
        "unstable critic (unbounded Lipschitz constant)",
    ),
    (
        "dropout",
        "nets.d.dropout: p (mlp-d, dcgan-d)",
        "Goodfellow et al. 2014, Generative Adversarial Nets",
        "critic overfitting / overconfidence",
    ),
    (
        "ttur",
        "optim.d.lr != optim.g.lr",
        "Heusel et al. 2017, GANs Trained by a Two Time-Scale Update Rule",
        "non-convergence",
    ),
    (
        "ema",
        "train.ema: decay (generator weights averaged for sampling)",
        "Yazici et al. 2019, The Unusual Effectiveness of Averaging in GAN Training",
        "oscillation / noisy final iterates",
    ),
)
