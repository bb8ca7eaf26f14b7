"""An in-memory stand-in for the operator's KubeClient: objects by API path, resourceVersions, merge patches,
preconditions, and scripted failures, so the controller's I/O paths run without a cluster."""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime
import itertools
from collections.abc import Mapping
from typing import Any, cast

from kubetask_operator._client import KubeClient
from kubetask_operator._controller import Controller
from kubetask_operator._errors import ApiError
from kubetask_operator._events import EventPoster
from kubetask_operator._metrics import Metrics
from kubetask_operator._reconcile import Event
from kubetask_operator._settings import Settings

from ._factories import NOW


def merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """Apply a JSON merge patch (RFC 7386) to ``target`` in place."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


@dataclasses.dataclass
class Failure:
    method: str
    path_part: str
    error: ApiError
    times: int


class FakeApi:
    """Objects by path (``.../pods/NAME``); every write bumps a global resourceVersion, as etcd's does."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.by_call: collections.Counter[tuple[str, str]] = collections.Counter()
        self.retries = 0
        self._versions = itertools.count(100)
        self._failures: list[Failure] = []

    def fail(
        self, method: str, path_part: str, status: int, reason: str, message: str, *, times: int = 1
    ) -> None:
        """The next ``times`` calls of ``method`` on a path containing ``path_part`` answer this error."""
        error = ApiError(method=method, path=path_part, status=status, reason=reason, message=message)
        self._failures.append(Failure(method, path_part, error, times))

    def _call(self, method: str, path: str) -> None:
        self.calls.append((method, path))
        for failure in self._failures:
            if failure.method == method and failure.path_part in path and failure.times > 0:
                failure.times -= 1
                raise failure.error

    def stamp(self, body: dict[str, Any]) -> dict[str, Any]:
        body.setdefault("metadata", {})["resourceVersion"] = str(next(self._versions))
        return body

    def put(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Store ``body`` at ``path`` as another client would (no failures, no calls recorded)."""
        self.objects[path] = self.stamp(copy.deepcopy(dict(body)))
        return copy.deepcopy(self.objects[path])

    def calls_of(self, method: str, path_part: str) -> list[str]:
        return [path for m, path in self.calls if m == method and path_part in path]

    async def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        self._call("POST", path)
        name = str(body["metadata"]["name"])
        target = f"{path}/{name}"
        if target in self.objects:
            return None
        created = copy.deepcopy(dict(body))
        created["metadata"].setdefault("uid", f"uid-{name}")
        self.objects[target] = self.stamp(created)
        return copy.deepcopy(created)

    async def get(self, path: str) -> dict[str, Any] | None:
        self._call("GET", path)
        found = self.objects.get(path)
        return copy.deepcopy(found) if found is not None else None

    async def list(self, path: str, *, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Items under ``path``; a ``fieldSelector`` of ``a.b=v`` terms filters them."""
        self._call("GET", path)
        terms = [term.split("=", 1) for term in (params or {}).get("fieldSelector", "").split(",") if term]
        found = []
        for stored_path, item in self.objects.items():
            if stored_path.rsplit("/", 1)[0] != path:
                continue
            values = {field: item for field, _ in terms}
            for field in values:
                value: Any = item
                for part in field.split("."):
                    value = value.get(part) if isinstance(value, Mapping) else None
                values[field] = value
            if all(str(values[field]) == wanted for field, wanted in terms):
                found.append(copy.deepcopy(item))
        return found

    async def merge_patch(
        self, path: str, patch: Mapping[str, Any], *, retry_conflicts: bool = True
    ) -> dict[str, Any]:
        self._call("PATCH", path)
        target = path.removesuffix("/status")
        found = self.objects.get(target)
        if found is None:
            raise ApiError(method="PATCH", path=path, status=404, reason="NotFound", message="not found")
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted is not None and wanted != found["metadata"]["resourceVersion"]:
            raise ApiError(
                method="PATCH",
                path=path,
                status=409,
                reason="Conflict",
                message="the object has been modified",
            )
        body = {key: value for key, value in patch.items() if key != "metadata"}
        if path.endswith("/status"):
            body = {"status": body.get("status") or {}}
        merge(found, body)
        self.stamp(found)
        return copy.deepcopy(found)

    async def delete(self, path: str, *, body: Mapping[str, Any] | None = None) -> bool:
        self._call("DELETE", path)
        found = self.objects.get(path)
        if found is None:
            return False
        wanted_uid = ((body or {}).get("preconditions") or {}).get("uid")
        if wanted_uid is not None and wanted_uid != found["metadata"].get("uid"):
            raise ApiError(method="DELETE", path=path, status=409, reason="Conflict", message="uid differs")
        del self.objects[path]
        return True


class FakeEvents:
    """Records the Events the controller posts."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, Event]] = []

    def post(self, taskrun: Mapping[str, Any], event: Event) -> None:
        self.posted.append((str((taskrun.get("metadata") or {}).get("name")), event))

    def reasons(self) -> list[str]:
        return [event.reason for _, event in self.posted]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


@dataclasses.dataclass
class Harness:
    api: FakeApi
    events: FakeEvents
    clock: Clock
    controller: Controller


def harness(settings: Settings | None = None, *, restart_of: Harness | None = None) -> Harness:
    """A controller on a fake API; ``restart_of``: a new controller (a restarted operator) on that one's API,
    Events and clock."""
    if restart_of is not None:
        api, events, clock = restart_of.api, restart_of.events, restart_of.clock
    else:
        api, events, clock = FakeApi(), FakeEvents(), Clock()
    controller = Controller(
        client=cast(KubeClient, api),
        settings=settings or Settings(),
        events=cast(EventPoster, events),
        metrics=Metrics(),
        clock=clock,
    )
    return Harness(api, events, clock, controller)
