"""Chainlit's JSX custom elements, unchanged: public/elements/Poll.jsx is a poll whose
votes go back to the server with updateElement and whose "Close" calls an action;
public/elements/Rating.jsx is a form that cl.AskElementMessage waits for (submitElement,
cancelElement). Serve it with `lightchat serve examples/15_jsx_elements/app.py`."""

import lightchat as cl


@cl.on_chat_start
async def start():
    poll = cl.CustomElement(
        name="Poll",
        props={"question": "Lunch?", "options": {"Pizza": 0, "Salad": 0, "Soup": 0}},
    )
    cl.user_session.set("poll", poll)
    await cl.Message(content="Vote, then close the poll.", elements=[poll]).send()


@cl.action_callback("close_poll")
async def close_poll(action: cl.Action):
    votes = action.payload.get("options", {})  # what the browser sent: check it
    if not isinstance(votes, dict) or not votes:
        return
    counts = {str(name): int(count) for name, count in votes.items() if isinstance(count, int)}
    winner = max(counts, key=counts.get)
    await cl.Message(content=f"The poll is closed: **{winner}** wins.").send()


@cl.on_message
async def main(message: cl.Message):
    rating = cl.CustomElement(name="Rating", props={"max": 5, "label": message.content[:80]})
    answer = await cl.AskElementMessage(
        content="How good is this idea?", element=rating, timeout=120
    ).send()
    if answer and answer.get("submitted"):
        await cl.Message(content=f"Rated {answer.get('stars')} of 5: {answer.get('why')}").send()
    elif answer:
        await cl.Message(content="No rating, then.").send()
