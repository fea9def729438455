"""LlamaIndex in the chat: its queries, retrievals, embeddings, syntheses, LLM calls (their
tokens streaming into the step, their record in ``step.generation``) and agents' tool calls
show as nested steps, live.

LlamaIndex reports its work in two ways, and each has its way in here:

- ``cl.LlamaIndexCallbackHandler`` (Chainlit's): a handler for llama-index-core's callback
  manager, which queries, retrievers, syntheses, embeddings and LLM calls report to::

      Settings.callback_manager = CallbackManager([cl.LlamaIndexCallbackHandler()])

- ``instrument()`` (lightchat's): handlers on LlamaIndex's instrumentation dispatcher, which
  current llama-index-core reports everything to, workflow agents (``FunctionAgent``,
  ``AgentWorkflow``) and their tool calls included; call it once, e.g. when the app loads::

      from lightchat.integrations.llama_index import instrument

      instrument()

Use one of them: with both, each call shows twice. Either way a step shows only for work
done in a chat (in a callback, or code it calls); an index built when the app loads shows
nothing. A call that fails fails its step (and the steps it ran in); the error goes on to
the app's code, whose chat goes on.

Concurrency: LlamaIndex calls its handlers in the thread its code runs in: the chat's
event loop, a ``cl.make_async`` thread, or a thread of its own (a chat engine's stream),
which sees the context of the code that started it. ``Step`` publishes from any of them
through the chat's loop, in order. Each step is entered and exited in a context of its own
(copied from the call's when it starts), so a step LlamaIndex leaves in another task or
thread never changes the app's current step. The instrumentation handlers serve every chat
of the process: their state is a few dicts keyed by LlamaIndex's span ids, under a lock.
"""

# ruff: noqa: E402 - LlamaIndex is imported once ``require`` has named its extra

from __future__ import annotations

from lightchat.integrations import require

require("llama_index.core", "llama-index")

from lightchat.integrations.llama_index.callbacks import DEFAULT_IGNORE, LlamaIndexCallbackHandler
from lightchat.integrations.llama_index.instrumentation import LlamaIndexInstrumentor, instrument

__all__ = ["DEFAULT_IGNORE", "LlamaIndexCallbackHandler", "LlamaIndexInstrumentor", "instrument"]
