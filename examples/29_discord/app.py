"""Discord: the same app answering as a Discord bot, one chat per conversation.

With `DISCORD_BOT_TOKEN` set, `lightchat serve` connects the bot to Discord when it
starts: mention it in a channel and it answers in a thread opened on your message (where
the chat goes on without mentioning it again), or write to it directly. Each conversation
is a chat with its own `user_session`, kept in the history like a web chat. The answer has
a button (an action), and a file attached to a message comes in `message.elements`. The
same app still answers in the browser. Set-up steps: README.md in this folder.
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
