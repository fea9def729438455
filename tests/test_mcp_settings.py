"""The MCP settings: Chainlit's keys (``[features.mcp]`` and its ``sse``,
``streamable-http`` and ``stdio`` tables), lightchat's own (the allow-lists, limits and the
app's own servers), in ``lightchat.toml``, in a Chainlit project's ``.chainlit/config.toml``
and as ``LIGHTCHAT_*`` variables; each mistake named with its fix."""

from __future__ import annotations

import logging
import os
import textwrap
import tomllib
from pathlib import Path

import pytest

from lightchat import Settings
from lightchat.config.settings import comma_list, mcp_servers_of
from lightchat.config.toml import read_config_file, starter_config
from lightchat.domain.mcp import McpServerSpec
from lightchat.errors import ConfigError


@pytest.fixture(autouse=True)
def no_lightchat_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LIGHTCHAT_"):
            monkeypatch.delenv(name)


def load(folder: Path, text: str, *, chainlit: bool = False) -> Settings:
    if chainlit:
        (folder / ".chainlit").mkdir()
        (folder / ".chainlit" / "config.toml").write_text(textwrap.dedent(text))
    else:
        (folder / "lightchat.toml").write_text(textwrap.dedent(text))
    return Settings.from_env({}, config_file=True, app_dir=str(folder))


def test_the_defaults_refuse_every_users_command_and_keep_mcp_off() -> None:
    settings = Settings()
    assert (settings.mcp, settings.mcp_sse, settings.mcp_streamable_http) == (False, True, True)
    assert (settings.mcp_stdio, settings.mcp_stdio_anonymous) == (True, False)
    assert settings.mcp_allowed_executables == ""  # Chainlit's default lets any run
    assert (settings.mcp_allowed_env, settings.mcp_allowed_hosts) == ("", "")
    assert (settings.mcp_timeout_s, settings.mcp_max_bytes) == (30, 4 * 1024 * 1024)
    assert settings.mcp_servers == ()


CONFIG = """
[features.mcp]
enabled = true
allowed_hosts = ["mcp.internal", "10.1.0.0/16"]
timeout = 12
max_message_bytes = 65536

[features.mcp.sse]
enabled = false

[features.mcp.streamable-http]
enabled = true

[features.mcp.stdio]
enabled = true
allowed_executables = ["npx", "uvx"]
allowed_env = ["API_KEY"]
allow_anonymous = true

[features.mcp.servers.memory]
command = "npx -y @modelcontextprotocol/server-memory"

[features.mcp.servers.docs]
url = "https://mcp.example.com/mcp"
headers = { Authorization = "Bearer abc" }

[features.mcp.servers."old style"]
url = "https://mcp.example.com/sse"
transport = "sse"
"""


def test_lightchat_toml_sets_every_mcp_key(tmp_path: Path) -> None:
    settings = load(tmp_path, CONFIG)
    assert (settings.mcp, settings.mcp_sse, settings.mcp_streamable_http) == (True, False, True)
    assert (settings.mcp_stdio, settings.mcp_stdio_anonymous) == (True, True)
    assert comma_list(settings.mcp_allowed_executables) == ("npx", "uvx")
    assert settings.mcp_allowed_env == "API_KEY"
    assert settings.mcp_allowed_hosts == "mcp.internal,10.1.0.0/16"
    assert (settings.mcp_timeout_s, settings.mcp_max_bytes) == (12, 65536)
    assert settings.mcp_servers == (
        McpServerSpec(
            "memory", "stdio", command="npx -y @modelcontextprotocol/server-memory", origin="app"
        ),
        McpServerSpec(
            "docs",
            "streamable-http",
            url="https://mcp.example.com/mcp",
            headers={"Authorization": "Bearer abc"},
            origin="app",
        ),
        McpServerSpec("old style", "sse", url="https://mcp.example.com/sse", origin="app"),
    )


CHAINLIT_MCP = """
[features.mcp]
    enabled = true

[features.mcp.sse]
    enabled = true

[features.mcp.streamable-http]
    enabled = false

[features.mcp.stdio]
    enabled = true
    # Only the executables in the allow list can be used for MCP stdio server.
    allowed_executables = [ "npx", "uvx" ]

[UI]
name = "Tools"
"""


def test_chainlits_mcp_keys_are_read_from_its_config(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lightchat"):
        settings = load(tmp_path, CHAINLIT_MCP, chainlit=True)
    assert (settings.mcp, settings.mcp_sse, settings.mcp_streamable_http) == (True, True, False)
    assert settings.mcp_allowed_executables == "npx,uvx"
    assert settings.name == "Tools"
    assert not [r for r in caplog.records if "mcp" in r.getMessage()]  # nothing left aside


def test_the_variables_set_them_too() -> None:
    settings = Settings.from_env(
        {
            "LIGHTCHAT_MCP": "true",
            "LIGHTCHAT_MCP_STDIO": "false",
            "LIGHTCHAT_MCP_ALLOWED_EXECUTABLES": "npx,uvx",
            "LIGHTCHAT_MCP_ALLOWED_HOSTS": "127.0.0.1,::1,localhost",
            "LIGHTCHAT_MCP_TIMEOUT_S": "5",
            "LIGHTCHAT_MCP_SERVERS": '{"docs": {"url": "https://mcp.example.com/mcp"}}',
        }
    )
    assert (settings.mcp, settings.mcp_stdio, settings.mcp_timeout_s) == (True, False, 5)
    assert comma_list(settings.mcp_allowed_hosts) == ("127.0.0.1", "::1", "localhost")
    assert settings.mcp_servers == (
        McpServerSpec("docs", "streamable-http", url="https://mcp.example.com/mcp", origin="app"),
    )
    with pytest.raises(ConfigError, match="LIGHTCHAT_MCP_SERVERS is not JSON"):
        Settings.from_env({"LIGHTCHAT_MCP_SERVERS": "docs=https://x"})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LIGHTCHAT_MCP_ALLOWED_EXECUTABLES", "/usr/bin/npx", "not an executable's bare name"),
        ("LIGHTCHAT_MCP_ALLOWED_EXECUTABLES", r"bin\npx", "not an executable's bare name"),
        ("LIGHTCHAT_MCP_ALLOWED_ENV", "API KEY", "not a variable's name"),
        ("LIGHTCHAT_MCP_ALLOWED_HOSTS", "http://x/", "not a host name, an IP address"),
        ("LIGHTCHAT_MCP_ALLOWED_HOSTS", "10.0.0.0/33", "not a host name, an IP address"),
        ("LIGHTCHAT_MCP_TIMEOUT_S", "0", "LIGHTCHAT_MCP_TIMEOUT_S=0 must be positive"),
        ("LIGHTCHAT_MCP_MAX_BYTES", "-1", "LIGHTCHAT_MCP_MAX_BYTES=-1 must be positive"),
    ],
)
def test_a_bad_value_is_refused_with_its_fix(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({variable: value})


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("", r"features\.mcp\.servers\.bad: give it either a command .* or a url"),
        ('command = "npx x"\nurl = "https://x.example"', "give it either a command"),
        ('cmd = "npx x"', "unknown key 'cmd'; a server takes command, url, transport, headers"),
        ("command = 3", "command is the command line in quotes"),
        ('command = "npx \'unclosed"', "cannot be split"),
        ('command = "npx x"\ntransport = "sse"', "transport is for a server with a url"),
        ('url = "javascript:alert(1)"', "is not an http\\(s\\) address"),
        ('url = "https://x.example"\ntransport = "stdio"', "expected one of streamable-http, sse"),
        ('url = "https://x.example"\nheaders = "Bearer x"', "headers is a table of strings"),
        (
            'url = "https://x.example"\nheaders = { "X-A" = "1\\r\\nX-B: 2" }',
            "holds a line break or a control character",
        ),
        ('url = "https://x.example"\nheaders = { "X A" = "1" }', "'X A' is not a header name"),
        ('url = "https://x.example"\nheaders = { "X-A" = 1 }', "the value of X-A is not a string"),
    ],
)
def test_a_bad_app_server_is_named_with_its_fix(tmp_path: Path, server: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        load(tmp_path, f"[features.mcp.servers.bad]\n{server}\n")
    assert "lightchat.toml: features.mcp.servers.bad" in str(refused.value)


def test_servers_must_be_tables(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"features\.mcp\.servers\.x must be a table"):
        load(tmp_path, '[features.mcp.servers]\nx = "npx y"\n')
    with pytest.raises(ConfigError, match=r"features\.mcp\.servers must be tables"):
        mcp_servers_of("LIGHTCHAT_MCP_SERVERS", ["npx y"])
    with pytest.raises(ConfigError, match="a server's name is 1 to 64 printable characters"):
        mcp_servers_of("here", {"x" * 65: {"command": "npx y"}})


def test_a_misplaced_key_says_where_it_belongs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"it belongs in \[features\.mcp\.stdio\]"):
        load(tmp_path, '[features.mcp]\nallowed_executables = ["npx"]\n')


def test_the_starter_file_has_the_mcp_tables_and_an_example_of_servers() -> None:
    text = starter_config()
    data = tomllib.loads(text)
    mcp = data["features"]["mcp"]
    assert mcp["enabled"] is False
    assert mcp["stdio"]["allowed_executables"] == []
    assert "servers" not in mcp  # only an example, commented
    example = "\n".join(
        line.removeprefix("# ")
        for line in text.splitlines()
        if line.startswith(
            ("# [features.mcp.servers", "# command", "# url", "# transport", "# headers")
        )
    )
    servers = mcp_servers_of("starter", tomllib.loads(example)["features"]["mcp"]["servers"])
    assert [(s.name, s.kind) for s in servers] == [("memory", "stdio"), ("docs", "streamable-http")]


def test_read_config_file_gives_the_servers_as_specs(tmp_path: Path) -> None:
    (tmp_path / "lightchat.toml").write_text('[features.mcp.servers.m]\ncommand = "uvx m"\n')
    assert read_config_file(tmp_path) == {
        "mcp_servers": (McpServerSpec("m", "stdio", command="uvx m", origin="app"),)
    }
