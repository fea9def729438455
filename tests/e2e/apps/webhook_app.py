"""A chat that the app's own route writes to (a webhook a build server calls): the route
is added to ``lightchat.server.app`` and uses ``init_http_context``, as in Chainlit."""

from fastapi import Request
from fastapi.responses import JSONResponse

import lightchat as cl
from lightchat.context import init_http_context
from lightchat.server import app


@app.post("/hooks/build/{thread_id}")
async def build_done(thread_id: str, request: Request) -> JSONResponse:
    try:
        init_http_context(thread_id=thread_id)
    except cl.NoSessionError:
        return JSONResponse({"delivered": False}, status_code=404)
    status = (await request.json())["status"]
    await cl.Message(content=f"The build {status}.").send()
    return JSONResponse({"delivered": True})


@cl.on_message
async def main(message: cl.Message) -> None:
    await cl.Message(content="Building; I will tell you here when it is done.").send()
