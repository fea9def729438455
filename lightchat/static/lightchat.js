// lightchat: the few things HTML cannot do on its own. No build step, no dependencies.
(function () {
  "use strict";

  // Streamed text arrives as "tok" events: first line the target id (empty: the same
  // target as the last one), then the text. It is inserted as a text node, so it can never
  // become markup.
  var lastTarget = "";
  document.addEventListener("tok", function (event) {
    var data = event.detail && event.detail.data;
    if (typeof data !== "string") return;
    var cut = data.indexOf("\n");
    if (cut > 0) lastTarget = data.slice(0, cut);
    var target = document.getElementById(lastTarget);
    if (target) target.appendChild(document.createTextNode(data.slice(cut + 1)));
  });

  // Follow the stream unless the reader scrolled up.
  var stick = true;
  function scroller() { return document.getElementById("lc-main"); }
  function nearBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 48; }
  function follow() {
    var el = scroller();
    if (el && stick) el.scrollTop = el.scrollHeight;
  }
  function watch() {
    var el = scroller();
    var log = document.getElementById("lc-log");
    if (!el || !log) return;
    el.addEventListener("scroll", function () { stick = nearBottom(el); }, { passive: true });
    new MutationObserver(follow).observe(log, { childList: true, subtree: true, characterData: true });
    follow();
  }

  // Enter sends, Shift+Enter adds a line.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLTextAreaElement) || !box.form || box.form.id !== "lc-composer") return;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    var send = box.form.querySelector(".lc-send");
    if (send && !send.disabled && box.value.trim()) box.form.requestSubmit(send);
  });

  // Clear the composer once the server took the message; keep it when it did not.
  document.addEventListener("htmx:after:request", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "lc-composer") return;
    var ctx = event.detail && event.detail.ctx;
    var submitter = ctx && ctx.request && ctx.request.submitter;
    if (submitter && submitter.classList.contains("lc-stop")) return;
    if (ctx && ctx.response && ctx.response.status < 400) {
      form.reset();
      var notice = document.getElementById("lc-notice");
      if (notice) notice.textContent = "";
      stick = true;
      follow();
    }
  });

  // Grow the composer with its text.
  document.addEventListener("input", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLTextAreaElement)) return;
    box.style.height = "auto";
    box.style.height = Math.min(box.scrollHeight, 240) + "px";
  });

  // Copy buttons.
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest(".lc-copy");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.innerText.trim()).then(function () {
      button.setAttribute("data-copied", "");
      setTimeout(function () { button.removeAttribute("data-copied"); }, 1500);
    });
  });

  // History: the delete confirmation arrives as a <dialog data-lc-modal> (htmx swaps it
  // in); show it as a modal. Without JavaScript it is a page with the dialog open.
  function openDialogs() {
    document.querySelectorAll("dialog[data-lc-modal]:not([open])").forEach(function (dialog) {
      dialog.showModal();
    });
    var rename = document.querySelector(".lc-thread-editing input[name=name]");
    if (rename && !rename.hasAttribute("data-lc-focused")) {
      rename.setAttribute("data-lc-focused", "");
      rename.focus();
      rename.select();
    }
  }
  document.addEventListener("htmx:after:swap", openDialogs);
  // "Cancel" is a link back for pages; in a modal it just closes it.
  document.addEventListener("click", function (event) {
    var cancel = event.target instanceof Element && event.target.closest(".lc-dialog-cancel");
    var dialog = cancel && cancel.closest("dialog[data-lc-modal]");
    if (!dialog) return;
    event.preventDefault();
    dialog.close();
  });
  // A closed modal (Cancel, Escape) leaves the page.
  document.addEventListener("close", function (event) {
    var dialog = event.target;
    if (dialog instanceof HTMLDialogElement && dialog.hasAttribute("data-lc-modal")) dialog.remove();
  }, true);
  // Escape while renaming in the sidebar cancels it.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !(event.target instanceof Element)) return;
    var editing = event.target.closest(".lc-thread-editing");
    var cancel = editing && editing.querySelector("a.lc-button");
    if (!cancel) return;
    event.preventDefault();
    cancel.click();
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch);
  else watch();
})();
