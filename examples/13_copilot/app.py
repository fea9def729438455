"""The copilot widget: this chat on another site's page, talking with that page.

The host page (``host.html`` here) loads the widget with one script tag; its button opens the
chat in a panel. The page tells the chat what its user is looking at with a window message
(``@on_window_message``), and the chat answers the page with ``send_window_message``.
Asked "price pro", the chat calls the page's ``get_price`` function (``CopilotFunction``),
which looks the plan up in the page's own table.

Serve the app, then the host page from another port, and open the host page::

    lightchat serve examples/13_copilot/app.py --port 8000
    python -m http.server 8001 --directory examples/13_copilot
    # open http://localhost:8001/host.html

``lightchat.toml`` beside this file lets that page frame the chat (``frame_ancestors``).
"""

from __future__ import annotations

from typing import Any

import lightchat as cl


@cl.on_chat_start
async def start() -> None:
    if cl.context.session.client_type == "copilot":
        await cl.Message(content="Hi! I am the copilot of this page. Ask me about it.").send()
    else:
        await cl.Message(content="Hi! Open host.html to see me as a copilot.").send()


@cl.on_window_message
async def window_message(message: Any) -> None:
    """The host page says what its user is looking at; the chat remembers it and says so."""
    cl.user_session.set("page", message)
    await cl.send_window_message({"type": "ack", "received": message})


async def ask_the_page_for_a_price(plan: str) -> None:
    """The page knows its prices: the chat asks it through its ``get_price`` function."""
    try:
        answer = await cl.CopilotFunction(name="get_price", args={"plan": plan}).acall(timeout=10)
    except TimeoutError:
        await cl.Message(content="The page did not tell me its price.").send()
        return
    if isinstance(answer, dict) and answer.get("price"):
        await cl.Message(content=f"The page says {answer['plan']} costs {answer['price']}.").send()
    else:
        await cl.Message(content=f"The page has no plan called {plan}.").send()


@cl.on_message
async def main(message: cl.Message) -> None:
    words = message.content.split()
    if cl.context.session.client_type == "copilot" and len(words) == 2 and words[0] == "price":
        await ask_the_page_for_a_price(words[1])
        return
    page = cl.user_session.get("page")
    where = (
        f" (you are looking at {page['title']})"
        if isinstance(page, dict) and "title" in page
        else ""
    )
    await cl.Message(content=f"You said: {message.content}{where}").send()
    await cl.send_window_message({"type": "said", "content": message.content})
