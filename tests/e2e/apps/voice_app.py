"""Voice, for the browser tests: the app says what it heard (how many chunks and bytes,
whether they came in order, the pitch of the tone), sends audio back on request, and stops
it on request. Voice is on through LIGHTCHAT_AUDIO=true (the test sets it)."""

import itertools
import math
import sys
from array import array

import lightchat as cl

RATE = 24000


def tone(seconds: float, hz: float = 330.0) -> bytes:
    samples = array(
        "h", (int(8000 * math.sin(2 * math.pi * hz * i / RATE)) for i in range(int(seconds * RATE)))
    )
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


@cl.on_chat_start
async def start():
    await cl.Message(content="ready").send()


@cl.on_audio_start
async def audio_start() -> bool:
    cl.user_session.set("chunks", [])
    return not cl.user_session.get("refuse")


@cl.on_audio_chunk
async def audio_chunk(chunk: cl.InputAudioChunk):
    cl.user_session.get("chunks").append(chunk)


@cl.on_audio_end
async def audio_end():
    chunks = cl.user_session.get("chunks") or []
    voice = b"".join(c.data for c in chunks)
    samples = array("h", voice)
    if sys.byteorder == "big":
        samples.byteswap()
    in_order = [c.isStart for c in chunks] == [True] + [False] * (len(chunks) - 1) and all(
        a.elapsedTime < b.elapsedTime for a, b in itertools.pairwise(chunks)
    )
    # The tone's pitch from its rising zero crossings: right only at the right sample rate.
    rising = sum(1 for a, b in itertools.pairwise(samples) if a < 0 <= b)
    hz = rising / (len(samples) / RATE) if samples else 0
    mimes = ",".join(sorted({c.mimeType for c in chunks}))
    await cl.Message(
        content=f"chunks={len(chunks)} bytes={len(voice)} order={in_order} hz={hz:.0f} mime={mimes}"
    ).send()


@cl.on_message
async def main(message: cl.Message):
    if message.content == "speak":
        sound = tone(6.0)
        step = RATE // 10 * 2  # 0.1 s
        for at in range(0, len(sound), step):
            await cl.context.emitter.send_audio_chunk(
                cl.OutputAudioChunk(track="answer", mimeType="pcm16", data=sound[at : at + step])
            )
        await cl.Message(content="spoken").send()
    elif message.content == "hush":
        await cl.context.emitter.send_audio_interrupt()
        await cl.Message(content="hushed").send()
    elif message.content == "refuse":
        cl.user_session.set("refuse", True)
        await cl.Message(content="refusing").send()
    elif message.content == "off":
        await cl.context.emitter.update_audio_connection("off")
        await cl.Message(content="off").send()
