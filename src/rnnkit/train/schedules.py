"""Learning-rate schedules: the learning rate as a pure function of the step number.

A schedule keeps no state, so resuming a run at step s gives exactly the learning rate an
uninterrupted run had there. Every schedule can start with a linear warmup.

Kinds (``lr`` is the base learning rate, s the step about to be taken, counted from 0)::

    constant:  lr
    step:      lr * gamma ** (s // step_size)
    cosine:    min_lr + (lr - min_lr) * (1 + cos(pi * s / total_steps)) / 2    (min_lr after total_steps)
    warmup (any kind, s < warmup_steps):  the kind's value * (s + 1) / warmup_steps

>>> schedule = LearningRateSchedule("cosine", lr=1.0, total_steps=10, warmup_steps=2)
>>> [round(schedule(step), 3) for step in (0, 1, 5, 10)]
[0.5, 0.976, 0.5, 0.0]
>>> LearningRateSchedule("step", lr=1.0, step_size=3, gamma=0.5)(7)
0.25
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class LearningRateSchedule:
    """``schedule(step) -> learning rate``; see the module docstring for the formulas."""

    kind: str = "constant"        # one of SCHEDULES
    lr: float = 1e-3              # the base (peak) learning rate
    warmup_steps: int = 0         # linear ramp from lr / warmup_steps up to lr over these steps
    total_steps: int = 0          # cosine: the step at which it reaches min_lr
    min_lr: float = 0.0           # cosine: the floor
    step_size: int = 1000         # step: multiply by gamma every step_size steps
    gamma: float = 0.5            # step: the factor

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {self.kind!r}")
        for name in ("lr", "gamma", "min_lr"):            # numbers (NumPy scalars too), not bools or strings
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))      # frozen dataclass
        for name, low in (("warmup_steps", 0), ("total_steps", 0), ("step_size", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
            object.__setattr__(self, name, int(value))
        if not self.lr > 0:
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be a number in (0, 1], got {self.gamma!r}")
        if not 0.0 <= self.min_lr <= self.lr:
            raise ValueError(f"min_lr must lie in [0, lr={self.lr}], got {self.min_lr!r}")
        if self.kind == "cosine" and self.total_steps < 1:
            raise ValueError(f"the cosine schedule needs total_steps >= 1, got {self.total_steps!r}")

    def __call__(self, step: int) -> float:
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"step must be an int >= 0, got {step!r}")
        if self.kind == "constant":
            value = self.lr
        elif self.kind == "step":
            value = self.lr * self.gamma ** (step // self.step_size)
        else:
            progress = min(step / self.total_steps, 1.0)
            value = self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
        if step < self.warmup_steps:
            value *= (step + 1) / self.warmup_steps
        return value
