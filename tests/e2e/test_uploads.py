"""Files attached in the composer: chosen, dropped or pasted, they show as chips that can
be taken out again; sending carries them to on_message as message.elements, and the user's
message shows them. Limits are checked on the server; the page warns early."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.e2e.helpers import Serve, assistant, composer, open_chat, send_button, user_messages


def attach(page: Page) -> Locator:
    return page.get_by_label("Attach files")


def chips(page: Page) -> Locator:
    return page.get_by_role("list", name="Attached files").get_by_role("listitem")


def chosen(page: Page) -> list[str]:
    names: list[str] = attach(page).evaluate("input => Array.from(input.files, f => f.name)")
    return names


def test_attach_send_and_the_app_receives_the_file(
    serve: Serve, page: Page, tmp_path: Path
) -> None:
    server = serve("elements_app.py")
    open_chat(page, server.url)
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"hello notes\n")
    extra = tmp_path / "extra.csv"
    extra.write_bytes(b"a,b\n1,2\n")
    expect(chips(page)).to_have_count(0)

    attach(page).set_input_files([notes, extra])
    expect(chips(page)).to_have_count(2)
    expect(chips(page).first).to_contain_text("notes.txt")
    expect(chips(page).first).to_contain_text("12 bytes")
    page.get_by_role("button", name="Remove extra.csv").click()
    expect(chips(page)).to_have_count(1)
    assert chosen(page) == ["notes.txt"]

    composer(page).fill("here it is")
    send_button(page).click()
    mine = user_messages(page).first
    expect(mine.locator(".lc-content")).to_have_text("here it is")
    expect(mine.get_by_role("link", name="notes.txt")).to_have_attribute("download", "notes.txt")
    expect(assistant(page).first.locator(".lc-content")).to_have_text(
        "Received notes.txt: 12 bytes, text/plain"
    )
    # The composer is ready for the next message: no text, no files, no chips.
    expect(composer(page)).to_have_value("")
    expect(chips(page)).to_have_count(0)
    assert chosen(page) == []


def test_enter_sends_files_without_text(serve: Serve, page: Page, tmp_path: Path) -> None:
    server = serve("elements_app.py")
    open_chat(page, server.url)
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n0000")
    attach(page).set_input_files(photo)
    composer(page).press("Enter")
    expect(assistant(page).first.locator(".lc-content")).to_have_text(
        "Received photo.png: 12 bytes, image/png"
    )
    expect(user_messages(page).first.get_by_role("img", name="photo.png")).to_have_count(1)
    expect(chips(page)).to_have_count(0)


def test_dropped_and_pasted_files_are_attached(serve: Serve, page: Page) -> None:
    server = serve("elements_app.py")
    open_chat(page, server.url)
    dropped = page.evaluate_handle(
        """() => {
            const transfer = new DataTransfer();
            transfer.items.add(new File(["dropped!"], "dropped.txt", {type: "text/plain"}));
            return transfer;
        }"""
    )
    page.locator("#lc-log").dispatch_event("dragover", {"dataTransfer": dropped})
    page.locator("#lc-log").dispatch_event("drop", {"dataTransfer": dropped})
    expect(chips(page)).to_have_count(1)
    expect(chips(page).first).to_contain_text("dropped.txt")

    composer(page).evaluate(
        """box => {
            const transfer = new DataTransfer();
            transfer.items.add(new File(["png"], "image.png", {type: "image/png"}));
            const paste = new ClipboardEvent("paste", {
                clipboardData: transfer, bubbles: true, cancelable: true,
            });
            box.dispatchEvent(paste);
        }"""
    )
    expect(chips(page)).to_have_count(2)
    assert chosen(page) == ["dropped.txt", "image.png"]
    expect(composer(page)).to_have_value("")  # the file, not its name, was pasted

    composer(page).press("Enter")
    expect(assistant(page).first.locator(".lc-content")).to_have_text(
        "Received dropped.txt: 8 bytes, text/plain\n\nReceived image.png: 3 bytes, image/png"
    )


def test_a_file_over_the_limit_is_flagged_and_refused(
    serve: Serve, page: Page, tmp_path: Path
) -> None:
    server = serve("elements_app.py", env={"LIGHTCHAT_UPLOAD_MAX_SIZE_MB": "1"})
    open_chat(page, server.url)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (1024 * 1024 + 1))
    attach(page).set_input_files(big)
    alert = page.locator("#lc-notice").get_by_role("alert")
    expect(alert).to_have_text("'big.bin' is larger than 1 MB. Choose a smaller file.")
    expect(chips(page).first).to_have_attribute("data-refused", "")

    # The page only warns; the server is what refuses it.
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        send_button(page).click()
    assert posted.value.status in (400, 413)
    expect(alert).to_contain_text("big.bin")
    expect(user_messages(page)).to_have_count(0)

    page.get_by_role("button", name="Remove big.bin").click()
    expect(chips(page)).to_have_count(0)
    expect(alert).to_have_count(0)
    expect(composer(page)).to_be_focused()
