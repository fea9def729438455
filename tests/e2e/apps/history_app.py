"""History: questions are remembered in user_session and rebuilt on resume."""

import lightchat as cl


@cl.on_chat_start
async def start():
    cl.user_session.set("questions", [])


@cl.on_chat_resume
async def resume(thread: dict):
    questions = [s["output"] for s in thread["steps"] if s["type"] == "user_message"]
    cl.user_session.set("questions", questions)


@cl.on_message
async def main(message: cl.Message):
    questions = cl.user_session.get("questions")
    questions.append(message.content)
    await cl.Message(content=f"Question {len(questions)}: {' / '.join(questions)}").send()
