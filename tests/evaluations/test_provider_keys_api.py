"""`llm_analytics/provider_keys/` and `llm_analytics/provider_key_validations/`: every refused input first, then what a
stored key looks like (never its secret), updates, re-validation, deletes, and who may write."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from environments.models import MembershipLevel, User
from evaluations.models import LLMProviderKey
from posthog_clone import encryption
from tests.api_base import TeamScopedAPITests
from tests.evaluations.fake_llm import FakeLLM
from tests.evaluations.helpers import make_provider_key
from tests.support.errors import assert_error
from tests.support.tenants import PASSWORD, Tenant

pytestmark = pytest.mark.django_db

KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123"
KEYS = "llm_analytics/provider_keys"
VALIDATIONS = "llm_analytics/provider_key_validations"


def path(tenant: Tenant, resource: str = KEYS, suffix: str = "") -> str:
    return f"/api/environments/{tenant.team.id}/{resource}/{suffix}"


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def api(key_client: Callable[..., APIClient], provider_llm: FakeLLM) -> APIClient:
    return key_client("llm_provider_key:write")


# --- refused input (nothing is stored, and no provider is called unless the input is well-formed) ---------------

OPENAI = {"provider": "openai", "name": "Prod", "api_key": KEY}
COMPATIBLE = {"provider": "openai_compatible", "name": "Ollama"}


@pytest.mark.parametrize(
    ("payload", "attr", "detail"),
    [
        ({"name": "Prod", "api_key": KEY}, "provider", "This field is required."),
        ({**OPENAI, "provider": "anthropic"}, "provider", "Invalid provider. Must be one of: openai, openai_compatible."),
        ({**OPENAI, "provider": "azure_openai"}, "provider", "Invalid provider. Must be one of: openai, "
         "openai_compatible."),
        ({**OPENAI, "provider": ""}, "provider", "Invalid provider. Must be one of: openai, openai_compatible."),
        ({**OPENAI, "provider": None}, "provider", "This field may not be null."),
        ({"provider": "openai", "api_key": KEY}, "name", "This field is required."),
        ({**OPENAI, "name": ""}, "name", "This field may not be blank."),
        ({**OPENAI, "name": "   "}, "name", "This field may not be blank."),
        ({**OPENAI, "name": "x" * 256}, "name", "Ensure this field has no more than 255 characters."),
        ({**OPENAI, "name": 12}, "name", "Not a valid string."),
        ({"provider": "openai", "name": "Prod"}, "api_key", "API key is required."),
        ({**OPENAI, "api_key": ""}, "api_key", "This field may not be blank."),
        ({**OPENAI, "api_key": None}, "api_key", "This field may not be null."),
        ({**OPENAI, "api_key": 1234567890}, "api_key", "Not a valid string."),
        ({**OPENAI, "api_key": "pk-abcdefghijklmnop"}, "api_key",
         "Invalid OpenAI API key format: it should start with 'sk-' or 'sk-proj-'."),
        ({**OPENAI, "api_key": "sk-abc def"}, "api_key",
         "The API key may only contain printable characters, without spaces."),
        ({**OPENAI, "api_key": "sk-abc\ndef"}, "api_key",
         "The API key may only contain printable characters, without spaces."),
        ({**OPENAI, "api_key": "sk-" + "a" * 1000}, "api_key", "Ensure this field has no more than 1000 characters."),
        ({**OPENAI, "base_url": "http://127.0.0.1:11434/v1"}, "base_url",
         "base_url is only for the openai_compatible provider (OpenAI's is fixed)."),
        (COMPATIBLE, "base_url", "base_url is required for the openai_compatible provider."),
        ({**COMPATIBLE, "base_url": ""}, "base_url", "This field may not be blank."),
        ({**COMPATIBLE, "base_url": "ftp://127.0.0.1/v1"}, "base_url", "Enter an http:// or https:// URL."),
        ({**COMPATIBLE, "base_url": "file:///etc/passwd"}, "base_url", "Enter an http:// or https:// URL."),
        ({**COMPATIBLE, "base_url": "127.0.0.1:11434/v1"}, "base_url", "Enter an http:// or https:// URL."),
        ({**COMPATIBLE, "base_url": "not a url"}, "base_url",
         "Enter a valid URL: it may not contain spaces or control characters."),
        ({**COMPATIBLE, "base_url": "http:///v1"}, "base_url", "Enter a valid URL: it has no host."),
        ({**COMPATIBLE, "base_url": "http://127.0.0.1:99999/v1"}, "base_url", "Enter a valid URL."),
        ({**COMPATIBLE, "base_url": "http://user:secret@127.0.0.1/v1"}, "base_url",
         "The URL may not contain credentials: send the key as api_key."),
        ({**COMPATIBLE, "base_url": "http://127.0.0.1/v1?key=1"}, "base_url",
         "The base URL may not have a query string or a fragment."),
        ({**COMPATIBLE, "base_url": "http://127.0.0.1/v1#x"}, "base_url",
         "The base URL may not have a query string or a fragment."),
        ({**COMPATIBLE, "base_url": "http://h/" + "a" * 2000}, "base_url",
         "Ensure this field has no more than 2000 characters."),
        ({**COMPATIBLE, "base_url": 5}, "base_url", "Not a valid string."),
    ],
)  # fmt: skip
def test_invalid_input_is_400_on_its_field_and_nothing_is_stored(
    api: APIClient, tenant: Tenant, provider_llm: FakeLLM, payload: dict[str, Any], attr: str, detail: str
) -> None:
    response = api.post(path(tenant), payload, format="json")
    assert_error(response, 400, attr=attr, detail=detail)
    assert response.json()["type"] == "validation_error"
    assert not LLMProviderKey.objects.exists()
    assert provider_llm.model_requests == []


@pytest.mark.parametrize("base_url", ["http://10.0.0.7:11434/v1", "http://127.0.0.1:8080/v1",
                                      "http://ollama.internal.evil.example/v1"])  # fmt: skip
def test_an_openai_compatible_host_outside_the_servers_allowlist_is_400_and_never_called(
    api: APIClient, tenant: Tenant, provider_llm: FakeLLM, settings: Any, base_url: str
) -> None:
    """An operator may keep project admins' keys from pointing the server at hosts of its own network."""
    settings.LLMA_PROVIDER_ALLOWED_HOSTS = ["ollama.internal", "127.0.0.1:11434"]
    for url in (path(tenant), path(tenant, VALIDATIONS)):
        response = api.post(url, {**COMPATIBLE, "base_url": base_url}, format="json")
        assert_error(response, 400, attr="base_url", detail="This server does not allow OpenAI-compatible providers "
                     "at this host (LLMA_PROVIDER_ALLOWED_HOSTS).")  # fmt: skip
    assert not LLMProviderKey.objects.exists()
    settings.LLMA_PROVIDER_ALLOWED_HOSTS = ["ollama.internal", f"127.0.0.1:{provider_llm.server.server_address[1]}"]
    allowed = api.post(path(tenant), {**COMPATIBLE, "base_url": provider_llm.base_url}, format="json")
    assert allowed.status_code == 201, allowed.content


def test_a_body_that_is_not_an_object_is_400(api: APIClient, tenant: Tenant) -> None:
    response = api.post(path(tenant), json.dumps([1]), content_type="application/json")
    assert response.status_code == 400
    assert not LLMProviderKey.objects.exists()


def test_a_key_the_provider_refuses_is_400_and_not_stored(
    api: APIClient, tenant: Tenant, provider_llm: FakeLLM
) -> None:
    provider_llm.accepted_keys = {"sk-some-other-key"}
    response = api.post(path(tenant), OPENAI, format="json")
    assert_error(response, 400, attr="api_key", detail="Invalid API key")
    assert response.json()["code"] == "invalid_api_key"
    assert KEY not in response.content.decode()  # the provider's message echoed it; ours does not
    assert not LLMProviderKey.objects.exists()
    assert provider_llm.model_requests == [("/v1/models", f"Bearer {KEY}")]


def test_an_unreachable_openai_compatible_server_is_400_on_base_url(api: APIClient, tenant: Tenant) -> None:
    url = closed_port_url()
    response = api.post(path(tenant), {**COMPATIBLE, "base_url": url}, format="json")
    assert_error(
        response,
        400,
        attr="base_url",
        code="provider_unreachable",
        detail=f"The provider at {url.split('/')[2]} could not be reached; check the URL and try again.",
    )
    assert not LLMProviderKey.objects.exists()


def test_an_unreachable_openai_is_400_without_a_field(api: APIClient, tenant: Tenant, settings: Any) -> None:
    settings.LLMA_PROVIDER_OPENAI_BASE_URL = closed_port_url()
    response = api.post(path(tenant), OPENAI, format="json")
    assert (response.status_code, response.json()["attr"], response.json()["code"]) == (
        400, None, "provider_unreachable",
    )  # fmt: skip
    assert not LLMProviderKey.objects.exists()


def test_a_server_without_the_models_route_is_400(api: APIClient, tenant: Tenant, provider_llm: FakeLLM) -> None:
    response = api.post(path(tenant), {**COMPATIBLE, "base_url": provider_llm.base_url + "/nothing"}, format="json")
    assert (response.status_code, response.json()["attr"], response.json()["code"]) == (
        400, "base_url", "provider_key_validation_failed",
    )  # fmt: skip
    assert not LLMProviderKey.objects.exists()


# --- what is stored and shown ---------------------------------------------------------------------------------


def test_a_working_key_is_stored_encrypted_and_shown_masked(
    api: APIClient, tenant: Tenant, provider_llm: FakeLLM
) -> None:
    response = api.post(path(tenant), OPENAI, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert KEY not in response.content.decode()
    assert set(body) == {"id", "provider", "name", "state", "error_message", "api_key_masked", "base_url_display",
                         "azure_endpoint_display", "api_version_display", "created_at", "created_by",
                         "last_used_at"}  # fmt: skip
    assert body["provider"] == "openai" and body["name"] == "Prod"
    assert (body["state"], body["error_message"], body["api_key_masked"]) == ("ok", None, "sk-p...0123")
    assert body["base_url_display"] is None and body["azure_endpoint_display"] is None
    assert body["created_by"]["email"] == tenant.user.email and body["last_used_at"] is None
    stored = LLMProviderKey.objects.get(id=body["id"])
    assert KEY not in stored.encrypted_config
    assert json.loads(encryption.decrypt(stored.encrypted_config)) == {"api_key": KEY}
    assert provider_llm.model_requests == [("/v1/models", f"Bearer {KEY}")]
    for shown in (api.get(path(tenant, suffix=f"{body['id']}/")), api.get(path(tenant))):
        assert shown.status_code == 200 and KEY not in shown.content.decode()
    assert api.get(path(tenant, suffix=f"{body['id']}/")).json() == body


def test_a_short_key_is_masked_entirely(api: APIClient, tenant: Tenant) -> None:
    response = api.post(path(tenant), {**OPENAI, "api_key": "sk-abcde"}, format="json")
    assert response.json()["api_key_masked"] == "****"


def test_an_openai_compatible_server_needs_no_key(api: APIClient, tenant: Tenant, provider_llm: FakeLLM) -> None:
    response = api.post(path(tenant), {**COMPATIBLE, "base_url": provider_llm.base_url}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["api_key_masked"], body["base_url_display"], body["state"]) == (None, provider_llm.base_url, "ok")
    with_key = api.post(path(tenant), {**COMPATIBLE, "base_url": provider_llm.base_url, "api_key": "local-key-1234"},
                        format="json")  # fmt: skip
    assert with_key.json()["api_key_masked"] == "loca...1234"
    assert provider_llm.model_requests[-1] == ("/v1/models", "Bearer local-key-1234")


def test_duplicate_names_are_allowed(api: APIClient, tenant: Tenant) -> None:
    assert api.post(path(tenant), OPENAI, format="json").status_code == 201
    assert api.post(path(tenant), OPENAI, format="json").status_code == 201
    assert LLMProviderKey.objects.filter(team=tenant.team).count() == 2


# --- updates -------------------------------------------------------------------------------------------------------


def test_renaming_calls_no_provider(api: APIClient, tenant: Tenant, provider_llm: FakeLLM) -> None:
    key = make_provider_key(tenant)
    response = api.patch(path(tenant, suffix=f"{key.id}/"), {"name": "Renamed"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Renamed"
    put = api.put(path(tenant, suffix=f"{key.id}/"), {"name": "Again", "provider": "openai"}, format="json")
    assert put.status_code == 200 and put.json()["name"] == "Again"
    assert provider_llm.model_requests == []


def test_a_new_key_is_checked_and_a_refused_one_changes_nothing(
    api: APIClient, tenant: Tenant, provider_llm: FakeLLM
) -> None:
    key = make_provider_key(tenant)
    provider_llm.accepted_keys = {KEY}
    refused = api.patch(path(tenant, suffix=f"{key.id}/"), {"api_key": "sk-wrong-key-123456", "name": "X"},
                        format="json")  # fmt: skip
    assert_error(refused, 400, attr="api_key", detail="Invalid API key")
    key.refresh_from_db()
    assert (key.name, key.api_key_masked) == ("Production key", "sk-t...cdef")
    accepted = api.patch(path(tenant, suffix=f"{key.id}/"), {"api_key": KEY}, format="json")
    assert accepted.status_code == 200 and accepted.json()["api_key_masked"] == "sk-p...0123"
    key.refresh_from_db()
    assert json.loads(encryption.decrypt(key.encrypted_config)) == {"api_key": KEY}


@pytest.mark.parametrize(
    ("change", "attr", "detail"),
    [
        ({"provider": "openai_compatible", "base_url": "http://127.0.0.1:1/v1"}, "api_key",
         "Send api_key when changing the provider: a key belongs to one provider."),
        ({"provider": "openai_compatible", "api_key": "local-1"}, "base_url",
         "base_url is required for the openai_compatible provider."),
        ({"base_url": "http://127.0.0.1:1/v1"}, "base_url",
         "base_url is only for the openai_compatible provider (OpenAI's is fixed)."),
        ({"provider": "cohere"}, "provider", "Invalid provider. Must be one of: openai, openai_compatible."),
        ({"api_key": "nope-1234567890"}, "api_key",
         "Invalid OpenAI API key format: it should start with 'sk-' or 'sk-proj-'."),
        ({"name": ""}, "name", "This field may not be blank."),
    ],
)  # fmt: skip
def test_invalid_updates_are_400(
    api: APIClient, tenant: Tenant, provider_llm: FakeLLM, change: dict[str, Any], attr: str, detail: str
) -> None:
    key = make_provider_key(tenant)
    response = api.patch(path(tenant, suffix=f"{key.id}/"), change, format="json")
    assert_error(response, 400, attr=attr, detail=detail)
    assert provider_llm.model_requests == []


def test_a_new_base_url_is_checked_with_the_stored_key(api: APIClient, tenant: Tenant, provider_llm: FakeLLM) -> None:
    key = make_provider_key(tenant, provider="openai_compatible", base_url=closed_port_url(), api_key="local-key-1")
    response = api.patch(path(tenant, suffix=f"{key.id}/"), {"base_url": provider_llm.base_url}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["base_url_display"] == provider_llm.base_url
    assert provider_llm.model_requests == [("/v1/models", "Bearer local-key-1")]
    unreachable = api.patch(path(tenant, suffix=f"{key.id}/"), {"base_url": closed_port_url()}, format="json")
    assert (unreachable.status_code, unreachable.json()["code"]) == (400, "provider_unreachable")


# --- validate/ and provider_key_validations/ ---------------------------------------------------------------------


def test_validate_rechecks_the_stored_key_and_records_the_state(
    api: APIClient, tenant: Tenant, provider_llm: FakeLLM
) -> None:
    key = make_provider_key(tenant, api_key=KEY)
    provider_llm.accepted_keys = set()  # revoked at the provider
    revoked = api.post(path(tenant, suffix=f"{key.id}/validate/"))
    assert revoked.status_code == 200
    assert (revoked.json()["state"], revoked.json()["error_message"]) == ("invalid", "Invalid API key")
    assert LLMProviderKey.objects.get(id=key.id).state == "invalid"
    provider_llm.accepted_keys = None
    restored = api.post(path(tenant, suffix=f"{key.id}/validate/"))
    assert (restored.json()["state"], restored.json()["error_message"]) == ("ok", None)
    assert KEY not in revoked.content.decode() + restored.content.decode()


def test_validate_records_an_unreachable_provider_as_error(api: APIClient, tenant: Tenant) -> None:
    key = make_provider_key(tenant, provider="openai_compatible", base_url=closed_port_url())
    response = api.post(path(tenant, suffix=f"{key.id}/validate/"))
    assert response.status_code == 200 and response.json()["state"] == "error"
    assert "could not be reached" in response.json()["error_message"]


def test_validate_without_a_stored_key_is_400(api: APIClient, tenant: Tenant) -> None:
    key = make_provider_key(tenant, encrypted_config=encryption.encrypt("{}"))
    response = api.post(path(tenant, suffix=f"{key.id}/validate/"))
    assert_error(response, 400, attr=None, detail="No API key configured for this provider key.")


def test_a_key_encrypted_with_a_secret_no_longer_configured_is_reported(
    api: APIClient, tenant: Tenant, settings: Any
) -> None:
    key = make_provider_key(tenant)
    settings.PROVIDER_KEY_ENCRYPTION_KEYS = ["a-brand-new-secret"]
    response = api.post(path(tenant, suffix=f"{key.id}/validate/"))
    assert response.status_code == 200 and response.json()["state"] == "error"
    assert "cannot be decrypted" in response.json()["error_message"]


@pytest.mark.parametrize(
    ("accepted", "payload", "expected"),
    [
        (None, {"api_key": KEY}, {"state": "ok", "error_message": None, "error_field": None}),
        (set(), {"api_key": KEY, "provider": "openai"},
         {"state": "invalid", "error_message": "Invalid API key", "error_field": "api_key"}),
    ],
)  # fmt: skip
def test_validations_check_without_storing(
    api: APIClient, tenant: Tenant, provider_llm: FakeLLM, accepted: set[str] | None, payload: Any, expected: Any
) -> None:
    provider_llm.accepted_keys = accepted
    response = api.post(path(tenant, VALIDATIONS), payload, format="json")
    assert (response.status_code, response.json()) == (200, expected)
    assert not LLMProviderKey.objects.exists()


def test_validations_of_an_unreachable_server(api: APIClient, tenant: Tenant) -> None:
    payload = {"provider": "openai_compatible", "base_url": closed_port_url()}
    body = api.post(path(tenant, VALIDATIONS), payload, format="json").json()
    assert (body["state"], body["error_field"]) == ("error", "base_url")


@pytest.mark.parametrize(
    ("payload", "attr", "detail"),
    [
        ({}, "api_key", "API key is required."),
        ({"provider": "openai"}, "api_key", "API key is required."),
        ({"api_key": KEY, "provider": "anthropic"}, "provider",
         "Invalid provider. Must be one of: openai, openai_compatible."),
        ({"provider": "openai_compatible"}, "base_url", "base_url is required for the openai_compatible provider."),
        ({"provider": "openai_compatible", "base_url": "gopher://x"}, "base_url", "Enter an http:// or https:// URL."),
    ],
)  # fmt: skip
def test_invalid_validations_are_400(
    api: APIClient, tenant: Tenant, provider_llm: FakeLLM, payload: Any, attr: str, detail: str
) -> None:
    assert_error(api.post(path(tenant, VALIDATIONS), payload, format="json"), 400, attr=attr, detail=detail)
    assert provider_llm.model_requests == []


# --- who may write -----------------------------------------------------------------------------------------------


@pytest.fixture
def member(tenant: Tenant, member_of: Any) -> APIClient:
    user = User.objects.create_user(email="member@example.com", password=PASSWORD)
    member_of(user, tenant.organization, MembershipLevel.MEMBER)
    client = APIClient()
    client.force_login(user)
    return client


def test_members_read_but_only_admins_write(
    member: APIClient, tenant: Tenant, member_of: Any, provider_llm: FakeLLM
) -> None:
    key = make_provider_key(tenant)
    assert member.get(path(tenant)).status_code == 200
    assert member.get(path(tenant, suffix=f"{key.id}/")).status_code == 200
    denied = [
        member.post(path(tenant), OPENAI, format="json"),
        member.patch(path(tenant, suffix=f"{key.id}/"), {"name": "Mine"}, format="json"),
        member.delete(path(tenant, suffix=f"{key.id}/")),
        member.post(path(tenant, suffix=f"{key.id}/validate/")),
        member.post(path(tenant, VALIDATIONS), {"api_key": KEY}, format="json"),
    ]
    for response in denied:
        assert_error(response, 403, attr=None, detail="Your organization access level is insufficient.")
    assert provider_llm.model_requests == []
    admin = User.objects.create_user(email="admin@example.com", password=PASSWORD)
    member_of(admin, tenant.organization, MembershipLevel.ADMIN)
    client = APIClient()
    client.force_login(admin)
    assert client.post(path(tenant), OPENAI, format="json").status_code == 201


def test_delete(api: APIClient, tenant: Tenant) -> None:
    key = make_provider_key(tenant)
    assert api.delete(path(tenant, suffix=f"{key.id}/")).status_code == 204
    assert not LLMProviderKey.objects.filter(id=key.id).exists()
    assert api.delete(path(tenant, suffix=f"{key.id}/")).status_code == 404


# --- the checks every project-scoped resource inherits ------------------------------------------------------------


class TestProviderKeysAPI(TeamScopedAPITests):
    resource = KEYS
    scope_object = "llm_provider_key"

    @pytest.fixture(autouse=True)
    def _provider(self, provider_llm: FakeLLM) -> None:
        pass

    def make_object(self, tenant: Tenant) -> LLMProviderKey:
        return make_provider_key(tenant)

    def create_payload(self) -> dict[str, Any]:
        return dict(OPENAI)

    def update_payload(self) -> dict[str, Any]:
        return {"name": "Renamed"}
