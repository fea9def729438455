"""Questions back to the user: AskUserMessage is answered in the composer, AskActionMessage
by a click, AskFileMessage by an upload in the question itself."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    Serve,
    assistant,
    chat_log,
    composer,
    open_chat,
    send,
    send_button,
    user_messages,
)


def answer_name(page: Page, name: str = "Ada") -> None:
    """Answer the question on_chat_start asks."""
    question = assistant(page).first
    expect(question.locator(".lc-content")).to_have_text("What is your name?")
    expect(question).to_have_attribute("data-ask", "text")
    send(page, name)
    expect(assistant(page).nth(1).locator(".lc-content")).to_have_text(f"Hello {name}")


def test_ask_user_in_on_chat_start_and_later_is_answered_in_the_composer(
    serve: Serve, page: Page
) -> None:
    server = serve("ask_app.py")
    open_chat(page, server.url)  # waits for "Send" to be enabled while the question waits
    expect(page.get_by_role("button", name="Stop")).to_be_visible()  # on_chat_start still runs
    answer_name(page)
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    expect(assistant(page).first).not_to_have_attribute("data-ask", "text")

    send(page, "text")
    expect(assistant(page).nth(2).locator(".lc-content")).to_have_text("Your favourite colour?")
    expect(send_button(page)).to_be_enabled()
    send(page, "green")
    expect(assistant(page).nth(3).locator(".lc-content")).to_have_text("Colour: green")
    # The answer went to the question, not to on_message (which would have echoed it).
    expect(chat_log(page)).not_to_contain_text("Echo:")
    expect(user_messages(page).locator(".lc-content")).to_have_text(["Ada", "text", "green"])


def test_ask_action_is_answered_by_a_click_and_its_buttons_go(serve: Serve, page: Page) -> None:
    server = serve("ask_app.py")
    open_chat(page, server.url)
    answer_name(page)
    send(page, "action")
    question = assistant(page).nth(2)
    expect(question.locator(".lc-content")).to_have_text("Shall we go on?")
    expect(question).to_have_attribute("data-ask", "action")
    no = question.get_by_role("button", name="No", exact=True)
    expect(question.get_by_role("button", name="Yes", exact=True)).to_have_attribute(
        "data-action-name", "go"
    )
    no.click()
    expect(assistant(page).nth(3).locator(".lc-content")).to_have_text("Chosen: no")
    expect(question.get_by_role("button", name="Yes", exact=True)).to_have_count(0)
    expect(no).to_have_count(0)
    expect(question.locator(".lc-content")).to_have_text("Shall we go on?")  # the text stays


def test_ask_file_is_answered_by_an_upload(serve: Serve, page: Page, tmp_path: Path) -> None:
    server = serve("ask_app.py")
    open_chat(page, server.url)
    answer_name(page)
    send(page, "file")
    question = assistant(page).nth(2)
    expect(question).to_have_attribute("data-ask", "file")
    picker = question.get_by_label("Upload a text file")
    expect(picker).to_have_attribute("accept", "text/plain")
    expect(question).to_contain_text("One file, at most 1 MB (text/plain).")

    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"twelve bytes")
    picker.set_input_files(notes)
    question.get_by_role("button", name="Upload", exact=True).click()
    expect(assistant(page).nth(3).locator(".lc-content")).to_have_text("Got notes.txt (12 bytes)")
    expect(question.get_by_role("button", name="Upload", exact=True)).to_have_count(0)
    # The upload shows as the user's message, with its file.
    expect(user_messages(page).last.get_by_role("link", name="notes.txt")).to_have_attribute(
        "download", "notes.txt"
    )


def test_a_refused_file_shows_why_and_the_question_still_waits(
    serve: Serve, page: Page, tmp_path: Path
) -> None:
    server = serve("ask_app.py")
    open_chat(page, server.url)
    answer_name(page)
    send(page, "file")
    question = assistant(page).nth(2)
    picker = question.get_by_label("Upload a text file")
    upload = question.get_by_role("button", name="Upload", exact=True)

    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    picker.set_input_files(image)
    upload.click()
    alert = page.locator("#lc-notice").get_by_role("alert")
    expect(alert).to_contain_text("'photo.png' is not a type this chat accepts (text/plain).")
    expect(upload).to_be_visible()
    expect(assistant(page)).to_have_count(3)  # no answer yet

    notes = tmp_path / "ok.txt"
    notes.write_bytes(b"fine")
    picker.set_input_files(notes)
    upload.click()
    expect(assistant(page).nth(3).locator(".lc-content")).to_have_text("Got ok.txt (4 bytes)")
    expect(alert).to_have_count(0)
    expect(composer(page)).to_be_editable()


def test_a_file_dropped_on_the_question_goes_to_its_form(serve: Serve, page: Page) -> None:
    server = serve("ask_app.py")
    open_chat(page, server.url)
    answer_name(page)
    send(page, "file")
    question = assistant(page).nth(2)
    form = question.locator("form").filter(has=page.get_by_label("Upload a text file"))
    dropped = page.evaluate_handle(
        """() => {
            const transfer = new DataTransfer();
            transfer.items.add(new File(["dropped"], "dropped.txt", {type: "text/plain"}));
            return transfer;
        }"""
    )
    form.dispatch_event("dragover", {"dataTransfer": dropped})
    expect(form).to_have_attribute("data-dragging", "")
    form.dispatch_event("drop", {"dataTransfer": dropped})
    expect(form).not_to_have_attribute("data-dragging", "")
    # The question's input has it; the composer's attachments do not.
    picker = question.get_by_label("Upload a text file")
    assert picker.evaluate("input => Array.from(input.files, f => f.name)") == ["dropped.txt"]
    assert page.get_by_label("Attach files").evaluate("input => input.files.length") == 0
    question.get_by_role("button", name="Upload", exact=True).click()
    expect(assistant(page).nth(3).locator(".lc-content")).to_have_text("Got dropped.txt (7 bytes)")
