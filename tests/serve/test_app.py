"""The server as a client meets it: a real ``datamill serve`` process, a real MLflow store, httpx."""

from __future__ import annotations

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest

from tests.serve.conftest import RECORD, Store, running


def _expected(store: Store, records: list[dict]) -> tuple[list, np.ndarray]:
    frame = pd.DataFrame(records)
    frame["signup"] = pd.to_datetime(frame["signup"])
    frame["x3"] = frame["x3"].astype("float64")
    return list(store.churn_pipeline.predict(frame)), store.churn_pipeline.predict_proba(frame)


def _no_traceback(response: httpx.Response) -> None:
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_one_record_gets_its_prediction_probabilities_and_version(client: httpx.Client, store: Store) -> None:
    r = client.post("/predict", json=RECORD)
    assert r.status_code == 200, r.text
    body = r.json()
    labels, proba = _expected(store, [RECORD])
    assert body["model"] == "churn" and body["version"] == 1
    assert body["prediction"] == labels[0]
    assert body["probabilities"] == pytest.approx({"no": proba[0][0], "yes": proba[0][1]}, abs=1e-12)
    assert r.headers["x-request-id"] == body["request_id"]


def test_a_list_and_columns_give_one_prediction_per_row_in_order(client: httpx.Client, store: Store) -> None:
    records = [dict(RECORD, x0=float(i) - 3, plan=["basic", "pro", "team", "new"][i % 4]) for i in range(7)]
    labels, proba = _expected(store, records)
    as_list = client.post("/predict", json=records).json()
    columns = {"columns": {k: [r[k] for r in records] for k in RECORD}}
    as_columns = client.post("/predict", json=columns).json()
    for body in (as_list, as_columns):
        assert [p["prediction"] for p in body["predictions"]] == labels
        assert [p["probabilities"]["yes"] for p in body["predictions"]] == pytest.approx(proba[:, 1], abs=1e-12)


def test_the_request_id_sent_is_the_one_answered(client: httpx.Client) -> None:
    r = client.post("/predict", json=RECORD, headers={"X-Request-ID": "order-17"})
    assert r.json()["request_id"] == "order-17" == r.headers["x-request-id"]


def _problems(response: httpx.Response) -> list[tuple]:
    assert response.status_code == 422, response.text
    _no_traceback(response)
    body = response.json()
    assert body["error"] == "invalid" and body["total"] == len(body["errors"])
    return sorted(((e["record"], e["field"], e["problem"]) for e in body["errors"]), key=_order)


def test_malformed_json_is_a_400_that_says_where(client: httpx.Client) -> None:
    r = client.post("/predict", content=b'{"x0": 1,, }', headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == "bad_json" and "line 1 column" in r.json()["message"]
    _no_traceback(r)


def test_each_bad_field_is_listed(client: httpx.Client) -> None:
    bad = dict(RECORD, x0="12", plan=3, extra=1)
    del bad["visits"]
    assert _problems(client.post("/predict", json=bad)) == [
        (None, "extra", "extra"), (None, "plan", "type"), (None, "visits", "missing"), (None, "x0", "type")]
    in_list = [RECORD, dict(RECORD, visits=2.5), dict(RECORD, signup="yesterday"), 7]
    assert _problems(client.post("/predict", json=in_list)) == [
        (1, "visits", "type"), (2, "signup", "type"), (3, None, "form")]


def test_nan_and_infinity_are_refused_by_field(client: httpx.Client) -> None:
    body = orjson.dumps(RECORD).decode().replace('"x0":0.5', '"x0":NaN').replace('"x1":-1.0', '"x1":-Infinity')
    assert _problems(client.post("/predict", content=body.encode(), headers={"content-type": "application/json"})) == [
        (None, "x0", "not_finite"), (None, "x1", "not_finite")]
    columns = {"columns": {k: [v, v] for k, v in RECORD.items()}}
    text = orjson.dumps(columns).decode().replace('"x2":[2.0,2.0]', '"x2":[2.0,Infinity]')
    assert _problems(client.post("/predict", content=text.encode())) == [(1, "x2", "not_finite")]


def test_an_empty_list_and_empty_columns_are_refused(client: httpx.Client) -> None:
    assert _problems(client.post("/predict", json=[])) == [(None, None, "empty")]
    assert _problems(client.post("/predict", json={"columns": {k: [] for k in RECORD}})) == [(None, None, "empty")]
    assert _problems(client.post("/predict", json="a string")) == [(None, None, "form")]


def test_a_50_mb_body_is_refused_before_it_is_read(client: httpx.Client) -> None:
    body = b"[" + b",".join([orjson.dumps(RECORD)] * 700_000) + b"]"
    assert len(body) > 50 * 2**20
    r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large" and "--max-body-mb" in r.json()["message"]

    def chunks():  # no Content-Length: the limit holds on the bytes read
        for _ in range(60):
            yield b" " * 2**20

    r = client.post("/predict", content=chunks())
    assert r.status_code == 413


def test_10000_records_are_answered_and_one_more_is_refused(client: httpx.Client, store: Store) -> None:
    records = [dict(RECORD, x0=float(i % 97) / 10, visits=i % 50) for i in range(10_000)]
    r = client.post("/predict", json=records)
    assert r.status_code == 200, r.text[:500]
    predictions = r.json()["predictions"]
    labels, _ = _expected(store, records)
    assert [p["prediction"] for p in predictions] == labels
    r = client.post("/predict", json=[*records, RECORD])
    assert r.status_code == 413 and "10001 records" in r.json()["message"] and "--max-records" in r.json()["message"]


def test_health_ready_metadata(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"ready": True, "model": "churn", "version": 1}
    meta = client.get("/metadata").json()
    assert (meta["name"], meta["version"], meta["alias"], meta["reference"]) == ("churn", 1, "champion", "churn@champion")
    assert meta["classes"] == ["no", "yes"] and meta["task"] == "classification"
    assert [(c["name"], c["type"]) for c in meta["inputs"]] == [
        ("x0", "double"), ("x1", "double"), ("x2", "double"), ("x3", "double"), ("visits", "long"),
        ("plan", "string"), ("signup", "datetime")]
    assert meta["signature"]["inputs"][0]["name"] == "x0"
    assert meta["lineage"] == {"datamill.rows": "300", "datamill.table": "churn_table"}
    assert meta["runtime"] == "native" and "only numeric inputs convert" in meta["runtime_note"]
    assert meta["options"]["max_records"] == 10_000 and meta["options"]["auth"] is False


def test_metrics_count_requests_errors_batches_and_the_version(client: httpx.Client) -> None:
    client.post("/predict", json=RECORD)
    client.post("/predict", json=[])
    text = client.get("/metrics").text
    samples = _samples(text)
    assert samples[('datamill_requests_total', (("endpoint", "/predict"), ("status", "200")))] >= 1
    assert samples[('datamill_requests_total', (("endpoint", "/predict"), ("status", "422")))] >= 1
    assert samples[('datamill_errors_total', (("kind", "invalid"),))] >= 1
    assert samples[('datamill_request_seconds_count', (("endpoint", "/predict"),))] >= 2
    assert samples[('datamill_batch_rows_count', ())] >= 1
    assert samples[('datamill_model_info', (("alias", "champion"), ("name", "churn"), ("runtime", "native"),
                                            ("version", "1")))] == 1


def test_concurrent_single_records_share_predict_calls(client: httpx.Client, store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    before = _samples(client.get("/metrics").text)
    records = [dict(RECORD, x0=float(i)) for i in range(64)]
    with ThreadPoolExecutor(16) as pool, httpx.Client(base_url=client.base_url, timeout=60) as c:
        answers = list(pool.map(lambda r: c.post("/predict", json=r).json(), records))
    labels, _ = _expected(store, records)
    assert [a["prediction"] for a in answers] == labels  # each request got its own row's answer
    after = _samples(client.get("/metrics").text)
    calls = after[("datamill_batch_requests_count", ())] - before[("datamill_batch_requests_count", ())]
    requests = after[("datamill_batch_requests_sum", ())] - before[("datamill_batch_requests_sum", ())]
    assert requests == 64 and calls < 64  # fewer predict calls than requests: they were batched


def _samples(text: str) -> dict[tuple, float]:
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_openapi_describes_the_three_forms_from_the_signature(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    body = doc["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert [s["$ref"].rsplit("/", 1)[1] for s in body["oneOf"]] == ["Record", "Records", "Columns"]
    record = doc["components"]["schemas"]["Record"]
    assert record["required"] == list(RECORD) and record["additionalProperties"] is False
    assert record["properties"]["signup"] == {"type": ["string", "null"], "format": "date-time"}
    assert client.get("/docs").status_code == 200


def test_unknown_paths_and_methods_answer_json_without_traceback(client: httpx.Client) -> None:
    for r in (client.get("/nope"), client.get("/predict"), client.post("/health")):
        assert r.status_code in (404, 405)
        _no_traceback(r)


def test_a_bearer_token_guards_everything_but_health_and_ready(store: Store) -> None:
    with running(store.root, "churn/1", env={"DATAMILL_SERVE_TOKEN": "s3cret"}) as server:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            assert c.get("/health").status_code == 200 and c.get("/ready").status_code == 200
            for path in ("/metadata", "/metrics", "/openapi.json"):
                assert c.get(path).status_code == 401
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
                r = c.post("/predict", json=RECORD, headers=headers)
                assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
                assert r.json()["error"] == "unauthorized"
            good = {"Authorization": "Bearer s3cret"}
            r = c.post("/predict", json=RECORD, headers=good)
            assert r.status_code == 200 and r.json()["version"] == 1
            assert c.get("/metadata", headers=good).json()["options"]["auth"] is True
            assert 's3cret' not in c.get("/metadata", headers=good).text
            assert 'datamill_errors_total{kind="unauthorized"} 6.0' in c.get("/metrics", headers=good).text


def _order(problem: tuple) -> tuple:
    record, field, kind = problem
    return (-1 if record is None else record, field or "", kind)
