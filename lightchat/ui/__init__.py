"""Layer 5, what the browser gets: HTML, its text in every language, and the event stream.

- ``render``: the Jinja environment and ``Renderer`` (one partial per object);
- ``stream_view``: a chat's events as ``<hx-partial>`` updates and text events;
- ``sse``: the server-sent events framing;
- ``markdown``: safe markdown, code highlighting and LaTeX;
- ``i18n``: the translations and the request's language;
- ``theme``: colours, fonts, logos and avatars;
- ``readme``: the app's readme;
- ``template_code``: the checks of an app's own templates.
"""
