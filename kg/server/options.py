"""Settings of the endpoint, each default defined once (the CLI reads them from here).

Kept apart from the server modules so that ``wikikg --help`` does not import Starlette.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PoolLimits:
    """How the pool shares its workers; ``None`` fields are derived from ``workers``."""

    workers: int = 4
    timeout: float = 10.0
    slow_after: float = 1.0
    slow_slots: int | None = None          # default: workers - 1 (at least 1)
    client_slow_slots: int | None = None   # default: half the slow slots (at least 1)
    client_workers: int | None = None      # default: workers - 1 (at least 1)
    client_queue: int | None = None        # default: 4 x workers
    max_queue: int | None = None           # default: 16 x workers
    queue_timeout: float | None = None     # default: max(30, 3 x timeout)
    reload_interval: float = 1.0           # seconds between looks at store/ (0: never)

    def __post_init__(self):
        if self.workers < 1 or self.timeout <= 0 or self.slow_after <= 0:
            raise ValueError("workers must be >= 1, timeout and slow_after > 0")
        spare = max(1, self.workers - 1)
        self.slow_slots = self.slow_slots or spare
        self.client_slow_slots = self.client_slow_slots or max(1, self.slow_slots // 2)
        self.client_workers = self.client_workers or spare
        self.client_queue = self.client_queue or 4 * self.workers
        self.max_queue = self.max_queue or 16 * self.workers
        self.queue_timeout = self.queue_timeout or max(30.0, 3 * self.timeout)


@dataclass
class ServeOptions:
    """Settings of ``wikikg serve``; the CLI's defaults are these."""

    host: str = "127.0.0.1"
    port: int = 7878
    timeout: float = PoolLimits.timeout
    max_rows: int = 10_000
    workers: int = PoolLimits.workers
    memory: bool = False
    slow_after: float = PoolLimits.slow_after
    body_timeout: float = 10.0             # seconds to receive a whole request body
    cors_origins: tuple[str, ...] = ("*",)
    token: str | None = None
    pool: PoolLimits | None = None         # all pool settings (then workers, timeout and
                                           # slow_after above are not used)

    def limits(self) -> PoolLimits:
        return self.pool or PoolLimits(workers=self.workers, timeout=self.timeout,
                                       slow_after=self.slow_after)
