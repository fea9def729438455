"""Integrations with LLM libraries and agent frameworks: the intermediate work of a
LangChain chain, a LlamaIndex query or an OpenAI call shows in the chat as steps.

Each integration is a module of this package that imports its library, and only it does
(an import contract says so); the library comes with an extra (``pip install
"lightchat[langchain]"``). Nothing here is imported until an app uses one of Chainlit's
names for them (``cl.LangchainCallbackHandler``...): ``LAZY`` says where each name lives,
and ``lightchat.__getattr__`` loads it on first use. MCP's connector
(``lightchat.integrations.mcp``, the ``mcp`` extra) is loaded by the app itself, once
``features.mcp`` is on (``LightChat.mcp_connector_factory``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

LAZY: dict[str, str] = {
    "LangchainCallbackHandler": "lightchat.integrations.langchain",
    "AsyncLangchainCallbackHandler": "lightchat.integrations.langchain",
    "LlamaIndexCallbackHandler": "lightchat.integrations.llama_index",
    "instrument_openai": "lightchat.integrations.openai",
    "instrument_mistralai": "lightchat.integrations.mistralai",
    "SemanticKernelFilter": "lightchat.integrations.semantic_kernel",
    "instrument_openai_agents": "lightchat.integrations.openai_agents",
    "PydanticAISteps": "lightchat.integrations.pydantic_ai",
    "instrument_ag2": "lightchat.integrations.ag2",
}
"""Chainlit's top-level names for the integrations (and lightchat's own, for the libraries
Chainlit has none for), by the module that defines each."""


def load(name: str) -> object:
    """The object ``cl.<name>`` stands for, its integration imported now."""
    return getattr(importlib.import_module(LAZY[name]), name)


def require(library: str, extra: str) -> ModuleType:
    """The library an integration needs, imported; if it is missing, an ``ImportError``
    naming the extra that brings it."""
    try:
        return importlib.import_module(library)
    except ImportError as exc:
        raise ImportError(
            f'This integration needs {library.partition(".")[0]}: pip install "lightchat[{extra}]".'
        ) from exc
