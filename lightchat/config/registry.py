"""The callback registry: which function handles which moment of a chat.

Decorators register on a registry and return the function unchanged, so a decorated
function can still be called and tested directly. Once the app has started serving, the
registry is frozen: a late registration would silently never run, so it raises instead.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from lightchat.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])

# How many positional arguments each callback may take: (least, most).
_ARITY: dict[str, tuple[int, int]] = {
    "on_chat_start": (0, 0),
    "on_message": (0, 1),
    "on_chat_end": (0, 0),
    "on_stop": (0, 0),
    "on_chat_resume": (0, 1),
    "action_callback": (0, 1),
    "set_starters": (0, 2),
    "set_starter_categories": (0, 3),
    "set_chat_profiles": (0, 2),
    "on_settings_update": (0, 1),
    "on_window_message": (0, 1),
    "data_layer": (0, 0),
    "password_auth_callback": (2, 2),
    "header_auth_callback": (1, 1),
    "oauth_callback": (4, 5),
    "on_logout": (0, 2),
    "author_rename": (1, 1),
    "on_feedback": (0, 1),
    "on_slack_reaction_added": (0, 1),
    "on_app_startup": (0, 0),
    "on_app_shutdown": (0, 0),
    "on_settings_edit": (0, 1),
    "on_shared_thread_view": (0, 2),
    "on_mcp_connect": (0, 2),
    "on_mcp_disconnect": (0, 2),
    "on_audio_start": (0, 0),
    "on_audio_chunk": (0, 1),
    "on_audio_end": (0, 0),
}

_EXAMPLES: dict[str, str] = {
    "on_chat_start": "async def start(): ...",
    "on_message": "async def main(message: cl.Message): ...",
    "on_chat_end": "async def end(): ...",
    "on_stop": "async def stopped(): ...",
    "on_chat_resume": "async def resume(thread: dict): ...",
    "action_callback": "async def on_action(action: cl.Action): ...",
    "set_starters": "async def starters(user=None, language=None): return [cl.Starter(...)]",
    "set_starter_categories": (
        "async def categories(user=None, language=None, chat_profile=None): "
        "return [cl.StarterCategory(...)]"
    ),
    "set_chat_profiles": (
        "async def profiles(user=None, language=None): return [cl.ChatProfile(...)]"
    ),
    "on_settings_update": "async def settings_changed(settings: dict): ...",
    "on_window_message": "async def window_message(message): ...",
    "data_layer": "def get_data_layer(): return MyDataLayer()",
    "password_auth_callback": "def auth(username: str, password: str) -> cl.User | None: ...",
    "header_auth_callback": "def auth(headers) -> cl.User | None: ...",
    "oauth_callback": (
        "def auth(provider_id, token, raw_user_data, default_user, id_token=None) "
        "-> cl.User | None: ..."
    ),
    "on_logout": "async def logout(request, response): ...",
    "author_rename": "async def rename(orig_author: str) -> str: ...",
    "on_feedback": "async def feedback_given(feedback: cl.types.Feedback): ...",
    "on_slack_reaction_added": "async def reacted(event: dict): ...",
    "on_app_startup": "async def startup(): ...",
    "on_app_shutdown": "async def shutdown(): ...",
    "on_settings_edit": "async def settings_edited(settings: dict): ...",
    "on_shared_thread_view": (
        "async def may_view(thread: dict, viewer: cl.User | None) -> bool: ..."
    ),
    "on_mcp_connect": "async def connected(connection, session: ClientSession): ...",
    "on_mcp_disconnect": "async def disconnected(name: str, session: ClientSession): ...",
    "on_audio_start": "async def audio_started() -> bool: ...",
    "on_audio_chunk": "async def audio_chunk(chunk: cl.InputAudioChunk): ...",
    "on_audio_end": "async def audio_ended(): ...",
}


def _positional_range(func: Callable[..., Any]) -> tuple[int, float]:
    """How many positional arguments ``func`` accepts: (required, maximum)."""
    required = 0
    maximum: float = 0
    for param in inspect.signature(func).parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            maximum = float("inf")
        elif param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            maximum += 1
            if param.default is param.empty:
                required += 1
    return required, maximum


@lru_cache(maxsize=512)
def _known_range(func: Callable[..., Any]) -> tuple[int, float]:
    """``_positional_range``, remembered: ``invoke`` runs for every message."""
    return _positional_range(func)


class Registry:
    """Holds an app's callbacks. ``LightChat`` is a registry with a server attached."""

    def __init__(self) -> None:
        self.callbacks: dict[str, Callable[..., Any]] = {}
        self._frozen = False

    def freeze(self) -> None:
        """Refuse further registrations (called when the app starts serving)."""
        self._frozen = True

    def _register(self, hook: str, func: F, key: str | None = None) -> F:
        if self._frozen:
            raise ConfigError(
                f"@{hook} was used after the app started serving, so it would never run. "
                "Register callbacks at the top level of the app module."
            )
        if not callable(func):
            raise ConfigError(f"@{hook} decorates a function; got {func!r}.")
        least, most = _ARITY[hook]
        required, maximum = _positional_range(func)
        if required > most or maximum < least:
            raise ConfigError(
                f"@{hook} callback {func.__qualname__}{inspect.signature(func)} takes the "
                f"wrong arguments; write it as `{_EXAMPLES[hook]}`."
            )
        self.callbacks[key or hook] = func
        return func

    def on_chat_start(self, func: F) -> F:
        """Run when a new chat starts, e.g. to greet the user or set up ``user_session``."""
        return self._register("on_chat_start", func)

    def on_message(self, func: F) -> F:
        """Run for each message the user sends; receives the ``Message``."""
        return self._register("on_message", func)

    def on_chat_end(self, func: F) -> F:
        """Run when a chat ends (its session expires or the server shuts down)."""
        return self._register("on_chat_end", func)

    def on_stop(self, func: F) -> F:
        """Run when the user presses "Stop" while a callback is running."""
        return self._register("on_stop", func)

    def on_chat_resume(self, func: F) -> F:
        """Run when the user opens a past chat, to rebuild ``user_session``.

        Receives the thread (``id``, ``name``, ``steps``...). Without this callback, past
        chats open read-only.
        """
        return self._register("on_chat_resume", func)

    def set_starters(self, func: F) -> F:
        """Give an empty chat its starters: buttons that send a first message for the user.

        The function returns a list of ``Starter``; it may take the user and the browser's
        language (e.g. ``"en-US"``)::

            @cl.set_starters
            async def starters(user=None, language=None):
                return [cl.Starter(label="Plan a trip", message="Plan a weekend in Lisbon.")]
        """
        return self._register("set_starters", func)

    def set_starter_categories(self, func: F) -> F:
        """Give an empty chat groups of starters: returns a list of ``StarterCategory``,
        each a button that shows or hides its starters. Takes what ``set_starters`` takes,
        and the name of the chat's profile (or None), as in Chainlit."""
        return self._register("set_starter_categories", func)

    def set_chat_profiles(self, func: F) -> F:
        """Offer chat profiles: returns a list of ``ChatProfile``; may take the user and
        the browser's language. The chosen profile's name is in
        ``user_session.get("chat_profile")``; switching profile starts a new chat::

            @cl.set_chat_profiles
            async def profiles(user=None, language=None):
                return [cl.ChatProfile(name="Quick", markdown_description="Short answers.")]
        """
        return self._register("set_chat_profiles", func)

    def on_settings_update(self, func: F) -> F:
        """Run when the user confirms new chat settings; receives them all as a dict
        (also in ``user_session["chat_settings"]``)."""
        return self._register("on_settings_update", func)

    def on_settings_edit(self, func: F) -> F:
        """Run while the user edits the settings form, at each change and before they
        confirm; receives the settings as they stand in the form (nothing is kept until
        "Confirm", which runs ``on_settings_update``). Needs JavaScript in the browser."""
        return self._register("on_settings_edit", func)

    def on_window_message(self, func: F) -> F:
        """Run when the page that frames the chat (the copilot widget's host page) posts it
        a message; receives the message's data (a string, or any JSON value).

        Only pages the app lets frame it are heard (``Settings.frame_ancestors``). Answer
        with ``cl.send_window_message(data)``. Example::

            @cl.on_window_message
            async def window_message(message):
                await cl.send_window_message(f"Heard: {message}")
        """
        return self._register("on_window_message", func)

    def action_callback(self, name: str) -> Callable[[F], F]:
        """Run when the user clicks an action named ``name``; receives the ``Action``.

        Example::

            @cl.action_callback("retry")
            async def retry(action: cl.Action):
                await action.remove()
        """
        if not isinstance(name, str) or not name:
            raise ConfigError(
                '@action_callback takes the action\'s name: @action_callback("retry").'
            )

        def register(func: F) -> F:
            return self._register("action_callback", func, key=f"action:{name}")

        return register

    def data_layer(self, func: F) -> F:
        """Keep the history in the app's own data layer instead of lightchat's SQL store.

        Decorates a function without arguments (``def`` or ``async def``) that returns the
        data layer: an object with the methods of ``lightchat.store.DataLayer``, such as a
        ``SQLStore``, a ``MemoryStore`` or a class of the app's own, or one written for
        Chainlit (a ``lightchat.data.BaseDataLayer`` subclass, whose methods the history
        then goes through; what it does not implement is logged at start with the feature
        it turns off). It is called once, when the app starts serving::

            @cl.data_layer
            def get_data_layer():
                return MyDataLayer(dsn="...")
        """
        return self._register("data_layer", func)

    def password_auth_callback(self, func: F) -> F:
        """Sign users in with a user name and a password: turns sign-in on.

        Receives what the user typed in the login form and returns a ``User`` to sign
        them in, or None to refuse (the form then says so, without saying which part was
        wrong). Needs ``LIGHTCHAT_AUTH_SECRET`` (``lightchat create-secret`` makes one)::

            @cl.password_auth_callback
            def auth(username: str, password: str) -> cl.User | None:
                if (username, password) == ("admin", os.environ["ADMIN_PASSWORD"]):
                    return cl.User(identifier="admin", metadata={"role": "admin"})
                return None
        """
        return self._register("password_auth_callback", func)

    def header_auth_callback(self, func: F) -> F:
        """Sign users in from the request's headers (e.g. set by a proxy that already
        authenticated them): turns sign-in on.

        Receives the headers of a request that has no session yet, and returns a ``User``
        (who is then signed in, with no login page) or None::

            @cl.header_auth_callback
            def auth(headers) -> cl.User | None:
                user = headers.get("x-forwarded-user")
                return cl.User(identifier=user) if user else None
        """
        return self._register("header_auth_callback", func)

    def oauth_callback(self, func: F) -> F:
        """Sign users in with OAuth providers (GitHub, Google, an OpenID Connect provider...):
        turns sign-in on, with a "Continue with <Provider>" button for each provider whose
        ``OAUTH_*`` variables are set.

        Receives the provider's id (``"github"``...), the access token, the user data the
        provider gave, the ``User`` lightchat makes of it, and (OpenID Connect providers)
        the checked ID token; returns the ``User`` to sign in, or None to refuse::

            @cl.oauth_callback
            def auth(provider_id, token, raw_user_data, default_user, id_token=None):
                if default_user.identifier.endswith("@example.com"):
                    return default_user
                return None
        """
        return self._register("oauth_callback", func)

    def on_logout(self, func: F) -> F:
        """Run when a signed-in user signs out; may take the request and the response
        (e.g. to delete a cookie of the app's own)::

            @cl.on_logout
            def logout(request, response):
                response.delete_cookie("my_cookie")
        """
        return self._register("on_logout", func)

    def author_rename(self, func: F) -> F:
        """Show messages' authors under other names: receives a message's author and
        returns the name to show, for each message the app sends (Chainlit's hook)::

            @cl.author_rename
            async def rename(orig_author: str) -> str:
                return {"LLMMathChain": "Albert Einstein"}.get(orig_author, orig_author)
        """
        return self._register("author_rename", func)

    def on_feedback(self, func: F) -> F:
        """Run when a user says an answer was helpful or not (with history on); receives a
        ``lightchat.types.Feedback`` (``forId``, the message; ``value``, 1 or 0;
        ``comment``; ``threadId``), after it is saved::

            @cl.on_feedback
            async def feedback_given(feedback):
                metrics.count("helpful" if feedback.value else "not helpful")
        """
        return self._register("on_feedback", func)

    def on_shared_thread_view(self, func: F) -> F:
        """Decide who may read a shared chat (``features.allow_thread_sharing``): receives
        the thread (a ``ThreadDict``, whose ``metadata`` holds ``is_shared`` and
        ``shared_at``) and the signed-in user looking at it, and returns True to show it.

        It runs at each view of a shared chat's link by anyone but its owner (who always
        sees it); False, or an error (logged), shows them the same 404 as a chat that does
        not exist. It may take parts out of the thread, in place, to leave them out of what
        is shown (steps by id, elements, a message's ``output``). Without it, nothing is
        shared::

            @cl.on_shared_thread_view
            async def may_view(thread, viewer):
                return viewer is not None and viewer.metadata.get("team") == "support"
        """
        return self._register("on_shared_thread_view", func)

    def on_mcp_connect(self, func: F) -> F:
        """Run when the chat has connected to an MCP server (``features.mcp``): one the user
        added in "MCP servers", one of theirs reconnected in a new chat, or one the app
        declared. Receives the connection (``lightchat.mcp.StdioMcpConnection``,
        ``SseMcpConnection`` or ``HttpMcpConnection``: its ``name``, its ``command`` and
        ``args`` or its ``url``) and the ``mcp`` SDK's ``ClientSession``, already
        initialized. It runs in the chat's turn, before the next message's ``on_message``,
        so what it keeps in ``user_session`` is there for it::

            @cl.on_mcp_connect
            async def connected(connection, session):
                tools = await session.list_tools()
                cl.user_session.set(f"tools:{connection.name}", tools.tools)
        """
        return self._register("on_mcp_connect", func)

    def on_mcp_disconnect(self, func: F) -> F:
        """Run when an MCP connection ends: the user pressed "Disconnect", or the chat
        ended. Receives the connection's name and its ``ClientSession`` (still open)::

            @cl.on_mcp_disconnect
            async def disconnected(name, session):
                cl.user_session.set(f"tools:{name}", None)
        """
        return self._register("on_mcp_disconnect", func)

    def on_slack_reaction_added(self, func: F) -> F:
        """Run when someone adds a reaction (an emoji) to one of the bot's messages in
        Slack; receives Slack's ``reaction_added`` event. It runs in the chat of the
        message's Slack thread, so ``cl.Message(...).send()`` answers there."""
        return self._register("on_slack_reaction_added", func)

    def on_audio_start(self, func: F) -> F:
        """Run when the user presses "Start recording" (``features.audio``), before any
        chunk: return True to take the recording, False to refuse it (the page stops
        recording and says so), e.g. when a voice service cannot be reached."""
        return self._register("on_audio_start", func)

    def on_audio_chunk(self, func: F) -> F:
        """Run with each piece of the user's voice while they record, in order
        (``cl.InputAudioChunk``: ``data`` is 16-bit PCM, mono, at ``audio_sample_rate``;
        ``isStart`` marks the first of a recording, ``elapsedTime`` is in milliseconds)::

            @cl.on_audio_chunk
            async def audio_chunk(chunk: cl.InputAudioChunk):
                buffer.extend(chunk.data)
        """
        return self._register("on_audio_chunk", func)

    def on_audio_end(self, func: F) -> F:
        """Run when the user stops recording, after the recording's last chunk, in the
        chat's turn (as a message's ``on_message``: "Stop" stops it)."""
        return self._register("on_audio_end", func)

    def on_app_startup(self, func: F) -> F:
        """Run once when the server starts, before it takes requests (e.g. to open a
        connection pool every chat shares); an error stops the start, with its message."""
        return self._register("on_app_startup", func)

    def on_app_shutdown(self, func: F) -> F:
        """Run once when the server stops, after the chats have ended (e.g. to close what
        ``on_app_startup`` opened)."""
        return self._register("on_app_shutdown", func)


async def invoke(func: Callable[..., Any], *args: Any) -> Any:
    """Call a user callback, sync or async, with as many of ``args`` as it takes.

    Sync callbacks run in a worker thread (with the caller's context variables), so a slow
    one does not freeze every other chat.
    """
    try:
        _, maximum = _known_range(func)
    except TypeError:  # a callable that cannot be a key
        _, maximum = _positional_range(func)
    args = args[: int(min(maximum, len(args)))]
    if inspect.iscoroutinefunction(func):
        return await func(*args)
    result = await asyncio.to_thread(func, *args)
    if inspect.isawaitable(result):
        return await result
    return result
