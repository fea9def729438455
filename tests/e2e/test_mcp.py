"""MCP servers in the browser: "MCP servers" opens a dialog that connects a stdio server
and an HTTP one (the test toolbox, ``tests.mcp_servers``) through the real connector, lists
their tools, and disconnects them; a message makes the app call a tool, shown as a step
with its arguments and its result. The same with JavaScript off, as plain pages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, forbidden, record, send
from tests.helpers import Server
from tests.mcp_servers.serving import (
    ALLOW_LOOPBACK,
    PYTHON,
    TOOLBOX_SCRIPT,
    McpHttpServer,
    with_python_path,
)

ENV = {
    "LIGHTCHAT_AUTH_SECRET": "e2e-mcp-secret-" + "z" * 32,
    "LIGHTCHAT_MCP": "true",
    "LIGHTCHAT_MCP_ALLOWED_EXECUTABLES": PYTHON,
    "LIGHTCHAT_MCP_ALLOWED_HOSTS": ALLOW_LOOPBACK,
    "PATH": with_python_path(),
}
TOOLBOX = f"{PYTHON} {TOOLBOX_SCRIPT}"


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def sign_in(page: Page, server: Server) -> None:
    page.goto(server.url)
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("lovelace")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f]{32}$"))


def servers_dialog(page: Page) -> Locator:
    return page.get_by_role("dialog", name="MCP servers")


def server_item(dialog: Locator, name: str) -> Locator:
    """One server in the dialog's list, found by its name."""
    return dialog.get_by_role("listitem").filter(has=dialog.page.get_by_role("heading", name=name))


def connect(dialog: Locator, name: str, *, command: str = "", url: str = "") -> None:
    dialog.get_by_label("Name").fill(name)
    if command:
        dialog.get_by_label("Command").fill(command)
    if url:
        dialog.get_by_label("URL").fill(url)
        dialog.get_by_label("Transport").select_option(label="Streamable HTTP")
    dialog.get_by_role("button", name="Connect", exact=True).click()


def test_connect_servers_see_their_tools_call_one_and_disconnect(
    serve: Serve, page: Page, mcp_http: McpHttpServer
) -> None:
    server = serve("mcp_app.py", env=ENV)
    record(page)
    sign_in(page, server)
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)

    page.get_by_role("button", name="MCP servers").click()
    dialog = servers_dialog(page)
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("No MCP server is connected to this chat.")

    connect(dialog, "toolbox", command=TOOLBOX)
    toolbox = server_item(servers_dialog(page), "toolbox")
    expect(toolbox).to_contain_text("Connected")
    expect(toolbox.get_by_role("list", name="Tools of toolbox")).to_contain_text("add")
    expect(toolbox).to_contain_text("Add two whole numbers.")

    connect(servers_dialog(page), "remote", url=mcp_http.url)
    remote = server_item(servers_dialog(page), "remote")
    expect(remote).to_contain_text("Connected")
    expect(remote.get_by_role("list", name="Tools of remote")).to_contain_text("echo")
    expect(server_item(servers_dialog(page), "toolbox")).to_contain_text("Connected")
    servers_dialog(page).get_by_role("button", name="Close").click()
    expect(servers_dialog(page)).to_have_count(0)

    send(page, "add 2 3")
    expect(assistant(page).last).to_contain_text("Result: 5")
    step = chat_log(page).locator('details[data-step-type="tool"]').last
    expect(step).to_have_attribute("data-status", "done")
    expect(step.locator("summary")).to_contain_text("add")
    step.locator("summary").click()
    expect(step.locator(".lc-step-input")).to_contain_text('"a": 2')
    expect(step.locator(".lc-step-input")).to_contain_text('"b": 3')
    expect(step.locator(".lc-step-output")).to_contain_text("5")

    send(page, "echo over HTTP")
    expect(assistant(page).last).to_contain_text("Result: over HTTP")
    send(page, "untrusted")  # markup and a javascript: link, shown as text
    expect(assistant(page).last).to_contain_text("<img src=x onerror=alert(1)>")
    assert forbidden(page) == []

    page.get_by_role("button", name="MCP servers").click()
    server_item(servers_dialog(page), "toolbox").get_by_role("button", name="Disconnect").click()
    expect(server_item(servers_dialog(page), "toolbox")).to_have_count(0)
    expect(server_item(servers_dialog(page), "remote")).to_contain_text("Connected")
    server_item(servers_dialog(page), "remote").get_by_role("button", name="Disconnect").click()
    expect(servers_dialog(page)).to_contain_text("No MCP server is connected to this chat.")


def test_a_refusal_is_an_alert_in_the_dialog(serve: Serve, page: Page) -> None:
    server = serve("mcp_app.py", env=ENV)
    sign_in(page, server)
    expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    page.get_by_role("button", name="MCP servers").click()
    connect(servers_dialog(page), "shell", command="sh -c 'echo hi'")
    alert = servers_dialog(page).get_by_role("alert")
    expect(alert).to_contain_text("sh")
    expect(servers_dialog(page)).to_contain_text("No MCP server is connected to this chat.")
    expect(servers_dialog(page).get_by_label("Name")).to_have_value("shell")


def test_connect_and_disconnect_without_javascript(
    serve: Serve, no_js_page: Page, mcp_http: McpHttpServer
) -> None:
    page = no_js_page
    server = serve("mcp_app.py", env=ENV)
    sign_in(page, server)
    chat_url = page.url

    page.get_by_role("button", name="MCP servers").click()
    expect(page).to_have_url(re.compile(re.escape(f"{chat_url}/mcp") + r"\??$"))
    dialog = servers_dialog(page)
    expect(dialog).to_contain_text("No MCP server is connected to this chat.")

    connect(dialog, "toolbox", command=TOOLBOX)
    expect(page).to_have_url(f"{chat_url}/mcp")
    toolbox = server_item(servers_dialog(page), "toolbox")
    expect(toolbox).to_contain_text("Connected")
    expect(toolbox.get_by_role("list", name="Tools of toolbox")).to_contain_text("add")

    connect(servers_dialog(page), "remote", url=mcp_http.url)
    expect(server_item(servers_dialog(page), "remote")).to_contain_text("echo")

    page.get_by_role("link", name="Back to the chat").click()
    expect(page).to_have_url(chat_url)
    page.get_by_role("textbox", name="Message").fill("add 20 22")
    page.get_by_role("button", name="Send").click()
    expect(assistant(page).last).to_contain_text("Result: 42")

    page.get_by_role("button", name="MCP servers").click()
    server_item(servers_dialog(page), "toolbox").get_by_role("button", name="Disconnect").click()
    expect(page).to_have_url(f"{chat_url}/mcp")
    expect(server_item(servers_dialog(page), "toolbox")).to_have_count(0)
    server_item(servers_dialog(page), "remote").get_by_role("button", name="Disconnect").click()
    expect(servers_dialog(page)).to_contain_text("No MCP server is connected to this chat.")
