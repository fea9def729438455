// lightchat: the few things HTML cannot do on its own. No build step, no dependencies.
(function () {
  "use strict";

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
    var files = box.form.querySelector("input[type=file][name=files]");
    var filled = box.value.trim() || (files && files.files.length);
    if (send && !send.disabled && filled) box.form.requestSubmit(send);
  });

  // Clear the composer once the server took the message; keep it when it did not.
  document.addEventListener("htmx:after:request", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "lc-composer") return;
    var ctx = event.detail && event.detail.ctx;
    var submitter = ctx && ctx.request && ctx.request.submitter;
    if (submitter && submitter.classList.contains("lc-stop")) return;
    if (ctx && ctx.response && ctx.response.status < 400) {
      // A prompt from a link (/?prompt=) is the box's default text, which reset() would
      // bring back: once sent, it goes, from the box and from the address (for a reload).
      var box = form.querySelector("textarea[name=content]");
      if (box) box.defaultValue = "";
      var url = new URL(location.href);
      if (url.searchParams.has("prompt")) {
        url.searchParams.delete("prompt");
        history.replaceState(history.state, "", url.href);
      }
      form.reset();
      showChips();
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

  // Files in the composer: the chosen files show as chips above it, each with a button
  // that takes its file out again; files dropped on the chat or pasted into the message box
  // are added to the same input. The input is what the form posts, so without JavaScript
  // the plain file picker still works. The size and count checks here only spare a round
  // trip: the server checks every upload.
  function attachInput() {
    var form = document.getElementById("lc-composer");
    return form && form.querySelector("input[type=file][name=files]");
  }
  // As the server writes sizes (render.file_size).
  function sizeText(bytes) {
    var units = ["bytes", "KB", "MB", "GB"];
    var value = bytes;
    var unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return (unit ? value.toFixed(1) : String(value)) + " " + units[unit];
  }
  function fileNotice(text) {
    var notice = document.getElementById("lc-notice");
    if (!notice) return;
    if (text) {
      var alert = document.createElement("p");
      alert.setAttribute("role", "alert");
      alert.textContent = text;
      notice.textContent = "";
      notice.appendChild(alert);
      notice.setAttribute("data-lc-files", "");
    } else if (notice.hasAttribute("data-lc-files")) {
      notice.textContent = "";
      notice.removeAttribute("data-lc-files");
    }
  }
  function showChips() {
    var input = attachInput();
    var chips = document.getElementById("lc-chips");
    if (!input || !chips) return;
    var maxMb = parseFloat(input.getAttribute("data-max-size-mb"));
    var maxFiles = parseInt(input.getAttribute("data-max-files"), 10);
    var problem = "";
    chips.textContent = "";
    Array.prototype.forEach.call(input.files, function (file, index) {
      var chip = document.createElement("li");
      chip.className = "lc-chip";
      var name = document.createElement("span");
      name.className = "lc-chip-name";
      name.textContent = file.name;
      name.title = file.name;
      var size = document.createElement("span");
      size.className = "lc-chip-size";
      size.textContent = sizeText(file.size);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "lc-chip-remove";
      remove.setAttribute("data-remove-file", String(index));
      remove.setAttribute("aria-label", text("remove_file", { name: file.name }));
      remove.textContent = "×";
      if (maxMb > 0 && file.size > maxMb * 1024 * 1024) {
        chip.setAttribute("data-refused", "");
        problem = problem || text("too_large", { name: file.name, size: maxMb });
      }
      chip.appendChild(name);
      chip.appendChild(size);
      chip.appendChild(remove);
      chips.appendChild(chip);
    });
    if (!problem && maxFiles > 0 && input.files.length > maxFiles) {
      problem = text("too_many", { count: input.files.length, max: maxFiles });
    }
    fileNotice(problem);
  }
  function setFiles(input, files) {
    var transfer = new DataTransfer();
    files.forEach(function (file) { transfer.items.add(file); });
    input.files = transfer.files;
    showChips();
  }
  function addFiles(input, list) {
    if (!input || !list || !list.length) return false;
    var files = input.multiple ? Array.prototype.slice.call(input.files) : [];
    Array.prototype.forEach.call(input.multiple ? list : [list[0]], function (file) { files.push(file); });
    setFiles(input, files);
    return true;
  }
  document.addEventListener("change", function (event) {
    if (event.target === attachInput()) showChips();
  });
  document.addEventListener("click", function (event) {
    var remove = event.target instanceof Element && event.target.closest("[data-remove-file]");
    var input = attachInput();
    if (!remove || !input) return;
    var index = parseInt(remove.getAttribute("data-remove-file"), 10);
    var files = Array.prototype.slice.call(input.files);
    files.splice(index, 1);
    setFiles(input, files);
    // Keep the keyboard where it was: on the next chip's button, else the message box.
    var buttons = document.querySelectorAll("#lc-chips [data-remove-file]");
    var next = buttons[Math.min(index, buttons.length - 1)];
    var box = input.form && input.form.querySelector("textarea");
    if (next) next.focus();
    else if (box) box.focus();
  });
  function draggingFiles(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, "Files") >= 0;
  }
  // Files dropped on a question's upload form are its answer; anywhere else, attachments.
  function dropInput(target) {
    var ask = target instanceof Element && target.closest(".lc-ask-file");
    return ask ? ask.querySelector("input[type=file]") : attachInput();
  }
  var dragZone = null;
  var dragTimer = null;
  function endDrag() {
    if (dragZone) dragZone.removeAttribute("data-dragging");
    dragZone = null;
  }
  document.addEventListener("dragover", function (event) {
    var input = draggingFiles(event) && dropInput(event.target);
    if (!input) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    var zone = input === attachInput() ? document.querySelector(".lc-app") : input.form;
    if (zone !== dragZone) {
      endDrag();
      dragZone = zone;
      if (zone) zone.setAttribute("data-dragging", "");
    }
    // dragover repeats while the pointer is over the page; when it stops, the drag left.
    clearTimeout(dragTimer);
    dragTimer = setTimeout(endDrag, 200);
  });
  document.addEventListener("drop", function (event) {
    endDrag();
    var input = draggingFiles(event) && dropInput(event.target);
    if (!input || !addFiles(input, event.dataTransfer.files)) return;
    event.preventDefault();
    var box = input === attachInput() && input.form.querySelector("textarea");
    if (box) box.focus();
  });
  document.addEventListener("paste", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLTextAreaElement) || !box.form || box.form.id !== "lc-composer") return;
    var files = event.clipboardData && event.clipboardData.files;
    if (files && files.length && addFiles(attachInput(), files)) event.preventDefault();
  });

  // An upload or a click the server took: a refusal shown before no longer applies.
  document.addEventListener("htmx:after:request", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.closest("#lc-log")) return;
    var ctx = event.detail && event.detail.ctx;
    var notice = document.getElementById("lc-notice");
    if (notice && ctx && ctx.response && ctx.response.status < 400) notice.textContent = "";
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

  // Commands: "/" in an empty composer opens a menu of the chat's commands, filtered as
  // you type, chosen with the arrow keys and Enter (or a click); command buttons toggle one.
  // Both set the composer's plain "Command" select, which is what the form sends.
  function commandSelect() { return document.querySelector("#lc-composer select[name=command]"); }
  function syncCommandButtons() {
    var select = commandSelect();
    document.querySelectorAll("#lc-composer [data-command]").forEach(function (button) {
      button.setAttribute("aria-pressed", select && select.value === button.getAttribute("data-command") ? "true" : "false");
    });
  }
  function chooseCommand(id) {
    var select = commandSelect();
    if (!select) return;
    select.value = id;
    syncCommandButtons();
  }
  var menu = null;
  var menuIndex = 0;
  function closeMenu() {
    if (menu) menu.remove();
    menu = null;
    var box = document.querySelector("#lc-composer textarea[name=content]");
    if (box) { box.removeAttribute("aria-activedescendant"); box.setAttribute("aria-expanded", "false"); }
  }
  function menuOptions() { return menu ? menu.querySelectorAll("[role=option]") : []; }
  function highlight(index) {
    var options = menuOptions();
    if (!options.length) return;
    menuIndex = (index + options.length) % options.length;
    options.forEach(function (option, i) { option.setAttribute("aria-selected", i === menuIndex ? "true" : "false"); });
    var box = document.querySelector("#lc-composer textarea[name=content]");
    if (box) box.setAttribute("aria-activedescendant", options[menuIndex].id);
  }
  function pick(option, box) {
    chooseCommand(option.getAttribute("data-value"));
    box.value = box.value.replace(/^\/\S*\s?/, "");
    closeMenu();
    box.focus();
  }
  function openMenu(box) {
    var select = commandSelect();
    var typed = box.value.slice(1).toLowerCase();
    if (!select || box.value.charAt(0) !== "/" || /\s/.test(box.value)) { closeMenu(); return; }
    var matches = Array.prototype.filter.call(select.options, function (option) {
      return option.value && option.value.toLowerCase().indexOf(typed) !== -1;
    });
    if (!matches.length) { closeMenu(); return; }
    if (!menu) {
      menu = document.createElement("ul");
      menu.id = "lc-command-menu";
      menu.className = "lc-command-menu";
      menu.setAttribute("role", "listbox");
      menu.setAttribute("aria-label", text("commands"));
      box.form.querySelector(".lc-compose-row").before(menu);
      box.setAttribute("aria-controls", "lc-command-menu");
    }
    menu.textContent = "";
    matches.forEach(function (option, i) {
      var item = document.createElement("li");
      item.id = "lc-command-" + i;
      item.setAttribute("role", "option");
      item.setAttribute("data-value", option.value);
      item.textContent = option.textContent;
      menu.appendChild(item);
    });
    box.setAttribute("aria-expanded", "true");
    highlight(0);
  }
  document.addEventListener("input", function (event) {
    var box = event.target;
    if (box instanceof HTMLTextAreaElement && box.form && box.form.id === "lc-composer") openMenu(box);
  });
  // Capture: runs before Enter-to-send, so Enter picks a command while the menu is open.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!menu || !(box instanceof HTMLTextAreaElement) || !box.form || box.form.id !== "lc-composer") return;
    var key = event.key;
    if (key === "ArrowDown" || key === "ArrowUp") highlight(menuIndex + (key === "ArrowDown" ? 1 : -1));
    else if (key === "Enter" || key === "Tab") pick(menuOptions()[menuIndex], box);
    else if (key === "Escape") closeMenu();
    else return;
    event.preventDefault();
    event.stopPropagation();
  }, true);
  document.addEventListener("mousedown", function (event) {
    var option = event.target instanceof Element && event.target.closest("#lc-command-menu [role=option]");
    var box = document.querySelector("#lc-composer textarea[name=content]");
    if (!option || !box) return;
    event.preventDefault();
    pick(option, box);
  });
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("#lc-composer [data-command]");
    if (!button) return;
    var id = button.getAttribute("data-command");
    var select = commandSelect();
    chooseCommand(select && select.value === id ? "" : id);
  });
  document.addEventListener("change", function (event) {
    if (event.target === commandSelect()) syncCommandButtons();
  });
  // After a send, keep the modes chosen and a persistent command; others are done with.
  var kept = null;
  document.addEventListener("htmx:before:request", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "lc-composer") return;
    kept = {};
    form.querySelectorAll("select[name^='mode:']").forEach(function (select) { kept[select.name] = select.value; });
    var select = commandSelect();
    var chosen = select && select.selectedOptions[0];
    if (chosen && chosen.hasAttribute("data-persistent")) kept.command = select.value;
  });
  document.addEventListener("htmx:after:request", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "lc-composer" || !kept) return;
    var restore = kept;
    kept = null;
    setTimeout(function () {  // after the composer's own reset
      Object.keys(restore).forEach(function (name) {
        var select = form.querySelector("select[name='" + name + "']");
        if (select) select.value = restore[name];
      });
      syncCommandButtons();
      closeMenu();
    }, 0);
  });

  // Window messages between the chat and the page that frames it (the copilot widget's
  // host page, lightchat/static/copilot.js). Both ways only with a parent whose origin the
  // app lets frame it: the page's frame-ancestors sources (<meta name="lc-frame-ancestors">).
  var framed = window.parent !== window;
  var MAX_WINDOW_MESSAGE = 64 * 1024;  // as the server's WINDOW_MESSAGE_MAX_BYTES
  function frameSources() {
    var meta = document.querySelector('meta[name="lc-frame-ancestors"]');
    return meta ? meta.content.split(/\s+/).filter(Boolean) : [];
  }
  // Whether a CSP source expression ('self', "https:", "https://*.example.com:*") allows an
  // origin, as the browser decides for frame-ancestors (paths do not matter for origins).
  function sourceAllows(source, origin) {
    var url;
    try { url = new URL(origin); } catch (error) { return false; }
    if (url.origin !== origin) return false;
    if (source === "'self'") return origin === location.origin;
    if (source.charAt(0) === "'") return false;
    if (/^[a-z][a-z0-9+.-]*:$/i.test(source)) return url.protocol === source.toLowerCase();
    var match = /^(?:([a-z][a-z0-9+.-]*):\/\/)?(\*|(?:\*\.)?[^:\/]+)(?::(\d+|\*))?/i.exec(source);
    if (!match) return false;
    var scheme = match[1] ? match[1].toLowerCase() + ":" : "";
    if (scheme && url.protocol !== scheme) return false;
    if (!scheme && url.protocol !== location.protocol && url.protocol !== "https:") return false;
    var host = match[2].toLowerCase();
    if (host.indexOf("*.") === 0) {
      if (url.hostname.slice(-host.length + 1) !== host.slice(1)) return false;
    } else if (host !== "*" && url.hostname !== host) return false;
    var fallback = url.protocol === "https:" ? "443" : "80";
    return match[3] === "*" || (url.port || fallback) === (match[3] || fallback);
  }
  function allowedParent(origin) {
    return framed && typeof origin === "string" && frameSources().some(function (source) {
      return sourceAllows(source, origin);
    });
  }
  // The parent's origin: from the browser (ancestorOrigins, the referrer), else learnt from
  // the first message the parent posted; null while unknown or not allowed.
  var parentOrigin = null;
  function findParent() {
    if (parentOrigin || !framed) return parentOrigin;
    var candidates = [];
    if (location.ancestorOrigins && location.ancestorOrigins.length) candidates.push(location.ancestorOrigins[0]);
    try { if (document.referrer) candidates.push(new URL(document.referrer).origin); } catch (error) { /* none */ }
    for (var i = 0; i < candidates.length; i++) {
      if (allowedParent(candidates[i])) { parentOrigin = candidates[i]; break; }
    }
    return parentOrigin;
  }
  function postUp(data) {
    var origin = findParent();
    if (origin) window.parent.postMessage(data, origin);  // never "*": only an allowed parent
  }
  function chatUrl() {
    var stream = document.getElementById("lc-stream");
    var events = stream && stream.getAttribute("hx-sse:connect");
    return events ? events.slice(0, events.lastIndexOf("/events")) : "";
  }
  // From the app (send_window_message), on the live stream. A page shows the log up to its
  // load and streams from there, so older window messages are never posted again; the
  // position guards against a resumed stream sending one twice.
  var lastWindowMessage = 0;
  document.addEventListener("lc-window", function (event) {
    var message;
    try { message = JSON.parse(event.detail && event.detail.data); } catch (error) { return; }
    if (!message || typeof message.seq !== "number" || message.seq <= lastWindowMessage) return;
    lastWindowMessage = message.seq;
    postUp(message.data);
  });
  // A call of one of the parent's functions (CopilotFunction): posted up like a window
  // message, once; the widget (copilot.js) answers with a "fn-result" command.
  var lastCall = 0;
  document.addEventListener("lc-call-fn", function (event) {
    var call;
    try { call = JSON.parse(event.detail && event.detail.data); } catch (error) { return; }
    if (!call || typeof call.seq !== "number" || call.seq <= lastCall) return;
    lastCall = call.seq;
    postUp({ __lightchat: "call-fn", id: call.id, name: call.name, args: call.args });
  });
  // A write of this page to its chat (below the chat's URL), with the page's form token.
  function postToChat(path, field, json) {
    var url = chatUrl();
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (json === undefined || !url || !meta || new Blob([json]).size > MAX_WINDOW_MESSAGE) return;
    var body = new URLSearchParams();
    body.set(field, json);
    fetch(url + path, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": meta.content },
    });
  }
  // From the parent: the widget's own commands ({__lightchat: ...}), or window messages for
  // the app's @on_window_message, posted like any write of this page (its form token).
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || !allowedParent(event.origin)) return;
    parentOrigin = parentOrigin || event.origin;
    var data = event.data;
    if (data && typeof data === "object" && typeof data.__lightchat === "string") {
      widgetCommand(data);
      return;
    }
    var json;
    try { json = JSON.stringify(data); } catch (error) { return; }
    postToChat("/window-message", "data", json);
  });
  // "ready" names the chat, so the widget can open it again after its page reloads.
  function sayReady() {
    var url = chatUrl();
    var chat = url ? decodeURIComponent(url.slice(url.lastIndexOf("/") + 1)) : "";
    postUp(chat ? { __lightchat: "ready", chat: chat } : { __lightchat: "ready" });
  }
  function widgetCommand(command) {
    if (command.__lightchat === "hello") sayReady();
    if (command.__lightchat === "fn-result") { functionResult(command); return; }
    if (command.__lightchat !== "send" || typeof command.content !== "string") return;
    // A message from the host page (sendChainlitMessage): sent as if typed.
    var form = document.getElementById("lc-composer");
    var box = form && form.querySelector("textarea[name=content]");
    var send = form && form.querySelector(".lc-send");
    if (!box || !send || !command.content.trim()) return;
    box.value = command.content;
    form.requestSubmit(send);
  }
  // The parent's answer to a function call: sent to the app as JSON, which it only parses
  // (undefined is sent as null; a result JSON cannot hold is not sent, and the call times out).
  function functionResult(command) {
    if (typeof command.id !== "string" || !/^[\w-]+$/.test(command.id)) return;
    var json;
    try { json = JSON.stringify(command.result === undefined ? null : command.result); } catch (error) { return; }
    postToChat("/functions/" + command.id, "result", json);
  }
  // In the widget's panel, Escape that nothing here used closes the panel.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented || !framed) return;
    if (document.querySelector("dialog[open]")) return;
    postUp({ __lightchat: "escape" });
  });
  if (framed) sayReady();

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
    // The pressed button is hidden now: keep the focus on the toggle.
    var other = form.querySelector('button[value="' + (theme === "dark" ? "light" : "dark") + '"]');
    if (other) other.focus();
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch);
  else watch();
})();
