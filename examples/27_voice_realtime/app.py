"""Talk with an assistant that answers aloud, through OpenAI's Realtime API, as Chainlit's
cookbook "realtime-assistant" does, on the official `openai` SDK's realtime connection.

Press the microphone (or P) and talk: the voice goes to the model as you speak, the
model's voice plays as it comes, what was said on both sides is written in the chat, and
speaking over the assistant stops its voice at once. Needs OPENAI_API_KEY (without it the
app says so and takes no recording).

    OPENAI_API_KEY=sk-... lightchat serve examples/27_voice_realtime/app.py
"""

import asyncio
import base64
import os
import uuid

import lightchat as cl

MODEL = os.environ.get("OPENAI_REALTIME_MODEL", "gpt-realtime")
INSTRUCTIONS = "You are a helpful, friendly assistant. Answer briefly, in the user's language."
NO_KEY = (
    "This example talks to OpenAI's Realtime API: set `OPENAI_API_KEY` and start it again. "
    "(`examples/26_voice_echo` needs no key.)"
)


def has_key() -> bool:
    return bool(os.environ.get("OPENAI_API_KEY"))


async def listen(connection) -> None:
    """What the model sends: its voice played as it comes, the words of both sides in the
    chat, and its voice stopped when the user speaks over it."""
    async for event in connection:
        if event.type == "response.output_audio.delta":
            await cl.context.emitter.send_audio_chunk(
                cl.OutputAudioChunk(
                    mimeType="pcm16",
                    data=base64.b64decode(event.delta),
                    track=cl.user_session.get("track"),
                )
            )
        elif event.type == "input_audio_buffer.speech_started":
            # Barge-in: what plays stops, and the next answer is a new track.
            cl.user_session.set("track", uuid.uuid4().hex)
            await cl.context.emitter.send_audio_interrupt()
        elif event.type == "conversation.item.input_audio_transcription.completed":
            await cl.Message(author="You", type="user_message", content=event.transcript).send()
        elif event.type == "response.output_audio_transcript.done":
            await cl.Message(content=event.transcript).send()
        elif event.type == "error":
            await cl.ErrorMessage(content=f"Realtime API: {event.error.message}").send()


@cl.on_chat_start
async def start():
    if not has_key():
        await cl.Message(content=NO_KEY).send()
        return
    await cl.Message(
        content="Press the microphone (or **P**) and talk: I answer aloud. You can type too."
    ).send()


@cl.on_audio_start
async def audio_start() -> bool:
    if not has_key():
        await cl.ErrorMessage(content=NO_KEY).send()
        return False
    from openai import AsyncOpenAI  # the openai extra, with websockets: openai[realtime]

    try:
        connection = await AsyncOpenAI().realtime.connect(model=MODEL).enter()
        await connection.session.update(
            session={
                "type": "realtime",
                "instructions": INSTRUCTIONS,
                "output_modalities": ["audio"],
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "transcription": {"model": "gpt-4o-mini-transcribe"},
                        "turn_detection": {"type": "server_vad"},
                    },
                    "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
                },
            }
        )
    except Exception as exc:
        await cl.ErrorMessage(content=f"Could not reach OpenAI's Realtime API: {exc}").send()
        return False
    cl.user_session.set("realtime", connection)
    cl.user_session.set("track", uuid.uuid4().hex)
    cl.user_session.set("listener", asyncio.create_task(listen(connection)))
    return True


@cl.on_audio_chunk
async def audio_chunk(chunk: cl.InputAudioChunk):
    connection = cl.user_session.get("realtime")
    if connection is not None:
        await connection.input_audio_buffer.append(audio=base64.b64encode(chunk.data).decode())


@cl.on_message
async def on_message(message: cl.Message):
    connection = cl.user_session.get("realtime")
    if connection is None:
        await cl.Message(content=NO_KEY if not has_key() else "Press the microphone first.").send()
        return
    await connection.conversation.item.create(
        item={
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": message.content}],
        }
    )
    await connection.response.create()


@cl.on_audio_end
@cl.on_chat_end
@cl.on_stop
async def end():
    listener = cl.user_session.get("listener")
    connection = cl.user_session.get("realtime")
    cl.user_session.set("realtime", None)
    cl.user_session.set("listener", None)
    if listener is not None:
        listener.cancel()
    if connection is not None:
        await connection.close()
