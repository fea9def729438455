"""The integrations are optional: an app that uses none imports none of their libraries,
and one whose library is missing says which extra brings it."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import lightchat as cl
from lightchat.integrations import LAZY

LIBRARIES = {
    "lightchat.integrations.langchain": ("langchain_core", "langchain"),
    "lightchat.integrations.llama_index": ("llama_index.core", "llama-index"),
    "lightchat.integrations.semantic_kernel": ("semantic_kernel", "semantic-kernel"),
    "lightchat.integrations.openai_agents": ("agents", "openai-agents"),
    "lightchat.integrations.pydantic_ai": ("pydantic_ai", "pydantic-ai"),
    "lightchat.integrations.ag2": ("ag2", "ag2"),
    "lightchat.integrations.openai": ("openai", "openai"),
    "lightchat.integrations.mistralai": ("mistralai", "mistralai"),
    "lightchat.integrations.mcp": ("mcp", "mcp"),
}
"""Integration modules that need their library at import, with the extra that brings it."""


def test_an_app_that_uses_none_imports_none_of_their_libraries() -> None:
    script = textwrap.dedent(
        """
        import sys
        import lightchat as cl
        from lightchat import LightChat

        app = LightChat()

        @app.on_message
        async def main(message):
            await cl.Message(content="hi").send()

        app.build()
        libraries = ("langchain_core", "langgraph", "llama_index", "openai", "mistralai",
                     "semantic_kernel", "agents", "pydantic_ai", "ag2", "opentelemetry",
                     "mcp", "mcp_types")
        print(sorted(m for m in sys.modules if m.split(".")[0] in libraries))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout


@pytest.mark.parametrize("module", sorted(LIBRARIES))
def test_a_missing_library_names_its_extra(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    library, extra = LIBRARIES[module]
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    top = library.partition(".")[0]
    for name in [m for m in sys.modules if m == top or m.startswith(top + ".")] + [library]:
        monkeypatch.setitem(sys.modules, name, None)  # as if it were not installed
    with pytest.raises(ImportError, match=rf'pip install "lightchat\[{extra}\]"'):
        importlib.import_module(module)


def test_every_lazy_name_is_what_its_module_defines() -> None:
    for name, module in LAZY.items():
        assert getattr(cl, name) is getattr(importlib.import_module(module), name), name
