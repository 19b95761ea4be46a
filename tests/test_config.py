"""Registry and config: did-you-mean errors, typed validation, overrides, recipes."""

from __future__ import annotations

import pytest
import yaml

from ganforge import config, registry
from ganforge.errors import ConfigError, UnknownNameError
from ganforge.registry import Registry


def test_registry_did_you_mean_and_listing() -> None:
    reg: Registry = Registry("thing")

    @reg.register("wgan-gp", paper="Gulrajani et al. 2017")
    def make(a: int = 1) -> int:
        """A thing."""
        return a

    assert reg.names() == ["wgan-gp"] and "wgan-gp" in reg
    assert reg.entry("wgan-gp").summary == "A thing."
    with pytest.raises(UnknownNameError) as e:
        reg.get("wgan_gp", "objective.name")
    msg = str(e.value)
    assert "Did you mean 'wgan-gp'" in msg and "objective.name" in msg and "ganforge zoo" in msg
    with pytest.raises(ValueError, match="twice"):
        reg.register("wgan-gp")(make)


def test_registry_validate_types_ranges_unknown_missing() -> None:
    registry.load_all()
    ok = registry.OPTIMIZERS.validate({"name": "adam", "lr": "1e-3"}, "optim.d")
    assert ok["lr"] == pytest.approx(1e-3) and ok["betas"] == (0.5, 0.999)
    with pytest.raises(ConfigError, match=r"optim\.d\.lr.*greater than 0"):
        registry.OPTIMIZERS.validate({"name": "adam", "lr": -1}, "optim.d")
    with pytest.raises(ConfigError, match=r"optim\.d\.lrr: unknown key.*Did you mean 'lr'"):
        registry.OPTIMIZERS.validate({"name": "adam", "lrr": 1e-3}, "optim.d")
    with pytest.raises(ConfigError, match=r"optim\.d\.lr.*valid number"):
        registry.OPTIMIZERS.validate({"name": "adam", "lr": "fast"}, "optim.d")
    with pytest.raises(ConfigError, match="Valid keys for optimizer 'adam'"):
        registry.OPTIMIZERS.validate({"name": "adam", "momentum": 0.9}, "optim.d")
    with pytest.raises(ConfigError, match="mapping with a 'name' key"):
        registry.OPTIMIZERS.validate([1, 2], "optim.d")


def test_default_recipe_loads_and_round_trips(tmp_path) -> None:
    cfg = config.load_config()
    assert cfg.recipe == config.DEFAULT_RECIPE
    assert cfg.data["name"] == "digits" and cfg.objective["name"] == "ns"
    path = tmp_path / "config.yaml"
    config.save_config(cfg, path)
    again = config.load_run_config(path)
    assert again == cfg
    assert yaml.safe_load(path.read_text())["optim"]["g"]["betas"] == [0.5, 0.999]


@pytest.mark.parametrize("name", config.recipe_names())
def test_every_shipped_recipe_validates(name: str) -> None:
    cfg = config.load_config(name)
    assert cfg.recipe == name and cfg.description


def test_overrides_apply_and_parse_yaml_values() -> None:
    cfg = config.load_config(
        "gan-digits",
        ["train.steps=7", "optim.d.lr=4e-4", "optim.g.betas=[0.0, 0.9]", "train.ema=null"],
    )
    assert cfg.train.steps == 7 and cfg.optim["d"]["lr"] == pytest.approx(4e-4)
    assert cfg.optim["g"]["betas"] == (0.0, 0.9) and cfg.train.ema is None


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        (["trian.steps=5"], r"trian: unknown key in the recipe.*Did you mean 'train'"),
        (["train.stpes=5"], r"train.stpes: unknown key in section 'train'.*Did you mean 'steps'"),
        (["train.steps=abc"], r"train.steps: Input should be a valid integer"),
        (["train.steps=0"], r"train.steps: Input should be greater than 0"),
        (
            ["objective.name=nss"],
            r"Unknown objective 'nss' \(at objective.name\).*Did you mean 'ns'",
        ),
        (["nets.g.name=dcgan"], r"Unknown network 'dcgan'.*Did you mean"),
        (["data.name=mnsit"], r"Unknown dataset 'mnsit'.*Did you mean 'mnist'"),
        (["nets.g.base_channels=many"], r"nets.g.base_channels"),
        (["nets.x={name: mlp-d}"], r"nets: algorithm 'unconditional' needs exactly.*unexpected x"),
        (["train.steps.x=1"], r"train.steps is a value"),
        (["steps"], r"not of the form key.path=value"),
    ],
)
def test_bad_overrides_fail_with_the_field_named(overrides: list[str], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        config.load_config("gan-digits", overrides)


def test_unknown_recipe_suggests() -> None:
    with pytest.raises(ConfigError, match=r"Unknown recipe 'gan-digit'.*Did you mean 'gan-digits'"):
        config.load_config("gan-digit")
    with pytest.raises(ConfigError, match="does not exist"):
        config.load_config("missing/recipe.yaml")


def test_recipe_file_errors(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load_config(str(bad))
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        config.load_config(str(scalar))
