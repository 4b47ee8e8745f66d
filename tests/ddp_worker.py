"""Run by torchrun in test_reliability: real MoCo pretraining on digits; each rank saves its state."""

import sys
from pathlib import Path

import torch

from sslbench.engine import distributed as dist
from sslbench.engine.trainer import pretrain
from sslbench.contract.loading import registries
from sslbench.runner import resolve_config
from sslbench_moco import MoCo


class RecordingMoCo(MoCo):
    """MoCo that remembers this rank's keys of the latest step."""

    last_keys = None

    def loss(self, online, target, queue):
        RecordingMoCo.last_keys = target.detach().clone()
        return super().loss(online, target, queue)


def main() -> None:
    out = Path(sys.argv[1])
    dist.init_from_env()
    config = resolve_config("moco", "digits", ["knn"], sets={
        "train": {"epochs": 1, "batch_size": 256}, "ssl": {"queue_size": 1024},
        "model": {"backbone_options": {"width": 4}}})
    regs = registries()
    outcome = pretrain(config, RecordingMoCo(config.method_params, config), regs.datasets.get("digits"), regs,
                       out / "run", progress=False)
    learner = outcome.learner
    torch.save({"weights": {k: v for k, v in learner.state_dict().items() if not k.startswith("queue.")},
                "queue": learner.queue.ordered(), "last_keys": RecordingMoCo.last_keys},
               out / f"rank{dist.rank()}.pt")
    dist.cleanup()


if __name__ == "__main__":
    main()
