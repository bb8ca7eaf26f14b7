"""Faults on demand: a share of API requests answered with errors, watch streams cut mid-stream."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from typing import Any

from kubetask_local.apiserver._errors import ApiError, conflict, internal, too_many_requests

SUPPORTED_STATUSES = (409, 429, 500)
_READ_METHODS = frozenset({"GET", "HEAD"})


@dataclasses.dataclass(frozen=True)
class FaultConfig:
    """What the emulator breaks on purpose.

    ``error_rate``: the share (0..1) of Kubernetes API requests answered with one of ``statuses`` instead
    of being served (409 only for writes, as a real conflict can only happen there). ``retry_after``: the
    Retry-After seconds of the 429 answers. ``watch_drop_after``: seconds after which every watch stream
    is cut without a proper end (None: never). ``methods``/``path_prefix`` narrow which requests fail.
    ``seed`` makes the choice of failing requests reproducible.
    """

    error_rate: float = 0.0
    statuses: tuple[int, ...] = (500, 429, 409)
    retry_after: int = 1
    watch_drop_after: float | None = None
    methods: tuple[str, ...] = ()
    path_prefix: str = ""
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be between 0 and 1, got {self.error_rate!r}")
        unknown = [status for status in self.statuses if status not in SUPPORTED_STATUSES]
        if unknown or not self.statuses:
            raise ValueError(
                f"statuses must be a non-empty subset of {SUPPORTED_STATUSES}, got {self.statuses!r}"
            )
        if self.retry_after < 0:
            raise ValueError(f"retry_after must be >= 0 seconds, got {self.retry_after!r}")
        if self.watch_drop_after is not None and self.watch_drop_after < 0:
            raise ValueError(f"watch_drop_after must be >= 0 seconds or None, got {self.watch_drop_after!r}")

    @classmethod
    def from_json(cls, data: Any) -> FaultConfig:
        """Parse the admin route's body; errors name the field, show the value and say what is expected."""
        if not isinstance(data, Mapping):
            raise ValueError(f"the fault configuration must be a JSON object, got {data!r}")
        fields = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ValueError(
                f"unknown fault configuration fields {unknown!r}; expected some of {sorted(fields)!r}"
            )
        values = dict(data)
        for name in ("statuses", "methods"):
            if name in values:
                if not isinstance(values[name], list):
                    raise ValueError(f"{name} must be a list, got {values[name]!r}")
                values[name] = tuple(values[name])
        if "error_rate" in values and not isinstance(values["error_rate"], int | float):
            raise ValueError(f"error_rate must be a number between 0 and 1, got {values['error_rate']!r}")
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        result = dataclasses.asdict(self)
        result["statuses"] = list(self.statuses)
        result["methods"] = list(self.methods)
        return result


class FaultInjector:
    def __init__(self) -> None:
        self.config = FaultConfig()
        self._random = random.Random()
        self.injected = 0

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._random = random.Random(config.seed)

    def reset(self) -> None:
        self.configure(FaultConfig())

    def pick(self, *, method: str, path: str, name: str) -> ApiError | None:
        """The error to answer instead of serving this request, if this one is chosen to fail."""
        config = self.config
        if config.error_rate <= 0 or not path.startswith(config.path_prefix):
            return None
        if config.methods and method.upper() not in {m.upper() for m in config.methods}:
            return None
        if self._random.random() >= config.error_rate:
            return None
        statuses = [s for s in config.statuses if s != 409 or method.upper() not in _READ_METHODS]
        if not statuses:
            return None
        self.injected += 1
        status = self._random.choice(statuses)
        if status == 429:
            return too_many_requests(retry_after=config.retry_after)
        if status == 409:
            return conflict(
                group="",
                plural="objects",
                name=name or "unknown",
                why="the object has been modified; please apply your changes to the latest version "
                "and try again (injected fault)",
            )
        return internal("an error on the server (injected fault) has prevented the request from succeeding")
