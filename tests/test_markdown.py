"""Markdown rendering: safe by construction, highlighted, and splittable while streaming."""

from __future__ import annotations

import re

import pytest

from lightchat.ui.markdown import (
    highlight_code,
    pygments_css,
    render_markdown,
    render_split,
    split_settled,
)
from tests.helpers import assert_inert, inert_problems
from tests.xss_payloads import ESCAPED_SCRIPT, PAYLOADS


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_render_inert(payload: str) -> None:
    html = render_markdown(payload)
    assert html
    assert_inert(html)
    lowered = html.lower()
    assert "<script" not in lowered
    assert not re.search(r"(href|src)=\"\s*(javascript|vbscript|data|file):", lowered)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_render_inert_while_streaming(payload: str) -> None:
    for end in range(1, len(payload) + 1):
        _, settled, tail = render_split(payload[:end])
        assert_inert(settled + tail)


def test_raw_html_is_shown_as_text() -> None:
    assert render_markdown("<script>alert(1)</script>") == f"<p>{ESCAPED_SCRIPT}</p>\n"
    assert "&lt;img src=x onerror=alert(1)&gt;" in render_markdown("<img src=x onerror=alert(1)>")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a?b=c#d",
        "http://example.com",
        "mailto:someone@example.com",
        "/relative/path",
        "relative.html",
        "#section",
        "?q=1",
        "HTTPS://EXAMPLE.COM",
    ],
)
def test_safe_links_are_kept_and_open_safely(url: str) -> None:
    html = render_markdown(f"[link]({url})")
    match = re.search(r'<a href="([^"]*)"([^>]*)>link</a>', html)
    assert match is not None, html
    assert 'rel="noopener noreferrer nofollow"' in match.group(2)
    assert 'target="_blank"' in match.group(2)
    assert_inert(html)


@pytest.mark.parametrize(
    "markdown",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html,<b>x</b>)",
        "![x](javascript:alert(1))",
        "![x](data:image/svg+xml,<svg onload=alert(1)>)",
        "<javascript:alert(1)>",
        "[x][r]\n\n[r]: javascript:alert(1)",
    ],
)
def test_unsafe_links_and_images_are_not_made(markdown: str) -> None:
    html = render_markdown(markdown)
    assert "<a " not in html
    assert "<img" not in html


def test_image_alt_and_titles_cannot_break_out() -> None:
    html = render_markdown('![x" onerror="alert(1)](https://e.com/a.png "t\\" onload=\\"y")')
    assert "<img" in html
    assert problems_free(html)
    assert 'alt="x&quot; onerror=&quot;alert(1)"' in html


def problems_free(html: str) -> bool:
    return inert_problems(html) == []


def test_the_inert_check_itself_catches_unsafe_markup() -> None:
    # The XSS tests are only as good as this check: make sure it can fail.
    for bad in [
        "<script>x</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href=" &#x09;java&#x0A;script:alert(1)">x</a>',
        '<img src="data:text/html,x">',
        '<p hx-get="/x">x</p>',
        '<div hx-on:click="x">x</div>',
        "<svg></svg>",
        '<td style="background:url(x)">x</td>',
        '<a href="vbscript:x">x</a>',
    ]:
        assert inert_problems(bad), bad
    assert inert_problems('<p class="x">a <a href="https://e.com/" rel="r">b</a></p>') == []


def test_code_fences_are_highlighted_and_escaped() -> None:
    html = render_markdown("```python\nif a < b:\n    print('<b>')\n```")
    # A line above the code names its language and holds "Copy code" (hidden for the
    # page's script to show and name).
    assert html.startswith(
        '<div class="lc-code-block"><div class="lc-code-head">'
        '<span class="lc-code-lang">python</span><button type="button" '
        'class="lc-tool lc-code-copy" title="Copy code" aria-label="Copy code" '
        "data-lc-needs-js hidden><svg "
    )
    assert '</button></div><pre class="lc-code highlight" data-language="python">' in html
    assert html.endswith("</code></pre></div>\n")
    assert '<code class="language-python">' in html
    assert '<span class="k">if</span>' in html
    assert "&lt;" in html
    assert "<b>" not in html


def test_unknown_languages_and_plain_blocks_are_escaped() -> None:
    assert highlight_code("<b>x</b>", "nosuchlanguage") == (
        '<pre class="lc-code highlight" data-language="nosuchlanguage">'
        '<code class="language-nosuchlanguage">&lt;b&gt;x&lt;/b&gt;</code></pre>\n'
    )
    assert highlight_code("<b>", None) == (
        '<pre class="lc-code highlight"><code>&lt;b&gt;</code></pre>\n'
    )
    indented = render_markdown("    <b>indented</b>")
    assert "&lt;b&gt;indented&lt;/b&gt;" in indented
    assert '<span class="lc-code-lang"></span>' in indented  # no language to name
    assert 'class="lc-code-lang">&lt;b&gt;</span>' in render_markdown("```<b>\nx\n```")


def test_fence_info_cannot_inject_attributes() -> None:
    html = highlight_code("x", '" onmouseover="alert(1) extra words')
    assert_inert(html)
    assert 'data-language="&quot;"' in html


def test_markdown_basics() -> None:
    assert render_markdown("") == ""
    assert render_markdown("**bold** and *it*") == "<p><strong>bold</strong> and <em>it</em></p>\n"
    assert "<table>" in render_markdown("| a |\n|---|\n| 1 |")
    assert render_markdown("~~gone~~") == "<p><s>gone</s></p>\n"
    assert render_markdown("https://example.com") == "<p>https://example.com</p>\n"


def test_pygments_css_is_scoped() -> None:
    css = pygments_css(scope=".lc-code")
    assert ".lc-code .k" in css


# -- streaming splits -----------------------------------------------------------------------

DOCUMENTS = [
    "",
    "one paragraph",
    "one\n\ntwo",
    "one\n\ntwo\n\nthree\n",
    "# Title\n\nSome *text*.\n\n## Sub\n\nMore text",
    "Intro:\n\n- a\n- b\n\n  continued b\n- c\n\nAfter the list.",
    "1. first\n2. second\n\nDone.",
    "Code:\n\n```python\ndef f():\n\n    return 1\n```\n\nAfter code.",
    "Unclosed fence:\n\n```js\nlet a = 1;\n\nlet b = 2;",
    "> quoted\n> more\n\nnot quoted",
    "| a | b |\n|---|---|\n| 1 | 2 |\n\ntext after table",
    "para\nlazy continuation\n\n---\n\nafter rule",
    "Setext\n======\n\nbody",
    "    indented code\n\n    more code\n\nparagraph",
    "text\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))",
    "a\n\n\n\n\nb",
    "trailing blank lines\n\n\n",
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_render_split_adds_up_to_the_full_render(text: str) -> None:
    settled, settled_html, tail_html = render_split(text)
    assert settled_html + tail_html == render_markdown(text)
    assert settled == split_settled(text)
    assert 0 <= settled <= len(text)
    assert settled == 0 or text[settled - 1] == "\n"
    if settled:
        # The settled part renders the same on its own: later tokens cannot change it.
        assert render_markdown(text[:settled]) == settled_html
        assert render_markdown(text[settled:]) == tail_html
    else:
        assert settled_html == ""


@pytest.mark.parametrize("text", DOCUMENTS)
def test_render_split_holds_for_every_prefix(text: str) -> None:
    for end in range(len(text) + 1):
        prefix = text[:end]
        _, settled_html, tail_html = render_split(prefix)
        assert settled_html + tail_html == render_markdown(prefix), repr(prefix)


def test_render_split_examples() -> None:
    assert render_split("") == (0, "", "")
    assert render_split("only") == (0, "", "<p>only</p>\n")
    assert render_split("a\n\nb") == (3, "<p>a</p>\n", "<p>b</p>\n")
