// lightchat's composer: Enter to send, clearing the form once the server took a message,
// attached files (chips, drag and drop, paste), the "/" commands menu and command buttons,
// the modes kept from one message to the next, and a favourite chosen in "Favorites".
// Loaded after lightchat.js (whose texts and autoscroll it uses) only by pages with a
// composer: the chat page, and host pages that embed a chat. Without JavaScript the
// composer is a plain form. No build step.
(function () {
  "use strict";

  var core = window.lightchat;
  var text = core.text;

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
      core.followLog();  // the answer to come: follow it, even if the reader had scrolled up
      if (box) {  // back to one line, and ready for the next message however this one was sent
        box.style.height = "";
        box.focus();
      }
    }
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

  // An upload or a click the server took: a refusal shown before no longer applies. The
  // form is noted when its request starts: the answer may arrive after the chat's stream
  // has already taken the form away (the question answered), when it is in no log.
  var logForms = new WeakSet();
  document.addEventListener("htmx:before:request", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.closest("#lc-log")) logForms.add(form);
  });
  // (htmx then fires its events on the document: the form is the request's source.)
  document.addEventListener("htmx:after:request", function (event) {
    var ctx = event.detail && event.detail.ctx;
    var form = (ctx && ctx.sourceElement) || event.target;
    if (!(form instanceof HTMLFormElement) || !(logForms.has(form) || form.closest("#lc-log"))) return;
    var notice = document.getElementById("lc-notice");
    if (notice && ctx && ctx.response && ctx.response.status < 400) notice.textContent = "";
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
    // A textbox has no aria-expanded: the menu is tied to it by aria-controls while open.
    if (box) { box.removeAttribute("aria-activedescendant"); box.removeAttribute("aria-controls"); }
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
    }
    box.setAttribute("aria-controls", "lc-command-menu");
    menu.textContent = "";
    matches.forEach(function (option, i) {
      var item = document.createElement("li");
      item.id = "lc-command-" + i;
      item.setAttribute("role", "option");
      item.setAttribute("data-value", option.value);
      item.textContent = option.textContent;
      menu.appendChild(item);
    });
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
      // reset() brings back a command the app preselected ("selected"): once sent, it is
      // done with too, unless it is persistent.
      var select = commandSelect();
      if (select && !("command" in restore)) select.value = "";
      Object.keys(restore).forEach(function (name) {
        var select = form.querySelector("select[name='" + name + "']");
        if (select) select.value = restore[name];
      });
      syncCommandButtons();
      closeMenu();
    }, 0);
  });

  // Favorites: choosing one in the dialog puts its text in the message box, to change or
  // send (without JavaScript, its form sends it as it is).
  document.addEventListener("click", function (event) {
    var use = event.target instanceof Element && event.target.closest("[data-lc-favorite-use]");
    var dialog = use && use.closest("dialog[data-lc-modal]");
    var box = document.querySelector("#lc-composer textarea[name=content]");
    if (!dialog || !box) return;
    event.preventDefault();
    var field = use.form && use.form.querySelector("input[name=content]");
    box.value = field ? field.value : use.textContent;
    box.dispatchEvent(new Event("input", { bubbles: true }));  // it grows to fit
    dialog.close();
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  });
})();
