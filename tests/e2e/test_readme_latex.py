"""The readme from the header (in French for a French browser), LaTeX drawn as MathML, and
a long answer collapsed, then expanded, with the example examples/10_readme_math."""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import Serve, assistant, collect_errors, open_chat, page_menu, send

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "10_readme_math"


def _serve_example(serve: Serve, folder: Path) -> str:
    # The server keeps its state in the test's folder (its app_dir): the example's readme
    # files and lightchat.toml go there too.
    for name in ("lightchat.md", "lightchat_fr-FR.md", "lightchat.toml"):
        shutil.copy(EXAMPLE / name, folder / name)
    return serve(str(EXAMPLE.relative_to(EXAMPLE.parents[1]) / "app.py")).url


def test_latex_is_drawn_as_mathml(serve: Serve, tmp_path: Path, page: Page) -> None:
    open_chat(page, _serve_example(serve, tmp_path))
    send(page, "math")
    answer = assistant(page).last
    expect(answer).to_contain_text("Prices stay prices")
    inline = answer.locator("math[display=inline]").first
    block = answer.locator("math[display=block]")
    expect(block).to_have_count(1)
    for math in (inline, block):
        box = math.bounding_box()
        assert box is not None
        assert box["width"] > 0, box
        assert box["height"] > 0, box
    # Money stays text.
    expect(answer).to_contain_text("the book costs $5 and the pen $2")


def test_the_readme_opens_from_the_header_in_french(
    serve: Serve, tmp_path: Path, browser: Browser
) -> None:
    url = _serve_example(serve, tmp_path)
    context = browser.new_context(locale="fr-FR")
    try:
        page = context.new_page()
        errors = collect_errors(page)
        page.goto(url)
        expect(page.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
        page.get_by_role("button", name="Plus").click()  # "More", where the readme is
        page.get_by_role("button", name="Lisez-moi").click()
        dialog = page.get_by_role("dialog", name="Lisez-moi")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading", name="À propos de cet assistant")).to_be_visible()
        expect(dialog.locator("math")).to_have_count(1)  # latex is on for the readme too
        dialog.get_by_role("button", name="Fermer").click()
        expect(dialog).to_have_count(0)
        assert not errors, errors
    finally:
        context.close()


def test_the_readme_is_a_page_without_javascript(
    serve: Serve, tmp_path: Path, browser: Browser
) -> None:
    url = _serve_example(serve, tmp_path)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(url)
        page_menu(page).get_by_role("button", name="Readme").click()
        expect(page).to_have_url(f"{url}/readme?chat=" + page.url.rsplit("=", 1)[-1])
        expect(page.get_by_role("heading", name="About this assistant")).to_be_visible()
        page.get_by_role("link", name="Back to the chat").click()
        expect(page.get_by_role("log", name="Conversation")).to_be_visible()
    finally:
        context.close()


def test_a_long_answer_is_collapsed_then_expanded(serve: Serve, tmp_path: Path, page: Page) -> None:
    open_chat(page, _serve_example(serve, tmp_path))
    send(page, "long")
    answer = assistant(page).last
    # Read as it arrived: whole. Opened again: collapsed.
    expect(answer).to_contain_text("Line number 60 of a long answer.")
    expect(answer.locator(".lc-collapse")).to_have_count(0)
    page.reload()
    expect(answer.locator(".lc-collapse")).to_have_count(1)
    # The whole text is in the page; the end is hidden until "Show more".
    expect(answer).to_contain_text("Line number 60 of a long answer.")
    last_line = answer.get_by_text("Line number 60 of a long answer.")
    content = answer.locator(".lc-content")
    collapsed = content.bounding_box()
    assert collapsed is not None
    expect(last_line).not_to_be_in_viewport()
    more = answer.get_by_text("Show more")
    expect(more).to_be_visible()
    expect(answer.get_by_text("Show less")).to_be_hidden()
    more.click()
    expanded = content.bounding_box()
    assert expanded is not None
    assert expanded["height"] > collapsed["height"] * 2, (collapsed, expanded)
    expect(answer.get_by_text("Show less")).to_be_visible()
    answer.get_by_text("Show less").click()
    again = content.bounding_box()
    assert again is not None
    assert again["height"] == collapsed["height"]
