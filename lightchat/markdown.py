"""Markdown to safe HTML: markdown-it-py with raw HTML off, Pygments for code.

Model output is untrusted. The ``js-default`` preset escapes raw HTML; links are limited
to http(s), mailto and relative URLs, and images to http(s) and relative ones; code blocks
are highlighted by Pygments, which escapes their text. With ``images=False`` (the app's
``Settings.markdown_images``), an image is a link to its URL, so text cannot make the
browser load anything by itself (an image URL can carry data to its server).

Streaming support: ``split_settled`` finds where the last top-level block of a partial text
begins. Everything before it is final (a later token cannot change how it renders), so a
stream renders it once and re-renders only the tail.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_SAFE_URL = re.compile(r"^(https?:|mailto:|[^:/?#]*(?:[/?#]|$))", re.IGNORECASE)
_IMAGE_URL = re.compile(r"^(https?:|[^:/?#]*(?:[/?#]|$))", re.IGNORECASE)
_IMAGES = "lightchat.images"  # the env key saying whether images show
_FORMATTER = HtmlFormatter(nowrap=True)


@lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer | None:
    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def highlight_code(code: str, language: str | None) -> str:
    """A ``<pre>`` block of ``code``, highlighted when the language is known."""
    lang = (language or "").strip().split(maxsplit=1)[0] if language else ""
    lexer = _lexer(lang.lower()) if lang else None
    body = pygments_highlight(code, lexer, _FORMATTER) if lexer else html.escape(code)
    label = f' data-language="{html.escape(lang)}"' if lang else ""
    css_class = f' class="language-{html.escape(lang)}"' if lang else ""
    return f'<pre class="lc-code highlight"{label}><code{css_class}>{body}</code></pre>\n'


def _validate_link(url: str) -> bool:
    return bool(_SAFE_URL.match(url.strip()))


def _link_open(
    renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    tokens[idx].attrSet("target", "_blank")
    return renderer.renderToken(tokens, idx, options, env)


def _image(
    renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    if env.get(_IMAGES, True) and _IMAGE_URL.match(src.strip()):
        return RendererHTML.image(renderer, tokens, idx, options, env)
    text = renderer.renderInlineAsText(token.children or [], options, env) or src
    return (
        f'<a href="{html.escape(src, quote=True)}" rel="noopener noreferrer nofollow" '
        f'target="_blank">{html.escape(text)}</a>'
    )


def _fence(
    renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    return highlight_code(token.content, token.info)


def _code_block(
    renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return highlight_code(tokens[idx].content, None)


def _make_parser() -> MarkdownIt:
    md = MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})
    md.validateLink = _validate_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _code_block)
    return md


_md = _make_parser()


def render_markdown(text: str, *, images: bool = True) -> str:
    """Render untrusted markdown to HTML that is safe to insert into the page.

    ``images=False`` makes each image a link to its URL.
    """
    if not text:
        return ""
    return str(_md.render(text, {_IMAGES: images}))


def split_settled(text: str) -> int:
    """The offset where the last top-level block of ``text`` starts (0 if there is one).

    Only a line that starts a new top-level block ends the one before it, so the blocks
    before the last are final while more text streams in.
    """
    starts = [
        token.map[0]
        for token in _md.parse(text)
        if token.level == 0 and token.nesting >= 0 and token.map is not None
    ]
    if len(starts) < 2:
        return 0
    line = starts[-1]
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    return offset


def pygments_css(style: str = "default", scope: str = ".highlight") -> str:
    """The stylesheet for highlighted code, for a Pygments style."""
    formatter: Any = HtmlFormatter(style=style)  # get_style_defs is untyped in the stubs
    return str(formatter.get_style_defs(scope))


def render_split(text: str, *, images: bool = True) -> tuple[int, str, str]:
    """Render a partial text as (settled length, settled HTML, tail HTML) in one parse.

    ``text[:settled]`` holds the finished top-level blocks; the tail is the last block,
    which later tokens may still change. ``images`` as for ``render_markdown``.
    """
    if not text:
        return 0, "", ""
    env: EnvType = {_IMAGES: images}
    tokens = _md.parse(text, env)
    starts = [
        index
        for index, token in enumerate(tokens)
        if token.level == 0 and token.nesting >= 0 and token.map is not None
    ]
    if len(starts) < 2:
        return 0, "", _md.renderer.render(tokens, _md.options, env)
    cut = starts[-1]
    block_map = tokens[cut].map
    line = block_map[0] if block_map is not None else 0
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    settled = _md.renderer.render(tokens[:cut], _md.options, env)
    tail = _md.renderer.render(tokens[cut:], _md.options, env)
    return offset, settled, tail
