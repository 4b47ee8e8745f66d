"""Under DDP the queue all-gathers keys before the enqueue, so every rank holds the same queue."""

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _worker(rank: int, world: int, port: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        from sslbench.engine.queue import FeatureQueue

        torch.manual_seed(0)  # same initial queue on both ranks
        q = FeatureQueue(8, 2)
        q.enqueue(torch.full((3, 2), float(rank + 1)))
        out[rank] = q.ordered().clone()
    finally:
        dist.destroy_process_group()


def test_enqueue_gathers_keys_from_all_ranks():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manager = mp.Manager()
    out = manager.dict()
    mp.spawn(_worker, args=(2, port, out), nprocs=2, join=True)
    q0, q1 = out[0], out[1]
    assert torch.equal(q0, q1)
    assert q0[-6:-3].eq(1.0).all() and q0[-3:].eq(2.0).all()  # rank 0's keys, then rank 1's
