"""Rendering: the page, one partial per object, and the live view a stream sends.

Every piece of HTML comes from the Jinja templates in ``lightchat/templates`` (autoescaped)
or from :mod:`lightchat.ui.markdown`. The same ``_message.html`` and ``_step.html`` render in
the full page, in an HTMX response and inside a stream event.

``StreamView`` turns log entries into what one stream sends. It keeps its own transcript
(the page it updates is a view of that same state), appends streamed text as plain text
(``tok`` events: the browser inserts it as a text node, never as HTML), and re-renders a
streaming message's markdown at most every ``interval`` seconds: finished top-level blocks
are appended once, only the last block is re-rendered and morphed in.

Every form that posts carries the form token of the browser being answered
(``FORM_TOKEN``, set for each request by ``lightchat.http.middleware.csrf``): templates
write it with ``{% include "_csrf.html" %}``, pages put it in ``<meta name="csrf-token">`` for htmx.

Every text of the UI comes from the translation files (``lightchat.ui.i18n``): templates write
``{{ t("composer.send") }}``, in the language of the request being answered.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import MutableMapping
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from markupsafe import Markup, escape

from lightchat.api.starters import icon_url
from lightchat.chat.threads import MAX_COMMENT_CHARS, MAX_NAME_CHARS, MAX_SEARCH_CHARS
from lightchat.config.settings import Settings
from lightchat.domain.events import (
    CommandData,
    ElementData,
    MessageData,
    Mode,
    SidebarEvent,
    StepData,
    ToastEvent,
    WidgetData,
)
from lightchat.domain.transcript import Item, Transcript
from lightchat.errors import ConfigError
from lightchat.ui.debug_view import clock, debug_on, duration, iso_time
from lightchat.ui.generation_view import generation_view
from lightchat.ui.i18n import Translations
from lightchat.ui.icons import icon_html, initial_avatar
from lightchat.ui.jsx import frame_data, frame_key, jsx_path, script_json
from lightchat.ui.markdown import highlight_code, render_markdown, render_split
from lightchat.ui.readme import Readme
from lightchat.ui.template_code import SHARED_TEMPLATE_CODE
from lightchat.ui.theme import THEME, Brand, asset_url
from lightchat.ui.timeline import Timeline, log_items, seconds

FORM_TOKEN: ContextVar[str] = ContextVar("lightchat_form_token", default="")
"""The form token of the browser whose request is being answered ("" outside a request)."""


def form_token() -> str:
    """The form token to write into a form (see ``FORM_TOKEN``)."""
    return FORM_TOKEN.get()


def form_token_input() -> Markup:
    """The hidden input carrying the form token, for a form in an app's own template."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(form_token())


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
"""A placeholder of a translated text: ``{name}``."""

ORIGINAL_PREFIX = "lightchat:"
"""Names the package's own template, even where the app overrides it:
``{% extends "lightchat:_message.html" %}`` in the app's ``templates/_message.html``."""


def app_templates_dir(app_dir: str) -> Path:
    """The app's template folder: ``templates/`` beside the app, looked in before the
    package's."""
    return Path(app_dir, "templates")


class _Environment(Environment):
    """Jinja's environment, its templates reading its globals themselves.

    Jinja gives each template a ``ChainMap`` over the environment's globals, with room for
    globals of the template's own (which lightchat never gives), and every render copies
    the globals into its context: a ``ChainMap``, key by key, for a tenth of the time a
    message takes to render. A template without globals of its own gets the environment's
    dict here, so a global set later (``feedback_on``) still shows in every template.
    """

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return self.globals if not d else super().make_globals(d)


def template_loader(app_dir: str) -> BaseLoader:
    """The app's ``templates/`` folder first (when it exists), then the package's templates.

    Every name goes through the app's folder first, includes inside the package's own
    templates too, so an app's ``_message.html`` is the one the page, the htmx responses and
    the stream all use. ``lightchat:NAME`` always reaches the package's original, so the
    override can extend it and change one block without extending itself.
    """
    package = PackageLoader("lightchat", "templates")
    original = PrefixLoader({ORIGINAL_PREFIX[:-1]: package}, delimiter=":")
    folder = app_templates_dir(app_dir)
    if not folder.is_dir():
        return ChoiceLoader([original, package])
    return ChoiceLoader([FileSystemLoader(folder), original, package])


EMBED_TEMPLATES_DIR = Path(__file__).parents[1] / "embed_templates"
"""The macros a host app's own Jinja templates import (``lightchat/embed.html``)."""


def add_host_templates(env: Environment) -> None:
    """Let a host app's Jinja environment find ``lightchat/embed.html`` (after its own
    templates, which keep their names)."""
    ours = FileSystemLoader(EMBED_TEMPLATES_DIR)
    env.loader = ours if env.loader is None else ChoiceLoader([env.loader, ours])


def check_app_templates(env: Environment, app_dir: str) -> None:
    """Compile every template of the app's ``templates/`` folder once, at start.

    A syntax error then stops the app before it serves (``lightchat serve`` prints one line
    and exits with status 2), instead of showing up as a 500 on the first page that uses it.

    Raises:
        ConfigError: naming the file and the line.
    """
    folder = app_templates_dir(app_dir)
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        # Hidden files, and compiled templates (a bytecode cache kept beside them).
        if not path.is_file() or path.name.startswith(".") or "__pycache__" in path.parts:
            continue
        try:
            env.get_template(name)
        except TemplateSyntaxError as exc:
            raise ConfigError(
                f"{path}, line {exc.lineno}: {exc.message}. Fix this template of the app "
                "(or remove it to use lightchat's own)."
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path} is not UTF-8 text; save it as UTF-8.") from None


def hx_partial(target: str, swap: str, content: str = "") -> str:
    """An ``<hx-partial>`` fragment: htmx swaps ``content`` (HTML, escaped already) into the
    element with id ``target`` (``swap``: ``innerHTML``, ``outerMorph``, ``beforeend``,
    ``delete``...). The one place these fragments are written."""
    # Targets hold item ids, which an app may choose (Message(id=...)): escape them.
    target = html.escape(target, quote=True)
    return f'<hx-partial hx-target="#{target}" hx-swap="{swap}">{content}</hx-partial>'


def streaming_tail(message_id: str, tail: str, source: str) -> str:
    """A streaming message's tail (its last block, as HTML, rendered from ``source``) with
    the element its streamed text goes into: inside the block when the block is a
    paragraph, so the text carries on the paragraph's line (after a space when the source
    ends with one, which the paragraph dropped); after it otherwise."""
    raw = f'<span id="msg-{html.escape(message_id, quote=True)}-raw" class="lc-raw"></span>'
    if tail.endswith("</p>\n"):
        space = " " if source[-1:].isspace() else ""
        return f"{tail[:-5]}{space}{raw}</p>\n"
    return tail + raw


def tab_groups(
    widgets: list[WidgetData],
) -> list[tuple[str, list[tuple[int, WidgetData]]]]:
    """The settings inputs in runs of the same tab (``cl.Tab``; "" for none), in order, each
    with its place in the whole form (from 1)."""
    groups: list[tuple[str, list[tuple[int, WidgetData]]]] = []
    for index, widget in enumerate(widgets, start=1):
        if not groups or groups[-1][0] != widget.group:
            groups.append((widget.group, []))
        groups[-1][1].append((index, widget))
    return groups


def content_html(
    message: MessageData, *, images: bool = True, math: bool = False, user_markdown: bool = False
) -> Markup:
    """A finished message's content as HTML (``images``, ``math``: see
    ``render_markdown``). The user's messages are plain text unless ``user_markdown``
    (``Settings.user_message_markdown``): then markdown, through the same safe renderer."""
    if message.type == "error" or (message.type == "user_message" and not user_markdown):
        return Markup('<p class="lc-plain">{}</p>').format(message.content)
    if message.language:
        return Markup(highlight_code(message.content, message.language, header=True))
    return Markup(render_markdown(message.content, images=images, math=math))


def step_output_html(step: StepData, *, images: bool = True, math: bool = False) -> Markup:
    """A step's output as HTML (code when it has a language, else markdown)."""
    if not step.output:
        return Markup("")
    if step.language:
        return Markup(highlight_code(step.output, step.language))
    return Markup(render_markdown(step.output, images=images, math=math))


def step_input_html(step: StepData) -> Markup:
    """A step's input as a code block, in the ``show_input`` language when one is named."""
    language = step.show_input if isinstance(step.show_input, str) else None
    if language == "json":
        # A plain string input is shown as text, not as (invalid) JSON.
        try:
            json.loads(step.input)
        except ValueError:
            language = None
    return Markup(highlight_code(step.input, language))


def markdown_html(text: str, *, images: bool = True, math: bool = False) -> Markup:
    """App-written markdown (a chat profile's description) as HTML, through the safe
    renderer."""
    return Markup(render_markdown(text, images=images, math=math))


def element_src(element: ElementData, chat_url: str) -> str:
    """Where the browser loads an element's file: the app's ``url=``, or the chat's own
    element URL."""
    if element.url:
        return element.url
    return f"{chat_url}/elements/{quote(element.id, safe='')}"


def element_text_html(element: ElementData) -> Markup:
    """A ``Text`` element's text: code in its language, else markdown (as Chainlit shows
    it), through the same safe renderer as messages."""
    if element.language:
        return Markup(highlight_code(element.content or "", element.language))
    return Markup(render_markdown(element.content or ""))


_CODE_MARKS = ("```", "~~~", "\n    ", "\n\t")


def shows_code(transcript: Transcript | None) -> bool:
    """True when a chat's page shows highlighted code (a fenced or indented block in a
    message or step, a ``Text`` element in a language), so that it links the code's
    colours (``lightchat.code.css``); a guess that may say yes for a page without code,
    never no for one with it."""
    if transcript is None:
        return False
    for item in transcript.items.values():
        texts = (
            (item.content,)
            if isinstance(item, MessageData)
            else (getattr(item, "input", ""), getattr(item, "output", ""))
        )
        if any(mark in (text or "") for text in texts for mark in _CODE_MARKS):
            return True
        if any(element.language for element in getattr(item, "elements", ())):
            return True
    return False


def element_json(element: ElementData) -> Any:
    """The structured content of a table or task list element."""
    try:
        return json.loads(element.content or "{}")
    except ValueError:
        return {}


COLLAPSE_LINES = 25
"""A message with more lines than this is collapsed (with ``Settings.collapse_content``)."""
COLLAPSE_CHARS = 3000
"""A message longer than this is collapsed (with ``Settings.collapse_content``)."""


def is_long(text: str) -> bool:
    """Whether a message is long enough to be collapsed behind "Show more"."""
    return len(text) > COLLAPSE_CHARS or text.count("\n") >= COLLAPSE_LINES


def file_size(size: int) -> str:
    """A byte count for people: ``1.2 MB``."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


class Visibility:
    """Which steps the chat shows (``Settings.cot``), and where each one goes.

    With ``tool_call`` only tool steps show; a tool step inside hidden steps shows under its
    nearest shown ancestor, or in the conversation itself.
    """

    def __init__(self, cot: str) -> None:
        self.cot = cot

    def shown(self, step: StepData) -> bool:
        """Whether the chat shows this step."""
        if self.cot == "hidden":
            return False
        return self.cot == "full" or step.type == "tool"

    def anchor(self, transcript: Transcript, step: StepData) -> StepData | None:
        """The shown step this one is nested in (None: it stands in the conversation)."""
        parent = transcript.items.get(step.parent_id or "")
        while isinstance(parent, StepData):
            if self.shown(parent):
                return parent
            parent = transcript.items.get(parent.parent_id or "")
        return None

    def roots(self, transcript: Transcript) -> list[Item]:
        """The messages and shown steps that stand in the conversation, in order."""
        return [
            item
            for item in transcript.items.values()
            if isinstance(item, MessageData)
            or (self.shown(item) and self.anchor(transcript, item) is None)
        ]

    def children(self, transcript: Transcript, step_id: str) -> list[StepData]:
        """The shown steps nested in a shown step."""
        found: list[StepData] = []
        for item in transcript.items.values():
            if isinstance(item, StepData) and item.parent_id is not None and self.shown(item):
                anchor = self.anchor(transcript, item)
                if anchor is not None and anchor.id == step_id:
                    found.append(item)
        return found


class Renderer:
    """Renders pages and partials for one app."""

    def __init__(self, settings: Settings, static_version: str) -> None:
        self.settings = settings
        self.static_version = static_version
        self._variants: dict[Settings, Renderer] = {}
        self.visibility = Visibility(settings.cot)
        self.images = settings.markdown_images
        self.math = settings.latex
        collapse = settings.collapse_content
        self.readme = Readme(settings.app_dir, images=self.images, math=self.math)
        self.translations = Translations(settings.app_dir)
        self.env = _Environment(
            loader=template_loader(settings.app_dir),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
            bytecode_cache=SHARED_TEMPLATE_CODE,  # every app compiles a template once
            # Templates are read once per process (the ones held below are never looked up
            # again): the includes need not check their files' times on every render.
            auto_reload=False,
        )
        self.env.globals.update(
            settings=settings,
            static_version=static_version,
            content_html=partial(
                content_html,
                images=self.images,
                math=self.math,
                user_markdown=settings.user_message_markdown,
            ),
            step_output_html=partial(step_output_html, images=self.images, math=self.math),
            step_input_html=step_input_html,
            generation_view=generation_view,
            streaming_parts=self.streaming_parts,
            readme_html=self.readme_html,
            # A finished message only: one that streams grows, and collapsing it as it
            # passes the limit would hide what is being written. One that arrives while
            # the page is open (``live``) stays whole too, so an answer just read does not
            # fold away; the user's own long message is collapsed at once.
            collapsible=lambda message, live=False: (
                collapse
                and not message.streaming
                and is_long(message.content)
                and (not live or message.type == "user_message")
            ),
            csrf_token=form_token,
            visible_roots=self.visibility.roots,
            visible_children=self.visibility.children,
            # The roots, each with the timeline of the run it ends (lightchat.ui.timeline).
            log_items=lambda transcript: log_items(
                transcript, self.visibility, self.visibility.roots(transcript)
            ),
            seconds=seconds,
            t_html=self.t_html,
            element_src=element_src,
            element_text_html=element_text_html,
            element_json=element_json,
            file_size=file_size,
            markdown_html=partial(markdown_html, images=self.images, math=self.math),
            icon_url=icon_url,
            icon=icon_html,
            initial_avatar=initial_avatar,
            feedback_on=False,
            max_comment_chars=MAX_COMMENT_CHARS,
            max_name_chars=MAX_NAME_CHARS,
            max_search_chars=MAX_SEARCH_CHARS,
            t=self.translations.t,
            language=self.translations.current,
            text_direction=self.translations.direction,
            script_texts=self.translations.script_texts,
            # Debug mode's details, for whom may see them (lightchat.ui.debug_view).
            debug_on=debug_on,
            debug_clock=clock,
            debug_iso=iso_time,
            debug_duration=duration,
        )
        # One URL path segment: ids may hold "/", "?" or "#" (an app chooses message ids).
        self.env.filters["segment"] = lambda value: quote(str(value), safe="")
        self.env.filters["script_json"] = script_json
        self.env.filters["groupby_tab"] = tab_groups
        self.env.globals["custom_html"] = self.custom_html
        self.env.globals["shows_code"] = shows_code
        # Logo, favicon, avatars, theme and the app's own files, read once (lightchat.ui.theme).
        self.brand = Brand.load(settings)
        self.env.globals.update(
            brand=self.brand,
            asset_url=asset_url,
            theme_choice=lambda: THEME.get() or settings.default_theme,
        )
        self._custom: Environment | None = None
        check_app_templates(self.env, settings.app_dir)  # before the partials below load
        self._message = self.env.get_template("_message.html")
        self._step = self.env.get_template("_step.html")
        self._timeline = self.env.get_template("_timeline.html")
        self._controls = self.env.get_template("_controls.html")
        self._side = self.env.get_template("_side.html")
        self._settings_button = self.env.get_template("_settings_button.html")

    @property
    def feedback(self) -> bool:
        """Whether finished assistant messages offer "Helpful"/"Not helpful".

        Off until the app has a history to keep feedback in (it turns this on when history
        starts, with ``Settings.feedback``).
        """
        return bool(self.env.globals["feedback_on"])

    @feedback.setter
    def feedback(self, on: bool) -> None:
        self.env.globals["feedback_on"] = on

    MAX_VARIANTS = 32
    """How many variants (``variant``) a renderer keeps: one per chat profile that changes
    settings, in practice."""

    def variant(self, settings: Settings) -> Renderer:
        """The renderer of a chat whose settings differ from the app's (a chat profile's
        ``config_overrides``): the same templates with those settings, made once for each
        distinct settings (itself when they do not differ).

        Raises ``ConfigError`` for settings whose brand files are wrong (see ``Brand``).
        """
        if settings == self.settings:
            return self
        found = self._variants.get(settings)
        if found is None:
            found = Renderer(settings, self.static_version)
            if len(self._variants) >= self.MAX_VARIANTS:
                self._variants.pop(next(iter(self._variants)))
            self._variants[settings] = found
        found.feedback = self.feedback  # turned on once history starts
        return found

    def readme_html(self) -> Markup | None:
        """The app's readme in the current request's language, as HTML (None: none)."""
        found = self.readme.html()
        return None if found is None else Markup(found)

    def streaming_parts(self, message: MessageData) -> tuple[Markup, Markup]:
        """A streaming message's finished blocks and its tail, as HTML; the tail holds the
        element its streamed text goes into (``streaming_tail``)."""
        content = message.content
        cut, settled, tail = render_split(content, images=self.images, math=self.math)
        return Markup(settled), Markup(streaming_tail(message.id, tail, content[cut:]))

    def page(self, name: str, **context: Any) -> str:
        """Render a full page template."""
        return self.env.get_template(name).render(**context)

    def block(self, name: str, block: str, **context: Any) -> Markup:
        """One block of a page template, rendered alone (an app's override of the page
        applies): an embedded chat shows the page's composer without the page around it."""
        template = self.env.get_template(name)
        render = template.blocks[block]
        return Markup("".join(render(template.new_context(context))))

    def message(
        self,
        message: MessageData,
        base: str,
        chat_url: str = "",
        last_answer_id: str | None = None,
    ) -> str:
        """The ``_message.html`` partial as a stream sends it (its feedback buttons post
        to ``chat_url``; "Regenerate" shows on the message ``last_answer_id`` names).

        Feedback given earlier shows only on the page (which passes ``feedback``); a
        message that a stream sends has just finished, so it has none yet.
        """
        return self._message.render(
            message=message,
            base=base,
            chat_url=chat_url,
            live=True,
            last_answer_id=last_answer_id,
        )

    def step(self, step: StepData, transcript: Transcript, base: str, chat_url: str = "") -> str:
        """The ``_step.html`` partial, with its nested steps (its elements' links and files
        go to ``chat_url``)."""
        return self._step.render(step=step, transcript=transcript, base=base, chat_url=chat_url)

    def timeline(self, timeline: Timeline) -> str:
        """The ``_timeline.html`` partial: a run's steps on its time axis."""
        return self._timeline.render(timeline=timeline)

    def t_html(self, key: str, **values: Any) -> Markup:
        """A text of the translation files as HTML, its placeholders filled in with
        ``values`` escaped (or kept, for ``Markup``): ``t_html("step.used", name=span)``
        keeps the step's name in its own element, wherever the language puts it."""
        text = str(escape(self.translations.t(key)))
        return Markup(
            _PLACEHOLDER.sub(
                lambda match: str(escape(values.get(match.group(1), match.group(0)))), text
            )
        )

    def item(self, item: Item, transcript: Transcript, base: str, chat_url: str = "") -> str:
        """A message or a step."""
        if isinstance(item, MessageData):
            return self.message(item, base, chat_url)
        return self.step(item, transcript, base, chat_url)

    def controls(self, running: bool, chat_url: str, asking: bool = False) -> str:
        """The composer's buttons: "Send" (off while a run goes, unless it asks the user
        something), and "Stop" while a run is going."""
        return self._controls.render(running=running, asking=asking, chat_url=chat_url)

    def custom_html(self, element: ElementData, chat_url: str) -> Markup:
        """A ``CustomElement`` drawn by the app's template ``elements/<name>.html``, or else
        by Chainlit's ``public/elements/<Name>.jsx`` (in a sandboxed frame, see
        ``lightchat.ui.jsx``)."""
        has_template = Path(self.settings.app_dir, "elements", f"{element.name}.html").is_file()
        if not has_template and jsx_path(self.settings.app_dir, element.name) is not None:
            return self.jsx_html(element, chat_url)
        if self._custom is None:
            folder = Path(self.settings.app_dir, "elements")
            self._custom = Environment(
                loader=FileSystemLoader(folder),
                autoescape=select_autoescape(default=True, default_for_string=True),
                trim_blocks=True,
                lstrip_blocks=True,
            )
        try:
            template = self._custom.get_template(f"{element.name}.html")
        except TemplateNotFound:
            return Markup(
                '<p class="lc-hint">No template elements/{}.html for this element.</p>'
            ).format(element.name)
        segment = quote(element.id, safe="")
        script = Markup("")
        if Path(self.settings.app_dir, "elements", f"{element.name}.js").is_file():
            # Runs each time the element is drawn (htmx runs the scripts it swaps in);
            # the script finds its element through document.currentScript.
            # Its id changes with the props, so a redraw (a morph) inserts it anew.
            base = _base_of(chat_url)
            drawn = hashlib.sha256((element.content or "").encode()).hexdigest()[:12]
            script = Markup('<script src="{}" id="{}" data-lc-element="{}"></script>').format(
                f"{base}/-/elements/{element.name}.js", f"el-{element.id}-js-{drawn}", element.id
            )
        return (
            Markup(
                template.render(
                    props=element_json(element),
                    element_id=element.id,
                    chat_url=chat_url,
                    action_url=f"{chat_url}/elements/{segment}/actions",
                    message_url=f"{chat_url}/messages",
                    props_url=f"{chat_url}/elements/{segment}/props",
                    delete_url=f"{chat_url}/elements/{segment}/delete",
                    submit_url=f"{chat_url}/elements/{segment}/submit",
                    cancel_url=f"{chat_url}/elements/{segment}/cancel",
                    csrf_input=form_token_input(),
                    csrf_token=form_token(),
                )
            )
            + script
        )  # after the element's markup, so it is there when the script runs

    def jsx_html(self, element: ElementData, chat_url: str) -> Markup:
        """A JSX custom element's frame (``_element_jsx.html``): its page is served by the
        chat (``/elements/<id>/jsx``), its props ride on the frame as JSON, for the chat
        page's script to hand over."""
        template = self.env.get_template("_element_jsx.html")
        return Markup(
            template.render(
                element=element,
                chat_url=chat_url,
                props=json.dumps(element_json(element), ensure_ascii=False),
                key=frame_key(form_token(), element.id),
                base=_base_of(chat_url),
            )
        )

    def jsx_frame(self, element: ElementData, source: str, base: str) -> str:
        """The page inside a JSX custom element's frame: the vendored runtime, and the
        element's source, props and icons as JSON data."""
        template = self.env.get_template("element_jsx.html")
        data = frame_data(element.name, source, element_json(element))
        data["texts"] = {
            "failed": self.translations.t("element.jsx_failed"),
        }
        data["key"] = frame_key(form_token(), element.id)
        return template.render(element=element, data=script_json(data), base=base)

    def composer_extras(self, commands: list[CommandData], modes: list[Mode]) -> str:
        """The composer's command picker and mode pickers."""
        template = self.env.get_template("_composer_extras.html")
        return template.render(commands=commands, modes=modes)

    def sidebar(self, sidebar: SidebarEvent | None, chat_url: str) -> str:
        """The side panel as the app set it (empty when closed)."""
        template = self.env.get_template("_sidebar.html")
        return template.render(sidebar=sidebar, chat_url=chat_url)

    def toast(self, toast: ToastEvent) -> str:
        """A short notice over the chat (``send_toast``)."""
        return self.env.get_template("_toast.html").render(toast=toast)

    def side_panel(self, element: ElementData, chat_url: str) -> str:
        """The side panel showing one element."""
        return self._side.render(element=element, chat_url=chat_url)

    def settings_button(self, chat_url: str) -> str:
        """The header's "Settings" button, for a chat that has settings."""
        return self._settings_button.render(chat_url=chat_url)


def _base_of(chat_url: str) -> str:
    """The app's mount path, from the URL of a chat (``<base>/chat/<id>``) or of a shared
    chat's page (``<base>/share/<id>``)."""
    for marker in ("/chat/", "/share/"):
        if marker in chat_url:
            return chat_url.rpartition(marker)[0]
    return ""
