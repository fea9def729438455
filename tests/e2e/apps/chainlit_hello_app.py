"""A Chainlit-shaped app for the browser tests: no @on_message (only on_chat_start with a
button), a toast from the emitter, an author renamed by @author_rename, and settings
followed live by @on_settings_edit, and a background job that shows the chat busy
(emitter.task_start/task_end) and reports to the page's scripts (emitter.emit)."""

import asyncio

import lightchat as cl

_jobs: set[asyncio.Task[None]] = set()


@cl.author_rename
async def rename(orig_author: str) -> str:
    return {"Assistant": "Hello Bot"}.get(orig_author, orig_author)


@cl.on_chat_start
async def start() -> None:
    await cl.Message(
        content="Hello! Press the button.",
        actions=[
            cl.Action(name="toast", payload={"kind": "success"}, label="Toast me"),
            cl.Action(name="toast", payload={"kind": "error"}, label="Fail loudly"),
            cl.Action(name="job", payload={}, label="Background job"),
        ],
    ).send()
    await cl.ChatSettings(
        [cl.Select(id="size", label="Size", values=["small", "large"], initial_index=0)]
    ).send()


@cl.on_settings_edit
async def editing(settings):
    await cl.context.emitter.send_toast(f"Editing: size {settings['size']}")


@cl.action_callback("toast")
async def toast(action: cl.Action) -> None:
    await cl.context.emitter.send_toast("Saved <b>everything</b>", type=action.payload["kind"])


async def job() -> None:
    await cl.context.emitter.task_start()  # busy until task_end, past the click's run
    for done in (50, 100):
        await asyncio.sleep(1)
        await cl.context.emitter.emit("progress", {"done": done})
    await cl.context.emitter.task_end()


@cl.action_callback("job")
async def start_job(action: cl.Action) -> None:
    task = asyncio.create_task(job())
    _jobs.add(task)
    task.add_done_callback(_jobs.discard)
