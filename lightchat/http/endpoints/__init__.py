"""The HTTP endpoints, one module per area; the route list is ``lightchat.http.routes``.

Endpoints and middleware do not import each other (an import contract says so): what they
share is in ``lightchat.http.web`` and ``lightchat.http.signin``.
"""
