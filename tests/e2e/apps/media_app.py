"""Media and plots, made with the real libraries: audio, video, a PDF, a Matplotlib figure
(Pyplot) and two Plotly figures."""

from __future__ import annotations

import struct

import matplotlib

matplotlib.use("Agg")

import plotly.graph_objects as go
from matplotlib.figure import Figure

import lightchat as cl


def wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A short silent WAV file."""
    frames = b"\x80" * int(seconds * rate)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(frames)) + frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


def line_chart() -> Figure:
    figure = Figure(figsize=(3, 2))
    figure.add_subplot().plot([1, 2, 3, 4], [3, 1, 4, 2])
    return figure


@cl.on_message
async def main(message: cl.Message) -> None:
    bars = go.Figure(data=[go.Bar(x=["a", "b", "c"], y=[2, 5, 3])])
    await cl.Message(
        content="Media",
        elements=[
            cl.Audio(name="silence.wav", content=wav()),
            cl.Video(name="clip.webm", url="/-/static/none.webm"),
            cl.Pdf(name="doc.pdf", content=b"%PDF-1.1\n%%EOF\n", page=1),
            cl.Pyplot(name="line chart", figure=line_chart()),
            cl.Plotly(name="bar chart", figure=bars),
            cl.Plotly(name="line plot", figure=go.Figure(data=[go.Scatter(y=[1, 3, 2])])),
        ],
    ).send()
