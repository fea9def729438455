"""Microsoft Teams: the same app answering as a Teams bot, one chat per conversation.

With `TEAMS_APP_ID` and `TEAMS_APP_PASSWORD` set, `lightchat serve` takes the Bot
Framework's activities at `/teams/events` (each one's token checked by Microsoft's SDK).
Write to the bot in Teams: the conversation is a chat (one per day, as Chainlit's) with its
own `user_session`, kept in the history like a web chat. The bot shows it is typing, its
answer has a button (an action), and a file shared with a message comes in
`message.elements`. The same app still answers in the browser. Set-up steps: README.md in
this folder.
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
