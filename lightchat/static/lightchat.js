// lightchat: the few things HTML cannot do on its own, on every page. No build step, no
// dependencies. Here: the texts in the page's language, the form token on htmx writes,
// streamed text, autoscroll, growing text boxes, closing a saved edit, the side panel, copy
// buttons, dialogs, the profile picker, settings sliders and the theme toggle. Two more
// files load only where needed, after this one: lightchat.composer.js on pages with a
// composer, lightchat.framed.js on a chat page shown in a frame.
(function () {
  "use strict";

  var script = document.currentScript;  // this file's <script>: the others sit beside it

  // The texts this script shows, in the page's language (<meta name="lc-texts">, written
  // by the server from the translation files); "{name}" placeholders are filled in.
  // Read when first needed: a chat embedded in a host page brings its meta later.
  var texts = null;
  function loadTexts() {
    try {
      var textsMeta = document.querySelector('meta[name="lc-texts"]');
      return textsMeta ? JSON.parse(textsMeta.content) : null;
    } catch (error) { return null; }
  }
  function text(key, values) {
    if (!texts) texts = loadTexts();
    var found = texts && typeof texts[key] === "string" ? texts[key] : key;
    return found.replace(/\{(\w+)\}/g, function (match, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  }

  // Every htmx request that changes something carries the page's form token, which the
  // server requires of each write (forms also carry it, for when JavaScript is off). Only
  // to the app's own origin: the token is not for other sites.
  document.addEventListener("htmx:config:request", function (event) {
    var request = event.detail && event.detail.ctx && event.detail.ctx.request;
    // A chat embedded in a host page carries its own token (the host may have a
    // csrf-token meta of its own).
    var meta = document.querySelector('meta[name="lc-csrf-token"]') ||
      document.querySelector('meta[name="csrf-token"]');
    if (!request || !meta || /^(GET|HEAD|OPTIONS)$/i.test(request.method || "GET")) return;
    if (new URL(request.action, document.baseURI).origin !== location.origin) return;
    request.headers["X-CSRF-Token"] = meta.content;
  });

  // The log this page streams from was compacted past the page's position (a long chat,
  // a page that fell far behind): the server can no longer bring it up to date event by
  // event, so the page loads again, showing the chat as it stands.
  document.addEventListener("lc-reload", function () { location.reload(); });

  // Streamed text arrives as "tok" events, first line the target id, then the text, and
  // as "t" events, text for the same target as the last. It is inserted as a text node,
  // so it can never become markup.
  var lastTarget = "";
  function streamed(text) {
    var target = document.getElementById(lastTarget);
    if (target) target.appendChild(document.createTextNode(text));
  }
  document.addEventListener("tok", function (event) {
    var data = event.detail && event.detail.data;
    if (typeof data !== "string") return;
    var cut = data.indexOf("\n");
    if (cut > 0) lastTarget = data.slice(0, cut);
    streamed(data.slice(cut + 1));
  });
  document.addEventListener("t", function (event) {
    var data = event.detail && event.detail.data;
    if (typeof data === "string") streamed(data);
  });

  // Follow the stream unless the reader scrolled up (or the app said not to:
  // data-lc-follow="off" on the scroller, from features.assistant_message_autoscroll).
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
    new MutationObserver(function () {
      if (el.getAttribute("data-lc-follow") !== "off") follow();
    }).observe(log, { childList: true, subtree: true, characterData: true });
    // At the first frame, not now: reading the log's height here would lay the page out
    // before its scripts are done, and only to scroll a page nobody sees yet.
    requestAnimationFrame(follow);
  }

  // Grow a text box with its text (the composer's, an edit's, a feedback comment).
  document.addEventListener("input", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLTextAreaElement)) return;
    box.style.height = "auto";
    box.style.height = Math.min(box.scrollHeight, 240) + "px";
  });

  // A saved edit closes its "Edit" disclosure: the stream redraws the message with the new
  // text, but a redraw keeps what the reader opened (morphIgnore "open"), so close it here.
  document.addEventListener("htmx:after:request", function (event) {
    var form = event.target;
    var edit = form instanceof HTMLFormElement && form.closest("details.lc-edit");
    var ctx = event.detail && event.detail.ctx;
    if (!edit || !ctx || !ctx.response || ctx.response.status >= 400) return;
    edit.open = false;
    var summary = edit.querySelector("summary");
    if (summary) summary.focus();
  });

  // The side panel: "Close" (or Escape) empties it, and the keyboard goes back to the link
  // that opened it.
  var sideOpener = "";
  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element && event.target.closest('[hx-target="#lc-side"]');
    if (link) sideOpener = link.id;  // by id: the stream may have redrawn its message since
  });
  function closeSide() {
    var side = document.getElementById("lc-side");
    if (!side || !side.firstElementChild) return false;
    side.textContent = "";
    var opener = sideOpener && document.getElementById(sideOpener);
    if (opener) opener.focus();
    sideOpener = "";
    return true;
  }
  document.addEventListener("click", function (event) {
    var close = event.target instanceof Element && event.target.closest("[data-close-side]");
    if (close) closeSide();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    if (document.querySelector("dialog[open]")) return;
    if (closeSide()) event.preventDefault();
  });
  document.addEventListener("htmx:after:swap", function () {
    var side = document.getElementById("lc-side");
    var close = side && side.querySelector("[data-close-side]:not([data-lc-focused])");
    if (!close) return;
    close.setAttribute("data-lc-focused", "");
    close.focus();
  });

  // The colours of highlighted code (lightchat.code.css, beside lightchat.css) come with
  // the first code block the page shows: in the page (the server links them then), or
  // streamed or swapped in later. After lightchat.css, before the app's own stylesheets.
  function codeStyles() {
    if (document.getElementById("lc-code-css") || !document.querySelector("pre.lc-code")) return;
    var main = document.querySelector('link[rel="stylesheet"][href*="/-/static/lightchat.css"]');
    if (!main) return;
    var link = document.createElement("link");
    link.id = "lc-code-css";
    link.rel = "stylesheet";
    link.href = main.href.replace(/\/lightchat\.css(?=[?#]|$)/, "/lightchat.code.css");
    main.after(link);
  }
  document.addEventListener("DOMContentLoaded", codeStyles);
  document.addEventListener("htmx:after:swap", codeStyles);

  // Copy buttons: a message's "Copy", a code block's "Copy code", a shared chat's "Copy
  // link". They only work with this script, so they come hidden, and show once it runs (on
  // the page, and in what htmx swaps in); a code block's is named here in the page's
  // language (the server renders markdown the same for every language).
  function showScriptButtons() {
    document.querySelectorAll("[data-lc-needs-js][hidden]").forEach(function (button) {
      button.hidden = false;
    });
    document.querySelectorAll(".lc-code-copy:not([data-lc-named])").forEach(function (button) {
      var name = text("copy_code");
      button.setAttribute("aria-label", name);
      button.title = name;
      button.setAttribute("data-lc-named", "");
    });
  }
  document.addEventListener("DOMContentLoaded", showScriptButtons);
  document.addEventListener("htmx:after:swap", showScriptButtons);
  // "Copied", for screen readers (the button shows a check mark for a moment).
  function announce(message) {
    var status = document.getElementById("lc-copy-status");
    if (!status) {
      status = document.createElement("div");
      status.id = "lc-copy-status";
      status.className = "lc-sr";
      status.setAttribute("role", "status");
      document.body.appendChild(status);
    }
    status.textContent = "";
    setTimeout(function () { status.textContent = message; }, 50);
  }
  function copiedText(button) {
    if (button.classList.contains("lc-code-copy")) {
      var block = button.closest(".lc-code-block");
      var code = block && block.querySelector("pre code");
      return code ? code.textContent.replace(/\n$/, "") : null;
    }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return null;
    // The text as shown, without the code blocks' headers (their language and button).
    source.classList.add("lc-copying");
    var shown = source.innerText.trim();
    source.classList.remove("lc-copying");
    return shown;
  }
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest(".lc-copy, .lc-code-copy");
    if (!button) return;
    var copied = copiedText(button);
    if (copied === null || !navigator.clipboard) return;
    navigator.clipboard.writeText(copied).then(function () {
      // An icon button shows "Copied" beside its check mark; "Copy link" a check mark.
      button.setAttribute("data-copied", button.classList.contains("lc-tool") ? text("copied") : "");
      announce(text("copied"));
      clearTimeout(button.lcCopied);
      button.lcCopied = setTimeout(function () { button.removeAttribute("data-copied"); }, 1500);
    });
  });

  // Editing a message: opening "Edit" puts the cursor at the end of the text; "Cancel" (a
  // link back to the chat without this script) or Escape closes the form as it was.
  document.addEventListener("toggle", function (event) {
    var edit = event.target;
    if (!(edit instanceof HTMLDetailsElement) || !edit.classList.contains("lc-edit") || !edit.open) return;
    var box = edit.querySelector("textarea");
    if (!box) return;
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }, true);
  function cancelEdit(edit) {
    var box = edit.querySelector("textarea");
    if (box) box.value = box.defaultValue;
    edit.open = false;
    var summary = edit.querySelector("summary");
    if (summary) summary.focus();
  }
  document.addEventListener("click", function (event) {
    var cancel = event.target instanceof Element && event.target.closest(".lc-edit-cancel");
    var edit = cancel && cancel.closest("details.lc-edit");
    if (!edit) return;
    event.preventDefault();
    cancelEdit(edit);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !(event.target instanceof Element)) return;
    var edit = event.target.closest("details.lc-edit[open]");
    if (!edit) return;
    event.preventDefault();
    cancelEdit(edit);
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

  // The history sidebar follows changes made elsewhere (another tab, the app naming a
  // chat): the page's stream sends the whole list again (#lc-threads, data-lc-live). While
  // the reader searches or renames a chat in it, that list is held back, and the list is
  // fetched again (the search form) once they are done.
  var threadsStale = false;
  function busyWithThreads() {
    var search = document.querySelector("#lc-history input[type=search]");
    // A rename asked for and not yet swapped in counts too: the new list would take the
    // place of the thread the rename form is meant for.
    return !!document.querySelector("#lc-threads .lc-thread-editing, #lc-threads .htmx-request") ||
      !!(search && search.value.trim());
  }
  document.addEventListener("htmx:before:swap", function (event) {
    var tasks = event.detail && event.detail.tasks;
    if (!tasks || !tasks.length) return;
    for (var i = tasks.length - 1; i >= 0; i--) {
      var task = tasks[i];
      var root = task.fragment && task.fragment.firstElementChild;
      if (task.type !== "partial" && task.target && task.target.id === "lc-threads") {
        threadsStale = false;  // the list, fetched just now (a search, a cancelled rename)
        continue;
      }
      if (!root || root.id !== "lc-threads" || !root.hasAttribute("data-lc-live")) continue;
      if (!task.target || busyWithThreads()) {
        tasks.splice(i, 1);
        if (task.target) threadsStale = true;
      } else {
        threadsStale = false;
      }
    }
  });
  document.addEventListener("htmx:after:swap", function () {
    if (!threadsStale || busyWithThreads()) return;
    var search = document.querySelector("#lc-history form.lc-search");
    if (!search) return;
    threadsStale = false;
    search.requestSubmit();
  });

  // "History" shows and hides the history sidebar: beside the chat where the screen has
  // room for it (data-sidebar, which ui.default_sidebar_state starts "open" or "closed"),
  // as a drawer over the chat where it has not (data-drawer). Without JavaScript it is a
  // link to the history page.
  var wideEnough = window.matchMedia("(min-width: 48.01rem)");
  function sidebarShown(app) {
    return wideEnough.matches ? app.getAttribute("data-sidebar") === "open"
      : app.getAttribute("data-drawer") === "open";
  }
  function sidebarToggles() {
    document.querySelectorAll("[data-lc-sidebar-toggle]").forEach(function (toggle) {
      var app = toggle.closest(".lc-app");
      if (!app) return;
      toggle.setAttribute("role", "button");
      toggle.setAttribute("aria-expanded", sidebarShown(app) ? "true" : "false");
    });
  }
  function openDrawer(app, open) {
    var toggle = app.querySelector("[data-lc-sidebar-toggle]");
    var focused = document.activeElement;
    var inside = focused && focused.closest && focused.closest("#lc-history, [data-lc-drawer-close]");
    app.querySelectorAll(":scope > [data-lc-drawer-close]").forEach(function (part) { part.hidden = !open; });
    if (open) {
      app.setAttribute("data-drawer", "open");
      var first = app.querySelector("#lc-history a, #lc-history input, #lc-history button");
      if (first) first.focus();
    } else {
      app.removeAttribute("data-drawer");
      if (inside && toggle) toggle.focus();  // the keyboard goes back to "History"
    }
    sidebarToggles();
  }
  function drawerApp() { return document.querySelector('.lc-app[data-drawer="open"]'); }
  if (wideEnough.addEventListener) {
    wideEnough.addEventListener("change", function () {
      var app = drawerApp();
      if (app) openDrawer(app, false);
      sidebarToggles();
    });
  }
  document.addEventListener("DOMContentLoaded", sidebarToggles);
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var toggle = target && target.closest("[data-lc-sidebar-toggle]");
    var app = toggle && toggle.closest(".lc-app");
    if (app) {
      event.preventDefault();
      if (wideEnough.matches) {
        app.setAttribute("data-sidebar", app.getAttribute("data-sidebar") === "open" ? "closed" : "open");
        sidebarToggles();
      } else {
        openDrawer(app, app.getAttribute("data-drawer") !== "open");
      }
      return;
    }
    // A click beside the drawer, on its close button, or on a chat in it closes it.
    var open = drawerApp();
    if (open && target && target.closest("[data-lc-drawer-close], #lc-history a.lc-thread-link")) {
      openDrawer(open, false);
    }
  });
  document.addEventListener("keydown", function (event) {
    // A link acting as a button: Space presses it too.
    var toggle = event.target instanceof Element && event.target.closest("[data-lc-sidebar-toggle][role=button]");
    if (!toggle || event.key !== " ") return;
    event.preventDefault();
    toggle.click();
  });

  // "More" (and the user's menu): <details> menus that close on Escape (the keyboard goes
  // back to their button), on a click outside, and once one of their items is chosen
  // (but for the theme switch, which shows its effect at once and stays).
  function openMenus() { return document.querySelectorAll("details.lc-menu[open], details.lc-user-menu[open]"); }
  function menuStates() {
    document.querySelectorAll("details.lc-menu > summary, details.lc-user-menu > summary").forEach(function (summary) {
      summary.setAttribute("aria-expanded", summary.parentElement.open ? "true" : "false");
    });
  }
  document.addEventListener("DOMContentLoaded", menuStates);
  document.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (menu instanceof HTMLDetailsElement && menu.matches(".lc-menu, .lc-user-menu")) menuStates();
  }, true);
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    openMenus().forEach(function (menu) {
      if (!target || !menu.contains(target)) { menu.open = false; return; }
      var item = target.closest(".lc-menu-item, .lc-header-link");
      if (item && !item.closest(".lc-theme-toggle")) setTimeout(function () { menu.open = false; }, 0);
    });
  });

  // Keyboard: Escape closes what is open (a menu, the drawer; the side panel above), else
  // stops the answer being written; Ctrl+Shift+O (Cmd+Shift+O on a Mac) opens a new chat;
  // "?" outside a text field shows the shortcuts, as does "Keyboard shortcuts" in "More".
  var mac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || "");
  function markMac() {
    if (!mac) return;
    document.querySelectorAll("kbd[data-lc-mod]").forEach(function (key) { key.textContent = "\u2318"; });
  }
  document.addEventListener("DOMContentLoaded", markMac);
  function visible(element) { return element.getClientRects().length > 0; }
  function typing(element) {
    return element instanceof HTMLElement && (element.isContentEditable ||
      /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName));
  }
  function showShortcuts() {
    var dialog = document.getElementById("lc-shortcuts");
    if (dialog && !dialog.open) dialog.showModal();
  }
  document.addEventListener("click", function (event) {
    var item = event.target instanceof Element && event.target.closest("[data-lc-shortcuts]");
    if (item) showShortcuts();
  });
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    var key = event.key;
    if (key === "Escape") {
      if (document.querySelector("dialog[open]")) return;  // the dialog closes itself
      var menus = openMenus();
      if (menus.length) {
        menus.forEach(function (menu) {
          menu.open = false;
          var summary = menu.querySelector("summary");
          if (summary && menu.contains(document.activeElement)) summary.focus();
        });
        event.preventDefault();
        return;
      }
      var app = drawerApp();
      if (app) { openDrawer(app, false); event.preventDefault(); return; }
      var stop = document.querySelector("#lc-controls .lc-stop");
      if (stop && !stop.disabled) { stop.click(); event.preventDefault(); }
      return;
    }
    if ((event.ctrlKey || event.metaKey) && event.shiftKey && !event.altKey && (key === "O" || key === "o")) {
      var links = Array.prototype.slice.call(document.querySelectorAll(".lc-header a.lc-new, #lc-history a.lc-new-chat"));
      var link = links.filter(visible)[0] || links[0];
      if (!link) return;
      event.preventDefault();
      link.click();
      return;
    }
    if (key === "?" && !event.ctrlKey && !event.metaKey && !event.altKey && !typing(event.target) &&
        !document.querySelector("dialog[open]") && document.getElementById("lc-shortcuts")) {
      event.preventDefault();
      showShortcuts();
    }
  });

  // The chat profile picker starts a new chat as soon as another profile is chosen
  // (without JavaScript its form has a "Start" button).
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.hasAttribute("data-lc-autosubmit")) return;
    if (select.form) select.form.requestSubmit();
  });
  // A settings slider shows its value as it moves.
  document.addEventListener("input", function (event) {
    var slider = event.target;
    if (!(slider instanceof HTMLInputElement) || !slider.hasAttribute("data-lc-output")) return;
    var output = document.getElementById(slider.getAttribute("data-lc-output"));
    if (output) output.textContent = slider.value;
  });

  // The theme toggle switches the page at once and tells the server in the background, so
  // the next page is painted in the same theme (its cookie). Without JavaScript the form
  // posts and comes back to the page.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    if (!form.classList || !form.classList.contains("lc-theme-toggle") || !button) return;
    event.preventDefault();
    var theme = button.value;
    document.documentElement.setAttribute("data-theme", theme);
    var body = new URLSearchParams(new FormData(form));
    body.set("theme", theme);
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-Lightchat-Theme": "1" },
    });
    // The pressed button is hidden now: keep the focus on the switch.
    var other = Array.prototype.filter.call(form.querySelectorAll("button"), visible)[0];
    if (other) other.focus();
  });

  // What lightchat.composer.js uses of this file.
  window.lightchat = {
    text: text,
    // Follow the log again, even if the reader had scrolled up (a message just sent),
    // unless the app said not to (data-lc-follow-sent="off": user_message_autoscroll).
    followLog: function () {
      var el = scroller();
      if (el && el.getAttribute("data-lc-follow-sent") === "off") return;
      stick = true;
      follow();
    },
  };

  // A chat page in a frame talks with the page around it (lightchat.framed.js). The
  // copilot's chat page names that file itself; any other chat page (it carries the
  // sources allowed to frame it, <meta name="lc-frame-ancestors">) that finds itself in a
  // frame adds it here.
  // This file comes joined with the page's other scripts (/-/static/lightchat.js+...):
  // lightchat.framed.js sits beside that file, with its version.
  var framedSrc = script ? script.src.replace(/\/[^\/?#]*(?=[?#]|$)/, "/lightchat.framed.js") : "";
  if (window.parent !== window && framedSrc &&
      document.querySelector('meta[name="lc-frame-ancestors"]') &&
      !document.querySelector('script[src*="lightchat.framed.js"]')) {
    var framed = document.createElement("script");
    framed.src = framedSrc;
    document.head.appendChild(framed);
  }

  // An event of the app's own (emitter.emit): dispatched once on the document as
  // "lightchat:<name>", its data in event.detail, for the app's scripts (custom_js).
  var lastAppEvent = 0;
  document.addEventListener("lc-app-event", function (event) {
    var sent;
    try { sent = JSON.parse(event.detail && event.detail.data); } catch (error) { return; }
    if (!sent || typeof sent.seq !== "number" || sent.seq <= lastAppEvent) return;
    lastAppEvent = sent.seq;
    document.dispatchEvent(new CustomEvent("lightchat:" + sent.name, { detail: sent.data }));
  });

  // A toast (send_toast) goes away by itself after a few seconds, or when clicked.
  function dismissToasts() {
    var toasts = document.getElementById("lc-toasts");
    if (!toasts || toasts.dataset.lcWatched) return;
    toasts.dataset.lcWatched = "1";
    function later(toast) { setTimeout(function () { toast.remove(); }, 6000); }
    toasts.querySelectorAll(".lc-toast").forEach(later);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(function (node) {
          if (node.nodeType === 1 && node.classList.contains("lc-toast")) later(node);
        });
      });
    }).observe(toasts, { childList: true });
    toasts.addEventListener("click", function (event) {
      var toast = event.target.closest(".lc-toast");
      if (toast) toast.remove();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", watch);
    document.addEventListener("DOMContentLoaded", dismissToasts);
  } else {
    watch();
    dismissToasts();
  }
  document.addEventListener("htmx:after:swap", dismissToasts);  // an embedded chat comes later

  // A running step shows the time going by ("Using search 1.4 s"): its <time
  // data-lc-started> holds when it started (seconds since 1970, by the server's clock). A
  // browser whose clock disagrees with the server's by more than a step could take (the
  // time comes out negative, or over a day) counts from when it first saw the step instead.
  // Without JavaScript the step says "Running"; once it ends, the server writes its duration.
  var firstSeen = new WeakMap();
  function tickSteps() {
    var now = Date.now() / 1000;
    document.querySelectorAll("time.lc-step-elapsed[data-lc-started]").forEach(function (clock) {
      var started = parseFloat(clock.getAttribute("data-lc-started"));
      if (!isFinite(started)) return;
      var elapsed = now - started;
      if (elapsed < -1 || elapsed > 86400) {
        if (!firstSeen.has(clock)) firstSeen.set(clock, now);
        elapsed = now - firstSeen.get(clock);
      }
      var shown = Math.max(0, elapsed).toFixed(1) + " s";
      if (clock.textContent !== shown) clock.textContent = shown;
    });
  }
  setInterval(tickSteps, 250);
  document.addEventListener("htmx:after:swap", tickSteps);  // a morph wrote "Running" again
})();
