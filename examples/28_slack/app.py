"""Slack: the same app answering in Slack, one chat per Slack thread.

With `SLACK_BOT_TOKEN` and `SLACK_SIGNING_SECRET` set, `lightchat serve` takes Slack's
events at `/slack/events`: mention the bot in a channel (then reply in its thread without
mentioning it again) or write to it directly. Each Slack thread is a chat with its own
`user_session`, kept in the history like a web chat. The answer has a button (an action),
a file shared with the message comes in `message.elements`, and a reaction to one of the
bot's messages runs `@cl.on_slack_reaction_added`. The same app still answers in the
browser. Set-up steps: README.md in this folder.
"""

import lightchat as cl


@cl.on_chat_start
async def start():
    cl.user_session.set("turns", 0)


@cl.on_message
async def main(message: cl.Message):
    turns = cl.user_session.get("turns") + 1
    cl.user_session.set("turns", turns)
    user = cl.user_session.get("user")
    name = user.display_name if user is not None and user.display_name else "there"
    where = cl.user_session.get("client_type")
    lines = [f"Hello {name}! You said **{message.content}** (message {turns}, on {where})."]
    for element in message.elements:
        lines.append(f"I got your file *{element.name}*.")
    await cl.Message(
        content="\n".join(lines),
        actions=[cl.Action(name="count", payload={"turns": turns}, label="How many?")],
    ).send()


@cl.action_callback("count")
async def count(action: cl.Action):
    await cl.Message(content=f"{action.payload['turns']} message(s) so far in this chat.").send()


@cl.on_slack_reaction_added
async def reacted(event: dict):
    await cl.Message(content=f"Thanks for the :{event['reaction']}:!").send()
