"""Voice input (``features.audio``): a recording's start, its chunks and its end, posted by
the chat page's microphone button (``static/lightchat.audio.js``).

- ``POST /chat/ID/audio`` starts a recording: ``on_audio_start`` runs, and the answer is the
  recording's id, its sample rate and where its chunks go (JSON), or a 409 saying the app
  refused it.
- ``POST /chat/ID/audio/REC/chunks/N`` is the recording's chunk number N (0, 1, 2...): the
  body is the voice itself, 16-bit PCM, mono (``application/octet-stream``). 204 when
  taken, also for a chunk taken already (a retry).
- ``POST /chat/ID/audio/REC/end?chunks=N``: the user stopped after N chunks;
  ``on_audio_end`` runs once they are all handed to ``on_audio_chunk``.

These are ordinary writes of the chat page: same origin, form token (``X-CSRF-Token``),
sign-in and owner checks (anyone else's chat is a 404), body limits, and with several
workers they are forwarded to the worker that owns the chat, like a message. The limits of
a recording (chunk size, pace, length, backlog) are ``lightchat.chat.voice``'s; each
refusal is a 4xx with a sentence that says why.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from lightchat.chat.session import ChatSession
from lightchat.chat.voice import CHUNK_MAX_BYTES, VoiceRefused
from lightchat.http.locate import chat_for_input, chat_or_404
from lightchat.http.web import chat_url

VOICE_OFF = "Voice is off in this app (features.audio)."
READ_ONLY = "This past chat is read-only; start a new chat to go on."
REFUSED = "The app did not take the recording."
NO_COUNT = "Say how many chunks the recording sent: ?chunks= and a whole number."
BAD_SEQ = "A chunk's number is a whole number (0, 1, 2...)."
SEQ_MAX_DIGITS = 9

_NO_STORE = {"Cache-Control": "no-store"}


def _refused(status: int, message: str) -> Response:
    return PlainTextResponse(message, status_code=status, headers=_NO_STORE)


def _unusable(session: ChatSession) -> Response | None:
    """The refusal for a chat that takes no voice, if it is one."""
    if not session.settings.audio:
        return _refused(404, VOICE_OFF)
    if session.read_only:
        return _refused(409, READ_ONLY)
    return None


async def start_recording(request: Request) -> Response:
    """Start a recording (``on_audio_start``): its id and where its chunks go, as JSON."""
    session = await chat_for_input(request)
    refusal = _unusable(session)
    if refusal is not None:
        return refusal
    try:
        recording = await session.voice.start()
    except VoiceRefused as exc:
        return _refused(exc.status, exc.message)
    if recording is None:
        return _refused(409, REFUSED)
    body = {
        "recording": recording.id,
        "sampleRate": recording.sample_rate,
        "mimeType": "pcm16",
        "chunkMaxBytes": CHUNK_MAX_BYTES,
        "url": f"{chat_url(request, session.id)}/audio/{recording.id}",
    }
    return Response(
        json.dumps(body), status_code=201, media_type="application/json", headers=_NO_STORE
    )


async def audio_chunk(request: Request) -> Response:
    """A chunk of a recording: its voice is the body."""
    session = await chat_or_404(request)
    refusal = _unusable(session)
    if refusal is not None:
        return refusal
    seq = request.path_params["seq"]
    if not seq.isascii() or not seq.isdigit() or len(seq) > SEQ_MAX_DIGITS:
        return _refused(400, BAD_SEQ)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > CHUNK_MAX_BYTES:
        return _refused(413, f"An audio chunk is at most {CHUNK_MAX_BYTES // 1024} KB.")
    data = await request.body()
    try:
        session.voice.chunk(request.path_params["recording"], int(seq), data)
    except VoiceRefused as exc:
        return _refused(exc.status, exc.message)
    return Response(status_code=204, headers=_NO_STORE)


async def end_recording(request: Request) -> Response:
    """The user stopped recording after ``?chunks=`` chunks."""
    session = await chat_or_404(request)
    refusal = _unusable(session)
    if refusal is not None:
        return refusal
    count = request.query_params.get("chunks", "")
    if not count.isascii() or not count.isdigit() or len(count) > SEQ_MAX_DIGITS:
        return _refused(400, NO_COUNT)
    try:
        session.voice.stop(request.path_params["recording"], int(count))
    except VoiceRefused as exc:
        return _refused(exc.status, exc.message)
    return Response(status_code=204, headers=_NO_STORE)
