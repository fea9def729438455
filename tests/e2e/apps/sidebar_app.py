"""The side panel from a callback: "open" fills it with a title, a text and an image,
"close" empties it (which closes it); anything else is echoed."""

from __future__ import annotations

import struct
import zlib

import lightchat as cl


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


@cl.on_message
async def main(message: cl.Message) -> None:
    if message.content == "open":
        await cl.ElementSidebar.set_title("Sources")
        await cl.ElementSidebar.set_elements(
            [
                cl.Text(name="notes.md", content="The first source says hello."),
                cl.Image(name="green square", content=png(24, 24, (30, 160, 60))),
            ]
        )
        await cl.Message(content="Opened the sources.").send()
    elif message.content == "close":
        await cl.ElementSidebar.set_elements([])
        await cl.Message(content="Closed the sources.").send()
    else:
        await cl.Message(content=f"Echo: {message.content}").send()
