"""A readme page and LaTeX: ``lightchat.md`` (and ``lightchat_fr-FR.md`` for French
browsers) opens from the header's "Readme" button, and ``$...$`` / ``$$...$$`` in answers
is drawn as math (``latex = true`` in lightchat.toml). Long answers are collapsed behind
"Show more". ``translations/fr.json`` changes two of the French texts of the page.

Run it with ``lightchat serve examples/10_readme_math/app.py`` and type "math" or "long".
"""

from __future__ import annotations

import lightchat as cl

FORMULAS = r"""Euler's identity is $e^{i\pi} + 1 = 0$, and a sum of squares:

$$
\sum_{k=1}^{n} k^2 = \frac{n(n+1)(2n+1)}{6}
$$

Prices stay prices: the book costs $5 and the pen $2."""


@cl.on_chat_start
async def start() -> None:
    await cl.Message(content='Type "math" for formulas, or "long" for a long answer.').send()


@cl.on_message
async def answer(message: cl.Message) -> None:
    text = message.content.strip().lower()
    if text == "long":
        lines = [f"{n}. Line number {n} of a long answer." for n in range(1, 61)]
        await cl.Message(content="\n".join(lines)).send()
    elif text == "math":
        await cl.Message(content=FORMULAS).send()
    else:
        await cl.Message(content=f"You said: {message.content}").send()
