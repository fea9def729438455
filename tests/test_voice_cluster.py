"""Voice with several workers (a real Redis): a recording's chunks posted to any worker
reach the chat's owner, and its app hears them in order, even when they are posted all at
once through both; the app's voice reaches the other worker's streams, and the log in
Redis keeps only the last of it."""

from __future__ import annotations

import asyncio
import base64

import pytest

import lightchat as cl
from lightchat import LightChat
from lightchat.bus import AUDIO_KEPT
from lightchat.domain.events import AudioEvent, AudioInterruptEvent
from tests.helpers import contents, wait_for_log
from tests.test_cluster import client_for, cluster_of, new_chat, running, settings

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30), pytest.mark.services]

RATE = 16000


def voice_worker(prefix: str, heard: list[bytes]) -> LightChat:
    app = LightChat(settings(prefix, audio=True, audio_sample_rate=RATE))

    @app.on_message
    async def main(message: cl.Message) -> None:
        if message.content == "hush":
            await cl.context.emitter.send_audio_interrupt()
            await cl.Message(content="hushed").send()
            return
        for _ in range(AUDIO_KEPT + 5):
            await cl.context.emitter.send_audio_chunk({"track": "t", "data": b"\1\0" * 8})
        await cl.Message(content="spoken").send()

    @app.on_audio_chunk
    async def chunk(piece: cl.InputAudioChunk) -> None:
        heard.append(piece.data)

    @app.on_audio_end
    async def end() -> None:
        await cl.Message(content=f"heard {len(heard)}").send()

    return app


async def test_chunks_posted_to_any_worker_reach_the_owner_in_order(prefix: str) -> None:
    heard_a: list[bytes] = []
    heard_b: list[bytes] = []
    a, b = voice_worker(prefix, heard_a), voice_worker(prefix, heard_b)
    async with running(a, b), client_for(a) as on_a:
        chat = await new_chat(on_a)
        async with client_for(b, on_a.cookies) as on_b:
            # The recording starts through B: it runs on A, the owner.
            started = await on_b.post(f"/chat/{chat}/audio")
            assert started.status_code == 201, started.text
            url = started.json()["url"]
            assert b.chats is not None
            assert len(b.chats) == 0

            chunks = [bytes([seq, 0]) * 50 for seq in range(12)]
            # All at once, through both workers: they may arrive in any order.
            posts = [
                (on_a if seq % 2 else on_b).post(f"{url}/chunks/{seq}", content=data)
                for seq, data in enumerate(chunks)
            ]
            answers = await asyncio.gather(*posts)
            assert [r.status_code for r in answers] == [204] * 12
            ended = await on_b.post(f"{url}/end?chunks=12")
            assert ended.status_code == 204

            owner_bus = a.build().state.services.bus
            await wait_for_log(owner_bus, chat, lambda e: "heard 12" in contents(e))
            assert heard_a == chunks
            assert heard_b == []

            # A stranger is refused on either worker.
            async with client_for(b) as stranger:
                await new_chat(stranger)
                refused = await stranger.post(f"{url}/chunks/12", content=b"\0\0")
                assert refused.status_code == 404


async def test_the_apps_voice_reaches_the_other_workers_streams_and_only_the_last_is_kept(
    prefix: str,
) -> None:
    a, b = voice_worker(prefix, []), voice_worker(prefix, [])
    async with running(a, b), client_for(a) as on_a:
        chat = await new_chat(on_a)
        posted = await on_a.post(
            f"/chat/{chat}/messages", data={"content": "speak"}, headers={"HX-Request": "true"}
        )
        assert posted.status_code == 204
        follower_bus = b.build().state.services.bus
        owner_bus = a.build().state.services.bus
        await wait_for_log(owner_bus, chat, lambda e: "spoken" in contents(e))
        await owner_bus.flush()
        # B reads the chat from Redis: the last AUDIO_KEPT chunks, in order.
        assert cluster_of(b).wid != cluster_of(a).wid
        events = await wait_for_log(follower_bus, chat, lambda e: "spoken" in contents(e))
        sounds = [e for e in events if isinstance(e, AudioEvent)]
        assert len(sounds) == AUDIO_KEPT
        assert {base64.b64decode(s.data) for s in sounds} == {b"\1\0" * 8}

        hushed = await on_a.post(
            f"/chat/{chat}/messages", data={"content": "hush"}, headers={"HX-Request": "true"}
        )
        assert hushed.status_code == 204
        await wait_for_log(owner_bus, chat, lambda e: "hushed" in contents(e))
        await owner_bus.flush()
        events = await wait_for_log(follower_bus, chat, lambda e: "hushed" in contents(e))
        assert not [e for e in events if isinstance(e, AudioEvent)]  # gone from Redis too
        assert [e for e in events if isinstance(e, AudioInterruptEvent)]
