"""Mistral in the browser: with ``cl.instrument_mistralai()``, a streamed call's ``llm``
step fills live in the page (its text shows while the model still writes), then ends done
with its generation, and the answer is there. The client talks to the scripted server
(tests/llm_server.py), which holds the answer half-way until the test has seen it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import Serve, assistant, chat_log, open_chat, record, seen, send
from tests.llm_server import LLMServer, Reply, Usage


def test_the_llm_step_fills_live_then_ends_with_its_generation(serve: Serve, page: Page) -> None:
    with LLMServer() as llm:
        pieces = ["Le ciel ", "est bleu ", "à cause de ", "la diffusion."]
        reply = Reply(pieces, hold_after=2, usage=Usage(6, 4))
        llm.script(reply)
        server = serve("mistralai_app.py", env={"MISTRAL_SERVER_URL": llm.mistral_url})
        record(page)
        open_chat(page, server.url)
        send(page, "Pourquoi le ciel est-il bleu ?")

        step = chat_log(page).locator('details[data-step-type="llm"]')
        output = step.locator(".lc-step-output")
        expect(step.locator("summary").first).to_contain_text("mistral-small-latest")
        expect(output).to_contain_text("Le ciel est bleu")  # while the model still writes
        expect(step).to_have_attribute("data-status", "running")
        reply.wait_holding()
        reply.release()

        expect(step).to_have_attribute("data-status", "done")
        expect(output).to_contain_text("Le ciel est bleu à cause de la diffusion.")
        expect(assistant(page).last).to_contain_text("Le ciel est bleu à cause de la diffusion.")
        states = seen(page, step.get_attribute("id") or "")
        assert [s["status"] for s in states] == ["running", "done"], states

        if step.get_attribute("open") is None:
            step.locator("summary").first.click()
        generation = step.locator("details.lc-generation")
        generation.locator("summary").click()
        for text in ["mistralai", "mistral-small-latest", "Pourquoi le ciel", "diffusion"]:
            expect(generation).to_contain_text(text)
        expect(generation.locator(".lc-generation-facts")).to_contain_text("10")  # 6 + 4
