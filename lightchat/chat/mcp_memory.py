"""The MCP servers each user added in a chat, remembered for their next chats.

A user who connects a server in one chat (the "MCP servers" dialog) finds it connected in
their next chats, and in a chat they reopen, until they press "Disconnect". Servers are
remembered by the key that owns the user's threads: a signed-in user's, or, without
sign-in, the browser's (``ChatSession.owner``).

Where: with history on, in the data layer (``lightchat_mcp_servers``, when it can keep them:
``McpServerKeeper``), so every worker of the app, and every restart, finds them. Else,
with several workers (a Redis cluster), in Redis (``SharedBlobs``: the cluster's hash
``mcp:{owner}``, one field per server), so the worker that takes a chat over from a dead
one finds them and connects them again; they stay there ``log_ttl_s`` (a day by default)
after the owner's last chat recalled or changed them. Else in this worker's memory, for
as long as it runs.

Secrets: a header often carries a token, and a command may set one (``API_KEY=... uvx
server``). What names a server beyond its name and kind (its command, or its URL and
headers) goes to the data layer, or to Redis, sealed: encrypted and authenticated (Fernet:
AES-128-CBC with HMAC-SHA256) with a key derived from the app's secret (HKDF-SHA256). A
database or Redis dump shows no command, URL or header; a value changed by hand fails to
open. A server sealed under another secret (the app's secret changed, or workers that do
not share one) cannot be opened: the chat says so, and the user adds it again. The secret
is read when the first server is sealed or opened.

``cryptography`` is imported here only.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, get_args

from lightchat.chat.history import History
from lightchat.domain.mcp import McpKind, McpServerSpec

if TYPE_CHECKING:  # cryptography is imported when a server is first sealed or opened
    from cryptography.fernet import Fernet

logger = logging.getLogger("lightchat")

_KEY_INFO = b"lightchat: MCP servers users remember"
_KINDS: tuple[str, ...] = get_args(McpKind)

UNREADABLE = (
    "This remembered server could not be read (the app's secret has changed since it was "
    "added): disconnect it, then add it again."
)
"""Why a remembered server sealed under another secret does not connect."""


class Unreadable(ValueError):
    """A remembered server that cannot be opened (sealed under another secret, or changed
    by hand); its name is kept, to show it."""

    def __init__(self, name: str, kind: McpKind) -> None:
        super().__init__(UNREADABLE)
        self.name = name
        self.kind = kind


class SharedBlobs(Protocol):
    """Text blobs every worker finds, in hashes named by a kind and a name: the cluster's
    (``lightchat.cluster.Cluster``), which raises ``ClusterUnavailable`` when Redis fails."""

    async def blobs(self, kind: str, name: str) -> dict[str, str]:
        """The hash's blobs, by field (empty when there is none)."""
        ...

    async def put_blob(self, kind: str, name: str, field: str, value: str) -> None:
        """Keep ``value`` as ``field`` of the hash (replacing the one there)."""
        ...

    async def drop_blob(self, kind: str, name: str, field: str) -> None:
        """Drop ``field`` of the hash (nothing happens when there is none)."""
        ...


_SHARED_KIND = "mcp"
"""The kind of the hashes, one per owner, that hold the servers in ``SharedBlobs``."""


def seal_key(secret: str) -> bytes:
    """The Fernet key of an app's secret (derived, never the secret itself)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(derived)


class McpMemory:
    """The MCP servers each owner added, by name: in ``history``'s data layer when it can
    keep them, else in ``shared`` (several workers), else here. ``secret`` gives the app's
    secret (read at first use)."""

    def __init__(
        self,
        history: History | None,
        secret: Callable[[], str],
        shared: SharedBlobs | None = None,
    ) -> None:
        self._history = history
        self._secret = secret
        self._shared = shared
        self._fernet: Fernet | None = None
        self._here: dict[str, dict[str, McpServerSpec]] = {}

    def _sealer(self) -> Fernet:
        from cryptography.fernet import Fernet

        if self._fernet is None:
            self._fernet = Fernet(seal_key(self._secret()))
        return self._fernet

    def seal(self, spec: McpServerSpec) -> str:
        """What names ``spec`` beyond its name and kind, encrypted (see the docstring)."""
        payload = {"command": spec.command, "url": spec.url, "headers": dict(spec.headers)}
        return self._sealer().encrypt(json.dumps(payload).encode()).decode()

    def unseal(self, name: str, kind: str, sealed: str) -> McpServerSpec:
        """The spec ``seal`` sealed; ``Unreadable`` when it cannot be opened."""
        from cryptography.fernet import InvalidToken

        known: McpKind = kind if kind in _KINDS else "stdio"  # type: ignore[assignment]
        try:
            payload: Any = json.loads(self._sealer().decrypt(sealed.encode()))
        except (InvalidToken, ValueError):
            raise Unreadable(name, known) from None
        if kind not in _KINDS or not isinstance(payload, dict):
            raise Unreadable(name, known)
        command, url, headers = payload.get("command"), payload.get("url"), payload.get("headers")
        if not isinstance(headers, dict):
            raise Unreadable(name, known)
        return McpServerSpec(
            name=name,
            kind=known,
            command=command if isinstance(command, str) else None,
            url=url if isinstance(url, str) else None,
            headers={str(k): str(v) for k, v in headers.items()},
        )

    async def recall(self, owner: str) -> list[McpServerSpec | Unreadable]:
        """The owner's servers, oldest first (``Unreadable`` for one that cannot be
        opened). A data layer or a Redis that fails is logged, and nothing is recalled."""
        stored = None
        try:
            if self._history is not None:
                stored = await self._history.mcp_servers(owner)
            if stored is None and self._shared is not None:
                stored = _from_blobs(await self._shared.blobs(_SHARED_KIND, owner))
        except Exception as exc:  # the chat goes on without its remembered servers
            logger.error("Could not read the remembered MCP servers", exc_info=exc)
            return []
        if stored is None:
            return list(self._here.get(owner, {}).values())
        found: list[McpServerSpec | Unreadable] = []
        for name, kind, sealed in stored:
            try:
                found.append(self.unseal(name, kind, sealed))
            except Unreadable as exc:
                found.append(exc)
        return found

    async def remember(self, owner: str, spec: McpServerSpec) -> None:
        """Keep one of the owner's servers (replacing theirs of that name). A data layer
        that fails is logged: the server stays connected in this chat."""
        if self._history is not None or self._shared is not None:
            try:
                if await self._keep(owner, spec):
                    return
            except Exception as exc:  # see the docstring
                logger.error("Could not remember the MCP server %r", spec.name, exc_info=exc)
                return
        self._here.setdefault(owner, {})[spec.name] = spec

    async def _keep(self, owner: str, spec: McpServerSpec) -> bool:
        """Keep the server sealed, in the data layer or else in ``shared``; False when
        neither can keep it. A server replaced keeps its place (its first time)."""
        sealed = self.seal(spec)
        history = self._history
        if history is not None and await history.remember_mcp_server(
            owner, spec.name, spec.kind, sealed
        ):
            return True
        if self._shared is None:
            return False
        kept = await self._shared.blobs(_SHARED_KIND, owner)
        since = _since(kept.get(spec.name)) or time.time()
        blob = json.dumps({"kind": spec.kind, "since": since, "sealed": sealed})
        await self._shared.put_blob(_SHARED_KIND, owner, spec.name, blob)
        return True

    async def forget(self, owner: str, name: str) -> None:
        """Forget one of the owner's servers (nothing happens when there is none). A data
        layer that fails is logged."""
        self._here.get(owner, {}).pop(name, None)
        try:
            if self._history is not None:
                await self._history.forget_mcp_server(owner, name)
            if self._shared is not None:
                await self._shared.drop_blob(_SHARED_KIND, owner, name)
        except Exception as exc:  # see the docstring
            logger.error("Could not forget the MCP server %r", name, exc_info=exc)


def _since(blob: str | None) -> float | None:
    """When the server of a blob in ``SharedBlobs`` was first kept (None: not known)."""
    try:
        since = json.loads(blob)["since"] if blob is not None else None
    except (ValueError, TypeError, KeyError):
        return None
    return float(since) if isinstance(since, int | float) else None


def _from_blobs(blobs: dict[str, str]) -> list[tuple[str, str, str]]:
    """The servers of an owner's hash in ``SharedBlobs`` as the data layer gives them
    (name, kind, sealed), oldest first. A blob that is not one of ours is left for
    ``unseal`` to refuse (its kind and sealed text empty)."""
    found: list[tuple[float, str, str, str]] = []
    for name, blob in blobs.items():
        try:
            data: Any = json.loads(blob)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {}
        kind, sealed = data.get("kind"), data.get("sealed")
        found.append(
            (
                _since(blob) or 0.0,
                name,
                kind if isinstance(kind, str) else "",
                sealed if isinstance(sealed, str) else "",
            )
        )
    found.sort()
    return [(name, kind, sealed) for _, name, kind, sealed in found]
