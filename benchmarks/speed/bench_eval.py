"""Speed of the evaluation protocols against their obvious alternatives, in one run.

P4  kNN: sslbench's chunked kNN (:func:`sslbench.protocols.knn.knn_predict`, bank read from a
    memory-mapped ``.npy`` as the feature cache stores it) against scikit-learn's brute-force
    ``KNeighborsClassifier(metric="cosine")`` with the same exp(sim / T) vote weights, on a
    synthetic bank of 50,000 x 512 features and 10,000 queries; prints both times, the ratio and
    how many predictions agree (goal: >= 5x faster, identical predictions). It also times the
    float32 similarity GEMM alone: exact brute-force kNN cannot go below it and scikit-learn
    spends most of its time in the same GEMM, so on a CPU without fast low-precision matmul the
    ratio is bounded by (sklearn time / GEMM time), about 2x on a 2-core AVX2 machine; the gain
    here is in the top-k selection and vote (torch.topk instead of argpartition + sort).
P5  linear: the linear probe on cached features (extract once, then SGD epochs on the cache)
    against re-forwarding the frozen backbone on every batch of every epoch, same batches, same
    schedule (thesis A.5.1, 100 epochs), on the bundled digits; prints both times, the ratio and
    both top-1 (goal: >= 10x faster, accuracy within 0.5 points).

    python benchmarks/speed/bench_eval.py [--only p4|p5] [--bank 50000] [--queries 10000] [--dim 512]
                                    [--k 200] [--epochs 100] [--threads N] [--device cpu|cuda]

Each part takes under 5 minutes on 2 busy CPU cores with the default ``--threads 1`` (torch and
the BLAS under numpy / scikit-learn alike; ``--threads 0`` keeps the libraries' defaults, which on
an oversubscribed machine makes the many small ops of P5 wait on thread hand-offs).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import describe  # noqa: E402


def clustered_features(n: int, centers: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Features around one random direction per class, so the neighbours carry the labels."""
    dim = centers.shape[1]
    labels = rng.integers(0, len(centers), n)
    feats = centers[labels] + 4.0 * rng.normal(size=(n, dim)).astype(np.float32)
    return feats.astype(np.float32), labels


def bench_knn(n_bank: int, n_queries: int, dim: int, k: int, device: torch.device, temperature: float = 0.07,
              classes: int = 100) -> None:
    from sklearn.neighbors import KNeighborsClassifier

    from sslbench.protocols.knn import knn_predict

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(classes, dim)).astype(np.float32)
    bank, bank_labels = clustered_features(n_bank, centers, rng)
    queries, query_labels = clustered_features(n_queries, centers, rng)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "bank.npy"), bank)
        np.save(os.path.join(tmp, "queries.npy"), queries)
        bank_mm = np.load(os.path.join(tmp, "bank.npy"), mmap_mode="r")
        queries_mm = np.load(os.path.join(tmp, "queries.npy"), mmap_mode="r")
        if device.type == "cuda":  # CUDA context and kernels outside the timing
            knn_predict(queries_mm[:1024], bank_mm[:4096], bank_labels[:4096], classes, [k], temperature, device=device)
            torch.cuda.synchronize()
        t = time.perf_counter()
        ours = knn_predict(queries_mm, bank_mm, bank_labels, classes, [k], temperature, device=device)[k].numpy()
        ours_s = time.perf_counter() - t

    def vote_weights(distances: np.ndarray) -> np.ndarray:
        return np.exp((1.0 - distances) / temperature)  # cosine distance = 1 - similarity

    t = time.perf_counter()
    clf = KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric="cosine", weights=vote_weights)
    theirs = clf.fit(bank, bank_labels).predict(queries)
    theirs_s = time.perf_counter() - t
    # the floor both share: the float32 similarity GEMM alone, in the same chunks
    queries_t, bank_t = torch.from_numpy(queries), torch.from_numpy(bank)
    t = time.perf_counter()
    buffer = torch.empty(1024, n_bank)
    for s in range(0, n_queries, 1024):
        torch.mm(queries_t[s:s + 1024], bank_t.T, out=buffer[:len(queries_t[s:s + 1024])])
    gemm_s = time.perf_counter() - t
    agree = int((ours == theirs).sum())
    print(f"P4 kNN  bank {n_bank} x {dim}, {n_queries} queries, k={k}, T={temperature}")
    print(f"   sslbench knn_predict (memmapped bank, on {device}): {ours_s:8.2f} s   top-1 {100 * (ours == query_labels).mean():.2f}")
    print(f"   sklearn KNeighborsClassifier (brute, cosine): {theirs_s:8.2f} s   top-1 "
          f"{100 * (theirs == query_labels).mean():.2f}")
    print(f"   the float32 similarity GEMM alone on the CPU (the floor of exact kNN there): {gemm_s:8.2f} s")
    print(f"   identical predictions: {agree}/{n_queries}")
    print(f"   ratio sklearn / sslbench: {theirs_s / ours_s:.1f}x")


def bench_linear(epochs: int, width: int, device: torch.device) -> None:
    from sslbench.engine.evaluation import EvalContext, eval_batches
    from sslbench.engine.trainer import build_backbone
    from sslbench.contract.loading import registries
    from sslbench.protocols.linear import Linear, LinearParams, fit_sgd
    from sslbench.runner import resolve_config

    regs = registries()
    config = resolve_config("random", "digits", ["linear"],
                            sets={"model": {"backbone": "convnet-small", "backbone_options": {"width": width}}})
    spec = regs.datasets.get("digits")
    torch.manual_seed(0)
    backbone = build_backbone(regs, config.model.backbone, spec.channels, config.model.backbone_options).to(device)
    # A.5.1 as the protocol runs it on digits (the dataset's defaults standardise the features;
    # the re-forward path below uses the same train statistics so both fit the same problem)
    params = LinearParams(preset="a5.1", epochs=epochs, lr=0.1, standardize=True)

    # warm-up outside the timings: first convolution, first optimiser step (lazy imports, kernels)
    with torch.no_grad():
        backbone.eval()(torch.zeros(8, spec.channels, config.data.input_size, config.data.input_size, device=device))
    fit_sgd(lambda epoch: iter([(torch.randn(8, 4, device=device), torch.zeros(8, dtype=torch.long, device=device))]),
            4, 2, LinearParams(epochs=1, lr=0.1), device=device)

    with tempfile.TemporaryDirectory() as tmp:
        ctx = EvalContext(backbone=backbone, spec=spec, config=config, weights_id="bench", device=device,
                          cache_dir=__import__("pathlib").Path(tmp), progress=False)
        loaded = {split: ctx.dataset(split) for split in ("train", "test")}  # common to both paths
        t = time.perf_counter()
        cached_top1 = Linear(params).evaluate(ctx)[0].value
        cached_s = time.perf_counter() - t

        # baseline: no cache, every batch of every epoch goes through the frozen backbone again
        ctx2 = EvalContext(backbone=backbone, spec=spec, config=config, weights_id="bench2",
                           device=device, cache_dir=None, progress=False, _datasets=dict(loaded))
        t = time.perf_counter()
        train, test = ctx2.dataset("train"), ctx2.dataset("test")
        views = ctx2.view_maker()
        backbone.eval()

        @torch.no_grad()
        def forward(images: torch.Tensor) -> torch.Tensor:
            return backbone(views.eval_view(images)).float()

        # the standardisation statistics need one pass too
        first = torch.cat([forward(x) for x, _ in eval_batches(train, 256)])
        mean, std = first.mean(0, keepdim=True), first.std(0, keepdim=True).clamp_min(1e-6)
        g = torch.Generator().manual_seed(params.seed)

        def batches(epoch: int):
            order = torch.randperm(len(train), generator=g)
            for start in range(0, len(train), params.batch_size):
                idx = order[start:start + params.batch_size]
                yield (forward(train.images[idx]) - mean) / std, train.labels[idx].to(device)

        clf = fit_sgd(batches, first.shape[1], ctx2.num_classes, params, device=device)
        with torch.no_grad():
            logits = torch.cat([clf((forward(x) - mean) / std) for x, _ in eval_batches(test, 256)]).cpu()
        reforward_top1 = 100.0 * float((logits.argmax(1) == test.labels).float().mean())
        reforward_s = time.perf_counter() - t
    print(f"P5 linear  digits (1,437 train / 360 test), convnet-small width {width}, A.5.1 schedule, {epochs} epochs, "
          f"on {device}")
    print(f"   cached features (extract once + SGD): {cached_s:8.2f} s   top-1 {cached_top1:.2f}")
    print(f"   re-forward the backbone every epoch:  {reforward_s:8.2f} s   top-1 {reforward_top1:.2f}")
    print(f"   top-1 difference: {abs(cached_top1 - reforward_top1):.2f} points")
    print(f"   ratio re-forward / cached: {reforward_s / cached_s:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["p4", "p5"])
    parser.add_argument("--bank", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of torch and of the BLAS under numpy/scikit-learn (0 = the libraries' defaults)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where sslbench's side runs (default: cuda when there is one); scikit-learn stays on the CPU")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    print(f"machine: {describe()}")
    if args.only in (None, "p4"):
        bench_knn(args.bank, args.queries, args.dim, args.k, device)
    if args.only in (None, "p5"):
        bench_linear(args.epochs, args.width, device)


if __name__ == "__main__":
    main()
