"""Markdown to safe HTML: markdown-it-py with raw HTML off, Pygments for code.

Model output is untrusted. The ``js-default`` preset escapes raw HTML; links are limited
to http(s), mailto and relative URLs, and images to http(s) and relative ones; code blocks
are highlighted by Pygments, which escapes their text, under a line naming their language
with a "Copy code" button. With ``images=False`` (the app's ``Settings.markdown_images``),
an image is a link to its URL, so text cannot make the browser load anything by itself
(an image URL can carry data to its server).

With ``math=True`` (the app's ``Settings.latex``), ``$...$`` (inline) and ``$$...$$``
(display) hold LaTeX, converted on the server to MathML, which browsers draw themselves. A
dollar next to a digit or a space does not open or close math, so prices ("$5 and $6")
stay text. The converter passes some of its input through (``\\href`` becomes an ``href``
attribute, ``\\style`` a ``style``, ``\text{<img ...>}`` raw markup), so its output is parsed
and rebuilt from an allow-list of MathML elements and plain-valued attributes; output that
does not parse, or math that is too long, is shown as its escaped source instead.

Streaming support: ``split_settled`` finds where the last top-level block of a partial text
begins. Everything before it is final (a later token cannot change how it renders), so a
stream renders it once and re-renders only the tail. ``is_plain_paragraph`` tells when a
tail's HTML is its text as it is, which a stream need not send again.
"""

from __future__ import annotations

import html
import re
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Imported when first used, not with the package: markdown-it with the first text
    # rendered, Pygments with the first code block, latex2mathml with the first formula
    # (together about 25 MB and a tenth of a second that a server's start need not pay).
    import xml.etree.ElementTree as ElementTree

    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict
    from pygments.formatters import HtmlFormatter
    from pygments.lexer import Lexer

_SAFE_URL = re.compile(r"^(https?:|mailto:|[^:/?#]*(?:[/?#]|$))", re.IGNORECASE)
_IMAGE_URL = re.compile(r"^(https?:|[^:/?#]*(?:[/?#]|$))", re.IGNORECASE)
_IMAGES = "lightchat.images"  # the env key saying whether images show


@cache
def _formatter() -> HtmlFormatter[str]:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)


@lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer | None:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def highlight_code(code: str, language: str | None, *, header: bool = False) -> str:
    """A ``<pre>`` block of ``code``, highlighted when the language is known.

    With ``header`` (a code block of a message), a line above it names the language and
    holds a "Copy code" button (see ``code_header``).
    """
    lang = (language or "").strip().split(maxsplit=1)[0] if language else ""
    lexer = _lexer(lang.lower()) if lang else None
    if lexer is not None:
        from pygments import highlight as pygments_highlight

        body = pygments_highlight(code, lexer, _formatter())
    else:
        body = html.escape(code)
    label = f' data-language="{html.escape(lang)}"' if lang else ""
    css_class = f' class="language-{html.escape(lang)}"' if lang else ""
    pre = f'<pre class="lc-code highlight"{label}><code{css_class}>{body}</code></pre>'
    if not header:
        return pre + "\n"
    return f'<div class="lc-code-block">{code_header(lang)}{pre}</div>\n'


COPY_CODE = "Copy code"
"""The copy button's name; lightchat.js puts it in the page's language (``js.copy_code``)."""


@lru_cache(maxsize=64)
def code_header(language: str) -> str:
    """The line above a code block: its language (from the fence's info, as written) and a
    "Copy code" button. The button needs lightchat.js, so it comes hidden for the script
    to show (text does not say which language a page is in: the script names it too)."""
    from lightchat.ui.icons import lucide_svg

    icons = lucide_svg("copy", "lc-tool-icon lc-copy-icon") + lucide_svg(
        "check", "lc-tool-icon lc-copied-icon"
    )
    return (
        f'<div class="lc-code-head"><span class="lc-code-lang">{html.escape(language)}</span>'
        f'<button type="button" class="lc-tool lc-code-copy" title="{COPY_CODE}" '
        f'aria-label="{COPY_CODE}" data-lc-needs-js hidden>{icons}</button></div>'
    )


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
        from markdown_it.renderer import RendererHTML

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
    return highlight_code(token.content, token.info, header=True)


def _code_block(
    renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return highlight_code(tokens[idx].content, None, header=True)


MAX_MATH_CHARS = 4000
"""Longer math is shown as its source (converting it costs time on every re-render)."""

_MATH_ELEMENT_NAMES = (
    "math mrow mi mn mo ms mtext mspace msup msub msubsup mfrac msqrt mroot mstyle mpadded "
    "mphantom munder mover munderover mtable mtr mtd menclose merror mmultiscripts "
    "mprescripts none semantics"
)
_MATH_ELEMENTS = frozenset(_MATH_ELEMENT_NAMES.split())
_MATH_ATTRIBUTE_NAMES = (
    "display mathvariant stretchy fence separator lspace rspace minsize maxsize symmetric "
    "largeop movablelimits accent accentunder form linethickness width height depth "
    "columnalign rowalign columnspacing rowspacing columnlines rowlines frame framespacing "
    "displaystyle scriptlevel notation mathsize mathcolor mathbackground columnspan "
    "rowspan voffset"
)
_MATH_ATTRIBUTES = frozenset(_MATH_ATTRIBUTE_NAMES.split())
# Lengths, colours, keywords: no colon, parenthesis or quote (no URL, no CSS function).
_MATH_VALUE = re.compile(r"[#%\w .,+-]{0,64}")
_MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"


def _math_source(source: str, display: bool) -> str:
    marks = "$$" if display else "$"
    return f'<code class="lc-math-source">{html.escape(marks + source + marks)}</code>'


def _rebuild(node: ElementTree.Element) -> str:
    """A parsed MathML element as HTML, keeping only allowed elements and attributes
    (an element that is not allowed is dropped, its content kept); all text escaped."""
    tag = node.tag
    name = tag[len(_MATHML_NS) :] if isinstance(tag, str) and tag.startswith(_MATHML_NS) else ""
    inner = html.escape(node.text or "", quote=False)
    inner += "".join(_rebuild(child) for child in node)
    if name in _MATH_ELEMENTS:
        attrs = "".join(
            f' {key}="{html.escape(value, quote=True)}"'
            for key, value in sorted(node.attrib.items())
            if key in _MATH_ATTRIBUTES and _MATH_VALUE.fullmatch(value)
        )
        inner = f"<{name}{attrs}>{inner}</{name}>"
    return inner + html.escape(node.tail or "", quote=False)


@lru_cache(maxsize=512)
def render_math(source: str, display: bool = False) -> str:
    """LaTeX as safe MathML (``display``: a block of its own), or its escaped source when
    it cannot be converted."""
    source = source.strip()
    if not source or len(source) > MAX_MATH_CHARS:
        return _math_source(source, display)
    import xml.etree.ElementTree as ElementTree

    from latex2mathml.converter import convert as latex_to_mathml

    try:
        raw = latex_to_mathml(source, display="block" if display else "inline")
        tree = ElementTree.fromstring(raw)
    # The converter raises many kinds of errors on input it does not understand (and
    # RecursionError on deep nesting); each means "show the source".
    except Exception:
        return _math_source(source, display)
    if tree.tag != f"{_MATHML_NS}math":
        return _math_source(source, display)
    return _rebuild(tree)


def _math_inline(
    renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return f'<span class="lc-math">{render_math(tokens[idx].content)}</span>'


def _math_display(
    renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # Display math written inside a paragraph stays an inline element (a <div> would
    # break the paragraph); CSS makes it a block.
    tag = "span" if tokens[idx].type == "math_inline_double" else "div"
    body = render_math(tokens[idx].content, display=True)
    end = "\n" if tag == "div" else ""
    return f'<{tag} class="lc-math lc-math-display">{body}</{tag}>{end}'


@cache
def _parser(math: bool = False) -> MarkdownIt:
    """The parser (made once, with the first text rendered): with ``math``, it reads LaTeX."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})
    md.validateLink = _validate_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _code_block)
    if math:
        # No space or digit next to a dollar ("$5 and $6" is money), no labels (they
        # would become element ids), and no blank line inside $$...$$ (as in LaTeX), so
        # a streaming answer's finished blocks stay finished.
        from mdit_py_plugins.dollarmath import dollarmath_plugin

        dollarmath_plugin(
            md,
            allow_labels=False,
            allow_space=False,
            allow_digits=False,
            allow_blank_lines=False,
            double_inline=True,
        )
        md.add_render_rule("math_inline", _math_inline)
        md.add_render_rule("math_inline_double", _math_display)
        md.add_render_rule("math_block", _math_display)
    return md


def render_markdown(text: str, *, images: bool = True, math: bool = False) -> str:
    """Render untrusted markdown to HTML that is safe to insert into the page.

    ``images=False`` makes each image a link to its URL; ``math=True`` renders LaTeX
    between dollars as MathML.
    """
    if not text:
        return ""
    return str(_parser(math).render(text, {_IMAGES: images}))


def split_settled(text: str) -> int:
    """The offset where the last top-level block of ``text`` starts (0 if there is one).

    Only a line that starts a new top-level block ends the one before it, so the blocks
    before the last are final while more text streams in.
    """
    starts = [
        token.map[0]
        for token in _parser().parse(text)
        if token.level == 0 and token.nesting >= 0 and token.map is not None
    ]
    if len(starts) < 2:
        return 0
    line = starts[-1]
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    return offset


def is_plain_paragraph(source: str, rendered: str) -> bool:
    """True when ``rendered``, the HTML of ``source``, is one paragraph of the text as it
    is: markdown made nothing of it (no emphasis, link, entity, line break...), so the text
    reads the same unrendered."""
    from markdown_it.common.utils import escapeHtml  # loaded by the render that made it

    text = source.strip()
    return "\n" not in text and rendered == f"<p>{escapeHtml(text)}</p>\n"


def pygments_css(style: str = "default", scope: str = ".highlight") -> str:
    """The stylesheet for highlighted code, for a Pygments style."""
    from pygments.formatters import HtmlFormatter

    formatter: Any = HtmlFormatter(style=style)  # get_style_defs is untyped in the stubs
    return str(formatter.get_style_defs(scope))


def render_split(text: str, *, images: bool = True, math: bool = False) -> tuple[int, str, str]:
    """Render a partial text as (settled length, settled HTML, tail HTML) in one parse.

    ``text[:settled]`` holds the finished top-level blocks; the tail is the last block,
    which later tokens may still change. ``images`` and ``math`` as for
    ``render_markdown``.
    """
    if not text:
        return 0, "", ""
    env: EnvType = {_IMAGES: images}
    md = _parser(math)
    tokens = md.parse(text, env)
    starts = [
        index
        for index, token in enumerate(tokens)
        if token.level == 0 and token.nesting >= 0 and token.map is not None
    ]
    if len(starts) < 2:
        return 0, "", md.renderer.render(tokens, md.options, env)
    cut = starts[-1]
    block_map = tokens[cut].map
    line = block_map[0] if block_map is not None else 0
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    settled = md.renderer.render(tokens[:cut], md.options, env)
    tail = md.renderer.render(tokens[cut:], md.options, env)
    return offset, settled, tail
