"""Every part of the chat, one command each, for the accessibility checks: starters and chat
settings from the start, then by what the user types: "stream" (an answer that stays
streaming), "steps" (nested steps, still running, then done), "elements" (an image, a file,
a text, a side element and a task list), "toast info" and "toast error", "actions", "ask
text", "ask file", "ask action", "boom" (an error), "hello" (a plain answer). Users sign in
(ada / lovelace); signed-in users may read a shared chat.

With ``A11Y_GATES`` naming a folder, "stream" and "steps" wait half-way until a file of
their command's name exists there: the test lets them finish once it has checked the page
while they run, however slow the machine is.
"""

from __future__ import annotations

import asyncio
import os
import struct
import zlib

import lightchat as cl


@cl.password_auth_callback
def auth(username: str, password: str) -> cl.User | None:
    if (username, password) == ("ada", "lovelace"):
        return cl.User(identifier="ada", display_name="Ada")
    return None


@cl.on_shared_thread_view
async def may_view(thread: object, viewer: object) -> bool:
    return viewer is not None


async def gate(name: str) -> None:
    folder = os.environ.get("A11Y_GATES")
    if not folder:
        return
    for _ in range(3000):  # 60 s at most
        if await asyncio.to_thread(os.path.exists, os.path.join(folder, name)):
            return
        await asyncio.sleep(0.02)


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@cl.set_starters
async def starters(user: object = None, language: str | None = None) -> list[cl.Starter]:
    return [
        cl.Starter(label="Write a poem", message="Write a poem about the sea."),
        cl.Starter(label="Plan a trip", message="Plan a weekend in Lisbon."),
    ]


@cl.on_chat_start
async def start() -> None:
    await cl.ChatSettings(
        [
            cl.Select(id="model", label="Model", values=["small", "large"], initial_index=0),
            cl.Slider(id="temperature", label="Temperature", initial=0.5, min=0, max=1, step=0.1),
            cl.Switch(id="stream", label="Stream", initial=True),
            cl.TextInput(id="persona", label="Persona", initial="helpful"),
        ]
    ).send()


@cl.step(name="search", type="tool")
async def search(query: str) -> str:
    async with cl.Step(name="fetch page", type="retrieval") as inner:
        inner.input = query
        await gate("steps")
        inner.output = "two pages"
    return f"found {query}"


@cl.step(name="plan", type="run")
async def plan(question: str) -> str:
    return await search(question)


@cl.action_callback("pick")
async def pick(action: cl.Action) -> None:
    await cl.Message(content=f"You picked {action.payload['n']}").send()


@cl.on_message
async def main(message: cl.Message) -> None:
    command = message.content.strip()
    if command == "stream":
        msg = cl.Message(content="")
        for i in range(5):
            await msg.stream_token(f"word{i} ")
        await gate("stream")
        await msg.stream_token("end.")
        await msg.send()
    elif command == "steps":
        result = await plan("cats")
        await cl.Message(content=f"Plan said: {result}").send()
    elif command == "elements":
        elements: list[cl.Element] = [
            cl.Image(name="red square", content=png(40, 30, (220, 40, 40)), size="small"),
            cl.File(name="notes.txt", content=b"Meeting notes\n"),
            cl.Text(name="snippet.py", content="print('hello')\n", language="python"),
            cl.Text(name="Details", content="The details, at the side.", display="side"),
        ]
        await cl.Message(content="Everything: see Details", elements=elements).send()
        tasks = cl.TaskList(name="Build steps", status="Running...")
        await tasks.add_task(cl.Task(title="Fetch the data", status=cl.TaskStatus.DONE))
        await tasks.add_task(cl.Task(title="Write the report", status=cl.TaskStatus.RUNNING))
        await tasks.add_task(cl.Task(title="Send it", status=cl.TaskStatus.READY))
        await tasks.send()
    elif command.startswith("toast "):
        kind = command.removeprefix("toast ")
        await cl.context.emitter.send_toast(f"A {kind} notice", type=kind)
        await cl.Message(content=f"Toast: {kind}").send()
    elif command == "actions":
        actions = [
            cl.Action(name="pick", payload={"n": 1}, label="One", tooltip="The first"),
            cl.Action(name="pick", payload={"n": 2}, label="Two", icon="⏱"),
        ]
        await cl.Message(content="Pick one", actions=actions).send()
    elif command == "ask text":
        answer = await cl.AskUserMessage(content="Your favourite colour?", timeout=120).send()
        await cl.Message(content=f"Colour: {answer['output'] if answer else 'none'}").send()
    elif command == "ask file":
        files = await cl.AskFileMessage(
            content="Upload a text file", accept=["text/plain"], max_size_mb=1, timeout=120
        ).send()
        await cl.Message(content=f"Got {len(files or [])} file(s)").send()
    elif command == "ask action":
        actions = [
            cl.Action(name="go", payload={"choice": "yes"}, label="Yes"),
            cl.Action(name="go", payload={"choice": "no"}, label="No"),
        ]
        chosen = await cl.AskActionMessage(
            content="Shall we go on?", actions=actions, timeout=120
        ).send()
        await cl.Message(content=f"Chosen: {chosen['payload']['choice'] if chosen else '-'}").send()
    elif command == "boom":
        raise ValueError("the model is down")
    else:
        await cl.Message(content=f"Answer: **{command}**").send()
