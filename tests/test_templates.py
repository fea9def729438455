"""Template overrides: the app's ``templates/`` folder first, ``lightchat:`` for the original,
and the documented blocks (the README's "Templates" table is checked against the templates).

For each documented block, an app template extends the package's one and overrides that
block with a marker around ``{{ super() }}``: the page or partial that uses it must show
the marker, and be exactly the original once the marker is taken out.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from jinja2 import DictLoader, Environment, PackageLoader
from jinja2.bccache import Bucket, BytecodeCache
from markupsafe import Markup

from lightchat import LightChat, Message, Settings, Step
from lightchat.chat.mcp import McpView
from lightchat.cli import load_app, main
from lightchat.config.settings import Settings as SettingsType
from lightchat.domain.events import (
    ActionData,
    AskData,
    CommandData,
    ComposerEvent,
    ElementData,
    Entry,
    Event,
    FavoriteData,
    MessageData,
    MessageEvent,
    Mode,
    ModeOption,
    RunEvent,
    SidebarEvent,
    StepData,
    StepEvent,
    WidgetData,
)
from lightchat.domain.mcp import McpTool
from lightchat.domain.transcript import Transcript
from lightchat.errors import ConfigError
from lightchat.ui.render import Renderer
from lightchat.ui.run_log import EventRow
from lightchat.ui.template_code import SharedTemplateCode, package_cache_dir
from lightchat.ui.timeline import layout
from tests.helpers import Serve

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "lightchat" / "templates"
README = ROOT / "README.md"
EXAMPLE = ROOT / "examples" / "11_templates"
MARK = "@@MARK@@"
BLOCK_TAG = re.compile(r"{%-?\s*block\s+(\w+)")
ROW = re.compile(r"^\|\s*`([\w.]+\.html)`\s*\|\s*`(\w+)`\s*\|")


def documented_blocks() -> list[tuple[str, str]]:
    """(template, block) for each row of the README's table of blocks."""
    text = README.read_text(encoding="utf-8")
    section = text.partition("\n## Templates\n")[2].partition("\n## ")[0]
    return [(m[1], m[2]) for line in section.splitlines() if (m := ROW.match(line))]


def template_blocks() -> set[tuple[str, str]]:
    """(template, block) for every ``{% block %}`` in the package's templates."""
    return {
        (path.name, name)
        for path in TEMPLATES.glob("*.html")
        for name in BLOCK_TAG.findall(path.read_text(encoding="utf-8"))
    }


def test_every_block_is_documented_and_every_documented_block_exists() -> None:
    documented = documented_blocks()
    assert len(documented) == len(set(documented)), "a block is documented twice"
    assert template_blocks() - set(documented) == set(), "blocks missing from the README"
    assert set(documented) - template_blocks() == set(), "README names blocks that do not exist"


# -- what each template is rendered with -----------------------------------------------------

CHAT = "/chat/c1"


def _transcript(*events: Event) -> Transcript:
    return Transcript.from_entries(Entry(i, e) for i, e in enumerate(events, start=1))


def _element(id_: str, display: str = "inline") -> ElementData:
    return ElementData(id=id_, kind="text", name=f"notes {id_}", display=display, content="**x**")  # type: ignore[arg-type]


def _chat_transcript() -> Transcript:
    """A chat holding something for every block of the chat page's partials."""
    answer = MessageData(
        id="m2",
        author="Bot",
        type="assistant_message",
        content="An *answer*",
        actions=[ActionData(id="a1", name="go", label="Go")],
        elements=[_element("e1"), _element("e2", "side")],
    )
    ask = MessageData(
        id="m3", author="Bot", type="assistant_message", content="A file?", ask=AskData("file")
    )
    parent = StepData(
        id="s1", name="search", started_at=100.0, show_input=True, input="query", output="found"
    )
    child = StepData(id="s2", name="fetch", started_at=100.5, parent_id="s1", output="page")
    return _transcript(
        MessageEvent(MessageData(id="m1", author="You", type="user_message", content="Hi")),
        MessageEvent(answer),
        StepEvent(parent),
        StepEvent(child),
        MessageEvent(ask),
        ComposerEvent(
            [CommandData("search", "Search the web", button=True)],
            [Mode("model", "Model", [ModeOption("fast", "Fast", default=True)])],
        ),
        SidebarEvent("Sources", [_element("e3")]),
        RunEvent(running=True),
    )


LINK = SimpleNamespace(id="t1", name="First chat")
USER = SimpleNamespace(display_name="Ann", identifier="ann")
STARTER = SimpleNamespace(label="Plan", message="Plan a trip", icon=None, command=None)
START = SimpleNamespace(
    description="Pick *one*",
    starters=[STARTER],
    categories=[SimpleNamespace(label="Travel", icon=None, starters=[STARTER])],
)
WIDGET = WidgetData(id="tone", kind="textinput", label="Tone", description="How it sounds")

Context = dict[str, Any]


def chat_page() -> tuple[str, Context]:
    return "chat.html", {
        "transcript": _chat_transcript(),
        "base": "",
        "chat_id": "c1",
        "chat_url": CHAT,
        "history": True,
        "history_loading": False,
        "thread_groups": [("Today", [LINK])],
        "current_chat": "c1",
        "q": "",
        "read_only": False,
        "prompt": "",
        "feedback": {"m2": SimpleNamespace(value=1, comment="good")},
        "user": USER,
        "chat_profiles": [SimpleNamespace(name="a", title="A")],
        "chat_profile": "a",
        "start": START,
        "has_settings": True,
    }


def page(name: str, **context: Any) -> Callable[[], tuple[str, Context]]:
    return lambda: (name, {"base": "", "chat_url": CHAT, **context})


def timeline_partial() -> tuple[str, Context]:
    """A run's timeline: a step, one nested in it, and one still running."""
    outer = StepData(id="s1", name="plan", started_at=100.0, ended_at=102.0, status="done")
    inner = StepData(id="s2", name="search", parent_id="s1", started_at=100.5, ended_at=101.0)
    last = StepData(id="s3", name="draft", started_at=102.0)
    timeline = layout("m1", [(outer, 0), (inner, 1), (last, 0)], now=103.0)
    return "_timeline.html", {"base": "", "chat_url": CHAT, "timeline": timeline}


def analytics_page() -> tuple[str, Context]:
    """The analytics page for two days, with a figure of each kind."""
    from datetime import UTC, datetime, timedelta

    from lightchat.http.endpoints.analytics import PERIOD_NAMES, Choice, charts, tables
    from lightchat.store.analytics import Activity, Filters, Period, Report, Timing

    start = datetime(2027, 1, 10, tzinfo=UTC)
    end = start + timedelta(days=2)
    found = Report(
        Period(start, end),
        Filters(),
        days=[Activity("2027-01-10", chats=1, messages=2, users=1, helpful=1)],
        timing=[Timing("2027-01-10", 1, 0.5, 0.5, 1, 2.0, 2.0)],
        tags=[("travel", 1)],
        profiles=["GPT"],
        clients=["webapp"],
    )
    context = {
        "base": "",
        "here": "/analytics",
        "chosen": Choice("custom", start, end, "2027-01-10", "2027-01-11", "", "", ""),
        "report": found,
        "tables": tables(found, lambda thread_id: f"/analytics/threads/{thread_id}"),
        "charts": charts(found),
        "periods": PERIOD_NAMES,
        "user": USER,
    }
    return "analytics.html", context


SETTINGS_CONTEXT = {"widgets": [WIDGET], "values": {}, "modal": False, "error": ""}
SHARE_CONTEXT = {
    "link": SimpleNamespace(id="t1", name="First chat", shared_at=1),
    "share_link": "http://testserver/share/t1",
    "modal": False,
    "stopped": False,
}
MCP_CONTEXT = {
    "connections": [
        McpView(
            name="tools",
            kind="stdio",
            target="uvx tools",
            origin="user",
            status="connected",
            tools=(McpTool("add", "Add two numbers."),),
            header_names=("Authorization",),
        )
    ],
    "kinds": ("stdio", "sse", "streamable-http"),
    "stdio": True,
    "transports": ["streamable-http", "sse"],
    "error": "",
    "typed": {},
    "max_field_chars": 2000,
    "modal": False,
}
HISTORY_CONTEXT = {
    "thread_groups": [("Today", [LINK])],
    "current_chat": "c1",
    "back_url": CHAT,
    "user": USER,
    "q": "",
}

RUN_ROW = EventRow(1, 1, "message", "m1", 'type=user_message author="You"', 100.0)
REPLAY = f"{CHAT}/debug/replay"
REPLAY_CONTEXT = {
    "transcript": _chat_transcript(),
    "run_rows": [RUN_ROW],
    "at": 1,
    "last": 8,
    "playing": True,
    "first_url": f"{REPLAY}?at=0",
    "previous_url": f"{REPLAY}?at=0",
    "next_url": f"{REPLAY}?at=2",
    "last_url": f"{REPLAY}?at=8",
    "play_url": f"{REPLAY}?at=2&play=1",
    "pause_url": f"{REPLAY}?at=1",
    "refresh_url": f"{REPLAY}?at=2&play=1",
    "refresh_s": 1,
    "read_only": True,
    "feedback_on": False,
    "favorites_on": False,
}

# The page or partial each template is rendered in: the chat page holds most partials.
SCENES: dict[str, Callable[[], tuple[str, Context]]] = {
    "base.html": chat_page,
    "chat.html": chat_page,
    "_message.html": chat_page,
    "_step.html": chat_page,
    "_actions.html": chat_page,
    "_ask_file.html": chat_page,
    "_elements.html": chat_page,
    "_element.html": chat_page,
    "_feedback.html": chat_page,
    "_edit.html": chat_page,
    "_controls.html": chat_page,
    "_composer_extras.html": chat_page,
    "_sidebar.html": chat_page,
    "_profiles.html": chat_page,
    "_settings_button.html": chat_page,
    "_start.html": chat_page,
    "_starter.html": chat_page,
    "_history.html": chat_page,
    "_threads.html": chat_page,
    "_thread.html": chat_page,
    "_user_menu.html": chat_page,
    "_timeline.html": timeline_partial,
    "_side.html": page("_side.html", element=_element("e1")),
    "_rename.html": page("_rename.html", link=LINK, name_value="First", back_url=CHAT),
    "_settings.html": page("settings.html", **SETTINGS_CONTEXT),
    "_setting.html": page("settings.html", **SETTINGS_CONTEXT),
    "settings.html": page("settings.html", **SETTINGS_CONTEXT),
    "_confirm_delete.html": page("confirm_delete.html", link=LINK, back_url=CHAT),
    "confirm_delete.html": page("confirm_delete.html", link=LINK, back_url=CHAT),
    "token_sign_in.html": page(
        "token_sign_in.html", next_url="/chat/c1/copilot", frame_ancestors="'self'"
    ),
    "_confirm_new_chat.html": page("confirm_new_chat.html", start_url="/", back_url=CHAT),
    "confirm_new_chat.html": page("confirm_new_chat.html", start_url="/", back_url=CHAT),
    "login.html": page(
        "login.html",
        password_form=True,
        providers=[SimpleNamespace(url="/oauth/github", label="GitHub")],
        error="Wrong password",
        next_url="/",
        username="ann",
    ),
    "history.html": page("history.html", **HISTORY_CONTEXT),
    "error.html": page("error.html", title="Not found", detail="No such chat."),
    "element.html": page("element.html", element=_element("e1")),
    "env.html": page("env.html", keys=["API_KEY"], query=""),
    "rename.html": page("rename.html", link=LINK, name_value="First", back_url=CHAT),
    "readme.html": page("readme.html", readme=Markup("<p>About</p>"), back_url=CHAT),
    "_readme.html": page("readme.html", readme=Markup("<p>About</p>"), back_url=CHAT),
    "favorites.html": page("favorites.html", favorites=[FavoriteData("m1", "Hi")], back_url=CHAT),
    "share.html": page("share.html", **SHARE_CONTEXT),
    "_share.html": page("share.html", **SHARE_CONTEXT),
    "mcp.html": page("mcp.html", **MCP_CONTEXT),
    "_mcp.html": page("mcp.html", **MCP_CONTEXT),
    "_mcp_button.html": page("_mcp_button.html"),
    "shared.html": page(
        "shared.html",
        chat=SimpleNamespace(id="t1", name="First chat", shared_at=1, by_owner=False),
        transcript=_chat_transcript(),
        read_only=True,
        feedback_on=False,
        owner_url=None,
        user=USER,
    ),
    "run_details.html": page("run_details.html", run_rows=[RUN_ROW]),
    "analytics.html": analytics_page,
    "analytics_thread.html": page(
        "analytics_thread.html",
        here="/analytics",
        thread=SimpleNamespace(id="t1", owner="ann"),
        thread_name="First chat",
        transcript=_chat_transcript(),
        feedback_given={"m1": {"value": 0, "comment": "Wrong"}},
        read_only=True,
        feedback_on=False,
        user=USER,
    ),
    "replay.html": page("replay.html", **REPLAY_CONTEXT),
}
# Blocks that show only in another state than their template's scene.
BLOCK_SCENES: dict[tuple[str, str], Callable[[], tuple[str, Context]]] = {
    ("_threads.html", "threads_empty"): page("_threads.html", thread_groups=[], q=""),
    ("_share.html", "not_shared"): page("share.html", **{**SHARE_CONTEXT, "link": LINK}),
    # Every page fills base.html's head and body: the login page keeps base.html's head;
    # base.html's own body shows only when base.html itself is rendered.
    ("base.html", "head"): SCENES["login.html"],
    ("base.html", "body"): page("base.html"),
}


class MemoryBytecodeCache(BytecodeCache):
    """Compiled templates kept across the tests' renderers (keyed by source, so an app's
    override is compiled anew): a fresh Renderer per test, without compiling every
    template again."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED = MemoryBytecodeCache()
ORIGINALS: dict[Callable[[], tuple[str, Context]], str] = {}
"""Each scene rendered with lightchat's own templates (the same for all its blocks)."""


def render(app_dir: Path, template: str, context: Context) -> str:
    renderer = Renderer(SettingsType(name="Bot", app_dir=str(app_dir)), "v1")
    renderer.env.bytecode_cache = COMPILED
    renderer.feedback = True  # as with history on: the feedback partial shows
    return renderer.page(template, **context)


@pytest.mark.parametrize(
    ("name", "block"), documented_blocks(), ids=lambda value: str(value).replace(".html", "")
)
def test_each_documented_block_can_be_overridden(name: str, block: str, tmp_path: Path) -> None:
    scene = BLOCK_SCENES.get((name, block)) or SCENES.get(name)
    assert scene is not None, f"no scene renders {name}: add one to SCENES"
    original = ORIGINALS.get(scene)
    if original is None:
        template, context = scene()
        original = ORIGINALS[scene] = render(tmp_path, template, context)
    assert MARK not in original

    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / name).write_text(
        f'{{% extends "lightchat:{name}" %}}\n'
        f"{{% block {block} %}}{MARK}{{{{ super() }}}}{{% endblock %}}\n",
        encoding="utf-8",
    )
    template, context = scene()  # fresh objects: a render may not change them, but be sure
    overridden = render(tmp_path, template, context)
    assert MARK in overridden, f"{name}'s block {block} is not rendered in {template}"
    assert overridden.replace(MARK, "") == original, "the override changed more than its block"


def test_an_override_replaces_a_block_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "_message.html").write_text(
        '{% extends "lightchat:_message.html" %}\n'
        '{% block author %}<div class="who">{{ message.author|upper }}</div>{% endblock %}\n',
        encoding="utf-8",
    )
    template, context = chat_page()
    html = render(tmp_path, template, context)
    assert '<div class="who">BOT</div>' in html
    assert '<div class="lc-author">' not in html
    assert 'id="msg-m2"' in html
    assert "An <em>answer</em>" in html
    assert 'id="lc-log"' in html
    assert 'id="lc-composer"' in html


def test_a_whole_template_can_be_replaced(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "_step.html").write_text(
        '<div id="step-{{ step.id }}" class="mine">{{ step.name }}</div>', encoding="utf-8"
    )
    renderer = Renderer(SettingsType(app_dir=str(tmp_path)), "v1")
    step = StepData(id="s1", name="search")
    assert renderer.step(step, _transcript(StepEvent(step)), "") == (
        '<div id="step-s1" class="mine">search</div>'
    )


def test_without_a_templates_folder_the_package_templates_render(tmp_path: Path) -> None:
    renderer = Renderer(SettingsType(app_dir=str(tmp_path)), "v1")
    message = MessageData(id="m1", author="Bot", type="assistant_message", content="hi")
    assert '<div class="lc-author">Bot</div>' in renderer.message(message, "")
    assert "lc-author" in renderer.env.get_template("lightchat:_message.html").render(
        message=message, base=""
    )


def test_rendering_reads_no_template_file_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "_feedback.html").write_text(
        '{% extends "lightchat:_feedback.html" %}', encoding="utf-8"
    )
    renderer = Renderer(SettingsType(app_dir=str(tmp_path)), "v1")
    renderer.feedback = True
    done = MessageData(id="m1", author="Bot", type="assistant_message", content="hi")
    first = renderer.message(done, "", "/chat/c1")  # compiles each template it includes
    looked_at: list[str] = []
    real = os.path.getmtime

    def getmtime(path: str) -> float:
        looked_at.append(str(path))
        return real(path)

    monkeypatch.setattr(os.path, "getmtime", getmtime)
    assert renderer.message(done, "", "/chat/c1") == first
    assert 'id="msg-m1-feedback"' in first  # the app's include, and the package's
    assert looked_at == []


def test_templates_see_globals_set_after_they_were_loaded() -> None:
    renderer = Renderer(SettingsType(), "v1")
    done = MessageData(id="m1", author="Bot", type="assistant_message", content="hi")
    assert 'id="msg-m1-feedback"' not in renderer.message(done, "", "/chat/c1")
    renderer.feedback = True  # a global of the environment, set once history starts
    assert 'id="msg-m1-feedback"' in renderer.message(done, "", "/chat/c1")
    # A template given globals of its own keeps them to itself.
    own = renderer.env.from_string("{{ mine }}|{{ settings.name }}", globals={"mine": "x"})
    assert own.render() == "x|Assistant"
    assert "mine" not in renderer.env.globals
    assert renderer.env.from_string("{{ mine }}").render() == ""


def test_custom_elements_still_come_from_the_elements_folder(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "elements").mkdir()
    (tmp_path / "elements" / "Card.html").write_text("<b>{{ props.title }}</b>", encoding="utf-8")
    renderer = Renderer(SettingsType(app_dir=str(tmp_path)), "v1")
    element = ElementData(id="e1", kind="custom", name="Card", content='{"title": "Hi"}')
    assert str(renderer.custom_html(element, CHAT)) == "<b>Hi</b>"


# -- errors in an app's templates ------------------------------------------------------------

BROKEN = '{% extends "lightchat:_message.html" %}\n{% block author %}\n{% if %}\n{% endblock %}\n'


def test_a_syntax_error_in_an_app_template_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "templates" / "parts").mkdir(parents=True)
    (tmp_path / "templates" / "parts" / "card.html").write_text(BROKEN, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Renderer(SettingsType(app_dir=str(tmp_path)), "v1")
    message = str(caught.value)
    assert str(tmp_path / "templates" / "parts" / "card.html") in message
    assert "line 3" in message


def test_the_check_of_an_apps_templates_skips_their_compiled_copies(tmp_path: Path) -> None:
    # An app kept beside its templates' bytecode (the hello app is in the package, whose
    # compiled templates may sit in templates/__pycache__) still starts; a template that
    # is not UTF-8 is named.
    cache = tmp_path / "templates" / "__pycache__"
    cache.mkdir(parents=True)
    (cache / "0f6f91e837c98228de0acd395baed682.jinja").write_bytes(b"\x80\x04\x95 code")
    Renderer(SettingsType(app_dir=str(tmp_path)), "v1")
    (tmp_path / "templates" / "card.html").write_bytes(b"\xff\xfe not UTF-8")
    with pytest.raises(ConfigError, match=r"card\.html is not UTF-8 text"):
        Renderer(SettingsType(app_dir=str(tmp_path)), "v1")


@pytest.mark.usefixtures("isolated_import")
def test_serve_refuses_an_app_whose_template_is_broken(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "_message.html").write_text(BROKEN, encoding="utf-8")
    app_file = tmp_path / "broken_templates_app.py"
    app_file.write_text(
        "from lightchat import LightChat\n\napp = LightChat()\n\n\n"
        "@app.on_message\nasync def main(message):\n    pass\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["serve", str(app_file), "--port", "1"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1, result.output
    assert "_message.html, line 3" in result.output
    assert "Traceback" not in result.output


# -- through the real app --------------------------------------------------------------------


def override_app(app_dir: Path) -> LightChat:
    app = LightChat(settings=Settings(name="Echo", app_dir=str(app_dir)))

    @app.on_chat_start
    async def start() -> None:
        async with Step(name="look up", type="tool") as step:
            step.output = "found"
        await Message(content="Welcome").send()

    @app.on_message
    async def echo(message: Message) -> None:
        await Message(content=f"You said: {message.content}").send()

    return app


@pytest.fixture
def app_with_templates(tmp_path: Path) -> LightChat:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "chat.html").write_text(
        '{% extends "lightchat:chat.html" %}\n'
        "{% block title %}Custom · {{ super() }}{% endblock %}\n"
        '{% block heading %}<span class="brand">My brand</span>{% endblock %}\n',
        encoding="utf-8",
    )
    (folder / "_message.html").write_text(
        '{% extends "lightchat:_message.html" %}\n'
        "{% block tools %}{{ super() }}"
        '{% if message.type == "assistant_message" %}<p class="sig">— the team</p>{% endif %}'
        "{% endblock %}\n",
        encoding="utf-8",
    )
    (folder / "_step.html").write_text(
        '{% extends "lightchat:_step.html" %}\n'
        '{% block step_output %}<p class="out">[{{ step.output }}]</p>{% endblock %}\n',
        encoding="utf-8",
    )
    return override_app(tmp_path)


@pytest.mark.anyio
@pytest.mark.timeout(15)
async def test_the_chat_page_uses_the_apps_templates(
    app_with_templates: LightChat, serve: Serve
) -> None:
    async with serve(app_with_templates) as site:
        client = site.browser()
        chat_url = await site.new_chat(client)
        await site.idle(site.session(client, chat_url))  # on_chat_start has run
        page = (await client.get(chat_url)).text
        assert "<title>Custom · Echo</title>" in page
        assert '<h1 class="lc-title"><span class="brand">My brand</span></h1>' in page
        assert page.count('<p class="sig">— the team</p>') == 1  # the assistant's only
        assert '<p class="out">[found]</p>' in page
        assert '<div id="lc-log" class="lc-log" role="log"' in page  # the UI contract holds
        assert 'data-step-type="tool"' in page

        # A plain form post waits for the answer; the page shows it the same way.
        posted = await client.post(f"{chat_url}/messages", data={"content": "hello"})
        assert posted.status_code == 303
        page = (await client.get(chat_url)).text
        assert "You said: hello" in page
        assert page.count('<p class="sig">— the team</p>') == 2


# -- the example -----------------------------------------------------------------------------


@pytest.mark.usefixtures("isolated_import")
def test_the_example_overrides_a_block_of_the_message_and_of_the_page() -> None:
    app = load_app(str(EXAMPLE / "app.py"))
    renderer = Renderer(app.settings, "v1")
    assert Path(app.settings.app_dir) == EXAMPLE
    answer = MessageData(id="m1", author="Bot", type="assistant_message", content="hi")
    asked = MessageData(id="m2", author="You", type="user_message", content="hi")
    assert "lc-footnote" in renderer.message(answer, "")
    assert "lc-footnote" not in renderer.message(asked, "")
    name, context = chat_page()
    html = renderer.page(name, **context)
    assert "Template example" in html.partition("<title>")[2].partition("</title>")[0]


def test_compiled_templates_are_shared_only_between_environments_that_compile_alike() -> None:
    shared = SharedTemplateCode()
    source = {"t.html": '{% if true %}\n{{ "Hi"|shout }}{% endif %}'}

    def env(shout: Callable[[str], str], **options: Any) -> Environment:
        made = Environment(loader=DictLoader(source), bytecode_cache=shared, **options)
        made.filters["shout"] = shout
        return made

    def upper(text: str) -> str:
        return text.upper()

    # A lambda made anew for each environment runs the same code: compiled once.
    first = [env(lambda text: text.upper()) for _ in range(2)]
    assert [e.get_template("t.html").render() for e in first] == ["\nHI", "\nHI"]
    assert len(shared._code) == 1
    # Other options or filters (Jinja folds "Hi"|shout while compiling): compiled apart.
    assert env(upper, trim_blocks=True).get_template("t.html").render() == "HI"
    assert env(lambda text: text.lower()).get_template("t.html").render() == "\nhi"
    assert len(shared._code) == 3
    # An edited source compiles again.
    source["t.html"] = "{{ 'Hi'|shout }}!"
    assert env(upper).get_template("t.html").render() == "HI!"


def _package_env(cache: SharedTemplateCode, **filters: Callable[..., Any]) -> Environment:
    made = Environment(
        loader=PackageLoader("lightchat", "templates"),
        bytecode_cache=cache,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    made.filters.update(filters)
    return made


def _segment(text: str) -> str:
    return text


def test_the_packages_compiled_templates_are_kept_on_disk_for_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    first = _package_env(SharedTemplateCode(disk=tmp_path), segment=_segment)
    compiled = first.get_template("_thread.html")
    [kept] = tmp_path.glob("*.jinja")

    # The next start (a new process: a new cache in memory) loads it without compiling.
    again = _package_env(SharedTemplateCode(disk=tmp_path), segment=_segment)
    monkeypatch.setattr(again, "compile", lambda *_: pytest.fail("compiled again"))
    loaded = again.get_template("_thread.html")
    assert loaded.root_render_func.__code__.co_code == compiled.root_render_func.__code__.co_code

    # A file that is not this source's code is compiled again, and replaced.
    kept.write_bytes(b"not a template")
    monkeypatch.undo()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    _package_env(SharedTemplateCode(disk=tmp_path), segment=_segment).get_template("_thread.html")
    assert kept.read_bytes() != b"not a template"
    assert [p.name for p in tmp_path.iterdir()] == [kept.name]  # no temporary file left


def test_templates_are_kept_on_disk_only_when_every_process_compiles_them_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    prefix = "x"
    # A filter that captures a variable may fold differently in another process.
    _package_env(
        SharedTemplateCode(disk=tmp_path), segment=lambda text: prefix + text
    ).get_template("_thread.html")
    # A template that is not the package's.
    Environment(
        loader=DictLoader({"t.html": "{{ 1 }}"}), bytecode_cache=SharedTemplateCode(disk=tmp_path)
    ).get_template("t.html")
    assert list(tmp_path.iterdir()) == []
    # PYTHONDONTWRITEBYTECODE: nothing written, as for Python's own bytecode.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    _package_env(SharedTemplateCode(disk=tmp_path), segment=_segment).get_template("_thread.html")
    assert list(tmp_path.iterdir()) == []
    # A folder that cannot be written is left alone.
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    template = _package_env(SharedTemplateCode(disk=blocked / "sub"), segment=_segment)
    assert template.get_template("_thread.html") is not None


def test_the_cache_folder_follows_pythons_for_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "pycache_prefix", None)
    assert package_cache_dir() == TEMPLATES / "__pycache__"
    monkeypatch.setattr(sys, "pycache_prefix", "/var/cache/py")
    assert package_cache_dir() == Path("/var/cache/py") / TEMPLATES.relative_to(TEMPLATES.anchor)


def test_two_apps_in_one_process_each_render_their_own_templates(tmp_path: Path) -> None:
    pages = []
    for name in ("one", "two", "none"):
        folder = tmp_path / name
        if name != "none":
            (folder / "templates").mkdir(parents=True)
            (folder / "templates" / "_message.html").write_text(
                f'{{% extends "lightchat:_message.html" %}}'
                f"{{% block author %}}[{name}]{{% endblock %}}",
                encoding="utf-8",
            )
        renderer = Renderer(SettingsType(name="Bot", app_dir=str(folder)), "v1")
        message = MessageData(id="m", author="Bot", type="assistant_message", content="hello")
        pages.append(renderer.message(message, base=""))
    marks = [[mark for mark in ("[one]", "[two]") if mark in page] for page in pages]
    assert marks == [["[one]"], ["[two]"], []]
    assert "hello" in pages[2]
