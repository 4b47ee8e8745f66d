"""Config layering and validation: bad values and keys rejected before any work starts."""

import pytest

from sslbench.config import ConfigError, TrainConfig, parse_set
from sslbench.runner import resolve_config


def test_parse_set_reads_yaml_values_into_nested_keys():
    assert parse_set(["train.epochs=5", "knn.k=[10, 20]", "ssl.symmetric=true", "data.root=/x"]) == {
        "train": {"epochs": 5}, "knn": {"k": [10, 20]}, "ssl": {"symmetric": True}, "data": {"root": "/x"}}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_set(["train.epochs"])


def test_layering_order_dataset_then_preset_then_file_then_set_then_flags(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("train: {epochs: 11, lr: 0.5}\nssl: {queue_size: 128}\n")
    c = resolve_config("moco", "digits", ["knn"], config_file=str(f), sets={"train": {"lr": 0.7}},
                       overrides={"train": {"batch_size": 64}})
    assert c.data.input_size == 16  # dataset default
    assert c.model.projector_out == 64  # moco's digits preset
    assert c.ssl.queue_size == 128 and c.train.epochs == 11  # config file
    assert c.train.lr == 0.7  # --set beats the file
    assert c.train.batch_size == 64  # CLI flag


def test_linear_scaling_rule():
    assert TrainConfig(lr=0.3, batch_size=512).scaled_lr() == pytest.approx(0.6)
    assert TrainConfig(lr=0.3, batch_size=512, lr_scaling="none").scaled_lr() == pytest.approx(0.3)


@pytest.mark.parametrize("sets,needle", [
    ({"train": {"lr": -1}}, "train.lr"),
    ({"ssl": {"momentum": 1.5}}, "ssl.momentum"),
    ({"train": {"optimizer": "adam"}}, "'sgd', 'lars', 'adamw'"),
    ({"train": {"epochs": "many"}}, "expected an integer"),
    ({"knn": {"temperature": 0}}, "knn.temperature"),
    ({"ssl": {"online_aug": "strnog"}}, "did you mean 'strong'"),
    ({"seed": -3}, "seed"),
])
def test_invalid_values_name_the_key_and_expectation(sets, needle):
    with pytest.raises(ConfigError, match=needle):
        resolve_config("moco", "digits", ["knn"], sets=sets)


def test_dataset_without_root_is_rejected_up_front():
    with pytest.raises(ConfigError, match="--data-root"):
        resolve_config("moco", "cifar10", ["knn"])


def test_pretrain_hash_ignores_protocol_settings_but_not_method_ones():
    a = resolve_config("moco", "digits", ["knn"])
    b = resolve_config("moco", "digits", ["knn", "linear"], sets={"knn": {"k": [5]}})
    c = resolve_config("moco", "digits", ["knn"], sets={"moco": {"temperature": 0.5}})
    assert a.pretrain_hash() == b.pretrain_hash() != c.pretrain_hash()


def test_choosing_another_backbone_drops_the_presets_backbone_options():
    c = resolve_config("moco", "cifar10", ["knn"], sets={"data": {"root": "/x"}},
                       overrides={"model": {"backbone": "convnet-small"}})
    assert c.model.backbone == "convnet-small" and c.model.backbone_options == {}
    kept = resolve_config("moco", "cifar10", ["knn"], sets={"data": {"root": "/x"}})
    assert kept.model.backbone_options == {"small_stem": True}
    own = resolve_config("moco", "cifar10", ["knn"], sets={"data": {"root": "/x"}},
                         overrides={"model": {"backbone": "convnet-small", "backbone_options": {"width": 8}}})
    assert own.model.backbone_options == {"width": 8}  # the user's options, without the preset's
    same = resolve_config("moco", "cifar10", ["knn"], sets={"data": {"root": "/x"}},
                          overrides={"model": {"backbone": "resnet18"}})
    assert same.model.backbone_options == {"small_stem": True}  # naming the preset's backbone keeps them


@pytest.mark.parametrize("item,hint", [
    ("method.lambda=1.5", "a method's settings go under its own name, e.g. sce.lam=0.3"),
    ("seed.value=3", "set it as seed=VALUE"),
])
def test_a_top_level_value_used_as_a_section_is_rejected_not_ignored(item, hint):
    key = item.split("=")[0]
    with pytest.raises(ConfigError, match=f"invalid config key '{key}': '{key.split('.')[0]}' is a single value, "
                                          f"not a section; {hint}"):
        parse_set([item])


def test_a_config_file_giving_the_method_settings_is_rejected_too(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("method: {lambda: 1.5}\n")
    with pytest.raises(ConfigError, match="'method.lambda': 'method' is a single value"):
        resolve_config("sce", "digits", ["knn"], config_file=str(f))


def test_set_method_lambda_from_the_cli_is_one_line_exit_2():
    from click.testing import CliRunner
    from helpers import one_error_line

    from sslbench.cli import cli

    result = CliRunner().invoke(cli, ["run", "-m", "sce", "-p", "knn", "-d", "digits", "--set", "method.lambda=1.5",
                                      "--dry-run"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "'method.lambda'" in one_error_line(result.stderr)
