"""A protocol declares the dataset modalities it evaluates (``Protocol.modalities``, empty: any):
a mismatch is one line when the config resolves, before any data is read or anything written."""

import pytest
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.contract.errors import ConfigError
from sslbench.contract.loading import registries
from sslbench.contract.protocol import Metric, Protocol
from sslbench.runner import resolve_config

#: the built-in protocols that evaluate any modality's frozen features or datasets (tests of
#: test_video_end_to_end run knn, retrieval, linear and finetune on videos)
ANY_MODALITY = ("knn", "linear", "retrieval", "lowshot", "finetune")


def test_tamap_on_an_image_dataset_is_one_modality_mismatch_line_exit_2(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", "-m", "random", "-p", "tamap", "-d", "digits", "--output-dir", str(out)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "Error: protocol 'tamap' evaluates soccernet data but dataset 'digits' is image: expected a dataset of "
        "modality soccernet (e.g. soccernet)")
    assert not out.exists()


def test_detection_on_a_video_dataset_is_refused_when_the_config_resolves():
    with pytest.raises(ConfigError, match=r"^protocol 'detection' evaluates image data but dataset 'ucf101' is "
                                          r"video: expected a dataset of modality image \(e\.g\. "):
        resolve_config("random", "ucf101", ["knn", "detection"], overrides={"data": {"root": "/x"}})


@pytest.mark.parametrize("dataset", ["digits", "ucf101", "videofolder"])
@pytest.mark.parametrize("protocol", ANY_MODALITY)
def test_protocols_of_any_modality_resolve_on_image_and_video_datasets(protocol, dataset):
    assert registries().protocols.get(protocol).modalities == ()
    config = resolve_config("random", dataset, [protocol], overrides={"data": {"root": "/x"}})
    assert config.protocols == [protocol]


def test_a_transfer_checks_the_evaluated_dataset_not_the_pretraining_one():
    config = resolve_config("random", "cifar10", ["detection"], overrides={"data": {"root": "/x"},
                                                                           "eval_dataset": "coco"})
    assert config.is_transfer


class _AnyData(Protocol):
    name = "any-data"
    description = "third-party protocol that declares no modality"

    def evaluate(self, ctx):
        return [Metric("one", 1.0)]


class _ClipsOnly(_AnyData):
    name = "clips-only"
    modalities = ("video", "audio")


@pytest.fixture
def third_party():
    regs = registries()
    for cls in (_AnyData, _ClipsOnly):
        regs.protocols.register(cls.name, cls)
    yield regs
    for cls in (_AnyData, _ClipsOnly):
        regs.protocols.unregister(cls.name)


@pytest.mark.parametrize("dataset", ["digits", "ucf101", "soccernet"])
def test_a_third_party_protocol_declaring_no_modality_is_not_restricted(third_party, dataset):
    config = resolve_config("random", dataset, ["any-data"], overrides={"data": {"root": "/x"}}, regs=third_party)
    assert config.protocols == ["any-data"]


def test_a_protocol_declaring_several_modalities_names_them_and_datasets_that_fit(third_party):
    with pytest.raises(ConfigError) as err:
        resolve_config("random", "digits", ["clips-only"], regs=third_party)
    assert str(err.value).startswith("protocol 'clips-only' evaluates video or audio data but dataset 'digits' is "
                                     "image: expected a dataset of modality video or audio (e.g. ")
    assert "ucf101" in str(err.value) or "hmdb51" in str(err.value)


def test_check_plugin_skips_the_data_checks_of_tamap_on_the_default_image_dataset(plugin_commands):
    result = CliRunner().invoke(cli, ["check-plugin", "tamap"])
    assert result.exit_code == 0, result.output
    assert "SKIP  check_protocol_metrics: evaluates soccernet data, not 'digits' (image)" in result.output
