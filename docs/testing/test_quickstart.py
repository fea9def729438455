"""Tests of the quickstart app (examples/01_quickstart.py), as its author writes them.

Plain pytest runs them: the plugin that comes with lightchat gives each test a `chat` with
the app, in process. For your own app, name its file in your pytest configuration
(`lightchat_app = "app.py"` under `[tool.pytest.ini_options]`) instead of the marker.
"""

import pytest

from lightchat.testing import ChatClient, SyncChatClient

pytestmark = pytest.mark.lightchat_app("examples/01_quickstart.py")


async def test_it_welcomes_the_user(chat: ChatClient) -> None:
    reply = await chat.start()
    assert reply.content == "Welcome! Ask me anything."


async def test_it_searches_then_streams_the_answer(chat: ChatClient) -> None:
    reply = await chat.send("Why is the sky blue?")
    search = reply.step("search")
    assert (search.type, search.status) == ("tool", "done")
    assert search.output == "3 documents about Why is the sky blue?"
    assert reply.content.startswith("Here is how I would think about **sky blue**.")
    assert len(reply.tokens) > 1  # streamed token by token
    assert chat.user_session["count"] == 1


def test_the_chat_reads_as_expected(chat: SyncChatClient) -> None:  # a plain test: no await
    chat.start()
    chat.send("What is a vector database?")
    assert chat.transcript.startswith(
        "Assistant: Welcome! Ask me anything.\n"
        "You: What is a vector database?\n"
        "> search (tool, done)\n"
    )
