"""Duplicate bank rows tie exactly and rank by bank index, whatever the chunk sizes.

A float32 matrix product does not give identical rows identical similarities: BLAS and cuBLAS
choose kernels, tail handling and split-K by shape, so a duplicate image at another position, or
in a chunk of another size, can score one ulp higher and win the tie. The bank's rows are
therefore grouped by their exact float32 bits (as compared: after centring and l2-normalisation);
the search runs over the first row of each group only, and every group it finds is expanded into
its rows, lowest bank index first, all with the group's similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch

#: elements of a block of rows hashed at once (64 MB of float64)
HASH_ELEMENTS = 1 << 23
#: bits of hash over all hashes of a row: distinct rows collide with probability below 2^-80
HASH_BITS = 80


def row_keys(x: "torch.Tensor") -> "torch.Tensor":
    """(N, H) int64 keys, equal for rows with identical float32 bits: H random linear hashes of the
    bits read as integers, computed as a float64 product whose partial sums are all integers
    below 2^53, hence exact in any order: the keys depend neither on the device nor the chunking."""
    import math

    import torch

    bits = x.float().contiguous().view(torch.int32)
    dim = bits.shape[1]
    weight_bits = 52 - 31 - max(1, dim - 1).bit_length()  # |sum of dim products| < 2^52
    if weight_bits < 4:
        raise ValueError(f"rows of {dim} features are too wide to hash exactly")
    hashes = math.ceil(HASH_BITS / weight_bits)  # each hash: collision probability <= 2^-weight_bits
    g = torch.Generator().manual_seed(0)
    weights = torch.randint(0, 2 ** weight_bits, (dim, hashes), generator=g, dtype=torch.float64).to(x.device)
    keys = torch.empty((len(bits), hashes), dtype=torch.long, device=x.device)
    per = max(1, HASH_ELEMENTS // max(1, dim))
    for s in range(0, len(bits), per):
        keys[s:s + per] = (bits[s:s + per].double() @ weights).long()
    return keys


@dataclass
class Duplicates:
    """Groups of identical bank rows; a group is named by its first (lowest) row index."""

    repeat: "torch.Tensor"  # (N,) bool: the row repeats an earlier row
    members: "torch.Tensor"  # (N,) rows ordered by (group, index)
    start: "torch.Tensor"  # (N,) position in ``members`` of the group named by that row
    size: "torch.Tensor"  # (N,) rows in the group named by that row (0 for a repeat)
    groups: int

    def expand(self, sim: "torch.Tensor", idx: "torch.Tensor", k: int) -> "tuple[torch.Tensor, torch.Tensor]":
        """The first ``k`` rows of the groups ``idx`` (Q, m), in that order, each group's rows by
        increasing index and with its similarity."""
        import torch

        counts = self.size[idx]
        ends = counts.cumsum(1)
        slots = torch.arange(k, device=idx.device).expand(len(idx), k).contiguous()
        group = torch.searchsorted(ends, slots, right=True)
        offset = slots - (ends.gather(1, group) - counts.gather(1, group))
        return sim.gather(1, group), self.members[self.start[idx.gather(1, group)] + offset]


def find_duplicates(unit_rows: Callable[[int, int], "torch.Tensor"], n: int, chunk: int) -> Duplicates | None:
    """The groups of identical rows among ``unit_rows(start, stop)`` for 0..n, read ``chunk`` rows
    at a time; None when every row is distinct (the search then needs no expansion)."""
    import torch

    keys = torch.cat([row_keys(unit_rows(s, s + chunk)) for s in range(0, n, chunk)])
    if keys.device.type == "meta":  # meta tensors (placement checks) hold no values to compare
        return None
    _, inverse = torch.unique(keys, dim=0, return_inverse=True)
    groups = int(inverse.max()) + 1 if n else 0
    if groups == n:
        return None
    index = torch.arange(n, device=keys.device)
    first = torch.full((groups,), n, device=keys.device).scatter_reduce_(0, inverse, index, "amin")[inverse]
    size = torch.bincount(first, minlength=n)
    return Duplicates(repeat=first != index, members=first.argsort(stable=True), start=size.cumsum(0) - size,
                      size=size, groups=groups)
