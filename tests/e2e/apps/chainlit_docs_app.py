"""A Chainlit app as its documentation writes one (only the import line changed): settings
in tabs with a date range, a command set from the emitter, a question asked at the start,
a tool step, a streamed answer, a thread named from code and a cached resource."""

import lightchat as cl
from lightchat.input_widget import DatePicker, Select, Slider, Tab


@cl.cache
def load_model() -> dict[str, str]:
    return {"name": "tiny"}


@cl.on_chat_start
async def start() -> None:
    await cl.ChatSettings(
        [
            Tab(
                id="model",
                label="Model",
                inputs=[
                    Select(id="Model", label="Model", values=["tiny", "large"], initial_index=0),
                    Slider(
                        id="Temperature", label="Temperature", initial=0.5, min=0, max=1, step=0.1
                    ),
                ],
            ),
            Tab(
                id="period",
                label="Period",
                inputs=[
                    DatePicker(
                        id="Period",
                        label="Period",
                        mode="range",
                        initial=("2025-01-01", "2025-01-31"),
                    )
                ],
            ),
        ]
    ).send()
    await cl.context.emitter.set_commands(
        [{"id": "Search", "icon": "globe", "description": "Search the web"}]
    )
    res = await cl.AskUserMessage(content="What is your name?", timeout=60).send()
    if res:
        cl.user_session.set("name", res["output"])
        await cl.Message(content=f"Hello {res['output']}!").send()


@cl.on_settings_update
async def setup_agent(settings: dict) -> None:
    start, end = settings["Period"]
    await cl.Message(content=f"Period: {start} to {end}").send()


@cl.step(type="tool")
async def search(query: str) -> str:
    await cl.sleep(0.1)
    return f"3 results for {query}"


@cl.on_message
async def main(message: cl.Message) -> None:
    run = cl.context.current_run
    if message.command == "Search":
        result = await search(message.content)
        await cl.context.emitter.init_thread(f"Search: {message.content}")
        await cl.Message(content=f"{result} (run {run.name if run else '?'})").send()
        return
    model = load_model()["name"]
    msg = cl.Message(content="")
    for token in [f"{model} ", "says: ", message.content]:
        await msg.stream_token(token)
    await msg.send()
