"""A real OpenID Connect provider for the sign-in tests: ``tests/oidc/server.js``, built on
the npm package oidc-provider (installed in tests/oidc by ``npm ci``, which ``make test``
runs), started on a port of its own.

It knows two clients, ``CLIENT_ID`` and ``CLIENT_ID-post`` (which sends its secret in the
token request's body), with ``CLIENT_SECRET`` and the redirect URIs a test gives; it
requires PKCE, and signs in through its development pages: a login form (any password)
and a consent form. Its accounts are ``ada`` (Ada Lovelace), ``bob`` (Bob Refused) and
``eve``, whose email address is ada's, not verified (``email_verified`` false).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

OIDC_DIR = Path(__file__).parent / "oidc"
CLIENT_ID = "lightchat-tests"
CLIENT_SECRET = "tests-client-secret-" + "c" * 24
PROVIDER_NAME = "Test ID"
"""The generic provider's name (``OAUTH_GENERIC_NAME``): "Continue with Test ID"."""


@dataclass(frozen=True)
class OIDCProvider:
    """A running provider."""

    issuer: str

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def env(self, name: str = PROVIDER_NAME) -> dict[str, str]:
        """The variables that make it a lightchat app's generic OpenID Connect provider."""
        return {
            "OAUTH_GENERIC_CLIENT_ID": CLIENT_ID,
            "OAUTH_GENERIC_CLIENT_SECRET": CLIENT_SECRET,
            "OAUTH_GENERIC_DISCOVERY_URL": self.discovery_url,
            "OAUTH_GENERIC_NAME": name,
        }

    def plain_oauth_env(self, name: str = PROVIDER_NAME) -> dict[str, str]:
        """The variables that make it a plain OAuth 2 provider (Chainlit's generic one:
        explicit URLs, no discovery, no ID token check)."""
        return {
            "OAUTH_GENERIC_CLIENT_ID": f"{CLIENT_ID}-post",
            "OAUTH_GENERIC_CLIENT_SECRET": CLIENT_SECRET,
            "OAUTH_GENERIC_AUTH_URL": f"{self.issuer}/auth",
            "OAUTH_GENERIC_TOKEN_URL": f"{self.issuer}/token",
            "OAUTH_GENERIC_USER_INFO_URL": f"{self.issuer}/me",
            "OAUTH_GENERIC_SCOPES": "openid profile email",
            "OAUTH_GENERIC_NAME": name,
        }


@contextmanager
def running_provider(
    redirect_uris: list[str], *, port: int = 0, log: Path | None = None
) -> Iterator[OIDCProvider]:
    """Start ``tests/oidc/server.js``; skips the test when Node.js is not installed.

    ``port`` 0 takes any free port. What the provider logs goes to ``log`` (or nowhere).
    """
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: these tests run a real OpenID Connect provider")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("tests/oidc/node_modules is missing: run `make oidc` (npm ci in tests/oidc)")
    with open(log or os.devnull, "w") as errors:
        process = subprocess.Popen(
            [node, "server.js"],
            cwd=OIDC_DIR,
            env={
                **os.environ,
                "PORT": str(port),
                "CLIENT_ID": CLIENT_ID,
                "CLIENT_SECRET": CLIENT_SECRET,
                "REDIRECT_URIS": ",".join(redirect_uris),
            },
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()  # "ready <issuer>", or "" if it exited
            if not line.startswith("ready "):
                detail = log.read_text() if log else ""
                raise RuntimeError(f"The OpenID Connect provider did not start: {detail}")
            yield OIDCProvider(issuer=line.split()[1])
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
