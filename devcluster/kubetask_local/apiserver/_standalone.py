"""Run the emulator alone: ``python -m kubetask_local.apiserver._standalone [--port N] [--kubeconfig PATH]``.

For debugging with kubectl and for tests that want the API server as a separate process. Writes a
kubeconfig pointing at it (once it listens), serves until SIGINT/SIGTERM, then exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from kubetask_local.apiserver._apiserver import ApiServer


def kubeconfig_for(url: str, *, namespace: str = "default") -> str:
    """A kubeconfig (YAML text) with one context, ``kubetask-local``, pointing at ``url``."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "kubetask-local",
            "clusters": [{"name": "kubetask-local", "cluster": {"server": url}}],
            "users": [{"name": "kubetask-local", "user": {}}],
            "contexts": [
                {
                    "name": "kubetask-local",
                    "context": {
                        "cluster": "kubetask-local",
                        "user": "kubetask-local",
                        "namespace": namespace,
                    },
                }
            ],
        }
    )


async def serve(*, port: int, kubeconfig: Path | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with ApiServer(port=port) as api:
        if kubeconfig is not None:
            kubeconfig.parent.mkdir(parents=True, exist_ok=True)
            temporary = kubeconfig.with_name(kubeconfig.name + ".tmp")
            temporary.write_text(kubeconfig_for(api.url))
            temporary.replace(kubeconfig)  # appears complete or not at all
        print(f"kubetask-local API server listening on {api.url}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kubetask_local.apiserver._standalone", description=__doc__
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free port)")
    parser.add_argument(
        "--kubeconfig", type=Path, default=None, help="write a kubeconfig for the server here"
    )
    options = parser.parse_args(argv)
    if not 0 <= options.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {options.port!r}")
    try:
        asyncio.run(serve(port=options.port, kubeconfig=options.kubeconfig))
    except OSError as error:
        print(f"cannot listen on 127.0.0.1:{options.port}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
