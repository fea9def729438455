"""Chainlit's ``[project] cache``: LangChain's answers kept in a SQLite file beside the app,
so the same prompt to the same model is answered once, across chats and restarts."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.globals import get_llm_cache, set_llm_cache
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from lightchat.api.cache import NO_CACHE_ENV
from lightchat.cli import load_app
from lightchat.integrations.langchain_cache import SQLiteLLMCache, install


@pytest.fixture(autouse=True)
def no_global_cache() -> Iterator[None]:
    """LangChain's global cache as it was, whatever a test sets."""
    before = get_llm_cache()
    yield
    set_llm_cache(before)


def test_a_prompt_is_answered_once_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "langchain.db"
    install(path)
    llm = FakeListLLM(responses=["first", "second"])
    chat = FakeListChatModel(responses=["hello", "again"])
    assert [llm.invoke("hi"), llm.invoke("hi"), llm.invoke("other")] == [
        "first",
        "first",
        "second",
    ]
    assert chat.invoke("hi").content == "hello"
    # A new process (a new cache on the same file, the same models) finds the answers
    # kept: the models are not asked (a fake model counts the answers it gave).
    install(path)
    fresh_llm = FakeListLLM(responses=["first", "second"])
    fresh_chat = FakeListChatModel(responses=["hello", "again"])
    assert fresh_llm.invoke("other") == "second"
    assert fresh_chat.invoke("hi").content == "hello"
    assert (fresh_llm.i, fresh_chat.i) == (0, 0)
    SQLiteLLMCache(path).clear()
    assert FakeListLLM(responses=["asked now"]).invoke("hi") == "asked now"


@pytest.mark.usefixtures("isolated_import")
@pytest.mark.parametrize("no_cache", [False, True])
def test_serving_an_app_with_cache_on_turns_the_cache_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_cache: bool
) -> None:
    (tmp_path / "lightchat.toml").write_text("[project]\ncache = true\n")
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            """
            import lightchat as cl

            @cl.on_message
            async def main(message):
                await cl.Message(content="hi").send()
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    set_llm_cache(None)
    if no_cache:
        monkeypatch.setenv(NO_CACHE_ENV, "1")  # lightchat run --no-cache
    else:
        monkeypatch.delenv(NO_CACHE_ENV, raising=False)
    load_app("app.py")
    cache = get_llm_cache()
    if no_cache:
        assert cache is None
    else:
        assert isinstance(cache, SQLiteLLMCache)
        assert cache.path == tmp_path / ".lightchat" / "langchain.db"
