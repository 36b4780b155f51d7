"""The matcher's pure solver core: cohort in, pairs and reasons out (no I/O, no clock)."""

from services.matcher.domain.scoring import Weights
from services.matcher.domain.solver import Limits, rematch, solve

__all__ = ["Limits", "Weights", "rematch", "solve"]
