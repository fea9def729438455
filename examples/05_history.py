"""History: chats are saved (SQLite in .lightchat/ beside the app) and can be continued.

Open a past chat from the sidebar, even after a server restart: `on_chat_resume` receives
the thread and rebuilds what `user_session` held, so the conversation goes on. (Without
`on_chat_resume`, past chats open read-only.)
"""

from demo_model import stream

import lightchat as cl


@cl.on_chat_start
async def start():
    cl.user_session.set("questions", [])
    await cl.Message(content="Ask me something; I will remember your questions.").send()


@cl.on_chat_resume
async def resume(thread: dict):
    questions = [s["output"] for s in thread["steps"] if s["type"] == "user_message"]
    cl.user_session.set("questions", questions)


@cl.on_message
async def main(message: cl.Message):
    questions = cl.user_session.get("questions")
    questions.append(message.content)
    reply = cl.Message(content="")
    for token in stream(message.content):
        await reply.stream_token(token)
    await reply.stream_token(f"\n\n_That was question {len(questions)} in this chat._")
    await reply.send()
