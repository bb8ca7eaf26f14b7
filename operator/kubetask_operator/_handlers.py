"""Every kopf handler of the operator, each a few lines that call the pure builders and the I/O helpers."""

from __future__ import annotations

import dataclasses
from typing import Any

import kopf

from kubetask_operator._settings import Settings

registry = kopf.OperatorRegistry()


@dataclasses.dataclass
class OperatorMemo:
    """What every handler shares: kopf passes a shallow copy of it as ``memo``."""

    settings: Settings
    connection: list[kopf.ConnectionInfo] = dataclasses.field(default_factory=list)


def build_memo(settings: Settings) -> OperatorMemo:
    return OperatorMemo(settings=settings)


@kopf.on.login(registry=registry)
def login(*, memo: OperatorMemo, **kwargs: Any) -> kopf.ConnectionInfo | None:
    """Authenticate like the official client (in-cluster, then KUBECONFIG), for kopf and for us."""
    info = kopf.login_via_client(**kwargs)
    memo.connection[:] = [info] if info is not None else []
    return info
