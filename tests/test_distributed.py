"""Data parallelism on CPU with gloo: 2 processes x batch B train like 1 process x 2B.

Launched the documented way, ``torchrun --nproc-per-node 2 -m ganforge train``, for an
algorithm with a gradient penalty (WGAN-GP on ring8) and one with batch norm (DCGAN on
digits, ``train.sync_bn``). Same seed, same global batch: after k steps the weights,
optimizer moments and EMA agree with the single process within float tolerance (the
sum of a batch in two halves is not bitwise the sum in one). Also: the resumed
distributed run, rank-0-only writes, and the helpers on their own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from ganforge.engine import checkpoint as ckpt
from ganforge.engine.distributed import Distributed
from ganforge.engine.run import resume, train
from ganforge.errors import ConfigError
from ganforge.nn.parallel import Shard, SyncBatchNorm, active_shard, sharded

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch.distributed is not built in"
)


def _torchrun(args: list[str], tmp_path: Path, n: int = 2) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc-per-node={n}", "-m", "ganforge", *args]
    env = {**os.environ, "GANFORGE_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


def _final(run: Path) -> dict[str, Any]:
    return ckpt.load_checkpoint(ckpt.latest_checkpoint(run / "checkpoints"))


def _assert_close(a: dict[str, Any], b: dict[str, Any], rtol: float, atol: float) -> None:
    assert a["step"] == b["step"]
    ta, _ = ckpt.flatten_state({k: a[k] for k in ("nets", "ema", "optim", "sampler")})
    tb, _ = ckpt.flatten_state({k: b[k] for k in ("nets", "ema", "optim", "sampler")})
    assert ta.keys() == tb.keys()
    bad = [
        (k, float((ta[k].double() - tb[k].double()).abs().max()))
        for k in ta
        if ta[k].is_floating_point() and not torch.allclose(ta[k], tb[k], rtol=rtol, atol=atol)
    ]
    assert not bad, bad[:5]
    ints = [k for k in ta if not ta[k].is_floating_point() and not torch.equal(ta[k], tb[k])]
    assert not ints, ints[:5]


def _ring8_gp(template: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    cfg = template()
    cfg["objective"] = {"name": "wgan-gp"}
    cfg["nets"]["d"].pop("dropout", None)  # module randomness is per rank (see DESIGN)
    cfg["train"].update(steps=12, batch_size=64, ckpt_every=6, log_every=3, sample_every=12)
    # evaluation during training, sharded: 600 samples = chunks of 256, 256, 88 over 2 ranks
    cfg["train"]["eval"] = {"every": 6, "metrics": ["fid"], "n": 600}
    return cfg


def _digits_bn(template: dict[str, Any]) -> dict[str, Any]:
    cfg = json.loads(json.dumps(template))
    cfg["train"].update(
        steps=6, batch_size=16, ckpt_every=3, log_every=3, sample_every=6, sync_bn=True
    )
    cfg["train"]["tensorboard"] = False
    return cfg


CASES = ["gradient-penalty", "batch-norm"]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_two_processes_train_like_one_with_the_double_batch(
    case: str,
    tmp_path: Path,
    tiny_ring8_template: Callable[[], dict[str, Any]],
    tiny_digits: dict[str, Any],
) -> None:
    cfg = _ring8_gp(tiny_ring8_template) if case == "gradient-penalty" else _digits_bn(tiny_digits)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(cfg))
    single = train(cfg, out=tmp_path / "single", progress=False)
    done = _torchrun(["train", str(recipe), "--out", str(tmp_path / "ddp")], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = tmp_path / "ddp"
    _assert_close(_final(single), _final(ddp), rtol=1e-4, atol=1e-5)
    # rank 0 alone wrote the run: one metrics line per log step, one generator
    lines = [json.loads(x) for x in (ddp / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in lines if "loss/d" in r]  # (eval results have lines of their own)
    assert steps == sorted(set(steps)) and steps[-1] == cfg["train"]["steps"]
    assert (ddp / "generator.safetensors").is_file()
    # the logged losses are the global batch's (the mean over the ranks)
    one = [json.loads(x) for x in (single / "metrics.jsonl").read_text().splitlines()]
    two = [json.loads(x) for x in (ddp / "metrics.jsonl").read_text().splitlines()]
    for a, b in zip(one, two, strict=True):
        assert a.keys() == b.keys()
        if "loss/d" in a:
            assert a["loss/d"] == pytest.approx(b["loss/d"], rel=1e-3, abs=1e-4)
    if case == "gradient-penalty":
        # the sharded evaluation scored all 600 samples, as one process does
        fid = [[r["eval/fid"] for r in run if "eval/fid" in r] for run in (one, two)]
        assert len(fid[0]) == 2 and fid[1] == pytest.approx(fid[0], rel=1e-3)
        cards = [json.loads(x) for x in (ddp / "cards" / "training.jsonl").read_text().splitlines()]
        assert [c["n_fake"] for c in cards] == [600, 600]
    if case == "batch-norm":
        # and a distributed resume continues the same trajectory
        more = _torchrun(["resume", str(ddp), "--steps", "9"], tmp_path)
        assert more.returncode == 0, more.stderr[-3000:]
        longer = resume(single, steps=9, progress=False)
        _assert_close(_final(longer), _final(ddp), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_a_global_batch_that_does_not_split_is_refused(
    tmp_path: Path, tiny_ring8_template: Callable[[], dict[str, Any]]
) -> None:
    cfg = tiny_ring8_template()
    cfg["train"].update(batch_size=33, steps=2)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(cfg))
    done = _torchrun(["train", str(recipe), "--out", str(tmp_path / "run")], tmp_path)
    assert done.returncode != 0
    assert "must split evenly over the 2 processes" in done.stderr
    # torchrun reports the failed ranks with its own traceback; ours print none
    assert not re.search(r"ganforge/[\w/]+\.py\", line", done.stderr), done.stderr[-2000:]
    assert not (tmp_path / "run").exists()  # refused before any run dir was made


def test_sharded_draws_do_not_depend_on_the_number_of_processes() -> None:
    torch.manual_seed(0)
    whole = torch.randn(8, 3)
    parts = []
    for rank in range(2):
        torch.manual_seed(0)
        with active_shard(Shard(rank, 2)):
            parts.append(sharded(lambda s: torch.randn(s), (4, 3)))
    assert torch.equal(torch.cat(parts), whole)
    torch.manual_seed(0)
    assert torch.equal(sharded(lambda s: torch.randn(s), (8, 3)), whole)  # one process


def test_sync_batchnorm_is_plain_batchnorm_in_one_process() -> None:
    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(3)
    sync = SyncBatchNorm(3)
    x = torch.randn(4, 3, 5, 5)
    assert torch.allclose(bn(x), sync(x), atol=1e-6)
    assert torch.allclose(bn.running_var, sync.running_var)


def test_single_process_group_helpers_are_no_ops() -> None:
    d = Distributed()
    assert d.is_main and d.world == 1
    assert d.check_batch_size(33) == 33
    idx = torch.arange(10)
    assert torch.equal(d.local(idx), idx)
    assert d.agree(lambda: "x") == "x"
    with pytest.raises(ConfigError, match="multiple of 4"):
        Distributed(0, 4).check_batch_size(30)
