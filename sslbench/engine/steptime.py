"""Where a training step's time goes: waiting for the data loader, or computing.

The training process either waits for the next batch (decoding, cropping: ``data``) or works on
the current one (views, forward, backward, optimiser: ``compute``). ``data`` is the time spent
blocked in the loader's ``next()``; ``compute`` the rest of the step's wall time. On a GPU
kernels run asynchronously, so the split is of the training process's wall time: a data wait
that overlaps queued GPU work does not starve the GPU (the loss checks every 25 steps
synchronise, so sums over many steps are accurate).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

logger = logging.getLogger("sslbench")

#: the share of step time spent waiting for data above which the run says so (once)
WARN_FRACTION = 0.20
#: steps left out at the start (worker start-up, first allocations) before the warning's window
WARMUP_STEPS = 5
#: steps the warning's first window spans (then each epoch is judged as a whole)
WINDOW_STEPS = 50


@dataclass
class StepTimes:
    """Sums of data wait and compute over some steps, with the images they processed."""

    data: float = 0.0
    compute: float = 0.0
    steps: int = 0
    images: int = 0

    @property
    def fraction(self) -> float:
        """Share of the step time spent waiting for data (0 without steps)."""
        total = self.data + self.compute
        return self.data / total if total > 0 else 0.0

    def summary(self, world_size: int = 1) -> dict[str, float]:
        """Per-step means in seconds, the data-wait share and the throughput (images/s over all ranks)."""
        if not self.steps:
            return {}
        total = self.data + self.compute
        return {"step_time": round(total / self.steps, 6), "data_time": round(self.data / self.steps, 6),
                "compute_time": round(self.compute / self.steps, 6), "data_wait": round(self.fraction, 4),
                "images_per_s": round(self.images * world_size / total, 2) if total > 0 else 0.0}


@dataclass
class StepTimer:
    """Clock of the training loop: :meth:`wait_start` before asking the loader for a batch,
    :meth:`got_batch` when it arrives, :meth:`step_done` after the optimiser step."""

    clock: object = time.perf_counter
    epoch: StepTimes = field(default_factory=StepTimes)
    window: StepTimes = field(default_factory=StepTimes)
    judged: StepTimes = field(default_factory=StepTimes)  # this epoch's steps after the run's warm-up
    warned: bool = False
    seen: int = 0
    _mark: float = 0.0
    _waited: float = 0.0

    def wait_start(self) -> None:
        self._mark = self.clock()

    def got_batch(self) -> None:
        now = self.clock()
        self._waited, self._mark = now - self._mark, now

    def step_done(self, images: int) -> str | None:
        """Account the step; returns the one-line warning when the first window's data wait
        exceeds :data:`WARN_FRACTION` (at most once per run)."""
        now = self.clock()
        compute = now - self._mark
        self._mark = now  # the next wait starts here unless wait_start() says otherwise
        self.seen += 1
        for times in (self.epoch, self.window, self.judged) if self.seen > WARMUP_STEPS else (self.epoch,):
            times.data += self._waited
            times.compute += compute
            times.steps += 1
            times.images += images
        if self.seen == WARMUP_STEPS + WINDOW_STEPS:
            return self._judge(self.window, f"steps {WARMUP_STEPS + 1}-{self.seen}")
        return None

    def end_epoch(self, epoch: int) -> tuple[StepTimes, str | None]:
        """The epoch's times (reset for the next) and the warning if it is the first to exceed
        (judged on its steps after the run's first :data:`WARMUP_STEPS`: worker start-up)."""
        times, self.epoch = self.epoch, StepTimes()
        judged, self.judged = self.judged, StepTimes()
        return times, self._judge(judged, f"epoch {epoch}") if judged.steps > 1 else None

    def _judge(self, times: StepTimes, where: str) -> str | None:
        if self.warned or times.fraction <= WARN_FRACTION:
            return None
        self.warned = True
        return (f"sslbench: waiting for data took {times.fraction:.0%} of the step time in {where} "
                f"({times.data / times.steps:.3f} s of {(times.data + times.compute) / times.steps:.3f} s per step): "
                f"the input pipeline limits training; raise data.num_workers or try data.decode=cuda")


def warn(line: str | None) -> None:
    """Emit a data-wait warning line (logged once, see :class:`StepTimer`)."""
    if line:
        logger.warning(line)
