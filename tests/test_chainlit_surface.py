"""Chainlit's public API, name by name, resolves under ``lightchat`` with the arguments
Chainlit documents, so an app written for Chainlit imports and constructs unchanged.

The lists below are Chainlit's package ``__all__`` and the keyword arguments of each
callable (its own and, for elements, those of its ``Element`` base), as Chainlit's
current release defines them.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

import lightchat as cl

CHAINLIT_ALL = [
    "Action", "AskActionMessage", "AskElementMessage", "AskFileMessage", "AskUserMessage",
    "AsyncLangchainCallbackHandler", "Audio", "ChatGeneration", "ChatProfile", "ChatSettings",
    "CompletionGeneration", "CopilotFunction", "CustomElement", "Dataframe", "ElementSidebar",
    "ErrorMessage", "File", "GenerationMessage", "Image", "InputAudioChunk",
    "LangchainCallbackHandler", "LlamaIndexCallbackHandler", "Message", "Mode", "ModeOption",
    "OutputAudioChunk", "Pdf", "PersistedUser", "Plotly", "Pyplot", "SemanticKernelFilter",
    "Starter", "StarterCategory", "Step", "Task", "TaskList", "TaskStatus", "Text", "User",
    "Video", "__version__", "action_callback", "author_rename", "cache", "chat_context",
    "context", "data_layer", "header_auth_callback", "input_widget", "instrument_mistralai",
    "instrument_openai", "make_async", "oauth_callback", "on_app_shutdown", "on_app_startup",
    "on_audio_chunk", "on_audio_end", "on_audio_start", "on_chat_end", "on_chat_resume",
    "on_chat_start", "on_feedback", "on_logout", "on_mcp_connect", "on_mcp_disconnect",
    "on_message", "on_settings_edit", "on_settings_update", "on_shared_thread_view",
    "on_slack_reaction_added", "on_stop", "on_window_message", "password_auth_callback",
    "run_sync", "send_window_message", "set_chat_profiles", "set_starter_categories",
    "set_starters", "sleep", "step", "user_session",
]  # fmt: skip

ELSEWHERE = {
    # The chat platforms.
    "on_slack_reaction_added": "platforms",
}
"""Names that come with their own parts of lightchat (see the README's "Coming from
Chainlit"), not with the core API checked here."""

IN_SCOPE = [name for name in CHAINLIT_ALL if name not in ELSEWHERE]

ELEMENT = ["name", "display", "url", "path", "content", "size", "for_id", "language", "mime", "id"]
"""What every element takes, from Chainlit's ``Element`` base."""

ARGUMENTS: dict[str, list[str]] = {
    "Action": ["name", "payload", "label", "tooltip", "icon", "forId", "id"],
    "AskActionMessage": ["content", "actions", "author", "timeout", "raise_on_timeout"],
    "AskElementMessage": ["content", "element", "author", "timeout", "raise_on_timeout"],
    "AskFileMessage": [
        "content", "accept", "max_size_mb", "max_files", "author", "type", "timeout",
        "raise_on_timeout",
    ],
    "AskUserMessage": ["content", "author", "type", "timeout", "raise_on_timeout"],
    "AsyncLangchainCallbackHandler": [
        "answer_prefix_tokens", "stream_final_answer", "force_stream_final_answer", "to_ignore",
        "to_keep",
    ],
    "Audio": [*ELEMENT, "auto_play"],
    "ChatGeneration": [
        "provider", "model", "messages", "message_completion", "settings", "tools",
        "token_count", "input_token_count", "output_token_count", "tt_first_token", "duration",
    ],
    "ChatProfile": [
        "name", "markdown_description", "icon", "display_name", "default", "starters",
        "config_overrides",
    ],
    "ChatSettings": ["inputs"],
    "CompletionGeneration": ["provider", "model", "prompt", "completion", "settings"],
    "CopilotFunction": ["name", "args"],
    "CustomElement": [*ELEMENT, "props"],
    "Dataframe": [*ELEMENT, "data"],
    "ErrorMessage": ["content", "author", "fail_on_persist_error"],
    "File": ELEMENT,
    "Image": ELEMENT,
    "InputAudioChunk": ["isStart", "mimeType", "elapsedTime", "data"],
    "LangchainCallbackHandler": [
        "answer_prefix_tokens", "stream_final_answer", "force_stream_final_answer", "to_ignore",
        "to_keep",
    ],
    "LlamaIndexCallbackHandler": ["event_starts_to_ignore", "event_ends_to_ignore"],
    "Message": [
        "content", "author", "language", "actions", "elements", "type", "metadata", "tags",
        "id", "parent_id", "command", "modes", "created_at",
    ],
    "Mode": ["id", "name", "options"],
    "ModeOption": ["id", "name", "description", "icon", "default"],
    "Pdf": [*ELEMENT, "page"],
    "Plotly": [*ELEMENT, "figure"],
    "Pyplot": [*ELEMENT, "figure"],
    "SemanticKernelFilter": ["excluded_plugins", "excluded_functions", "kernel"],
    "Starter": ["label", "message", "command", "icon"],
    "StarterCategory": ["label", "icon", "starters"],
    "Step": [
        "name", "type", "id", "parent_id", "elements", "metadata", "tags", "language", "icon",
        "default_open", "auto_collapse", "show_input", "thread_id",
    ],
    "Task": ["title", "status", "forId"],
    "TaskList": ["name", "status"],
    "Text": [*ELEMENT],
    "User": ["identifier", "display_name", "metadata"],
    "Video": [*ELEMENT, "player_config"],
    "cache": ["func"],
    "instrument_mistralai": [],
    "instrument_openai": [],
    "run_sync": ["co"],
    "sleep": ["duration"],
    "step": [
        "original_function", "name", "type", "id", "parent_id", "tags", "metadata", "language",
        "icon", "show_input", "default_open", "auto_collapse",
    ],
}  # fmt: skip

DECORATORS = [
    "action_callback", "author_rename", "data_layer", "header_auth_callback", "oauth_callback",
    "on_app_shutdown", "on_app_startup", "on_audio_chunk", "on_audio_end", "on_audio_start",
    "on_chat_end", "on_chat_resume", "on_chat_start", "on_feedback", "on_logout",
    "on_mcp_connect", "on_mcp_disconnect", "on_message", "on_settings_edit",
    "on_settings_update", "on_shared_thread_view", "on_stop", "on_window_message",
    "password_auth_callback", "set_chat_profiles", "set_starter_categories", "set_starters",
]  # fmt: skip


def accepted(target: Any) -> set[str]:
    """The keyword arguments ``target`` takes; for a class whose ``__init__`` passes
    ``**kwargs`` on, those its bases take as well."""
    names: set[str] = set()
    owners = inspect.getmro(target) if inspect.isclass(target) else (target,)
    for owner in owners:
        function = owner.__init__ if inspect.isclass(owner) else owner
        if function is object.__init__:
            continue
        parameters = inspect.signature(function).parameters
        names |= {
            name
            for name, parameter in parameters.items()
            if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        }
        if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            break
    return names


def test_the_lists_agree() -> None:
    assert len(CHAINLIT_ALL) == len(set(CHAINLIT_ALL)) == 81
    assert set(ELSEWHERE) < set(CHAINLIT_ALL)
    assert set(ARGUMENTS) | set(DECORATORS) <= set(IN_SCOPE)


@pytest.mark.parametrize("name", IN_SCOPE)
def test_every_name_of_chainlits_api_resolves(name: str) -> None:
    assert getattr(cl, name, None) is not None, f"lightchat has no {name}"


@pytest.mark.parametrize("name", sorted(ARGUMENTS))
def test_each_callable_takes_chainlits_arguments(name: str) -> None:
    missing = [
        argument for argument in ARGUMENTS[name] if argument not in accepted(getattr(cl, name))
    ]
    assert missing == [], f"cl.{name} does not take {missing}"


@pytest.mark.parametrize("name", DECORATORS)
def test_each_decorator_takes_the_function_it_registers(name: str) -> None:
    decorator = getattr(cl, name)
    if name == "action_callback":
        decorator = decorator("go")  # a decorator factory: @cl.action_callback("go")
    required = [
        p
        for p in inspect.signature(decorator).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    assert len(required) == 1, f"@cl.{name} takes {len(required)} required arguments"


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("lightchat.data", ["BaseDataLayer", "get_data_layer", "queue_until_user_message"]),
        ("lightchat.types", ["Pagination", "ThreadFilter", "PageInfo", "PaginatedResponse"]),
        ("lightchat.input_widget", ["Tab", "DatePicker", "Select", "Slider", "Switch"]),
        (
            "lightchat.mcp",
            ["StdioMcpConnection", "SseMcpConnection", "HttpMcpConnection", "McpConnection"],
        ),
    ],
)
def test_chainlits_modules_have_their_names(module: str, names: list[str]) -> None:
    imported = importlib.import_module(module)
    assert [name for name in names if not hasattr(imported, name)] == []


@pytest.mark.usefixtures("isolated_import")  # lightchat.server is imported here only
def test_cl_server_is_the_app_users_add_routes_to() -> None:
    import lightchat.server

    assert cl.server is lightchat.server
    assert hasattr(cl.server.app, "add_api_route")
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = cl.nothing_here


def test_a_generation_keeps_literal_ais_shape() -> None:
    chat = cl.ChatGeneration(
        provider="openai",
        model="gpt-4o",
        messages=[{"role": "user", "content": "Hi"}],
        message_completion={"role": "assistant", "content": "Hello"},
        input_token_count=3,
        output_token_count=1,
        token_count=4,
        tt_first_token=120.0,
    )
    data = chat.to_dict()
    assert data["type"] == "CHAT"
    assert (data["tokenCount"], data["ttFirstToken"], data["messageCompletion"]["content"]) == (
        4,
        120.0,
        "Hello",
    )
    assert cl.ChatGeneration.from_dict(data) == chat
    completion = cl.CompletionGeneration(model="davinci", prompt="2+2=", completion="4")
    assert completion.to_dict()["type"] == "COMPLETION"
    assert cl.ChatGeneration.from_dict(completion.to_dict()) == completion

    step = cl.Step(name="llm", type="llm")
    assert step.generation is None
    step.generation = chat  # as Chainlit's integrations set it


def test_a_chainlit_data_layer_subclasses_base_data_layer() -> None:
    from lightchat.data import BaseDataLayer
    from lightchat.types import PageInfo, PaginatedResponse, Pagination, ThreadFilter

    with pytest.raises(TypeError, match="abstract"):
        BaseDataLayer()  # type: ignore[abstract]

    methods = {name for name in vars(BaseDataLayer) if not name.startswith("_")}
    assert {
        "get_user", "create_user", "delete_feedback", "upsert_feedback", "create_element",
        "get_element", "delete_element", "create_step", "update_step", "delete_step",
        "get_thread_author", "delete_thread", "list_threads", "get_thread", "update_thread",
        "build_debug_url", "close", "get_favorite_steps", "set_step_favorite",
    } <= methods  # fmt: skip
    page: PaginatedResponse[Any] = PaginatedResponse(
        PageInfo(hasNextPage=False, startCursor=None, endCursor=None), []
    )
    assert page.to_dict() == {
        "pageInfo": {"hasNextPage": False, "startCursor": None, "endCursor": None},
        "data": [],
    }
    assert PageInfo.from_dict({"hasNextPage": True}).hasNextPage
    assert Pagination(first=20).cursor is None
    assert ThreadFilter(userId="u1").feedback is None


@pytest.mark.anyio
async def test_set_step_favorite_marks_the_step_and_stores_it() -> None:
    from lightchat.data import BaseDataLayer, get_data_layer, queue_until_user_message

    stored: list[dict[str, Any]] = []

    class Layer(BaseDataLayer):  # only what this test calls is more than a placeholder
        get_user = create_user = delete_feedback = upsert_feedback = None  # type: ignore[assignment]
        create_element = get_element = delete_element = create_step = None  # type: ignore[assignment]
        delete_step = get_thread_author = delete_thread = list_threads = None  # type: ignore[assignment]
        get_thread = update_thread = build_debug_url = close = None  # type: ignore[assignment]
        get_favorite_steps = None  # type: ignore[assignment]

        @queue_until_user_message()
        async def update_step(self, step_dict: Any) -> None:
            stored.append(dict(step_dict))

    marked = await Layer().set_step_favorite({"id": "s1", "metadata": {"a": 1}}, True)
    assert marked["metadata"] == {"a": 1, "favorite": True}
    assert stored == [marked]
    assert get_data_layer() is None  # the package's app has not opened a history here
