"""Hostile text in every newer field an app fills: profiles, starters, settings, commands,
modes, actions, elements, a task list, a file question, and the user's display name."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import lightchat as cl
from tests.xss_payloads import PAYLOADS

IMG, SCRIPT, SVG, LINK, HX = PAYLOADS[2], PAYLOADS[0], PAYLOADS[3], PAYLOADS[6], PAYLOADS[41]
QUOTE = '"><img src=x onerror=alert(9) id=pwn>'
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def hostile(what: str, payload: str) -> str:
    return f"{what} {payload}"


@cl.password_auth_callback
def auth(username: str, password: str):
    if username == "eve" and password == "pw":
        return cl.User(identifier="eve", display_name=hostile("Eve", IMG))
    return None


@cl.set_chat_profiles
async def profiles(user=None):
    starters = [
        cl.Starter(label=hostile("Starter A", IMG), message="starter a"),
        cl.Starter(label=hostile("Starter B", QUOTE), message="starter b"),
    ]
    return [
        cl.ChatProfile(
            name=hostile("Profile A", SCRIPT),
            markdown_description=hostile("Description", f"{IMG} {LINK} {SVG}"),
            starters=starters,
            default=True,
        ),
        cl.ChatProfile(name=hostile("Profile B", QUOTE), markdown_description="plain"),
    ]


@cl.on_chat_start
async def start():
    await cl.ChatSettings(
        [
            cl.TextInput(
                id="name",
                label=hostile("Setting label", IMG),
                description=hostile("Setting help", SCRIPT),
                tooltip=hostile("Setting tip", QUOTE),
            ),
            cl.Select(
                id="model",
                label=hostile("Model", SVG),
                values=["small", "large"],
                description=hostile("Model help", HX),
            ),
        ]
    ).send()
    await cl.context.emitter.set_commands(
        [{"id": "Search", "description": hostile("Command help", IMG), "button": True}]
    )
    await cl.context.emitter.set_modes(
        [
            cl.Mode(
                id="tone",
                name=hostile("Tone", SCRIPT),
                options=[
                    cl.ModeOption(id="calm", name=hostile("Calm", IMG), default=True),
                    cl.ModeOption(id="loud", name=hostile("Loud", QUOTE)),
                ],
            )
        ]
    )


@cl.action_callback("act")
async def on_action(action: cl.Action):
    await cl.Message(content="clicked").send()


@cl.on_message
async def main(message: cl.Message):
    actions = [
        cl.Action(
            name="act", payload={}, label=hostile("Action", IMG), tooltip=hostile("Tip", QUOTE)
        ),
        cl.Action(name="act", payload={}, label=hostile("Action 2", HX), tooltip=SCRIPT),
    ]
    elements = [
        cl.Text(name=hostile("Text", IMG), content="text body", display="inline"),
        cl.File(name=hostile("File", QUOTE), content=b"file body", display="inline"),
        cl.Image(name=hostile("Image", SVG), content=PNG, mime="image/png", display="inline"),
    ]
    await cl.Message(content="Elements", actions=actions, elements=elements).send()
    tasks = cl.TaskList(name=hostile("Tasks", SCRIPT))
    await tasks.add_task(cl.Task(title=hostile("Task", IMG), status=cl.TaskStatus.RUNNING))
    await tasks.send()
    await cl.AskFileMessage(
        content=hostile("Question", IMG),
        accept=[".txt", QUOTE, "text/plain"],
        timeout=60,
    ).send()
