"""Each setting is declared once, in ``lightchat.config.settings``: the README's table of
settings, ``lightchat.toml``'s keys and ``lightchat init``'s starter file are made from it."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

from lightchat.config.settings import Doc, Settings, settings_table
from lightchat.config.toml import starter_config

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- settings table: made from lightchat/config/settings.py"
END = "<!-- end of the settings table -->"


def test_the_readme_table_is_the_one_the_settings_make() -> None:
    text = README.read_text(encoding="utf-8")
    table = text.split(START, 1)[1].split("\n", 1)[1].split(END, 1)[0]
    assert table == settings_table(), (
        "The README's table of settings differs from the settings' own descriptions; "
        "replace it with:\n" + settings_table()
    )


def test_every_setting_is_described_once() -> None:
    for setting in fields(Settings):
        doc = setting.metadata.get("doc")
        assert isinstance(doc, Doc), setting.name
        assert doc.text.endswith((".", ")")), setting.name
        assert "|" not in doc.text, setting.name  # it goes into a Markdown table


def test_the_starter_file_sets_every_key_to_its_default() -> None:
    data = tomllib.loads(starter_config())
    defaults = Settings()
    for setting in fields(Settings):
        doc = setting.metadata["doc"]
        for dotted in doc.toml[:1]:  # the other names are left commented out
            *tables, key = dotted.split(".")
            table = data
            for name in tables:
                table = table[name]
            value = table[key]
            expected = getattr(defaults, setting.name)
            if isinstance(value, list):
                value = ",".join(value)
            assert value == expected, dotted
