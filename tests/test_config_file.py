"""lightchat.toml: the settings file beside the app, between the defaults and the variables.

Every key's mapping, the precedence (file < LIGHTCHAT_* < flags and configure()), and the
errors: each names the file, the dotted key and the fix.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lightchat import LightChat, Settings
from lightchat.config.settings import CONFIG_FILE
from lightchat.config.toml import read_config_file, starter_config
from lightchat.errors import ConfigError


@pytest.fixture(autouse=True)
def no_lightchat_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LIGHTCHAT_") or name == "CHAINLIT_URL":
            monkeypatch.delenv(name)


def write_toml(folder: Path, text: str) -> Path:
    path = folder / CONFIG_FILE
    path.write_text(textwrap.dedent(text))
    return path


def load(folder: Path, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    return Settings.from_env(environ or {}, config_file=True, app_dir=str(folder), **overrides)


# -- mapping ------------------------------------------------------------------------------


def test_without_a_file_the_defaults_apply(tmp_path: Path) -> None:
    assert read_config_file(tmp_path) == {}
    assert load(tmp_path) == Settings(app_dir=str(tmp_path))


MAPPINGS = [
    ("[project]\nsession_timeout = 60", "session_idle_timeout_s", 60),
    ("[project]\nuser_session_timeout = 86400", "session_max_age_s", 86400),
    (
        '[project]\nallow_origins = ["https://a.example", "https://b.example:8443"]',
        "allow_origins",
        "https://a.example,https://b.example:8443",
    ),
    ('[project]\nallow_origins = "https://a.example"', "allow_origins", "https://a.example"),
    (
        '[project]\nuser_env = ["OPENAI_API_KEY", "OTHER_KEY"]',
        "user_env",
        "OPENAI_API_KEY,OTHER_KEY",
    ),
    ("[features]\nhistory = false", "history", False),
    ("[features]\nfeedback = false", "feedback", False),
    ("[features]\nedit_message = false", "edit", False),
    ("[features]\nlatex = true", "latex", True),
    ("[features]\nuploads = false", "uploads", False),
    ('[features]\nupload_accept = ["image/*", ".pdf"]', "upload_accept", "image/*,.pdf"),
    ("[features]\nupload_max_files = 3", "upload_max_files", 3),
    ("[features]\nupload_max_size_mb = 5", "upload_max_size_mb", 5),
    ("[features.spontaneous_file_upload]\nenabled = false", "uploads", False),
    (
        '[features.spontaneous_file_upload]\naccept = ["image/*", ".pdf"]',
        "upload_accept",
        "image/*,.pdf",
    ),
    ("[features.spontaneous_file_upload]\nmax_files = 3", "upload_max_files", 3),
    ("[features.spontaneous_file_upload]\nmax_size_mb = 5", "upload_max_size_mb", 5),
    ('[ui]\nname = "Bot from file"', "name", "Bot from file"),
    ('[ui]\ncot = "hidden"', "cot", "hidden"),
    ("[ui]\ndefault_collapse_content = false", "collapse_content", False),
    ('[ui]\nlayout = "wide"', "layout", "wide"),
    ('[ui]\ndefault_theme = "dark"', "default_theme", "dark"),
    ('[UI]\nname = "Chainlit spelling"', "name", "Chainlit spelling"),
    (
        '[ui.theme]\nfont_family = "Inter"\n[ui.theme.light.primary]\nmain = "#F80061"',
        "theme",
        {"font_family": "Inter", "light": {"primary": {"main": "#F80061"}}},
    ),
]


@pytest.mark.parametrize(("text", "field", "value"), MAPPINGS)
def test_each_key_sets_its_setting(tmp_path: Path, text: str, field: str, value: Any) -> None:
    write_toml(tmp_path, text)
    settings = load(tmp_path)
    assert getattr(settings, field) == value
    # Nothing else changed.
    assert settings == Settings(app_dir=str(tmp_path), **{field: value})


def test_unsafe_allow_html_false_is_accepted(tmp_path: Path) -> None:
    write_toml(tmp_path, "[features]\nunsafe_allow_html = false\n")
    assert load(tmp_path) == Settings(app_dir=str(tmp_path))


# -- precedence ---------------------------------------------------------------------------


def test_variables_override_the_file_and_keywords_override_both(tmp_path: Path) -> None:
    write_toml(tmp_path, '[ui]\nname = "From file"\ncot = "hidden"\nlayout = "wide"\n')
    env = {"LIGHTCHAT_NAME": "From env", "LIGHTCHAT_COT": "tool_call"}
    settings = load(tmp_path, env, cot="full")
    assert settings.layout == "wide"  # the file only
    assert settings.name == "From env"  # the variable over the file
    assert settings.cot == "full"  # the keyword over both


def test_the_app_reads_its_folders_file_when_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_toml(tmp_path, '[ui]\nname = "From file"\ncot = "hidden"\nlayout = "wide"\n')
    app = LightChat()
    app.configure(app_dir=str(tmp_path))
    assert app.settings.name == "From file"
    monkeypatch.setenv("LIGHTCHAT_NAME", "From env")
    monkeypatch.setenv("LIGHTCHAT_COT", "tool_call")
    app = LightChat()
    app.configure(app_dir=str(tmp_path), cot="full")
    assert (app.settings.layout, app.settings.name, app.settings.cot) == (
        "wide",
        "From env",
        "full",
    )
    # configure() after a first read reads the file of the new folder.
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    write_toml(elsewhere, '[ui]\nlayout = "default"\n')
    app.configure(app_dir=str(elsewhere))
    assert (app.settings.layout, app.settings.cot) == ("default", "full")


def test_explicit_settings_use_neither_the_file_nor_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_toml(tmp_path, '[ui]\nname = "From file"\n')
    monkeypatch.setenv("LIGHTCHAT_COT", "hidden")
    app = LightChat(settings=Settings(name="Explicit", app_dir=str(tmp_path)))
    assert (app.settings.name, app.settings.cot) == ("Explicit", "full")


def test_configure_refuses_a_name_that_is_no_setting() -> None:
    with pytest.raises(TypeError):
        LightChat().configure(colour="blue")


# -- errors -------------------------------------------------------------------------------


def error_of(folder: Path, text: str) -> str:
    path = write_toml(folder, text)
    with pytest.raises(ConfigError) as caught:
        load(folder)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[features.spontaneous_file_upload]\nmax_file = 3",
            [
                "unknown key 'features.spontaneous_file_upload.max_file'",
                "did you mean 'max_files'?",
                "Fix its name or remove it",
            ],
        ),
        ('name = "Bot"', ["unknown key 'name'", "it belongs in [ui]: ui.name"]),
        (
            "[project]\ntransports = ['polling']",
            ["unknown key 'project.transports'", "The keys of [project] are"],
        ),
        ("[meta]\ngenerated_by = '2.0'", ["unknown key 'meta'", "project, features, ui"]),
        ("project = 3", ["project must be a table", "write [project]"]),
    ],
)
def test_an_unknown_key_is_named_with_the_fix(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    message = error_of(tmp_path, text)
    for part in expected:
        assert part in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[features.spontaneous_file_upload]\nmax_files = "ten"',
            'features.spontaneous_file_upload.max_files = "ten": expected a whole number, '
            "e.g. max_files = 10",
        ),
        (
            "[features.spontaneous_file_upload]\nmax_files = 0",
            "expected a whole number above 0",
        ),
        ("[project]\nsession_timeout = 1.5", "project.session_timeout = 1.5: expected a whole"),
        ("[features]\nhistory = 1", "features.history = 1: expected true or false"),
        ('[ui]\ndefault_theme = "blue"', "ui.default_theme"),
        ('[ui]\ndefault_theme = "blue"', "expected one of light, dark, system"),
        ('[ui]\nlayout = "narrow"', "expected one of default, wide"),
        ('[ui]\ncot = "some"', "expected one of full, tool_call, hidden"),
        ("[ui]\nname = 3", "ui.name = 3: expected a string in quotes"),
        ("[project]\nuser_env = [1, 2]", "project.user_env = [1, 2]: expected a list of strings"),
        ('[project]\nallow_origins = ["*"]', "project.allow_origins: '*' would let every site"),
        ('[project]\nallow_origins = ["portal"]', "'portal' is not an origin"),
        ("[features]\nunsafe_allow_html = true", "features.unsafe_allow_html = true is refused"),
        (
            "[features]\nuploads = false\n[features.spontaneous_file_upload]\nenabled = true",
            "features.uploads and features.spontaneous_file_upload.enabled set the same thing",
        ),
        ("[ui]\nname = 'a'\n[UI]\nname = 'b'", "both [ui] and [UI] are set"),
        ('[ui]\ntheme = "dark"', "ui.theme must be a table"),
    ],
)
def test_a_bad_value_is_named_with_the_fix(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_of(tmp_path, text)


def test_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[ui]\nname = "Bot"\ncot = \n')
    assert f"{tmp_path / CONFIG_FILE}, line 3:" in message
    assert "Fix the TOML syntax" in message
    message = error_of(tmp_path, '[ui]\nname = "Bot')
    assert ", line 2:" in message


def test_the_file_unreadable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_bytes(b"[ui]\nname = '\xff'\n")
    with pytest.raises(ConfigError, match="cannot be read"):
        load(tmp_path)


def test_a_new_setting_from_a_variable_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"LIGHTCHAT_DEFAULT_THEME='blue'.*light, dark, system"):
        Settings.from_env({"LIGHTCHAT_DEFAULT_THEME": "blue"})
    with pytest.raises(ConfigError, match="LIGHTCHAT_LAYOUT"):
        Settings.from_env({"LIGHTCHAT_LAYOUT": "narrow"})
    assert Settings.from_env({"LIGHTCHAT_LATEX": "true"}).latex is True


# -- the starter file ---------------------------------------------------------------------


def test_the_starter_file_has_every_key_at_its_default(tmp_path: Path) -> None:
    text = starter_config()
    write_toml(tmp_path, text)
    assert load(tmp_path) == Settings(app_dir=str(tmp_path))
    for line in ["[project]", "[features]", "[features.spontaneous_file_upload]", "[ui]"]:
        assert line + "\n" in text
    assert "[ui.theme]" in text
    keys = [
        "session_timeout",
        "user_session_timeout",
        "allow_origins",
        "user_env",
        "history",
        "feedback",
        "edit_message",
        "latex",
        "unsafe_allow_html",
        "enabled",
        "accept",
        "max_files",
        "max_size_mb",
        "name",
        "cot",
        "default_collapse_content",
        "layout",
        "default_theme",
    ]
    lines = text.splitlines()
    for key in keys:
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{key} = "))
        assert lines[at - 1].startswith("# "), key  # a one-line comment above each key
    for alias in ["uploads", "upload_accept", "upload_max_files", "upload_max_size_mb"]:
        assert f"# {alias} = " in text


# -- import reads and writes nothing -----------------------------------------------------------


def test_importing_lightchat_reads_no_toml_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("[ui\nbroken = \n")
    before = sorted(tmp_path.rglob("*"))
    script = textwrap.dedent(
        """
        import sys
        opened = []
        def hook(event, args):
            if event == "open" and str(args[0]).endswith(".toml"):
                opened.append(str(args[0]))
        sys.addaudithook(hook)
        import lightchat
        import lightchat.cli
        app = lightchat.LightChat()
        print(opened)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if not k.startswith("LIGHTCHAT_")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert sorted(tmp_path.rglob("*")) == before
