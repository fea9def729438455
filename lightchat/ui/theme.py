"""Look and brand: the theme's colours and fonts, the logo, the favicon, avatars, and the
app's own stylesheets and scripts.

Everything here is read once, when the app starts (``Brand.load``): the ``[ui.theme]``
table of ``lightchat.toml``, Chainlit's ``public/theme.json``, the files of ``public/``
that have a meaning (``logo_light.*``, ``logo_dark.*``, ``favicon.*``, ``avatars/*``) and
the ``[ui]`` keys that name files (``custom_css``, ``custom_js``, ``custom_font``,
``logo_file_url``, ``default_avatar_file_url``, ``favicon_file_url``). Rendering a message
then looks an avatar up in a dict: no file system access per message.

Colours and fonts become a generated stylesheet (``/-/theme.css``, served by
``lightchat.http.endpoints.theme``): the Content-Security-Policy allows no inline style. Every value
is checked against a narrow pattern before it is written into that stylesheet, so a value
cannot end its declaration and add rules of its own; a bad value is a ``ConfigError`` naming
the key and the fix.

A URL in the ``[ui]`` keys is either a path of the app (``/public/brand.css``, served under
the app's prefix) or an ``https://`` URL, which the policy then allows for that one resource
(``csp_sources``). Anything else is refused when the app starts.

The theme a browser shows (``light``, ``dark`` or ``system``) is its ``lightchat_theme``
cookie, else ``Settings.default_theme``; ``THEME`` holds it while a request is answered.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lightchat.config.settings import THEMES, Settings
from lightchat.errors import ConfigError

THEME_COOKIE = "lightchat_theme"
"""The cookie holding a browser's chosen theme (``light``, ``dark`` or ``system``)."""

THEME: ContextVar[str] = ContextVar("lightchat_theme", default="")
"""The theme of the browser whose request is being answered ("" outside a request)."""

PUBLIC_DIR = "public"
"""The folder beside the app whose files are served at ``/public/...``."""

IMAGE_SUFFIXES = (".svg", ".png", ".webp", ".jpg", ".jpeg", ".gif", ".avif", ".ico")
"""The image files looked for as logo, favicon and avatars, in this order of preference."""

# [ui.theme.light] / [ui.theme.dark] key -> the CSS variable of lightchat.css it sets.
COLOUR_KEYS: dict[str, str] = {
    "background": "--lc-bg",
    "foreground": "--lc-fg",
    "muted": "--lc-muted",
    "surface": "--lc-surface",
    "border": "--lc-border",
    "primary": "--lc-accent",
    "primary_foreground": "--lc-accent-fg",
    "user_message": "--lc-user-bg",
    "error": "--lc-error",
    "error_background": "--lc-error-bg",
    "success": "--lc-ok",
    "sidebar": "--lc-sidebar",
}
_COLOUR_ALIASES = {"paper": "surface"}  # Chainlit's former [UI.theme.light] names

# Chainlit's theme.json variable (shadcn's names) -> ours.
CHAINLIT_VARIABLES: dict[str, str] = {
    "--background": "--lc-bg",
    "--foreground": "--lc-fg",
    "--card": "--lc-surface",
    "--muted-foreground": "--lc-muted",
    "--border": "--lc-border",
    "--primary": "--lc-accent",
    "--primary-foreground": "--lc-accent-fg",
    "--accent": "--lc-user-bg",
    "--destructive": "--lc-error",
    "--sidebar-background": "--lc-sidebar",
}
_CHAINLIT_OTHER = {
    "--radius": "--lc-radius",
    "--font-sans": "--lc-font",
    "--font-mono": "--lc-mono",
}

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_FUNCTION = re.compile(r"(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\([0-9a-zA-Z.,%/+\s-]{1,80}\)")
_NAMED = re.compile(r"[a-zA-Z]{3,30}")
_TRIPLET = re.compile(r"-?[0-9.]+(?:deg)?\s+[0-9.]+%\s+[0-9.]+%(?:\s*/\s*[0-9.]+%?)?")
_LENGTH = re.compile(r"0|[0-9]{1,3}(?:\.[0-9]{1,3})?(?:px|rem|em|%)")
_FONT = re.compile(r"[A-Za-z0-9 ,'\"._-]{1,200}")
_PATH_CHARS = r"[A-Za-z0-9._~!$&()*+=:@%/-]"
_QUERY = r"(?:\?[A-Za-z0-9._~!$&()*+=:@%/?;,-]*)?"
_APP_PATH = re.compile(rf"/(?!/){_PATH_CHARS}*{_QUERY}")
_HTTPS_URL = re.compile(rf"https://[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?(?:/{_PATH_CHARS}*)?{_QUERY}")


def colour(value: object) -> str | None:
    """``value`` as a CSS colour, or None if it is not one we accept.

    Accepted: ``#rgb``/``#rrggbb`` (with alpha too), a colour function (``rgb(...)``,
    ``hsl(...)``, ``oklch(...)``...), a colour name, or an HSL triplet as Chainlit writes
    them (``"340 92% 52%"``, which becomes ``hsl(340 92% 52%)``).
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _HEX.fullmatch(text) or _FUNCTION.fullmatch(text) or _NAMED.fullmatch(text):
        return text
    if _TRIPLET.fullmatch(text):
        return f"hsl({text})"
    return None


def length(value: object) -> str | None:
    """``value`` as a CSS length (``12px``, ``0.75rem``, ``0``), or None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1000:
        return f"{value}px"
    if isinstance(value, str) and _LENGTH.fullmatch(value.strip()):
        return value.strip()
    return None


def font_family(value: object) -> str | None:
    """``value`` as a CSS font list (``"'Inter', sans-serif"``), or None.

    Only letters, digits, spaces, commas, dots, dashes and balanced quotes: nothing that
    could end the declaration.
    """
    if not isinstance(value, str) or not _FONT.fullmatch(value.strip()):
        return None
    text = value.strip()
    if text.count("'") % 2 or text.count('"') % 2:
        return None
    return text


def author_key(author: str) -> str:
    """The file name (without extension) of an author's avatar, as Chainlit names it:
    lower case, spaces as underscores (``My Assistant`` -> ``my_assistant``)."""
    return "_".join(author.strip().lower().split())


def asset_url(url: str, base: str) -> str:
    """Where the browser loads ``url``: an app path gets the app's prefix, an https URL
    stays as it is."""
    return f"{base}{url}" if url.startswith("/") else url


@dataclass(frozen=True, slots=True)
class Brand:
    """What makes the app look like its owner's, resolved once when the app starts."""

    css: str = ""
    """The generated theme stylesheet ("" when nothing is configured)."""
    version: str = ""
    """A short hash of ``css``, for its URL (``?v=``)."""
    logo_light: str = ""
    logo_dark: str = ""
    favicon: str = ""
    avatars: Mapping[str, str] = field(default_factory=dict)
    """``author_key`` -> the avatar's URL."""
    default_avatar: str = ""
    """The assistant's avatar when its author has none of its own."""
    fonts: tuple[str, ...] = ()
    """Stylesheets that load fonts (``custom_font``, theme.json's ``custom_fonts``)."""
    stylesheets: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()
    public: Path | None = None
    """The ``public/`` folder (resolved), or None when the app has none."""
    login_image: str = ""
    """The image beside the sign-in form (``login_page_image``), if any."""

    @classmethod
    def load(cls, settings: Settings) -> Brand:
        """Read the theme, ``public/`` and the ``[ui]`` file keys; ``ConfigError`` names
        the key and the fix for anything wrong."""
        folder = Path(settings.app_dir, PUBLIC_DIR)
        public = folder.resolve() if folder.is_dir() else None
        files = _images(public)
        theme_json, fonts_json = _read_theme_json(public)
        light, dark, common = _read_theme_table(settings.theme)
        css = _stylesheet(theme_json, {"light": light, "dark": dark}, common)
        css += _ui_rules(settings)
        logo_light = _url_setting("logo_file_url", settings.logo_file_url)
        logo_dark = logo_light
        if not logo_light:
            logo_light = files.get("logo_light") or files.get("logo_dark", "")
            logo_dark = files.get("logo_dark") or logo_light
        avatars: dict[str, str] = {}
        if public is not None and (public / "avatars").is_dir():
            for name, url in _images(public / "avatars", "/avatars").items():
                avatars.setdefault(author_key(name), url)
        default_avatar = _url_setting(
            "default_avatar_file_url", settings.default_avatar_file_url
        ) or avatars.get("default", "")
        custom_font = _url_setting("custom_font", settings.custom_font)
        return cls(
            css=css,
            version=hashlib.sha256(css.encode()).hexdigest()[:12] if css else "",
            logo_light=logo_light,
            logo_dark=logo_dark,
            favicon=_url_setting("favicon_file_url", settings.favicon_file_url)
            or files.get("favicon", ""),
            avatars=avatars,
            default_avatar=default_avatar,
            fonts=tuple(u for u in (custom_font, *fonts_json) if u),
            stylesheets=tuple(u for u in [_url_setting("custom_css", settings.custom_css)] if u),
            scripts=tuple(u for u in [_url_setting("custom_js", settings.custom_js)] if u),
            public=public,
            login_image=_url_setting("login_page_image", settings.login_page_image),
        )

    def avatar(self, author: str, kind: str = "assistant_message") -> str:
        """The avatar URL for a message of ``author`` ("" for none): the author's own file,
        else, for the assistant's messages, the default avatar."""
        found = self.avatars.get(author_key(author), "")
        if not found and kind == "assistant_message":
            found = self.default_avatar
        return found

    def csp_sources(self) -> dict[str, tuple[str, ...]]:
        """What the Content-Security-Policy must allow besides ``'self'``: each https
        stylesheet and script by its URL (without the query, which sources cannot hold);
        fonts from any https host once an https stylesheet may load them."""
        styles = [u for u in (*self.fonts, *self.stylesheets) if u.startswith("https://")]
        scripts = [u for u in self.scripts if u.startswith("https://")]
        sources: dict[str, tuple[str, ...]] = {}
        if styles:
            sources["style-src"] = tuple(_source(u) for u in styles)
            sources["font-src"] = ("https:",)
        if scripts:
            sources["script-src"] = tuple(_source(u) for u in scripts)
        return sources


def _source(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0]


def _url_setting(key: str, value: str) -> str:
    """A ``[ui]`` URL key, checked: an app path or an https URL ("" when unset)."""
    text = value.strip()
    if not text:
        return ""
    if _APP_PATH.fullmatch(text) or _HTTPS_URL.fullmatch(text):
        return text
    raise ConfigError(
        f"ui.{key} (LIGHTCHAT_{key.upper()}) = {value!r} is not a path of the app or an "
        f'https URL; write e.g. {key} = "/public/{_EXAMPLES.get(key, "file")}" for a file '
        "in the public/ folder, or a full https:// address (quotes, spaces and '<>' are "
        "not allowed)."
    )


_EXAMPLES = {
    "custom_css": "brand.css",
    "custom_js": "brand.js",
    "custom_font": "fonts.css",
    "logo_file_url": "logo.svg",
    "default_avatar_file_url": "avatar.svg",
    "favicon_file_url": "favicon.svg",
    "login_page_image": "login.jpg",
}


def _images(folder: Path | None, prefix: str = "") -> dict[str, str]:
    """The images of a folder of ``public/`` by file stem, best suffix first."""
    if folder is None or not folder.is_dir():
        return {}
    found: dict[str, tuple[int, str]] = {}
    for path in folder.iterdir():
        suffix = path.suffix.lower()
        if suffix not in IMAGE_SUFFIXES or path.name.startswith(".") or not path.is_file():
            continue
        rank = IMAGE_SUFFIXES.index(suffix)
        if path.stem not in found or rank < found[path.stem][0]:
            url = f"/{PUBLIC_DIR}{prefix}/{quote(path.name)}"
            found[path.stem] = (rank, url)
    return {stem: url for stem, (_, url) in found.items()}


# -- [ui.theme] -----------------------------------------------------------------------------

_THEME_KEYS = ("font_family", "font_mono", "radius", "light", "dark")
_CHAINLIT_THEME_KEYS = ("default", "layout")  # Chainlit's former [UI.theme] keys, ignored


def _read_theme_table(
    table: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """``[ui.theme]`` checked: the light colours, the dark colours, and the variables both
    share (fonts, radius)."""
    common: dict[str, str] = {}
    for key, value in table.items():
        where = f"ui.theme.{key}"
        if key in _CHAINLIT_THEME_KEYS:
            continue
        if key not in _THEME_KEYS:
            raise ConfigError(
                f"lightchat.toml: unknown key {where!r}; the keys of [ui.theme] are: "
                f"{', '.join(_THEME_KEYS)}. Fix its name or remove it."
            )
        if key in ("font_family", "font_mono"):
            checked = font_family(value)
            if checked is None:
                raise ConfigError(
                    f"lightchat.toml: {where} = {json.dumps(value)}: expected a list of font "
                    f"names, e.g. {key} = \"'Inter', sans-serif\" (letters, digits, spaces, "
                    "commas, dashes and quotes only)."
                )
            common["--lc-font" if key == "font_family" else "--lc-mono"] = checked
        elif key == "radius":
            size = length(value)
            if size is None:
                raise ConfigError(
                    f"lightchat.toml: {where} = {json.dumps(value)}: expected a length, "
                    'e.g. radius = "8px" or radius = "0.75rem".'
                )
            common["--lc-radius"] = size
    return (
        _read_colours(table.get("light"), "light"),
        _read_colours(table.get("dark"), "dark"),
        common,
    )


def _read_colours(table: object, scheme: str) -> dict[str, str]:
    if table is None:
        return {}
    where = f"ui.theme.{scheme}"
    if not isinstance(table, dict):
        raise ConfigError(
            f"lightchat.toml: {where} must be a table; write [{where}] with colour keys below "
            'it, e.g. background = "#ffffff".'
        )
    found: dict[str, str] = {}
    for raw_key, value in table.items():
        key = _COLOUR_ALIASES.get(raw_key, raw_key)
        if key == "primary" and isinstance(value, dict) and "main" in value:
            value = value["main"]  # Chainlit's former [UI.theme.light.primary] main = ...
        if key not in COLOUR_KEYS:
            raise ConfigError(
                f"lightchat.toml: unknown key '{where}.{raw_key}'; the colours of [{where}] "
                f"are: {', '.join(COLOUR_KEYS)}. Fix its name or remove it."
            )
        checked = colour(value)
        if checked is None:
            raise ConfigError(
                f"lightchat.toml: {where}.{raw_key} = {json.dumps(value)}: expected a colour, "
                f'e.g. {raw_key} = "#2f6fed", "rgb(47 111 237)" or "220 84% 56%".'
            )
        found[COLOUR_KEYS[key]] = checked
    return found


# -- public/theme.json (Chainlit) -----------------------------------------------------------


def _read_theme_json(public: Path | None) -> tuple[dict[str, dict[str, str]], tuple[str, ...]]:
    """Chainlit's ``public/theme.json``: our variables for ``light`` and ``dark``, and the
    font stylesheets of ``custom_fonts``. Variables lightchat has no use for are skipped."""
    if public is None or not (public / "theme.json").is_file():
        return {}, ()
    path = public / "theme.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read as JSON ({exc}); fix it or remove it.") from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected an object {{"variables": {{"light": ...}}}}.')
    fonts = data.get("custom_fonts", [])
    if not isinstance(fonts, list) or not all(isinstance(f, str) for f in fonts):
        raise ConfigError(
            f'{path}: custom_fonts must be a list of stylesheet URLs, e.g. "custom_fonts": '
            '["https://fonts.googleapis.com/css2?family=Inter"].'
        )
    checked_fonts = tuple(_url_setting("custom_font", f) for f in fonts if f.strip())
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ConfigError(f'{path}: variables must be an object {{"light": ..., "dark": ...}}.')
    themes: dict[str, dict[str, str]] = {}
    for scheme in ("light", "dark"):
        given = variables.get(scheme, {})
        if not isinstance(given, dict):
            raise ConfigError(f"{path}: variables.{scheme} must be an object of CSS variables.")
        ours: dict[str, str] = {}
        for name, value in given.items():
            where = f"{path}: variables.{scheme}.{name} = {json.dumps(value)}"
            if name in CHAINLIT_VARIABLES:
                checked = colour(value)
                if checked is None:
                    raise ConfigError(f'{where}: expected an HSL triplet, e.g. "340 92% 52%".')
                ours[CHAINLIT_VARIABLES[name]] = checked
            elif name == "--radius":
                size = length(value)
                if size is None:
                    raise ConfigError(f'{where}: expected a length, e.g. "0.75rem".')
                ours[_CHAINLIT_OTHER[name]] = size
            elif name in _CHAINLIT_OTHER:
                family = font_family(value)
                if family is None:
                    raise ConfigError(
                        f"{where}: expected font names, e.g. \"'Inter', sans-serif\"."
                    )
                ours[_CHAINLIT_OTHER[name]] = family
        themes[scheme] = ours
    return themes, checked_fonts


# -- the stylesheet --------------------------------------------------------------------------

_DARK = ':root[data-theme="dark"]'
_SYSTEM_DARK = ':root:not([data-theme="light"])'


def _stylesheet(
    chainlit: Mapping[str, Mapping[str, str]],
    config: Mapping[str, Mapping[str, str]],
    common: Mapping[str, str],
) -> str:
    """The theme stylesheet: theme.json's values, then ``[ui.theme]``'s (which win).

    Light values go on ``:root``; dark ones where lightchat.css puts its dark colours (the
    dark theme, and the system theme of a browser that prefers dark), with the same
    selectors, so that this later file wins over lightchat.css and over nothing else.
    """
    light = {**chainlit.get("light", {}), **config.get("light", {}), **common}
    dark = {**chainlit.get("dark", {}), **config.get("dark", {})}
    # Fonts and radius from theme.json's dark set alone still apply to the dark theme;
    # [ui.theme]'s are the same in both.
    dark.update({k: v for k, v in common.items()})
    if not light and not dark:
        return ""
    lines = ["/* Generated from lightchat.toml [ui.theme] and public/theme.json. */"]
    if light:
        lines.append(_rule(":root", light))
    if dark:
        lines.append(_rule(_DARK, dark))
        lines.append(f"@media (prefers-color-scheme: dark) {{\n{_rule(_SYSTEM_DARK, dark)}\n}}")
    return "\n".join(lines) + "\n"


def _rule(selector: str, values: Mapping[str, str]) -> str:
    body = "\n".join(f"  {name}: {value};" for name, value in values.items())
    return f"{selector} {{\n{body}\n}}"


DEFAULT_AVATAR_PX = 24
"""The avatars' size in lightchat.css (``ui.avatar_size`` changes it)."""


def _ui_rules(settings: Settings) -> str:
    """The rules the ``[ui]`` keys add to the theme stylesheet: the avatars' size, and the
    filters on the sign-in page's image (light, then dark where lightchat.css puts its
    dark colours)."""
    rules: list[str] = []
    if settings.avatar_size != DEFAULT_AVATAR_PX:
        size = f"{settings.avatar_size}px"
        rules.append(_rule(".lc-avatar", {"width": size, "height": size}))
    if settings.login_page_image:
        light = tailwind_filter("login_page_image_filter", settings.login_page_image_filter)
        dark = tailwind_filter(
            "login_page_image_dark_filter", settings.login_page_image_dark_filter
        )
        rules.append(_rule(".lc-login-image", {"filter": light or "none"}))
        dark_rule = _rule(f"{_DARK} .lc-login-image", {"filter": dark or "none"})
        system = _rule(f"{_SYSTEM_DARK} .lc-login-image", {"filter": dark or "none"})
        rules += [dark_rule, f"@media (prefers-color-scheme: dark) {{\n{system}\n}}"]
    return "\n".join(rules) + "\n" if rules else ""


_BLUR = {"none": "0", "sm": "4px", "": "8px", "md": "12px", "lg": "16px", "xl": "24px"}
_BLUR |= {"2xl": "40px", "3xl": "64px"}
_FILTER_CLASS = re.compile(
    r"(?P<neg>-)?(?P<name>brightness|contrast|saturate|grayscale|invert|sepia|blur|hue-rotate)"
    r"(?:-(?:(?P<step>[0-9]{1,3}|none|sm|md|lg|x?l|2xl|3xl)|\[(?P<value>[0-9]{1,3}(?:\.[0-9]{1,3})?"
    r"(?:px|deg|%)?)\]))?"
)


def tailwind_filter(key: str, classes: str) -> str:
    """Tailwind's filter classes (``brightness-50 grayscale blur-sm``, ``brightness-[0.2]``)
    as a CSS ``filter`` value; "" for none.

    Only these classes, each with Tailwind's steps or a bracketed number: anything else is
    a ``ConfigError`` naming the key and the fix (the value goes into a stylesheet).
    """
    parts: list[str] = []
    for word in classes.split():
        found = _FILTER_CLASS.fullmatch(word)
        css = _filter_css(found) if found else None
        if css is None:
            raise ConfigError(
                f"ui.{key} (LIGHTCHAT_{key.upper()}): {word!r} is not a filter class lightchat "
                "knows; use brightness-N, contrast-N, saturate-N, hue-rotate-N, grayscale, "
                "invert, sepia, blur(-sm, -md...), or a bracketed value (brightness-[0.2])."
            )
        parts.append(css)
    return " ".join(parts)


def _filter_css(found: re.Match[str]) -> str | None:
    """One filter class (matched by ``_FILTER_CLASS``) as CSS; None if its step or value
    does not fit that filter."""
    name, step, value, negative = found["name"], found["step"], found["value"], found["neg"]
    if name == "blur":
        if negative or (value or "").endswith(("deg", "%")):
            return None
        if value is not None:
            return f"blur({value.removesuffix('px')}px)"
        return f"blur({_BLUR[step or '']})" if (step or "") in _BLUR else None
    if step is not None and not step.isdigit():
        return None  # a size word (sm, lg...) is for blur only
    if name == "hue-rotate":
        degrees = value.removesuffix("deg") if value else step
        if degrees is None or degrees.endswith(("px", "%")):
            return None
        return f"hue-rotate({'-' if negative else ''}{degrees}deg)"
    if negative or (value or "").endswith(("px", "deg")):
        return None
    if value is not None:
        return f"{name}({value})"
    if name in ("grayscale", "invert", "sepia"):
        return {None: f"{name}(100%)", "0": f"{name}(0)"}.get(step)
    return None if step is None else f"{name}({int(step) / 100:g})"


def chosen_theme(cookie: str | None, default: str) -> str:
    """The theme a browser shows: its cookie's when it is one of ``THEMES``, else
    ``default``."""
    return cookie if cookie in THEMES else default
