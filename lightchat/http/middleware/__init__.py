"""The ASGI middleware, one per module, all plain ASGI (never ``BaseHTTPMiddleware``, which
breaks streaming disconnects). Their order is in ``lightchat.app``: outermost the client's
disconnects, the compression of whole pages and the security headers, then theme and
language, CORS, body limits, same-origin writes, form tokens, the sign-in gate, the host's
users, and innermost the forwarding of a chat's requests to the worker that owns it.
"""
