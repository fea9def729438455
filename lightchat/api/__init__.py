"""The objects a chat app calls, over the chat session (Chainlit's names and behaviour).

- ``message``: ``Message``, ``ErrorMessage`` and the questions back to the user;
- ``step``: ``Step`` and ``@step``;
- ``context``: ``user_session``, ``context``, ``chat_context``, ``ElementSidebar``;
- ``copilot``: ``send_window_message`` and ``CopilotFunction``;
- ``sync``: ``make_async`` and ``run_sync``;
- ``elements``: ``Action`` and the elements (``Image``, ``File``, ``Text``...);
- ``element_paths``: which files an element's ``path=`` may read;
- ``widgets``: ``ChatSettings`` and its inputs;
- ``starters``: ``Starter``, ``StarterCategory``, ``ChatProfile``.
"""
