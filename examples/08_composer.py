"""The composer and the side panel: commands, modes, the element sidebar, and a custom
element drawn by the app's own template.

Run it with `lightchat serve examples/08_composer.py`, then:

- type "/" in the message box for the commands, or press the "Search" button beside it:
  "/Search vector databases" answers and opens the side panel ("Elements") with the
  sources it found; the next message without "Search" closes it again;
- "/Summarize" answers in one paragraph;
- "Length" beside the box is a mode: "Short" or "Long" answers, kept for the next messages;
- the counter in the first message is `elements/Counter.html` (beside this file), a Jinja
  template: "Add one" calls the "increment" action, which checks what the browser sent and
  redraws it; "How many?" sends a message as if you had typed it.
"""

import asyncio

from demo_model import answer

import lightchat as cl
from lightchat.testing import tokenize

COUNT_QUESTION = "How many times did I click?"  # what the counter's second button sends


@cl.on_chat_start
async def start():
    await cl.context.emitter.set_commands(
        [
            {
                "id": "Search",
                "icon": "🔎",
                "description": "Answer from sources, shown at the side",
                "button": True,
            },
            {"id": "Summarize", "description": "Answer in one paragraph"},
        ]
    )
    await cl.context.emitter.set_modes(
        [
            cl.Mode(
                id="length",
                name="Length",
                options=[
                    cl.ModeOption(id="short", name="Short", default=True),
                    cl.ModeOption(id="long", name="Long"),
                ],
            )
        ]
    )
    counter = cl.CustomElement(name="Counter", props={"count": 0})
    cl.user_session.set("counter", counter)
    await cl.Message(
        content='Hello! Type "/" for commands, pick a length, or play with the counter.',
        elements=[counter],
    ).send()


@cl.action_callback("increment")
async def increment(action: cl.Action):
    # The payload comes from the browser (the template's form), so anyone can change it:
    # take only what the counter's buttons would send.
    by = action.payload.get("by", 1)
    if type(by) is not int or not 1 <= by <= 10:
        return
    counter = cl.user_session.get("counter")
    counter.props["count"] += by
    await counter.update()  # redraws the element wherever it is shown


def find_sources(question: str) -> list[cl.Text]:
    """What a search tool would return; here, two made-up notes."""
    return [
        cl.Text(name="notes.md", content=f"Notes on {question}: the basics, in three lines."),
        cl.Text(name="faq.md", content=f"Questions people ask about {question}, answered."),
    ]


@cl.on_message
async def main(message: cl.Message):
    if message.content.strip() == COUNT_QUESTION:
        count = cl.user_session.get("counter").props["count"]
        await cl.Message(content=f"You clicked **{count}** times.").send()
        return
    text = answer(message.content)
    if message.command == "Summarize" or message.modes.get("length") == "short":
        text = text.split("\n\n")[0] + "\n\n_Pick the Long length for the whole answer._"
    if message.command == "Search":
        sources = find_sources(message.content)
        await cl.ElementSidebar.set_title(f"Sources for “{message.content}”")
        await cl.ElementSidebar.set_elements(sources)
        cl.user_session.set("sources_open", True)
        text = f"I found {len(sources)} sources; they are in the side panel.\n\n{text}"
    elif cl.user_session.get("sources_open"):
        await cl.ElementSidebar.set_elements([])  # an empty list closes the panel
        cl.user_session.set("sources_open", False)
    reply = cl.Message(content="")
    for token in tokenize(text):
        await reply.stream_token(token)
        await asyncio.sleep(0.01)
    await reply.send()
