"""Voice in Chromium, with a fake microphone that plays a tone the test writes: the
recording reaches the app in order, at the app's sample rate and at its length; the app's
voice plays in the page and an interruption stops it; a refusal stops the recording and
says so; the keys start and stop it; another browser cannot post into the chat."""

from __future__ import annotations

import math
import os
import re
import struct
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Playwright, expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.helpers import Serve, assistant, open_chat, send, wait_until_idle
from tests.helpers import ROOT

RATE = 24000
TONE_HZ = 440
CHUNK_BYTES = RATE // 5 * 2  # the page posts 0.2 s a chunk
VOICE = {"LIGHTCHAT_AUDIO": "true", "LIGHTCHAT_AUDIO_SAMPLE_RATE": str(RATE)}


def write_tone(path: Path, seconds: float = 2.0, rate: int = 48000) -> None:
    """A 440 Hz tone as a WAV file (16-bit, mono, 48 kHz): the fake microphone loops it."""
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * TONE_HZ * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


@pytest.fixture
def mic_page(playwright: Playwright, tmp_path: Path) -> Iterator[Page]:
    """A page of a Chromium of its own, whose microphone plays the tone."""
    wav = tmp_path / "tone.wav"
    write_tone(wav)
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
            "--autoplay-policy=no-user-gesture-required",
        ],
    )
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def mic_data(page: Page, name: str) -> int:
    """A count the microphone button shows (``data-*``)."""
    return int(page.locator("#lc-mic").get_attribute(f"data-{name}") or "0")


def heard(page: Page) -> dict[str, str]:
    """What the app said it heard, as its fields."""
    said = assistant(page).filter(has_text="chunks=").last
    expect(said).to_be_visible()
    return dict(re.findall(r"(\w+)=(\S+)", said.inner_text()))


def test_a_recording_reaches_the_app_in_order_at_its_rate_and_length(
    serve: Serve, mic_page: Page, tmp_path: Path
) -> None:
    page = mic_page
    server = serve("voice_app.py", env=VOICE)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_chat(page, server.url)
    assert "lightchat.audio.js" in " ".join(requests)
    assert "audio-worklet" not in " ".join(requests)  # only once recording starts

    start = page.get_by_role("button", name="Start recording")
    expect(start).to_have_attribute("aria-pressed", "false")
    start.click()
    stop = page.get_by_role("button", name="Stop recording")
    expect(stop).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#lc-mic")).to_have_attribute("data-connection", "on")
    page.wait_for_function(
        "() => Number(document.getElementById('lc-mic').dataset.sentChunks) >= 1"
    )
    began = time.monotonic() - 0.2  # the first chunk holds 0.2 s
    page.wait_for_function(
        "() => Number(document.getElementById('lc-mic').dataset.sentChunks) >= 8"
    )
    screenshots = os.environ.get("LIGHTCHAT_SCREENSHOTS") == "1"
    folder = ROOT / "docs" / "screenshots" if screenshots else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    shot = str(folder / "voice-recording.png")
    page.locator(".lc-footer").screenshot(path=shot, animations="disabled")
    stop.click()
    stopped = time.monotonic()
    expect(page.get_by_role("button", name="Start recording")).to_have_attribute(
        "aria-pressed", "false"
    )

    fields = heard(page)
    sent_bytes, sent_chunks = mic_data(page, "sent-bytes"), mic_data(page, "sent-chunks")
    assert int(fields["bytes"]) == sent_bytes
    assert int(fields["chunks"]) == sent_chunks
    assert fields["order"] == "True"
    assert fields["mime"] == "pcm16"
    # The tone is 440 Hz only when the app reads it at the rate the page recorded.
    assert abs(int(fields["hz"]) - TONE_HZ) <= 15, fields
    # Every chunk but the last is 0.2 s; the voice lasts as long as the recording did.
    assert (sent_chunks - 1) * CHUNK_BYTES < sent_bytes <= sent_chunks * CHUNK_BYTES
    seconds = sent_bytes / 2 / RATE
    # Within a chunk, and the time a busy machine may take to report the first one.
    assert abs(seconds - (stopped - began)) <= 0.2 + 0.8, (seconds, stopped - began)


def test_the_apps_voice_plays_and_an_interruption_stops_it(serve: Serve, mic_page: Page) -> None:
    page = mic_page
    server = serve("voice_app.py", env=VOICE)
    open_chat(page, server.url)
    mic = page.locator("#lc-mic")
    send(page, "speak")  # 6 s of tone, in 60 chunks sent at once
    expect(assistant(page).last).to_contain_text("spoken")
    page.wait_for_function("() => document.getElementById('lc-mic').dataset.chunksPlayed === '60'")
    expect(mic).to_have_attribute("data-playing", "true")
    # They play one after another: the first ones end while the rest wait their turn.
    page.wait_for_function(
        "() => Number(document.getElementById('lc-mic').dataset.chunksEnded) >= 3"
    )
    expect(mic).to_have_attribute("data-playing", "true")

    send(page, "hush")
    expect(mic).to_have_attribute("data-interrupts", "1")
    expect(mic).to_have_attribute("data-playing", "false")
    assert mic_data(page, "chunks-ended") < 60  # the rest never played

    send(page, "off")
    expect(mic).to_have_attribute("data-connection", "off")


def test_a_refused_recording_stops_and_says_why(serve: Serve, mic_page: Page) -> None:
    page = mic_page
    server = serve("voice_app.py", env=VOICE)
    open_chat(page, server.url)
    send(page, "refuse")
    wait_until_idle(page)
    page.get_by_role("button", name="Start recording").click()
    expect(page.get_by_role("alert")).to_have_text("The app did not take the recording.")
    expect(page.get_by_role("button", name="Start recording")).to_have_attribute(
        "aria-pressed", "false"
    )
    assert mic_data(page, "sent-chunks") == 0


def test_keys_start_and_stop_a_recording(serve: Serve, mic_page: Page) -> None:
    page = mic_page
    server = serve("voice_app.py", env=VOICE)
    open_chat(page, server.url)
    page.locator("textarea[name=content]").fill("p")  # typed in the message box: a letter
    expect(page.locator("#lc-mic")).to_have_attribute("aria-pressed", "false")
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("p")  # outside a text field: as Chainlit's P
    expect(page.get_by_role("button", name="Stop recording")).to_be_visible()
    page.wait_for_function(
        "() => Number(document.getElementById('lc-mic').dataset.sentChunks) >= 2"
    )
    page.locator("textarea[name=content]").focus()
    page.keyboard.press("Alt+m")  # anywhere
    expect(page.get_by_role("button", name="Start recording")).to_be_visible()
    expect(assistant(page).filter(has_text="chunks=")).to_have_count(1)

    # "Keyboard shortcuts" lists them.
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("?")
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(shortcuts).to_contain_text("Start recording / Stop recording")


def test_another_browser_cannot_post_voice_into_the_chat(
    serve: Serve, mic_page: Page, page: Page
) -> None:
    server = serve("voice_app.py", env=VOICE)
    open_chat(mic_page, server.url)
    mic_page.get_by_role("button", name="Start recording").click()
    mic_page.wait_for_function(
        "() => Number(document.getElementById('lc-mic').dataset.sentChunks) >= 1"
    )
    chat_url = mic_page.url
    open_chat(page, server.url)  # another browser, with its own cookie and form token
    statuses = page.evaluate(
        """async (chat) => {
          const token = document.querySelector('meta[name="csrf-token"]').content;
          const post = (url, body) => fetch(url, {method: "POST", body,
            headers: {"X-CSRF-Token": token, "Content-Type": "application/octet-stream"}});
          const start = await post(chat + "/audio");
          const chunk = await post(chat + "/audio/any/chunks/0", new Uint8Array(4));
          return [start.status, chunk.status];
        }""",
        chat_url,
    )
    assert statuses == [404, 404]
    mic_page.get_by_role("button", name="Stop recording").click()
    expect(assistant(mic_page).filter(has_text="chunks=")).to_have_count(1)
