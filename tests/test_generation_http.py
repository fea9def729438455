"""A step's generation in the chat page: a "Generation" disclosure inside the step, with the
prompt's messages, the settings, the token counts and the timings, all escaped text (never
markdown, never markup), in the page's language; and again once the chat is reopened from
the history."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from lightchat import ChatGeneration, LightChat, Message, Settings, Step
from tests.helpers import Serve, assert_inert, log_of, tag_structure
from tests.xss_payloads import PAYLOADS

pytestmark = pytest.mark.anyio

DISCLOSURE = re.compile(r'<details class="lc-generation".*?</details>', re.S)


def _generation(text: str) -> ChatGeneration:
    """A generation whose every text field holds ``text``."""
    return ChatGeneration(
        provider=f"provider {text}",
        model=f"model {text}",
        error=f"error {text}",
        settings={"temperature": 0.3, f"key {text}": f"value {text}"},
        messages=[
            {"role": "system", "content": f"system **bold** {text}"},
            {"role": "user", "content": [{"type": "text", "text": f"user {text}"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"id {text}",
                        "type": "function",
                        "function": {"name": f"tool {text}", "arguments": f'{{"q": "{text}"}}'},
                    }
                ],
            },
            {"role": "tool", "content": f"result {text}", "tool_call_id": f"id {text}"},
        ],
        message_completion={"role": "assistant", "content": f"answer {text}"},
        tools=[{"type": "function", "function": {"name": f"tool {text}"}}],
        input_token_count=1234,
        output_token_count=56,
        token_count=1290,
        tt_first_token=250.0,
        token_throughput=42.5,
    )


def _app(tmp_path: Path, text: str) -> LightChat:
    app = LightChat(Settings(app_dir=str(tmp_path)))

    @app.on_message
    async def answer(message: Message) -> None:
        async with Step(name="model", type="llm") as step:
            step.output = "The **answer**."
            step.generation = _generation(text)
        await Message(content="done").send()

    return app


async def _page(tmp_path: Path, serve: Serve, text: str, language: str = "en") -> str:
    async with serve(_app(tmp_path, text), lifespan=True) as site:
        client = site.browser(headers={"Accept-Language": language})
        url = await site.chat(client, "hello")
        return (await client.get(url)).text


def _disclosure(page: str) -> str:
    found = DISCLOSURE.findall(log_of(page))
    assert len(found) == 1, found
    return str(found[0])


async def test_the_step_shows_its_generation_in_a_closed_disclosure(
    tmp_path: Path, serve: Serve
) -> None:
    disclosure = _disclosure(await _page(tmp_path, serve, "plain"))
    assert " open" not in disclosure.split(">", 1)[0]  # closed until the reader opens it
    assert "<summary>Generation</summary>" in disclosure
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", disclosure)).split())
    for shown in [
        "Provider provider plain",
        "Model model plain",
        "Input tokens 1,234",
        "Output tokens 56",
        "Total tokens 1,290",
        "Time to first token 250 ms",
        "Tokens per second 42.5",
        "Error error plain",
        "temperature 0.3",
        "key plain value plain",
        "Prompt system system **bold** plain",  # the role, then the text as it is
        "user user plain",
        'Tool call tool plain id plain { "q": "plain" }',
        "tool · id plain result plain",
        "Completion assistant answer plain",
        "Tools tool plain",
    ]:
        assert shown in text, shown
    assert "<strong>" not in disclosure  # a model's text is never markdown here
    assert "<script" not in disclosure
    assert "hx-" not in disclosure


async def test_hostile_text_in_a_generation_stays_text(tmp_path: Path, serve: Serve) -> None:
    plain = _disclosure(await _page(tmp_path / "plain", serve, "plain"))
    for payload in PAYLOADS[:12]:
        folder = tmp_path / str(PAYLOADS.index(payload))
        page = await _page(folder, serve, payload)
        disclosure = _disclosure(page)
        assert_inert(disclosure)
        assert tag_structure(disclosure) == tag_structure(plain), payload
        assert f"answer {payload}" in html.unescape(disclosure)


async def test_the_disclosure_speaks_the_pages_language(tmp_path: Path, serve: Serve) -> None:
    disclosure = _disclosure(await _page(tmp_path, serve, "plain", language="fr"))
    assert "<summary>Génération</summary>" in disclosure
    assert "Jetons en entrée" in disclosure


async def test_a_reopened_chat_shows_the_generation_again(tmp_path: Path, serve: Serve) -> None:
    async with serve(_app(tmp_path, "kept"), lifespan=True) as site:
        client = site.browser()
        url = await site.chat(client, "hello")
        before = _disclosure((await client.get(url)).text)
        await site.history.flush()
        await site.session(client, url).close()
        assert site.services.chats.get(url.rsplit("/", 1)[1], site.owner(client)) is None
        page = (await client.get(url)).text  # reopened from the history
        assert _disclosure(page) == before
        assert "model kept" in before
