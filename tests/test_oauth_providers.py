"""The OAuth providers' table (``lightchat.auth.oauth.PROVIDERS``): each entry makes its
provider from the environment, and the README's table of providers says the same."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lightchat.auth.oauth import PROVIDERS, ProviderSpec, configured_providers, provider_from
from lightchat.errors import ConfigError

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "### Sign-in with OAuth"
HEADER = "| provider (`provider_id`, label) | variables | `default_user.identifier` |"


def readme_rows() -> list[list[str]]:
    """The cells of the rows of the README's table of providers."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    lines = section[section.index(HEADER) :].splitlines()
    rows = []
    for line in lines[2:]:  # after the header and its |---| line
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def full_env(spec: ProviderSpec) -> dict[str, str]:
    """Every required variable of ``spec`` set, as a minimal valid configuration."""
    env = {spec.variable(name): f"{name.lower()}.example" for name in spec.required}
    if spec.discovery_or_urls:
        env[spec.variable(spec.discovery_or_urls[0])] = "https://id.example/.well-known/x"
    return env


def test_the_readme_lists_the_providers_of_the_table_in_its_order() -> None:
    rows = readme_rows()
    assert [re.findall(r"`([^`]+)`", row[0])[0] for row in rows] == [s.slug for s in PROVIDERS]


@pytest.mark.parametrize("spec", PROVIDERS, ids=lambda spec: spec.slug)
def test_the_readme_row_of_each_provider_says_what_the_table_does(spec: ProviderSpec) -> None:
    row = next(row for row in readme_rows() if row[0].startswith(f"`{spec.slug}`"))
    assert len(row) == 3, row
    provider, variables, identifier = row
    # Its label (the generic provider's, when OAUTH_GENERIC_NAME does not rename it).
    assert f", {spec.label}" in provider or f'"{spec.label}"' in provider
    # Its variables, no more and no fewer; what renames it, and the defaults, are named.
    named = re.findall(r"`(OAUTH_[A-Z0-9_]+)", " ".join(row))
    assert sorted(set(named)) == sorted(spec.variables)
    if spec.renamed_by:
        assert spec.variable(spec.renamed_by) in named
    for name, default in spec.optional.items():
        if default and spec.identifier_key != f"{{{name}}}":
            assert f"`{spec.variable(name)}` (default `{default}`" in variables
    # The key of the user's identifier, or the variable that names it, with its default.
    first = re.findall(r"`([^`]+)`", identifier)[0]
    variable = re.fullmatch(r"\{([A-Z_]+)\}", spec.identifier_key)
    if variable is None:
        assert first == spec.identifier_key
    else:
        name = variable.group(1)
        assert first == spec.variable(name)
        assert f"(default `{spec.optional[name]}`)" in identifier


@pytest.mark.parametrize("spec", PROVIDERS, ids=lambda spec: spec.slug)
def test_each_entry_makes_its_provider(spec: ProviderSpec) -> None:
    provider = provider_from(spec, full_env(spec))
    assert provider is not None
    assert (provider.slug, provider.provider_id, provider.label) == (
        spec.slug,
        spec.slug,
        spec.label,
    )
    assert (provider.client_id, provider.client_secret) == (
        "client_id.example",
        "client_secret.example",
    )
    urls = [provider.authorize_url, provider.token_url, provider.userinfo_url]
    if provider.openid:
        assert provider.discovery_url.startswith(("https://", "http://"))
        assert urls == ["", "", ""]
        assert "openid" in provider.scope.split()
    else:
        assert all(url.startswith("https://") for url in urls), urls
    filled = [*urls, provider.discovery_url, provider.emails_url, provider.identifier_key]
    assert not any("{" in text or "}" in text for text in filled)  # every template filled
    assert provider_from(spec, {}) is None


@pytest.mark.parametrize("spec", PROVIDERS, ids=lambda spec: spec.slug)
def test_each_required_variable_missing_is_named(spec: ProviderSpec) -> None:
    env = full_env(spec)
    for name in spec.required:
        with pytest.raises(ConfigError, match=f"{spec.variable(name)} is not: set it"):
            provider_from(spec, {k: v for k, v in env.items() if k != spec.variable(name)})


def test_the_generic_provider_needs_a_discovery_url_or_all_its_urls() -> None:
    generic = next(spec for spec in PROVIDERS if spec.slug == "generic")
    env = {
        "OAUTH_GENERIC_CLIENT_ID": "id",
        "OAUTH_GENERIC_CLIENT_SECRET": "s",
        "OAUTH_GENERIC_AUTH_URL": "https://id.example/authorize",
    }
    with pytest.raises(ConfigError) as refused:
        provider_from(generic, env)
    assert str(refused.value) == (
        "The generic OAuth provider needs OAUTH_GENERIC_DISCOVERY_URL (OpenID Connect), "
        "or OAUTH_GENERIC_AUTH_URL, _TOKEN_URL and _USER_INFO_URL; "
        "OAUTH_GENERIC_TOKEN_URL, OAUTH_GENERIC_USER_INFO_URL are not set."
    )
    with pytest.raises(ConfigError) as unnamed:
        provider_from(generic, {"OAUTH_GENERIC_TOKEN_URL": "https://id.example/token"})
    assert str(unnamed.value) == (
        "OAUTH_GENERIC_DISCOVERY_URL or its URLs are set but OAUTH_GENERIC_CLIENT_ID and "
        "OAUTH_GENERIC_CLIENT_SECRET are not: set them to offer this sign-in."
    )
    # With a discovery URL: OpenID Connect (its token endpoint takes the secret in the
    # header, OpenID Connect's default), the scopes asked always with openid.
    discovered = provider_from(
        generic,
        {
            **env,
            "OAUTH_GENERIC_DISCOVERY_URL": "https://id.example/x",
            "OAUTH_GENERIC_SCOPES": "email",
        },
    )
    assert discovered is not None
    assert (discovered.openid, discovered.authorize_url) == (True, "")
    assert (discovered.scope, discovered.token_auth) == ("openid email", "client_secret_basic")


def test_a_variable_set_to_spaces_is_unset() -> None:
    secrets = {"OAUTH_GITLAB_CLIENT_ID": "id", "OAUTH_GITLAB_CLIENT_SECRET": "s"}
    (gitlab,) = configured_providers({**secrets, "OAUTH_GITLAB_DOMAIN": "  "})
    assert gitlab.discovery_url == "https://gitlab.com/.well-known/openid-configuration"
    assert (
        configured_providers({"OAUTH_GITHUB_CLIENT_ID": " ", "OAUTH_GITHUB_CLIENT_SECRET": ""})
        == []
    )


def test_descope_and_the_azure_hybrid_provider_ask_what_chainlits_do() -> None:
    env = {
        "OAUTH_DESCOPE_CLIENT_ID": "P2abc",
        "OAUTH_DESCOPE_CLIENT_SECRET": "s",
        "OAUTH_PROMPT": "login",
    }
    (descope,) = configured_providers(env)
    assert descope.authorize_params == {
        "audience": "https://api.descope.com/oauth2/v1/userinfo",
        "prompt": "login",
    }
    hybrid_env = {
        "OAUTH_AZURE_AD_HYBRID_CLIENT_ID": "c",
        "OAUTH_AZURE_AD_HYBRID_CLIENT_SECRET": "s",
        "OAUTH_AZURE_AD_HYBRID_TENANT_ID": "contoso",
        "OAUTH_AZURE_AD_HYBRID_ENABLE_SINGLE_TENANT": "true",
    }
    (hybrid,) = configured_providers(hybrid_env)
    assert hybrid.provider_id == "azure-ad-hybrid"
    assert hybrid.token_url == "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"
    assert "offline_access" in hybrid.scope.split()
    scoped = {**hybrid_env, "OAUTH_AZURE_AD_HYBRID_SCOPES": "User.Read Mail.Read"}
    assert configured_providers(scoped)[0].scope == "User.Read Mail.Read"
