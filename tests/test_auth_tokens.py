"""Access tokens (JWT): made and checked by ``AccessTokens``, and Chainlit's ``create_jwt``
and ``decode_jwt`` in ``lightchat.auth``, which use the app being served (else the
environment's settings).

A token is checked here against a signature made by hand with ``hmac`` too, so "HS256 with
the secret" is what a JWT library elsewhere (Chainlit's PyJWT) reads, not only what joserfc
agrees with itself on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lightchat.auth.served
from lightchat import LightChat, Settings, User
from lightchat.auth import (
    InvalidTokenError,
    create_jwt,
    decode_jwt,
    get_configuration,
    get_jwt_secret,
    is_oauth_enabled,
    require_login,
)
from lightchat.auth.tokens import CLOCK_LEEWAY_S, MAX_TOKEN_CHARS, AccessTokens, bearer_token
from lightchat.errors import ConfigError

SECRET = "token-secret-" + "t" * 40
OTHER_SECRET = "other-secret-" + "o" * 40
NOW = 1_800_000_000.0
DAY = 24 * 3600


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed(header: dict[str, Any], claims: dict[str, Any], secret: str = SECRET) -> str:
    """A JWT signed with HMAC-SHA256 by hand (whatever its header says)."""
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + b64(signature)


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(unb64(token.split(".")[1]))
    return claims


def user_claims(**extra: Any) -> dict[str, Any]:
    return {"identifier": "ada", "display_name": "Ada", "metadata": {}, **extra}


@pytest.fixture
def tokens() -> AccessTokens:
    return AccessTokens(SECRET, DAY, clock=Clock())


@pytest.fixture
def no_app_served() -> Iterator[None]:
    """No app built in this process, for this test (the one before, if any, comes back)."""
    saved = lightchat.auth.served._served
    lightchat.auth.served._served = None
    yield
    lightchat.auth.served._served = saved


# -- AccessTokens ---------------------------------------------------------------------------


def test_a_token_gives_back_its_user_with_chainlits_claims(tokens: AccessTokens) -> None:
    ada = User(identifier="ada@example.com", display_name="Ada", metadata={"plan": "pro"})
    token = tokens.create(ada)
    assert tokens.decode(token) == ada
    header = json.loads(unb64(token.split(".")[0]))
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims_of(token) == {
        "identifier": "ada@example.com",
        "display_name": "Ada",
        "metadata": {"plan": "pro"},
        "iat": int(NOW),
        "exp": int(NOW) + DAY,
    }


def test_a_token_is_plain_hs256_with_the_secret(tokens: AccessTokens) -> None:
    # Signed by hand, read by AccessTokens; made by AccessTokens, checked by hand.
    made_elsewhere = signed({"alg": "HS256", "typ": "JWT"}, user_claims(exp=int(NOW) + 60))
    assert tokens.decode(made_elsewhere).identifier == "ada"
    token = tokens.create(User(identifier="bob"))
    head, _, signature = token.rpartition(".")
    expected = hmac.new(SECRET.encode(), head.encode(), hashlib.sha256).digest()
    assert unb64(signature) == expected


def test_a_token_expires_after_the_session_lifetime() -> None:
    clock = Clock()
    tokens = AccessTokens(SECRET, DAY, clock=clock)
    token = tokens.create(User(identifier="ada"))
    clock.now = NOW + DAY - 1
    assert tokens.decode(token).identifier == "ada"
    clock.now = NOW + DAY + CLOCK_LEEWAY_S  # past its time, and past the clocks' leeway
    with pytest.raises(InvalidTokenError, match="expired") as refused:
        tokens.decode(token)
    assert refused.value.expired


def test_a_token_may_end_with_a_session(tokens: AccessTokens) -> None:
    token = tokens.create(User(identifier="ada"), expires_at=NOW + 90)
    assert claims_of(token)["exp"] == int(NOW) + 90


def test_a_token_without_an_expiry_is_refused(tokens: AccessTokens) -> None:
    with pytest.raises(InvalidTokenError) as refused:
        tokens.decode(signed({"alg": "HS256"}, user_claims()))
    assert not refused.value.expired


def test_a_token_made_in_the_future_is_refused(tokens: AccessTokens) -> None:
    later = int(NOW) + 10 * CLOCK_LEEWAY_S
    with pytest.raises(InvalidTokenError, match="claims"):
        tokens.decode(signed({"alg": "HS256"}, user_claims(iat=later, exp=later + 60)))
    # Another server's clock a little ahead is fine.
    ahead = int(NOW) + CLOCK_LEEWAY_S // 2
    assert tokens.decode(signed({"alg": "HS256"}, user_claims(iat=ahead, exp=ahead + 60)))


def test_a_tampered_token_is_refused(tokens: AccessTokens) -> None:
    token = tokens.create(User(identifier="ada", metadata={"role": "user"}))
    head, payload, signature = token.split(".")
    claims = claims_of(token)
    for changed in ({"identifier": "admin"}, {"metadata": {"role": "admin"}}):
        forged = b64(json.dumps({**claims, **changed}).encode())
        with pytest.raises(InvalidTokenError, match="malformed or forged"):
            tokens.decode(f"{head}.{forged}.{signature}")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(InvalidTokenError, match="malformed or forged"):
        tokens.decode(f"{head}.{payload}.{flipped}")
    with pytest.raises(InvalidTokenError):
        tokens.decode(f"{head}.{payload}.")


def test_alg_none_and_other_algorithms_are_refused(tokens: AccessTokens) -> None:
    claims = user_claims(exp=int(NOW) + 60)
    unsigned = b64(json.dumps({"alg": "none"}).encode()) + "."
    unsigned += b64(json.dumps(claims).encode()) + "."
    for token in (
        unsigned,
        signed({"alg": "none"}, claims),
        signed({"alg": "None"}, claims),
        signed({"alg": "HS512"}, claims),
    ):
        with pytest.raises(InvalidTokenError):
            tokens.decode(token)
    hs384 = b64(json.dumps({"alg": "HS384"}).encode()) + "." + b64(json.dumps(claims).encode())
    mac = hmac.new(SECRET.encode(), hs384.encode(), hashlib.sha384).digest()
    with pytest.raises(InvalidTokenError, match="HS256"):
        tokens.decode(hs384 + "." + b64(mac))  # a good signature, of another algorithm


def test_a_token_of_another_secret_is_refused(tokens: AccessTokens) -> None:
    other = AccessTokens(OTHER_SECRET, DAY, clock=Clock())
    with pytest.raises(InvalidTokenError, match="malformed or forged"):
        tokens.decode(other.create(User(identifier="ada")))
    with pytest.raises(InvalidTokenError):
        tokens.decode(signed({"alg": "HS256"}, user_claims(exp=int(NOW) + 60), OTHER_SECRET))


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(NOW) + 60},
        {"identifier": "", "exp": int(NOW) + 60},
        {"identifier": 7, "exp": int(NOW) + 60},
        {"identifier": "ada", "display_name": ["Ada"], "exp": int(NOW) + 60},
        {"identifier": "ada", "metadata": "admin", "exp": int(NOW) + 60},
        {"identifier": "ada", "exp": "tomorrow"},
    ],
)
def test_a_token_that_names_no_proper_user_is_refused(
    tokens: AccessTokens, claims: dict[str, Any]
) -> None:
    with pytest.raises(InvalidTokenError):
        tokens.decode(signed({"alg": "HS256"}, claims))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "x" * (MAX_TOKEN_CHARS + 1)])
def test_what_is_no_token_is_refused(tokens: AccessTokens, token: str) -> None:
    with pytest.raises(InvalidTokenError):
        tokens.decode(token)


def test_metadata_that_is_not_json_cannot_go_in_a_token(tokens: AccessTokens) -> None:
    with pytest.raises(TypeError, match="JSON values only"):
        tokens.create(User(identifier="ada", metadata={"roles": {"admin"}}))


def test_the_bearer_token_of_an_authorization_header() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer  abc.def.ghi ") == "abc.def.ghi"
    for header in (None, "", "Bearer", "Bearer ", "Basic YWRhOnB3", "Bearer a b", "abc.def"):
        assert bearer_token(header) is None


# -- create_jwt and friends: the app being served ------------------------------------------


def test_create_jwt_signs_with_the_secret_of_the_app_being_served(tmp_path: Path) -> None:
    app = LightChat(
        settings=Settings(
            auth_secret=SECRET, custom_auth=True, session_max_age_s=600, app_dir=str(tmp_path)
        )
    )
    app.build()
    token = create_jwt(User(identifier="ada", display_name="Ada"))
    assert decode_jwt(token) == User(identifier="ada", display_name="Ada")
    claims = claims_of(token)
    assert claims["exp"] - claims["iat"] == 600
    assert AccessTokens(SECRET, 600).decode(token).identifier == "ada"
    assert get_jwt_secret() == SECRET
    assert require_login()
    assert not is_oauth_enabled()
    with pytest.raises(InvalidTokenError):
        AccessTokens(OTHER_SECRET, 600).decode(token)


def test_the_configuration_says_how_the_app_signs_users_in(tmp_path: Path) -> None:
    app = LightChat(
        settings=Settings(auth_secret=SECRET, default_theme="dark", app_dir=str(tmp_path))
    )

    @app.password_auth_callback
    def check(username: str, password: str) -> User | None:
        return None

    app.build()
    assert get_configuration() == {
        "requireLogin": True,
        "passwordAuth": True,
        "headerAuth": False,
        "oauthProviders": [],
        "default_theme": "dark",
        "ui": {
            "login_page_image": None,
            "login_page_image_filter": None,
            "login_page_image_dark_filter": "brightness-[0.2] grayscale",
        },
    }
    open_app = LightChat(settings=Settings(app_dir=str(tmp_path)))
    open_app.build()
    assert not require_login()
    assert get_configuration()["requireLogin"] is False


def test_before_any_app_is_built_the_environment_gives_the_secret(
    no_app_served: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LIGHTCHAT_AUTH_SECRET", "LIGHTCHAT_CUSTOM_AUTH", "LIGHTCHAT_SESSION_MAX_AGE_S"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIGHTCHAT_APP_DIR", str(tmp_path))
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", SECRET)  # Chainlit's variable works too
    monkeypatch.setenv("CHAINLIT_CUSTOM_AUTH", "true")
    (tmp_path / "lightchat.toml").write_text("[project]\nuser_session_timeout = 120\n")
    token = create_jwt(User(identifier="ada"))
    claims = claims_of(token)
    assert claims["exp"] - claims["iat"] == 120
    assert AccessTokens(SECRET, 120).decode(token).identifier == "ada"
    assert decode_jwt(token).identifier == "ada"
    assert require_login()
    monkeypatch.delenv("CHAINLIT_CUSTOM_AUTH")
    assert not require_login()


def test_without_a_secret_no_token_is_made(
    no_app_served: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LIGHTCHAT_AUTH_SECRET", "CHAINLIT_AUTH_SECRET", "LIGHTCHAT_CUSTOM_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIGHTCHAT_APP_DIR", str(tmp_path))
    assert get_jwt_secret() is None
    with pytest.raises(ConfigError, match="LIGHTCHAT_AUTH_SECRET"):
        create_jwt(User(identifier="ada"))
    monkeypatch.setenv("LIGHTCHAT_AUTH_SECRET", "short")
    with pytest.raises(ConfigError, match="too short"):
        decode_jwt("a.b.c")


def test_custom_auth_needs_a_secret(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(custom_auth=True, app_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"LIGHTCHAT_CUSTOM_AUTH.*lightchat create-secret"):
        app.build()


def test_chainlits_custom_auth_variable_turns_custom_auth_on() -> None:
    assert Settings.from_env({"CHAINLIT_CUSTOM_AUTH": "true"}).custom_auth
    assert Settings.from_env({"LIGHTCHAT_CUSTOM_AUTH": "1"}).custom_auth
    assert not Settings.from_env({}).custom_auth


def test_chainlits_names_with_chainlits_signatures() -> None:
    import lightchat.auth
    import lightchat.auth.cookie
    import lightchat.auth.jwt

    expected = {
        "create_jwt": ["data"],
        "decode_jwt": ["token"],
        "get_jwt_secret": [],
        "get_configuration": [],
        "require_login": [],
        "is_oauth_enabled": [],
        "get_token_from_cookies": ["cookies"],
        "set_auth_cookie": ["request", "response", "token"],
        "clear_auth_cookie": ["request", "response"],
    }
    for name, parameters in expected.items():
        function = getattr(lightchat.auth, name)
        assert list(inspect.signature(function).parameters) == parameters, name
    assert lightchat.auth.jwt.create_jwt is lightchat.auth.create_jwt  # Chainlit's paths too
    assert lightchat.auth.cookie.set_auth_cookie is lightchat.auth.set_auth_cookie


def test_lightchat_auth_imports_without_fastapi() -> None:
    code = (
        "import sys; sys.modules['fastapi'] = None\n"  # as if it were not installed
        "from lightchat.auth import create_jwt, get_current_user\n"
        "import lightchat\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
