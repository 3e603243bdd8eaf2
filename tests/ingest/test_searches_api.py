"""`/api/v1/searches`: Discover's saved searches through the API, on both stores."""

from __future__ import annotations

from tests.stack import ApiHarness

PAYMENTS = {
    "name": "支付 errors",
    "q": 'error.message:"connection refused"',
    "filters": [
        {"field": "level", "value": "ERROR"},
        {"field": "environment", "value": "staging", "negated": True, "disabled": True},
    ],
    "columns": ["timestamp", "context.url", "message"],
    "range": "7d",
    "sort": "timestamp",
}


def test_saved_searches_round_trip(api: ApiHarness) -> None:
    client = api.client
    created = client.post("/api/v1/searches", json=PAYMENTS)
    assert created.status_code == 201, created.text
    saved = created.json()
    assert {k: saved[k] for k in PAYMENTS} == {
        **PAYMENTS,
        "filters": [
            {"field": "level", "value": "ERROR", "negated": False, "disabled": False},
            PAYMENTS["filters"][1],  # type: ignore[index]
        ],
    }
    assert client.get(f"/api/v1/searches/{saved['id']}").json() == saved
    taken = client.post("/api/v1/searches", json={"name": PAYMENTS["name"]})
    assert taken.status_code == 409 and "already named" in taken.json()["detail"]

    other = client.post("/api/v1/searches", json={"name": "all", "range": "24h"}).json()
    listed = client.get("/api/v1/searches").json()["searches"]
    assert [s["name"] for s in listed] == ["all", PAYMENTS["name"]]

    replaced = client.put(f"/api/v1/searches/{other['id']}", json={"name": "all", "q": "x"})
    assert replaced.status_code == 200 and replaced.json()["q"] == "x"
    assert replaced.json()["created_at"] == other["created_at"]
    assert client.delete(f"/api/v1/searches/{other['id']}").status_code == 204
    assert client.delete(f"/api/v1/searches/{other['id']}").status_code == 404
    assert client.get(f"/api/v1/searches/{other['id']}").status_code == 404
    assert client.put("/api/v1/searches/999999", json={"name": "n"}).status_code == 404


def test_bad_saved_searches_are_refused_naming_the_field(sqlite_api: ApiHarness) -> None:
    client = sqlite_api.client
    for body, field in (
        ({"q": "x"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "n", "filters": [{"value": "x"}]}, "field"),
        ({"name": "n", "columns": ["c"] * 101}, "columns"),
    ):
        reply = client.post("/api/v1/searches", json=body)
        assert reply.status_code == 422, reply.text
        assert field in str(reply.json()["detail"][0]["loc"]), reply.json()
