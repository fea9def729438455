"""Voice: a recording's chunks put in order and limited (``lightchat.chat.voice``), its HTTP
endpoints and their checks, the app's voice as events on the stream, and the log keeping
only the last of it.

In a browser, with a fake microphone: tests/e2e/test_voice.py; with two workers and Redis:
tests/test_voice_cluster.py.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

import lightchat as cl
from lightchat import LightChat, Settings
from lightchat.auth.identity import COOKIE
from lightchat.bus import AUDIO_KEPT, MemoryBus
from lightchat.chat.voice import (
    BACKLOG_MAX,
    CHUNK_MAX_BYTES,
    RATE_HEAD_START_S,
    REORDER_WINDOW,
    Recording,
    VoiceRefused,
)
from lightchat.domain.events import (
    AudioConnectionEvent,
    AudioEvent,
    AudioInterruptEvent,
    Event,
    MessageEvent,
    event_from_json,
    event_to_json,
)
from lightchat.domain.transcript import Transcript
from lightchat.errors import ConfigError
from lightchat.ui.render import Renderer
from lightchat.ui.stream_view import (
    AUDIO_CONNECTION_EVENT,
    AUDIO_EVENT,
    AUDIO_INTERRUPT_EVENT,
    StreamView,
)
from tests.helpers import Serve, contents, until, wait_for_log

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(15)]

RATE = 16000


def pcm(samples: int, value: int = 1000) -> bytes:
    """``samples`` 16-bit samples, all ``value``."""
    return value.to_bytes(2, "little", signed=True) * samples


# -- framing and limits ------------------------------------------------------------------


async def test_chunks_are_handed_in_order_whatever_order_they_come_in() -> None:
    recording = Recording("r", RATE, started=0.0)
    assert recording.take(1, pcm(10, 1), 0.0)
    assert recording.queue.empty()  # chunk 0 has not come: 1 is held
    assert recording.take(0, pcm(20, 0), 0.0)
    assert recording.take(2, pcm(30, 2), 0.0)
    assert not recording.take(1, pcm(10, 1), 0.0)  # a retry: taken once
    handed = [chunk for _ in range(3) if (chunk := recording.queue.get_nowait()) is not None]
    assert [c.data[:2] for c in handed] == [pcm(1, 0), pcm(1, 1), pcm(1, 2)]
    assert [c.isStart for c in handed] == [True, False, False]
    assert {c.mimeType for c in handed} == {"pcm16"}
    # elapsedTime: the milliseconds of voice up to each chunk's end.
    assert [c.elapsedTime for c in handed] == pytest.approx([1.25, 1.875, 3.75])
    recording.stop(3)
    assert recording.queue.get_nowait() is None  # the end
    with pytest.raises(VoiceRefused) as ended:
        recording.take(3, pcm(10), 0.0)
    assert ended.value.status == 409


async def test_a_stop_waits_for_the_chunks_it_counts() -> None:
    recording = Recording("r", RATE, started=0.0)
    recording.take(0, pcm(10), 0.0)
    recording.stop(2)
    assert not recording.finished
    recording.take(1, pcm(10), 0.0)
    assert recording.finished
    chunks = [recording.queue.get_nowait() for _ in range(3)]
    assert chunks[-1] is None
    assert all(c is not None for c in chunks[:2])
    with pytest.raises(VoiceRefused) as twice:
        recording.stop(5)
    assert twice.value.status == 409
    fewer = Recording("r2", RATE, started=0.0)
    fewer.take(0, pcm(10), 0.0)
    fewer.take(1, pcm(10), 0.0)
    with pytest.raises(VoiceRefused) as less:
        fewer.stop(1)
    assert less.value.status == 400


@pytest.mark.parametrize(
    ("data", "status"),
    [(b"", 400), (b"\x01\x02\x03", 400), (b"\0" * (CHUNK_MAX_BYTES + 2), 413)],
)
async def test_a_malformed_chunk_is_refused(data: bytes, status: int) -> None:
    with pytest.raises(VoiceRefused) as refused:
        Recording("r", RATE, started=0.0).take(0, data, 0.0)
    assert refused.value.status == status


async def test_a_chunk_too_far_ahead_is_refused() -> None:
    recording = Recording("r", RATE, started=0.0)
    recording.take(REORDER_WINDOW - 1, pcm(10), 0.0)
    with pytest.raises(VoiceRefused) as ahead:
        recording.take(REORDER_WINDOW, pcm(10), 0.0)
    assert ahead.value.status == 409


async def test_voice_faster_than_spoken_is_refused_then_taken_as_time_passes() -> None:
    recording = Recording("r", RATE, started=0.0)
    second = pcm(RATE)
    for seq in range(int(RATE_HEAD_START_S)):
        recording.take(seq, second, 0.0)  # the head start
    with pytest.raises(VoiceRefused) as fast:
        recording.take(5, second, 0.0)
    assert fast.value.status == 429
    assert recording.take(5, second, 1.0)  # a second later, two seconds more may come


async def test_an_app_that_does_not_keep_up_is_said_so() -> None:
    recording = Recording("r", RATE, started=-1e6)
    for seq in range(BACKLOG_MAX):
        recording.take(seq, pcm(10), 0.0)
    with pytest.raises(VoiceRefused) as behind:
        recording.take(BACKLOG_MAX, pcm(10), 0.0)
    assert behind.value.status == 429


# -- the app's voice: events, the stream, the log ----------------------------------------


def test_audio_events_cross_processes_as_json() -> None:
    for event in (
        AudioEvent("t1", "pcm16", base64.b64encode(pcm(4)).decode()),
        AudioInterruptEvent(),
        AudioConnectionEvent("on"),
    ):
        assert event_from_json(event_to_json(event)) == event


def test_the_stream_sends_audio_as_events_of_its_own() -> None:
    view = StreamView(
        Renderer(Settings(), "v"), Transcript(), base="", chat_url="/chat/x", interval=0.05
    )
    bus = MemoryBus()
    data = base64.b64encode(pcm(4)).decode()
    entries = [
        bus.publish("x", AudioConnectionEvent("on")),
        bus.publish("x", AudioEvent("t1", "pcm16", data)),
        bus.publish("x", AudioInterruptEvent()),
    ]
    chunks = view.feed(entries, 0.0)
    assert [c.event for c in chunks] == [AUDIO_CONNECTION_EVENT, AUDIO_EVENT, AUDIO_INTERRUPT_EVENT]
    assert json.loads(chunks[1].data) == {"seq": 2, "track": "t1", "mime": "pcm16", "data": data}
    assert json.loads(chunks[0].data) == {"seq": 1, "state": "on"}


@pytest.mark.parametrize("fold", [True, False])
async def test_the_log_keeps_only_the_last_audio_and_none_after_an_interruption(
    fold: bool,
) -> None:
    bus = MemoryBus(fold=fold)
    data = base64.b64encode(pcm(4)).decode()
    for _ in range(AUDIO_KEPT + 10):
        bus.publish("x", AudioEvent("t", "pcm16", data))
    kept = await bus.read("x")
    assert len(kept) == AUDIO_KEPT
    assert kept[0].seq == 11  # the oldest ones went
    bus.publish("x", AudioInterruptEvent())
    assert [type(e.event) for e in await bus.read("x")] == [AudioInterruptEvent]
    bus.publish("x", AudioEvent("t2", "pcm16", data))
    bus.publish("x", AudioConnectionEvent("off"))
    assert [type(e.event) for e in await bus.read("x")] == [
        AudioInterruptEvent,
        AudioConnectionEvent,
    ]


# -- the endpoints -----------------------------------------------------------------------


def voice_app(
    tmp_path: Path, *, accept: bool = True, **overrides: Any
) -> tuple[LightChat, dict[str, Any]]:
    """An app that keeps the chunks it hears, and says what it heard when the user stops;
    ``send_back`` sends audio to the page."""
    given: dict[str, Any] = {"audio": True, "audio_sample_rate": RATE, **overrides}
    settings = Settings(name="Bot", app_dir=str(tmp_path), history=False, **given)
    app = LightChat(settings=settings)
    seen: dict[str, Any] = {"chunks": [], "starts": 0, "ends": 0}

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.Message(content=f"echo {message.content}").send()

    @app.on_audio_start
    async def started() -> bool:
        seen["starts"] += 1
        return accept

    @app.on_audio_chunk
    async def chunk(piece: cl.InputAudioChunk) -> None:
        seen["chunks"].append(piece)

    @app.on_audio_end
    async def ended() -> None:
        seen["ends"] += 1
        heard = sum(len(c.data) for c in seen["chunks"])
        await cl.context.emitter.send_audio_chunk(
            cl.OutputAudioChunk(track="back", mimeType="pcm16", data=pcm(8))
        )
        await cl.Message(content=f"heard {heard} bytes").send()

    return app, seen


def audio_events(events: list[Event]) -> list[Event]:
    kinds = (AudioEvent, AudioConnectionEvent, AudioInterruptEvent)
    return [e for e in events if isinstance(e, kinds)]


async def test_a_recording_reaches_the_apps_hooks_in_order(tmp_path: Path, serve: Serve) -> None:
    app, seen = voice_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        session = site.session(client, url)
        started = await client.post(f"{url}/audio")
        assert started.status_code == 201, started.text
        body = started.json()
        assert body["sampleRate"] == RATE
        assert body["mimeType"] == "pcm16"
        assert body["url"] == f"{url}/audio/{body['recording']}"
        for seq in (0, 2, 1, 1):  # out of order, and a retry
            sent = await client.post(f"{body['url']}/chunks/{seq}", content=pcm(100, seq))
            assert sent.status_code == 204, sent.text
        ended = await client.post(f"{body['url']}/end?chunks=3")
        assert ended.status_code == 204
        events = await wait_for_log(
            session.bus, session.id, lambda e: "heard 600 bytes" in contents(e)
        )
        assert [c.data[:2] for c in seen["chunks"]] == [pcm(1, 0), pcm(1, 1), pcm(1, 2)]
        assert (seen["starts"], seen["ends"]) == (1, 1)
        sounds = audio_events(events)
        assert sounds[0] == AudioConnectionEvent("on")
        assert sounds[1] == AudioEvent("back", "pcm16", base64.b64encode(pcm(8)).decode())

        # After the end, its chunks are refused: a new recording is needed.
        late = await client.post(f"{body['url']}/chunks/3", content=pcm(10))
        assert late.status_code == 404


async def test_a_new_recording_stops_the_one_still_open(tmp_path: Path, serve: Serve) -> None:
    app, seen = voice_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        session = site.session(client, url)
        first = (await client.post(f"{url}/audio")).json()  # as a page does
        await client.post(f"{first['url']}/chunks/0", content=pcm(10, 1))
        await client.post(f"{first['url']}/chunks/2", content=pcm(10, 3))  # 1 never comes
        # The page reloaded while it recorded: its new recording ends the old one.
        second = (await client.post(f"{url}/audio")).json()
        await client.post(f"{second['url']}/chunks/0", content=pcm(10, 2))
        await client.post(f"{second['url']}/end?chunks=1")
        await until(lambda: seen["ends"] == 2, "both recordings to end")
        await site.idle(session)
        assert [c.data[:2] for c in seen["chunks"]] == [pcm(1, 1), pcm(1, 2)]


async def test_a_refused_recording_takes_no_chunk(tmp_path: Path, serve: Serve) -> None:
    app, seen = voice_app(tmp_path, accept=False)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        session = site.session(client, url)
        refused = await client.post(f"{url}/audio")
        assert refused.status_code == 409
        assert refused.text == "The app did not take the recording."
        events = await wait_for_log(session.bus, session.id, lambda e: bool(audio_events(e)))
        assert audio_events(events) == [AudioConnectionEvent("off")]
        assert (await client.post(f"{url}/audio/nope/chunks/0", content=pcm(4))).status_code == 404
        assert seen["chunks"] == []


async def test_voice_posts_have_every_writes_checks(tmp_path: Path, serve: Serve) -> None:
    app, seen = voice_app(tmp_path)
    async with serve(app) as site:
        owner = site.browser()
        url = await site.new_chat(owner)
        started = (await owner.post(f"{url}/audio")).json()
        chunk_url = f"{started['url']}/chunks/0"

        stranger = site.browser()
        await stranger.get("/")
        assert (await stranger.post(f"{url}/audio")).status_code == 404
        assert (await stranger.post(chunk_url, content=pcm(10))).status_code == 404

        bare = site.browser(form_token=False)
        bare.cookies.set(COOKIE, owner.cookies[COOKIE])
        assert (await bare.post(chunk_url, content=pcm(10))).status_code == 403

        other_site = {"Origin": "https://elsewhere.example"}
        crossed = await owner.post(chunk_url, content=pcm(10), headers=other_site)
        assert crossed.status_code == 403

        too_big = await owner.post(chunk_url, content=b"\0" * (CHUNK_MAX_BYTES + 2))
        assert too_big.status_code == 413
        odd = await owner.post(chunk_url, content=b"\0" * 3)
        assert odd.status_code == 400
        assert "even" in odd.text
        for bad in ("x", "1" * 5000, "-1", "\u0661"):  # the last: an Arabic-Indic 1
            refused = await owner.post(f"{started['url']}/chunks/{bad}", content=pcm(2))
            assert refused.status_code == 400, bad
        no_count = await owner.post(f"{started['url']}/end")
        assert no_count.status_code == 400
        assert seen["chunks"] == []


async def test_voice_is_off_unless_the_app_turns_it_on(tmp_path: Path, serve: Serve) -> None:
    app, _ = voice_app(tmp_path, audio=False)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        page = (await client.get(url)).text
        assert 'id="lc-mic"' not in page
        assert "lightchat.audio.js" not in page
        assert (await client.post(f"{url}/audio")).status_code == 404


async def test_the_page_of_a_voice_app_has_the_microphone(tmp_path: Path, serve: Serve) -> None:
    app, _ = voice_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        page = (await client.get(url)).text
        assert 'id="lc-mic"' in page
        assert 'aria-pressed="false"' in page
        assert "Start recording" in page
        assert f'data-sample-rate="{RATE}"' in page
        assert "lightchat.audio.js" in page
        worklet = await client.get("/-/static/lightchat.audio-worklet.js")
        assert worklet.status_code == 200
        assert "registerProcessor" in worklet.text
        # The copilot widget's frame lets the chat use the microphone and play sound.
        widget = await client.get("/-/copilot.js")
        assert '"clipboard-write; microphone; autoplay"' in widget.text


async def test_the_emitter_checks_what_it_sends(tmp_path: Path, serve: Serve) -> None:
    app, _ = voice_app(tmp_path)
    problems: list[str] = []

    @app.on_chat_start
    async def start() -> None:
        emitter = cl.context.emitter
        for bad in ({"data": b"\0"}, {"data": 12}, {"data": "not base64!"}):
            try:
                await emitter.send_audio_chunk(bad)
            except ConfigError as exc:
                problems.append(str(exc))
        try:
            await emitter.update_audio_connection("maybe")
        except ConfigError as exc:
            problems.append(str(exc))
        await emitter.send_audio_chunk({"data": base64.b64encode(pcm(2)).decode()})
        await emitter.send_audio_interrupt()
        await emitter.update_audio_connection("on")

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        session = site.session(client, url)
        events = await site.idle(session)
        assert len(problems) == 4
        assert [type(e) for e in audio_events(events)] == [
            AudioInterruptEvent,  # the chunk before it was dropped from the log
            AudioConnectionEvent,
        ]
        assert not [e for e in events if isinstance(e, MessageEvent) and e.message.type == "error"]
