"""A real ``kopf run`` operator (a subprocess) end to end against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubetask_local import ApiServer, ThreadedApiServer

from .conftest import Http, crd_manifest, wait_for, write_kubeconfig

OPERATOR = textwrap.dedent("""
    import kopf

    @kopf.on.startup()
    def configure(settings: kopf.OperatorSettings, **_):
        settings.persistence.finalizer = "kopf.example.dev/finalizer"
        settings.posting.level = 20
        settings.posting.loggers = True
        settings.watching.server_timeout = 30

    @kopf.on.create("kopf.example.dev", "v1", "sprockets")
    def created(spec, patch, logger, **_):
        patch.status["phase"] = "Seen"
        patch.status["double"] = spec.get("size", 0) * 2
        logger.info("created a sprocket")
        return {"handled": True}

    @kopf.on.update("kopf.example.dev", "v1", "sprockets", field="spec.size")
    def resized(new, patch, **_):
        patch.status["double"] = new * 2

    @kopf.on.delete("kopf.example.dev", "v1", "sprockets")
    def deleted(name, logger, **_):
        logger.info(f"deleting {name}")
""")


@pytest.fixture(scope="module")
def sprockets(http: Http) -> str:
    reply = http.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        crd_manifest(group="kopf.example.dev", plural="sprockets", kind="Sprocket"),
    )
    assert reply.status == 201
    return "/apis/kopf.example.dev/v1"


def _start_kopf(kubeconfig: Path, namespace: str, tmp_path: Path) -> tuple[Path, subprocess.Popen[bytes]]:
    script = tmp_path / "sprocket_operator.py"  # not operator.py: that would shadow the stdlib module
    script.write_text(OPERATOR)
    log = tmp_path / "operator.log"
    environment = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", namespace, str(script)],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    return log, process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture
def operator(
    kubeconfig: Path, sprockets: str, namespace: str, tmp_path: Path
) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    log, process = _start_kopf(kubeconfig, namespace, tmp_path)
    try:
        yield log, process
    finally:
        _stop(process)


@pytest.mark.e2e
def test_kopf_operator_handles_create_update_and_delete(
    http: Http,
    sprockets: str,
    namespace: str,
    operator: tuple[Path, subprocess.Popen[bytes]],
    api: ThreadedApiServer,
) -> None:
    log, process = operator
    base = f"{sprockets}/namespaces/{namespace}/sprockets"
    assert http.post(base, {"metadata": {"name": "s"}, "spec": {"size": 2}}).status == 201

    def status() -> dict[str, object]:
        assert process.poll() is None, "the operator exited"
        return http.get(f"{base}/s").body.get("status") or {}

    def explain() -> str:
        return log.read_text()[-3000:]

    try:
        wait_for(
            lambda: status().get("phase") == "Seen", timeout=30, what="the create handler's status patch"
        )
        obj = http.get(f"{base}/s").body
        assert status()["double"] == 4
        assert status()["created"] == {"handled": True}
        assert "kopf.example.dev/finalizer" in obj["metadata"]["finalizers"]

        http.patch(f"{base}/s", {"spec": {"size": 5}})
        wait_for(lambda: status().get("double") == 10, timeout=30, what="the update handler")

        def posted() -> bool:
            events = http.get(f"/api/v1/namespaces/{namespace}/events").body["items"]
            return any("created a sprocket" in event.get("message", "") for event in events)

        wait_for(posted, timeout=15, what="kopf to post its log line as an Event")

        http.delete(f"{base}/s")
        wait_for(
            lambda: http.get(f"{base}/s").status == 404, timeout=30, what="the delete handler to release it"
        )
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- operator log ---\n{explain()}") from error
    assert "Traceback" not in log.read_text(), explain()
    json_patches = [
        json.loads(request.body)
        for request in api.call(lambda: api.api.requests)
        if str(request.method) in ("PATCH", "method.PATCH")
        and f"/namespaces/{namespace}/sprockets/s" in str(request.url)
        and request.headers.get("Content-Type", "").startswith("application/json-patch+json")
    ]
    assert any(
        ops and ops[0]["op"] == "test" and ops[0]["path"] == "/metadata/resourceVersion"
        for ops in json_patches
    )


@pytest.mark.e2e
def test_kopf_operator_gets_through_injected_faults(tmp_path: Path) -> None:
    """500s, 429s and cut watch streams slow kopf down but do not stop it: what reliability tests rely on."""
    with ApiServer.run_in_thread() as server:
        http = Http(server.url)
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url)
        http.post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd_manifest(group="kopf.example.dev", plural="sprockets", kind="Sprocket"),
        )
        http.post("/api/v1/namespaces", {"metadata": {"name": "faulty"}})
        log, process = _start_kopf(kubeconfig, "faulty", tmp_path)
        try:
            faults = {
                "error_rate": 0.3,
                "statuses": [500, 429],
                "retry_after": 0,
                "watch_drop_after": 1.0,
                "seed": 3,
            }
            assert http.put("/kubetask-local/faults", faults).status == 200
            base = "/apis/kopf.example.dev/v1/namespaces/faulty/sprockets"

            def created() -> bool:
                return http.post(base, {"metadata": {"name": "s"}, "spec": {"size": 3}}).status in (201, 409)

            wait_for(created, timeout=10, what="the sprocket to be created despite the faults")

            def handled() -> bool:
                reply = http.get(f"{base}/s")
                return reply.status == 200 and (reply.body.get("status") or {}).get("double") == 6

            wait_for(handled, timeout=45, what="kopf to handle it through the faults")
            assert http.get("/kubetask-local/faults").body["injected"] > 0
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- operator log ---\n{log.read_text()[-3000:]}") from error
        finally:
            http.delete("/kubetask-local/faults")
            _stop(process)
