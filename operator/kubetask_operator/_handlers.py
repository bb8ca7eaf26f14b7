"""Every kopf handler of the operator, each a few lines handing over to the controller.

Only ``on.event`` watching handlers and activities: no change handlers, timers or daemons, so kopf stores no
state on the objects and adds no finalizer; deleting a TaskRun never waits for the operator.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubetask_api import LABEL_MAP, MAP_PLURAL
from kubetask_operator._crd import GROUP, PLURAL, QUEUE_PLURAL, VERSION
from kubetask_operator._naming import LABEL_MANAGED_BY, MANAGED_BY
from kubetask_operator._service import Service, tune_kopf
from kubetask_operator._settings import Settings

registry = kopf.OperatorRegistry()


def build_memo(settings: Settings) -> kopf.Memo:
    """The memo kopf hands (shallow-copied) to every handler: all copies share one Service."""
    return kopf.Memo(service=Service(settings=settings))


@kopf.on.login(registry=registry)
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """Authenticate like the official client: in-cluster service account, else KUBECONFIG."""
    return kopf.login_via_client(**kwargs)


@kopf.on.startup(registry=registry)
async def startup(*, settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    tune_kopf(settings)
    await memo.service.start(settings=settings)


@kopf.on.cleanup(registry=registry)
async def cleanup(*, memo: kopf.Memo, **_: Any) -> None:
    await memo.service.stop()


@kopf.on.probe(id="taskruns", registry=registry)
def probe(*, memo: kopf.Memo, **_: Any) -> int:
    """The liveness endpoint's payload: TaskRuns in progress."""
    return int(memo.service.metrics.gauges.get("kubetask_taskruns_active", lambda: 0.0)())


# A map's item: before taskrun_event, since kopf runs an object's handlers in order and this one only
# notes the phase (no I/O), so a map's freed slot is seen without waiting for the item's own reconcile.
@kopf.on.event(GROUP, VERSION, PLURAL, labels={LABEL_MAP: kopf.PRESENT}, registry=registry)
async def taskmap_item_event(*, event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    await memo.service.require_maps().on_item(event.get("type"), event["object"])


@kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
async def taskrun_event(*, event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    await memo.service.require_controller().on_taskrun(event.get("type"), event["object"])


@kopf.on.event("v1", "pods", labels={LABEL_MANAGED_BY: MANAGED_BY}, registry=registry)
async def pod_event(*, event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    await memo.service.require_controller().on_pod(event.get("type"), event["object"])


# TaskMaps (_maps.py); their items come from the TaskRun watch above (taskmap_item_event).
@kopf.on.event(GROUP, VERSION, MAP_PLURAL, registry=registry)
async def taskmap_event(*, event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    await memo.service.require_maps().on_taskmap(event.get("type"), event["object"])


@kopf.on.event(GROUP, VERSION, QUEUE_PLURAL, registry=registry)
async def taskqueue_event(*, event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    await memo.service.require_controller().on_taskqueue(event.get("type"), event["object"])
