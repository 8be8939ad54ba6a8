"""The OpenAPI schema: served without auth, valid, and listing each endpoint's 4xx answers and parameters."""

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def schema(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_generates_without_warnings(tmp_path):
    # --fail-on-warn turns every drf-spectacular warning (an untyped field, a
    # name collision, a view it cannot read) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


def test_docs_page_needs_no_auth(api_client):
    response = api_client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.parametrize(
    ("path", "codes"),
    [
        ("/api/players/", {"200", "400", "401", "404", "429"}),
        ("/api/players/{id}/", {"200", "401", "404", "429"}),
        ("/api/teams/", {"200", "400", "401", "404", "429"}),
        ("/api/teams/{id}/", {"200", "400", "401", "404", "429"}),
        ("/api/competitions/", {"200", "401", "429"}),
    ],
)
def test_read_endpoints_document_their_answers(schema, path, codes):
    operation = schema["paths"][path]["get"]
    assert set(operation["responses"]) == codes
    assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorDetail"
    }
    assert {"tokenAuth": []} in operation["security"]


def test_player_list_documents_filters_and_pagination(schema):
    operation = schema["paths"]["/api/players/"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) == {"search", "team", "competition", "role", "page", "page_size"}
    assert parameters["role"]["schema"]["enum"] == ["GK", "DF", "MD", "FW"]
    page = schema["components"]["schemas"]["PaginatedPlayerSummaryList"]
    assert {"count", "next", "previous", "results"} <= set(page["properties"])
    errors = schema["components"]["schemas"]["PlayerListError"]["properties"]
    assert set(errors) == {"search", "team", "competition", "role"}


def test_token_endpoint_is_documented_without_auth(schema):
    operation = schema["paths"]["/api/auth/token/"]["post"]
    assert set(operation["responses"]) == {"200", "400", "429"}
    assert operation.get("security", []) in ([], [{}])
    request = schema["components"]["schemas"]["AuthTokenRequest"]
    assert set(request["required"]) == {"username", "password"}
