"""Layer 4, who is asking: browser identity, signed-in users, OAuth providers, the host's users.

- ``identity``: the signed browser cookie and the form token derived from it;
- ``sessions``: ``Auth``, users' signed sessions, sign-in limits and OAuth flows;
- ``oauth``: the OAuth and OpenID Connect providers and their client;
- ``host``: reading the user of a host app that mounts the chat.
"""
