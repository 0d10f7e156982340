"""Training samplers that reshuffle per epoch from ``seed + epoch`` (so a resumed run sees the same order)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

#: Examples are sorted by length within windows of this many batches (randomness across, little padding within).
MEGABATCH = 50


class EpochSampler(Sampler[int]):
    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed + self.epoch)

    def __len__(self) -> int:
        return self.size


class LengthGroupedSampler(EpochSampler):
    """Random order, then longest-first inside windows of ``MEGABATCH`` batches: batches pad to similar lengths."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int) -> None:
        super().__init__(len(lengths), seed)
        self.lengths = torch.as_tensor(lengths)
        self.window = batch_size * MEGABATCH

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(self.size, generator=self.generator())
        for start in range(0, self.size, self.window):
            chunk = order[start : start + self.window]
            yield from chunk[torch.argsort(self.lengths[chunk], descending=True, stable=True)].tolist()


class BalancedSampler(EpochSampler):
    """Draws examples with replacement in proportion to ``weights`` (e.g. inverse class frequency)."""

    def __init__(self, weights: torch.Tensor, seed: int) -> None:
        super().__init__(len(weights), seed)
        self.weights = weights

    def __iter__(self) -> Iterator[int]:
        yield from torch.multinomial(self.weights, self.size, replacement=True, generator=self.generator()).tolist()
