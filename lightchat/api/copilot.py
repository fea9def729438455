"""Talking to the page that frames the chat (the copilot widget's host page):
``send_window_message`` and ``CopilotFunction``, as Chainlit names them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lightchat.chat.session import ChatSession, current_session, dispatch, in_loop_thread
from lightchat.domain.events import (
    WINDOW_MESSAGE_MAX_BYTES,
    JSONRefused,
    checked_json,
)
from lightchat.errors import ConfigError


async def send_window_message(data: Any) -> None:
    """Post ``data`` to the page that frames the chat, e.g. the copilot widget's host page.

    ``data`` is a string or any JSON value (at most 64 KB as JSON). The framed chat page
    posts it with ``window.parent.postMessage(data, origin)`` only when the parent's origin
    is one the app lets frame it (``Settings.frame_ancestors``); the host page hears it as
    a ``message`` event. Example::

        @cl.on_window_message
        async def window_message(message):
            await cl.send_window_message({"heard": message})
    """
    session = current_session()
    dispatch(session, session.send_window_message, for_the_page(data, "A window message"))


def for_the_page(value: Any, what: str) -> Any:
    """``value`` as the page framing the chat gets it: a copy through JSON, as
    ``checked_json`` takes it (at most ``WINDOW_MESSAGE_MAX_BYTES``); else ``ConfigError``
    saying why, naming ``what``."""
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    # RecursionError: nested deeper than the encoder goes (a cycle is a ValueError).
    except (TypeError, ValueError, RecursionError) as exc:
        raise ConfigError(
            f"{what} must be a string or JSON values (dicts, lists, numbers); {exc}. "
            f"Convert it first, e.g. str(value)."
        ) from None
    try:
        return checked_json(text)
    except JSONRefused as exc:
        if exc.too_large:
            raise ConfigError(
                f"{what} is {len(text.encode()):,} bytes as JSON; the limit is "
                f"{WINDOW_MESSAGE_MAX_BYTES:,}. Send less, or a link to the rest."
            ) from None
        raise ConfigError(f"{what}: {exc} Send something simpler.") from None


COPILOT_FUNCTION_TIMEOUT_S = 60.0
"""How long ``CopilotFunction.acall`` waits for the host page's answer by default."""


@dataclass
class CopilotFunction:
    """A function of the page hosting the copilot widget, for the chat to call.

    ``await fn.acall()`` sends ``name`` and ``args`` to the host page, where the widget
    fires a ``chainlit-call-fn`` event whose listener answers with ``callback(result)``;
    ``acall`` returns that result. Only a chat opened by the widget has such a page.
    Example::

        if cl.context.session.client_type == "copilot":
            title = await cl.CopilotFunction(name="page_title", args={}).acall()
    """

    name: str
    args: dict[str, Any] = field(default_factory=dict)

    async def acall(self, timeout: float = COPILOT_FUNCTION_TIMEOUT_S) -> Any:
        """Call the function and return what the page answered: JSON data as parsed
        (a string, number, list, dict, bool or None), never anything that runs.

        Raises ``TimeoutError`` when the page did not answer within ``timeout`` seconds
        (the chat goes on), and ``ConfigError`` in a chat that is not a copilot's, or for
        arguments that are not JSON.
        """
        session = current_session()
        if not in_loop_thread(session):
            raise RuntimeError("Call a CopilotFunction from async code, or through cl.run_sync.")
        self._check(session)
        args = for_the_page(self.args, f"The args of CopilotFunction {self.name!r}")
        try:
            return await session.call_page(self.name, args, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"The page hosting the copilot did not answer the function {self.name!r} "
                f"within {timeout:g} s. Does it listen for 'chainlit-call-fn' and call "
                f"callback(result)?"
            ) from None

    def _check(self, session: ChatSession) -> None:
        """Refuse a call no page can answer, rather than wait for nothing."""
        if session.client_type != "copilot":
            # Chainlit sends the call anyway, and acall() returns None after its
            # five-minute timeout: a silent wait is worse than an error.
            raise ConfigError(
                f"CopilotFunction {self.name!r} needs a chat opened by the copilot widget; "
                f"this chat's client_type is {session.client_type!r}, so no page can "
                f"answer. Check cl.context.session.client_type == 'copilot' first."
            )
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("A CopilotFunction needs a name (a non-empty string).")
        if not isinstance(self.args, dict):
            raise ConfigError(f"A CopilotFunction's args are a dict, not {type(self.args)}.")
