"""Retry budgets and backoff for the write loop, with every side effect injected.

Two budgets, because the two failures are different:

- **conflicts** (someone else wrote first): the remote is healthy and busy; read
  again soon. Short, jittered waits, so writers that collided spread out.
- **transient** failures (timeouts, 429, 5xx): the remote is unwell; back off
  exponentially with full jitter, and honour ``Retry-After`` when it is sent.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Retry"]


@dataclass(frozen=True)
class Retry:
    """How hard :func:`apply` tries.

    >>> waits = []
    >>> r = Retry(sleep=waits.append, random=lambda: 0.5)
    >>> r.conflict_delay(0), r.transient_delay(3, retry_after=None), r.transient_delay(0, retry_after=7.0)
    (0.01, 2.0, 7.025)

    - ``conflicts``: write attempts lost to another writer before giving up
      (the default carries 8 and more concurrent writers on one file);
    - ``conflict_base``/``conflict_cap``: the wait after the n-th lost write is
      uniform in ``[0, min(cap, base * 2**n)]`` (full jitter);
    - ``transient``: failures of the remote tolerated (reads and writes together);
    - ``transient_base``/``transient_cap``: full-jitter exponential backoff;
    - ``max_retry_after``: the longest ``Retry-After`` obeyed; a server asking
      for more makes the loop give up rather than hang;
    - ``sleep``, ``random``: injected so tests can record the waits.
    """

    conflicts: int = 50
    conflict_base: float = 0.02
    conflict_cap: float = 1.0
    transient: int = 6
    transient_base: float = 0.5
    transient_cap: float = 20.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    random: Callable[[], float] = field(default=_random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.conflicts < 1 or self.transient < 0:
            raise ValueError("Retry needs conflicts >= 1 and transient >= 0")
        if min(self.conflict_base, self.conflict_cap, self.transient_base, self.transient_cap) < 0:
            raise ValueError("Retry waits are not negative")

    def conflict_delay(self, lost: int) -> float:
        """The wait after losing the ``lost``-th (0-based) write to another writer."""
        return self.random() * min(self.conflict_cap, self.conflict_base * 2.0**lost)

    def transient_delay(self, failures: int, retry_after: float | None) -> float:
        """The wait after the ``failures``-th (0-based) transient failure.

        With a ``Retry-After``, wait that long plus a little jitter (at most
        ``transient_base / 10``) so clients told the same time do not return together.
        """
        if retry_after is not None:
            return retry_after + self.random() * self.transient_base / 10
        return self.random() * min(self.transient_cap, self.transient_base * 2.0**failures)


NO_RETRY = Retry(conflicts=1, transient=0)
"""One attempt, no retries: for callers that run their own loop."""
