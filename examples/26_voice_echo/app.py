"""Voice echo: press the microphone (or P), say something, press it again; the app tells
how long you spoke and how loud, then plays your voice back to you after a short pause.
Press the microphone while it plays and it stops at once (barge-in). No key, no network.

    lightchat serve examples/26_voice_echo/app.py
"""

import asyncio
import math
import sys
import uuid
from array import array

import lightchat as cl

PAUSE_S = 0.6
"""How long the echo waits before it plays."""

CHUNK_S = 0.2
"""How much voice each piece sent back holds."""


def level_dbfs(samples: array) -> float:
    """The loudness of 16-bit samples, in dB below full scale (0 is the loudest)."""
    if not samples:
        return -math.inf
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return 20 * math.log10(max(rms, 1) / 32768)


@cl.on_chat_start
async def start():
    await cl.Message(
        content="Press the microphone (or **P**), say something, and press it again: "
        "I will play it back to you."
    ).send()


@cl.on_audio_start
async def audio_start() -> bool:
    # Speaking over the echo stops it (the page stops playing at once).
    await cl.context.emitter.send_audio_interrupt()
    cl.user_session.set("voice", bytearray())
    return True


@cl.on_audio_chunk
async def audio_chunk(chunk: cl.InputAudioChunk):
    cl.user_session.get("voice").extend(chunk.data)


@cl.on_audio_end
async def audio_end():
    voice = bytes(cl.user_session.get("voice") or b"")
    rate = cl.context.session.settings.audio_sample_rate
    samples = array("h", voice)
    if sys.byteorder == "big":
        samples.byteswap()  # the page sends little-endian samples
    seconds = len(samples) / rate
    if not samples:
        await cl.Message(content="I heard nothing.").send()
        return
    await cl.Message(
        content=f"I heard {seconds:.1f} s of voice, at {level_dbfs(samples):.0f} dBFS. "
        "Here it is back."
    ).send()
    await asyncio.sleep(PAUSE_S)
    track = uuid.uuid4().hex
    step = int(rate * CHUNK_S) * 2
    for at in range(0, len(voice), step):
        await cl.context.emitter.send_audio_chunk(
            cl.OutputAudioChunk(track=track, mimeType="pcm16", data=voice[at : at + step])
        )
        await asyncio.sleep(CHUNK_S / 2)  # as a voice service streams: faster than it plays
