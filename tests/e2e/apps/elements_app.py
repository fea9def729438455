"""Elements, by what the user types: "image", "file", "side", "page", "tasks" (a task list
that finishes a moment later), "table", or "all" of them with audio, a PDF and a plot. A
message with attached files is answered with each file's name, size and type."""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Any

import lightchat as cl

NOTES = b"Meeting notes\nfirst line\n"


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


def wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A short silent WAV file."""
    frames = b"\x80" * int(seconds * rate)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(frames)) + frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


class Frame:
    """Just enough of a pandas DataFrame for cl.Dataframe."""

    def __init__(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.columns = columns
        self.rows = rows

    def head(self, n: int) -> Frame:
        return Frame(self.columns, self.rows[:n])

    def itertuples(self, index: bool = False, name: str | None = None) -> list[tuple[Any, ...]]:
        return self.rows

    def __len__(self) -> int:
        return len(self.rows)


PLOT = b"""<!doctype html><title>plot</title>
<svg width="300" height="120"><rect x="10" y="30" width="40" height="80" fill="#2f6fed"/>
<rect x="70" y="10" width="40" height="100" fill="#2f6fed"/></svg>"""


def image() -> cl.Image:
    return cl.Image(name="red square", content=png(40, 30, (220, 40, 40)), size="small")


def table() -> cl.Dataframe:
    frame = Frame(["city", "population"], [("Lyon", 522250), ("Nantes", 320732)])
    return cl.Dataframe(name="Cities", data=frame)


async def tasks() -> None:
    task_list = cl.TaskList(name="Build steps", status="Running...")
    fetch = cl.Task(title="Fetch the data", status=cl.TaskStatus.RUNNING)
    report = cl.Task(title="Write the report", status=cl.TaskStatus.READY)
    await task_list.add_task(fetch)
    await task_list.add_task(report)
    await task_list.send()
    await asyncio.sleep(1.5)
    fetch.status = cl.TaskStatus.DONE
    report.status = cl.TaskStatus.RUNNING
    await task_list.send()
    await asyncio.sleep(0.3)
    report.status = cl.TaskStatus.DONE
    task_list.status = "Done"
    await task_list.send()


@cl.on_message
async def main(message: cl.Message) -> None:
    if message.elements:
        lines = [f"Received {e.name}: {e.bytes_size} bytes, {e.mime}" for e in message.elements]
        await cl.Message(content="\n\n".join(lines)).send()
        return
    command = message.content.strip()
    if command == "image":
        await cl.Message(content="An image", elements=[image()]).send()
    elif command == "file":
        notes = cl.File(name="notes.txt", content=NOTES)
        await cl.Message(content="A file", elements=[notes]).send()
    elif command == "side":
        details = cl.Text(name="Details", content="The details, at the side.", display="side")
        await cl.Message(content="See Details", elements=[details]).send()
    elif command == "page":
        report = cl.Text(name="Report", content="A report on a page of its own.", display="page")
        await cl.Message(content="See Report", elements=[report]).send()
    elif command == "tasks":
        await tasks()
    elif command == "table":
        await cl.Message(content="A table", elements=[table()]).send()
    elif command == "all":
        elements: list[cl.Element] = [
            image(),
            cl.Image(name="blue banner", content=png(900, 200, (40, 80, 220)), size="large"),
            cl.File(name="notes.txt", content=NOTES),
            cl.Audio(name="silence.wav", content=wav()),
            cl.Pdf(name="empty.pdf", content=b"%PDF-1.1\n%%EOF\n"),
            cl.Plotly(name="bars", content=PLOT),
            cl.Text(name="snippet.py", content="print('hello')\n", language="python"),
            table(),
            cl.Text(name="Details", content="The details, at the side.", display="side"),
            cl.Text(name="Report", content="A report on a page of its own.", display="page"),
        ]
        await cl.Message(content="Everything", elements=elements).send()
        await tasks()
    else:
        await cl.Message(content=f"Echo: {message.content}").send()
