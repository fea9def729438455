"""Layer 4, where a chat runs: its session, this worker's chats, and their history.

- ``session``: ``ChatSession``, a chat's inputs, runs, questions and token batching;
- ``chats``: ``Chats``, the sessions this worker owns (made, reaped, drained, taken over);
- ``history``: ``History``, what chats show written to the data layer and read back;
- ``threads``: threads as the history's UI sees them (links, feedback, names, groups);
- ``export``: a thread as Markdown or JSON.
"""
