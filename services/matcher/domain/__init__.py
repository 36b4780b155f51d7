"""The matcher's pure solver core: cohort in, pairs and reasons out (no I/O, no clock)."""

from services.matcher.domain.scoring import Weights
from services.matcher.domain.solver import Limits, solve
from services.matcher.domain.watch import Progress, SolveStopped, Watch

__all__ = ["Limits", "Progress", "SolveStopped", "Watch", "Weights", "solve"]
