"""Layer 6, HTTP: the routes, their endpoints and the middleware in front of them.

- ``routes``: the one declarative list of routes, and the chat's own endpoints;
- ``endpoints/``: the other endpoints, one module per area (sign-in, OAuth, history,
  start helpers, elements and actions, copilot, embed, user keys, theme);
- ``middleware/``: one module per middleware (security headers and limits, form tokens,
  sign-in gate, host users, language, theme, forwarding to a chat's owner);
- ``web``: what endpoints share (the app's services, finding a chat, answers);
- ``signin``: what the sign-in endpoints and the gate share.
"""
