"""The service starts, answers /healthz, publishes OpenAPI, and speaks problem JSON."""

from fastapi.testclient import TestClient

from card_service.api.app import create_app
from card_service.config import Settings


def test_health_openapi_and_problem_json(db_url):
    with TestClient(
        create_app(Settings(database_url=db_url, ledger_maintenance_interval_s=0))
    ) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        assert c.get("/openapi.json").json()["info"]["title"] == "Citizen card service"
        missing = c.get("/no/such/route")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["code"] == "not_found"
