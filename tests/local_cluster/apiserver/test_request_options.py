"""Request options and content negotiation: dryRun, deletecollection, Table and metadata-only answers,
initial events, multi-version CRDs, Secret stringData."""

from __future__ import annotations

import base64

from .conftest import Http, crd_manifest

TABLE = "application/json;as=Table;g=meta.k8s.io;v=v1"
PARTIAL = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


class TestDryRun:
    def test_dry_run_create_and_patch_store_nothing(self, http: Http, namespace: str) -> None:
        base = f"/api/v1/namespaces/{namespace}/configmaps"
        dry = http.post(f"{base}?dryRun=All", {"metadata": {"name": "dry"}, "data": {"a": "1"}})
        assert dry.status == 201
        assert dry.body["metadata"]["uid"]
        assert http.get(f"{base}/dry").status == 404
        http.post(base, {"metadata": {"name": "wet"}, "data": {"a": "1"}})
        patched = http.patch(f"{base}/wet?dryRun=All", {"data": {"a": "2"}})
        assert patched.body["data"] == {"a": "2"}
        assert http.get(f"{base}/wet").body["data"] == {"a": "1"}

    def test_dry_run_still_validates(self, http: Http, namespace: str) -> None:
        reply = http.post(
            f"/api/v1/namespaces/{namespace}/pods?dryRun=All", {"metadata": {"name": "p"}, "spec": {}}
        )
        assert reply.status == 422


class TestDeleteCollection:
    def test_deletes_only_the_selected_objects(self, http: Http, namespace: str) -> None:
        base = f"/api/v1/namespaces/{namespace}/configmaps"
        for name, team in (("a", "red"), ("b", "red"), ("c", "blue")):
            http.post(base, {"metadata": {"name": name, "labels": {"team": team}}})
        reply = http.delete(f"{base}?labelSelector=team%3Dred")
        assert reply.status == 200
        assert sorted(item["metadata"]["name"] for item in reply.body["items"]) == ["a", "b"]
        remaining = [item["metadata"]["name"] for item in http.get(base).body["items"]]
        assert remaining == ["c"]


class TestNegotiation:
    def test_table_with_whole_objects(self, http: Http, namespace: str) -> None:
        base = f"/api/v1/namespaces/{namespace}/configmaps"
        http.post(base, {"metadata": {"name": "t"}, "data": {"a": "1", "b": "2"}})
        table = http.get(f"{base}?includeObject=Object", headers={"Accept": TABLE}).body
        assert table["kind"] == "Table"
        assert [column["name"] for column in table["columnDefinitions"]] == ["Name", "Data", "Age"]
        assert table["rows"][0]["cells"][:2] == ["t", 2]
        assert table["rows"][0]["object"]["data"] == {"a": "1", "b": "2"}

    def test_table_rows_carry_metadata_by_default(self, http: Http, namespace: str) -> None:
        base = f"/api/v1/namespaces/{namespace}/configmaps"
        http.post(base, {"metadata": {"name": "m"}})
        row = http.get(base, headers={"Accept": TABLE}).body["rows"][0]
        assert row["object"]["kind"] == "PartialObjectMetadata"
        assert row["object"]["metadata"]["name"] == "m"

    def test_metadata_only_lists(self, http: Http, namespace: str) -> None:
        base = f"/api/v1/namespaces/{namespace}/configmaps"
        http.post(base, {"metadata": {"name": "p"}, "data": {"secret": "x"}})
        listing = http.get(base, headers={"Accept": PARTIAL}).body
        assert listing["kind"] == "PartialObjectMetadataList"
        assert listing["items"][0] == {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": listing["items"][0]["metadata"],
        }

    def test_unknown_patch_type_answers_415(self, http: Http, namespace: str) -> None:
        http.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "u"}})
        reply = http.patch(f"/api/v1/namespaces/{namespace}/configmaps/u", {}, content_type="text/plain")
        assert reply.status == 415


class TestInitialEvents:
    def test_send_initial_events_ends_with_an_annotated_bookmark(self, http: Http, namespace: str) -> None:
        base = f"/api/v1/namespaces/{namespace}/configmaps"
        http.post(base, {"metadata": {"name": "i"}})
        path = (
            f"{base}?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
            "&timeoutSeconds=1"
        )
        _, events = http.watch_lines(path)
        assert [event["type"] for event in events[:2]] == ["ADDED", "BOOKMARK"]
        assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


class TestMultiVersionCrd:
    def test_objects_are_served_under_every_served_version(self, http: Http, namespace: str) -> None:
        manifest = crd_manifest(group="versions.example.dev", plural="things", kind="Thing")
        first = manifest["spec"]["versions"][0]
        manifest["spec"]["versions"] = [first, {**first, "name": "v2", "storage": False}]
        assert http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", manifest).status == 201
        http.post(f"/apis/versions.example.dev/v1/namespaces/{namespace}/things", {"metadata": {"name": "t"}})
        seen = http.get(f"/apis/versions.example.dev/v2/namespaces/{namespace}/things/t").body
        assert seen["apiVersion"] == "versions.example.dev/v2"
        group = http.get("/apis/versions.example.dev").body
        assert [version["version"] for version in group["versions"]] == ["v1", "v2"]


class TestSecrets:
    def test_string_data_becomes_base64_data(self, http: Http, namespace: str) -> None:
        reply = http.post(
            f"/api/v1/namespaces/{namespace}/secrets",
            {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}},
        )
        assert reply.body["type"] == "Opaque"
        assert "stringData" not in reply.body
        assert base64.b64decode(reply.body["data"]["password"]) == b"hunter2"


class TestRequestBodyLimit:
    """The real API server takes request bodies up to 3 MiB (aiohttp's own default would stop at 1 MiB); etcd
    then stores objects up to 1.5 MiB (its --max-request-bytes), refusing larger ones with
    "etcdserver: request is too large" as a 500 (kubernetes/kubernetes#112152)."""

    def test_bodies_up_to_three_mebibytes_are_read_larger_ones_answer_413(
        self, http: Http, namespace: str
    ) -> None:
        assert (
            http.post(
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                crd_manifest(group="limits.dev", plural="blobs", kind="Blob"),
            ).status
            == 201
        )
        base = f"/apis/limits.dev/v1/namespaces/{namespace}/blobs"
        big = http.post(base, {"metadata": {"name": "big"}, "spec": {"payload": "x" * (1400 * 1024)}})
        assert big.status == 201, big.body
        assert len(http.get(f"{base}/big").body["spec"]["payload"]) == 1400 * 1024

        too_big = http.post(
            base, {"metadata": {"name": "too-big"}, "spec": {"payload": "x" * (2 * 1024 * 1024)}}
        )
        assert too_big.status == 500
        assert too_big.body["message"] == "etcdserver: request is too large"
        assert http.get(f"{base}/too-big").status == 404

        huge = http.post(base, {"metadata": {"name": "huge"}, "spec": {"payload": "x" * (4 * 1024 * 1024)}})
        assert huge.status == 413
        assert huge.body["reason"] == "RequestEntityTooLarge"
        assert http.get(f"{base}/huge").status == 404
