"""Tests of an app that asks the user questions and shows buttons (examples/06_rich.py):
it asks for a name, answers with "Shout" and "Done" buttons, asks whether to remove them,
and asks for a file to count its words.

Plain pytest runs them, with the `chat` fixture of lightchat's plugin; for your own app,
set `lightchat_app = "app.py"` in your pytest configuration instead of the marker.
"""

import pytest

from lightchat.testing import ChatClient, SyncChatClient

pytestmark = pytest.mark.lightchat_app("examples/06_rich.py")


async def meet(chat: ChatClient, name: str = "Ada") -> None:
    """Start the chat and answer its first question."""
    reply = await chat.start()
    assert reply.asking is not None
    assert reply.asking.content == "Hello! What is your name?"
    await chat.answer(name)


async def test_it_greets_by_name_with_two_buttons(chat: ChatClient) -> None:
    await chat.start()
    reply = await chat.answer("Ada")
    assert reply.content.startswith("Nice to meet you, **Ada**.")
    assert [action.label for action in reply.actions] == ["Shout", "Done"]


async def test_shout_answers_in_capitals(chat: ChatClient) -> None:
    await meet(chat)
    reply = await chat.click("Shout")
    assert reply.content == "HELLO, ADA!"


async def test_done_asks_before_removing_the_buttons(chat: ChatClient) -> None:
    await meet(chat)
    reply = await chat.click("Done")
    assert reply.asking is not None
    assert reply.asking.content == "Remove these buttons?"
    reply = await chat.answer("Yes")
    greeting = reply.updated[0]
    assert [action.label for action in greeting.actions] == ["Shout"]


def test_it_counts_the_words_of_an_uploaded_file(chat: SyncChatClient) -> None:
    chat.start()
    chat.answer("Bo")
    asked = chat.send("upload")
    assert asked.asking is not None
    assert asked.asking.asks == "file"
    reply = chat.answer(("notes.txt", b"three short words"))
    assert reply.content == "notes.txt has 3 words."
