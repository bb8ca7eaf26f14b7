"""List and watch: selectors, pagination, resourceVersion semantics, bookmarks, 410 Gone, timeouts."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

import kubernetes
import pytest

from .conftest import Http


def _pod(name: str, *, labels: dict[str, str], node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "labels": labels}, "spec": spec}


@pytest.fixture
def pods(http: Http, namespace: str) -> str:
    base = f"/api/v1/namespaces/{namespace}/pods"
    http.post(base, _pod("a", labels={"app": "web", "tier": "front"}, node="n1"))
    http.post(base, _pod("b", labels={"app": "web", "tier": "back"}))
    http.post(base, _pod("c", labels={"app": "db"}, node="n2"))
    http.patch(f"{base}/c/status", {"status": {"phase": "Running"}})
    return base


def _names(reply: Any) -> list[str]:
    return [item["metadata"]["name"] for item in reply.body["items"]]


class TestSelectors:
    @pytest.mark.parametrize(
        ("selector", "expected"),
        [
            pytest.param("app=web", ["a", "b"], id="equals"),
            pytest.param("app==web,tier=back", ["b"], id="and"),
            pytest.param("app!=web", ["c"], id="not-equals"),
            pytest.param("tier in (front,back)", ["a", "b"], id="in"),
            pytest.param("tier notin (front)", ["b", "c"], id="notin"),
            pytest.param("tier", ["a", "b"], id="exists"),
            pytest.param("!tier", ["c"], id="not-exists"),
        ],
    )
    def test_label_selectors(self, http: Http, pods: str, selector: str, expected: list[str]) -> None:
        reply = http.get(f"{pods}?labelSelector={urllib.request.quote(selector)}")
        assert reply.status == 200
        assert _names(reply) == expected

    @pytest.mark.parametrize(
        ("selector", "expected"),
        [
            pytest.param("metadata.name=b", ["b"], id="name"),
            pytest.param("status.phase=Running", ["c"], id="phase"),
            pytest.param("status.phase!=Running", ["a", "b"], id="phase-not"),
            pytest.param("spec.nodeName=n1", ["a"], id="node"),
            pytest.param("spec.nodeName=", ["b"], id="unscheduled"),
        ],
    )
    def test_field_selectors(self, http: Http, pods: str, selector: str, expected: list[str]) -> None:
        assert _names(http.get(f"{pods}?fieldSelector={urllib.request.quote(selector)}")) == expected

    def test_metadata_namespace_field_selector_across_namespaces(
        self, http: Http, pods: str, namespace: str
    ) -> None:
        reply = http.get(f"/api/v1/pods?fieldSelector=metadata.namespace%3D{namespace}")
        assert _names(reply) == ["a", "b", "c"]

    def test_unsupported_field_label_answers_400(self, http: Http, pods: str) -> None:
        reply = http.get(f"{pods}?fieldSelector=spec.whatever%3Dx")
        assert reply.status == 400
        assert reply.body["message"] == "field label not supported: spec.whatever"

    def test_bad_label_selector_answers_400(self, http: Http, pods: str) -> None:
        assert http.get(f"{pods}?labelSelector=a%20in%20b(").status == 400


class TestListing:
    def test_list_resource_version_is_the_latest_write(self, http: Http, pods: str) -> None:
        latest = http.patch(f"{pods}/a", {"metadata": {"labels": {"touched": "yes"}}}).body
        reply = http.get(pods)
        assert reply.body["kind"] == "PodList"
        assert reply.body["metadata"]["resourceVersion"] == latest["metadata"]["resourceVersion"]

    def test_limit_and_continue_page_through_everything(self, http: Http, pods: str) -> None:
        first = http.get(f"{pods}?limit=2")
        assert _names(first) == ["a", "b"]
        assert first.body["metadata"]["remainingItemCount"] == 1
        token = first.body["metadata"]["continue"]
        second = http.get(f"{pods}?limit=2&continue={token}")
        assert _names(second) == ["c"]
        assert "continue" not in second.body["metadata"]

    def test_too_old_continue_answers_410(self, http: Http, pods: str, api: Any) -> None:
        token = http.get(f"{pods}?limit=1").body["metadata"]["continue"]
        http.patch(f"{pods}/a", {"metadata": {"labels": {"bump": "1"}}})
        http.post("/kubetask-local/compact", {})
        reply = http.get(f"{pods}?limit=1&continue={token}")
        assert reply.status == 410
        assert reply.body["reason"] == "Expired"


class TestWatch:
    def test_watch_replays_from_a_resource_version_as_json_lines(self, http: Http, pods: str) -> None:
        rv = http.get(pods).body["metadata"]["resourceVersion"]
        http.patch(f"{pods}/a", {"metadata": {"labels": {"step": "1"}}})
        http.delete(f"{pods}/b", {"gracePeriodSeconds": 0})
        content_type, events = http.watch_lines(f"{pods}?watch=true&resourceVersion={rv}&timeoutSeconds=1")
        assert content_type.startswith("application/json")
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("MODIFIED", "a"),
            ("DELETED", "b"),
        ]

    def test_watch_without_resource_version_starts_with_current_state(self, http: Http, pods: str) -> None:
        _, events = http.watch_lines(f"{pods}?watch=1&timeoutSeconds=1&labelSelector=app%3Dweb")
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "a"),
            ("ADDED", "b"),
        ]

    def test_objects_leaving_the_selection_are_deleted_for_the_watcher(self, http: Http, pods: str) -> None:
        rv = http.get(pods).body["metadata"]["resourceVersion"]
        http.patch(f"{pods}/a", {"metadata": {"labels": {"app": "other"}}})
        http.patch(f"{pods}/c", {"metadata": {"labels": {"app": "web"}}})
        _, events = http.watch_lines(
            f"{pods}?watch=1&resourceVersion={rv}&timeoutSeconds=1&labelSelector=app%3Dweb"
        )
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("DELETED", "a"),
            ("ADDED", "c"),
        ]

    def test_watch_one_object_by_its_path(self, http: Http, pods: str) -> None:
        rv = http.get(pods).body["metadata"]["resourceVersion"]
        http.patch(f"{pods}/a", {"metadata": {"labels": {"one": "1"}}})
        http.patch(f"{pods}/b", {"metadata": {"labels": {"two": "2"}}})
        watch_root = pods.replace("/api/v1/", "/api/v1/watch/")
        _, events = http.watch_lines(f"{watch_root}/a?resourceVersion={rv}&timeoutSeconds=1")
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("MODIFIED", "a")]

    def test_timeout_seconds_ends_the_stream(self, http: Http, pods: str) -> None:
        started = time.monotonic()
        rv = http.get(pods).body["metadata"]["resourceVersion"]
        _, events = http.watch_lines(f"{pods}?watch=1&resourceVersion={rv}&timeoutSeconds=1")
        assert events == []
        assert 0.9 <= time.monotonic() - started < 5

    def test_bookmarks_carry_the_current_resource_version(self, http: Http, pods: str) -> None:
        rv = http.get(pods).body["metadata"]["resourceVersion"]
        _, events = http.watch_lines(
            f"{pods}?watch=1&resourceVersion={rv}&timeoutSeconds=2&allowWatchBookmarks=true"
        )
        bookmarks = [event for event in events if event["type"] == "BOOKMARK"]
        assert bookmarks
        assert bookmarks[0]["object"]["kind"] == "Pod"
        assert int(bookmarks[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)

    def test_too_old_resource_version_answers_410_in_the_stream(self, http: Http, pods: str) -> None:
        rv = http.get(pods).body["metadata"]["resourceVersion"]
        http.patch(f"{pods}/a", {"metadata": {"labels": {"new": "1"}}})
        http.post("/kubetask-local/compact", {})
        _, events = http.watch_lines(f"{pods}?watch=1&resourceVersion={rv}&timeoutSeconds=1")
        assert len(events) == 1
        assert events[0]["type"] == "ERROR"
        assert events[0]["object"]["code"] == 410
        assert events[0]["object"]["reason"] == "Expired"

    def test_live_events_reach_an_open_watch(self, http: Http, pods: str) -> None:
        rv = http.get(pods).body["metadata"]["resourceVersion"]
        received: list[dict[str, Any]] = []

        def consume() -> None:
            request = urllib.request.Request(
                f"{http.url}{pods}?watch=1&resourceVersion={rv}&timeoutSeconds=3"
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                for line in response:
                    received.append(json.loads(line))
                    if len(received) == 2:
                        return

        thread = threading.Thread(target=consume)
        thread.start()
        time.sleep(0.2)
        http.post(pods, _pod("live", labels={}))
        http.patch(f"{pods}/live", {"metadata": {"labels": {"x": "1"}}})
        thread.join(timeout=10)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in received] == [
            ("ADDED", "live"),
            ("MODIFIED", "live"),
        ]

    def test_kubernetes_client_watch(
        self, client: kubernetes.client.ApiClient, http: Http, pods: str, namespace: str
    ) -> None:
        core = kubernetes.client.CoreV1Api(client)
        listing = core.list_namespaced_pod(namespace)
        watch = kubernetes.watch.Watch()
        http.patch(f"{pods}/b", {"metadata": {"labels": {"w": "1"}}})
        seen = []
        for event in watch.stream(
            core.list_namespaced_pod,
            namespace,
            resource_version=listing.metadata.resource_version,
            timeout_seconds=1,
        ):
            seen.append((event["type"], event["object"].metadata.name))
        assert seen == [("MODIFIED", "b")]
