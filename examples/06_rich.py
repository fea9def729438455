"""Rich conversations: a question back to the user, buttons, files, and elements.

The chat starts by asking your name. Then:

- attach a file to a message (the paperclip) and it says what it received;
- send "picture" for an image, a table, a task list that updates live and a file to download;
- send "upload" to be asked for a text file, which it counts the words of;
- every answer has "Shout" and "Done" buttons: "Shout" answers in capitals, "Done" asks
  whether to clear the buttons.
"""

import asyncio
import struct
import zlib
from pathlib import Path

import lightchat as cl


def checkerboard(size: int = 64, cell: int = 8) -> bytes:
    """A small PNG image, made here so the example needs no files."""
    rows = b"".join(
        b"\x00"
        + bytes(
            channel
            for x in range(size)
            for channel in ((40, 90, 200) if (x // cell + y // cell) % 2 else (240, 240, 240))
        )
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def buttons() -> list[cl.Action]:
    return [
        cl.Action(name="shout", payload={}, label="Shout", tooltip="Say it louder"),
        cl.Action(name="done", payload={}, label="Done"),
    ]


@cl.on_chat_start
async def start():
    answer = await cl.AskUserMessage(content="Hello! What is your name?", timeout=300).send()
    name = answer["output"] if answer else "stranger"
    cl.user_session.set("name", name)
    await cl.Message(
        content=f"Nice to meet you, **{name}**. Send *picture*, *upload*, or attach a file.",
        actions=buttons(),
    ).send()


@cl.on_message
async def main(message: cl.Message):
    if message.elements:
        listed = ", ".join(f"{e.name} ({e.mime})" for e in message.elements)
        await cl.Message(content=f"Received {listed}.", actions=buttons()).send()
        return
    if "picture" in message.content.lower():
        await show_elements()
        return
    if "upload" in message.content.lower():
        files = await cl.AskFileMessage(
            content="Upload a text file", accept=["text/plain", ".md"], max_size_mb=1, timeout=300
        ).send()
        if files:
            text = await asyncio.to_thread(Path(files[0].path).read_text, "utf-8", "replace")
            words = len(text.split())
            await cl.Message(content=f"{files[0].name} has {words} words.").send()
        return
    await cl.Message(content=f"You said: {message.content}", actions=buttons()).send()


async def show_elements():
    tasks = cl.TaskList(name="Plan", status="Working…")
    steps = [cl.Task(title=title) for title in ("Draw", "Count", "Pack")]
    for task in steps:
        await tasks.add_task(task)
    reply = await cl.Message(
        content="Here are some elements.",
        elements=[
            cl.Image(name="checkerboard", content=checkerboard(), mime="image/png"),
            cl.Text(name="source.py", content="print('hello')", language="python"),
            cl.Text(name="notes", content="Opened in the side panel.", display="side"),
        ],
    ).send()
    await tasks.send(for_id=reply.id)
    for task in steps:
        task.status = cl.TaskStatus.RUNNING
        await tasks.send()
        await asyncio.sleep(0.4)
        task.status = cl.TaskStatus.DONE
    tasks.status = "Done"
    await tasks.send()
    csv = "name,count\napples,3\npears,5\n"
    await cl.File(name="fruit.csv", content=csv.encode(), mime="text/csv").send(for_id=reply.id)


@cl.action_callback("shout")
async def shout(action: cl.Action):
    name = cl.user_session.get("name", "you")
    await cl.Message(content=f"HELLO, {name.upper()}!").send()


@cl.action_callback("done")
async def done(action: cl.Action):
    res = await cl.AskActionMessage(
        content="Remove these buttons?",
        actions=[
            cl.Action(name="yes", payload={"value": "yes"}, label="Yes"),
            cl.Action(name="no", payload={"value": "no"}, label="No"),
        ],
        timeout=120,
    ).send()
    if res and res["payload"]["value"] == "yes":
        await action.remove()
