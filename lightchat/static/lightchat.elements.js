// lightchat: the chat page's side of JSX custom elements (lightchat/ui/jsx.py). Loaded only
// by a page that shows one (the element's markup names this file). Each element runs in a
// sandboxed frame (lightchat.jsx.js); this script hands it its props (the frame's
// data-lc-props, redrawn by the stream), its height and the theme, and turns what it asks
// (updateElement, deleteElement, callAction, sendUserMessage, submitElement,
// cancelElement) into the chat's own form posts, with the page's form token. A message is
// heard only from the frame of an element on this page, signed with that frame's key
// (data-lc-key: a page the frame was sent to has not got it), and only as data; props go
// only to a frame that said "ready" with its key since it last loaded. No build step.
(function () {
  "use strict";
  if (window.__lightchatElements) return;  // one copy, however many elements name it
  window.__lightchatElements = true;

  var MAX_JSON = 64 * 1024;  // as the server's WINDOW_MESSAGE_MAX_BYTES
  var MAX_HEIGHT = 4000;

  function frames() { return document.querySelectorAll("iframe[data-lc-jsx]"); }
  function frameOf(source) {
    var all = frames();
    for (var i = 0; i < all.length; i++) if (source && all[i].contentWindow === source) return all[i];
    return null;
  }
  // The frame has an opaque origin (its sandbox): it cannot be named, only reached.
  function send(frame, message) {
    message.lc = "jsx";
    if (frame.contentWindow) frame.contentWindow.postMessage(message, "*");
  }
  // Each frame's height as its content last said; a redraw of the element (a morph) drops
  // the frame's style, so it is put back. A log scrolled to its end stays there.
  var heights = new WeakMap();
  function fit(frame) {
    var height = heights.get(frame);
    if (!height || frame.style.height === height) return;
    var main = document.getElementById("lc-main");
    var atEnd = main && main.scrollHeight - main.scrollTop - main.clientHeight < 48;
    frame.style.height = height;
    if (atEnd) main.scrollTop = main.scrollHeight;
  }
  function propsOf(frame) {
    try { return JSON.parse(frame.getAttribute("data-lc-props") || "{}"); } catch (error) { return {}; }
  }
  // The frames whose page proved itself (its key) since it last loaded.
  var ready = new WeakSet();
  function greet(frame) {
    ready.add(frame);
    send(frame, { type: "theme", theme: document.documentElement.getAttribute("data-theme") || "" });
    send(frame, { type: "props", props: propsOf(frame) });
  }
  // Ask a frame's page to say who it is (it answers "ready" with its key).
  function hello(frame) {
    ready.delete(frame);
    send(frame, { type: "hello" });
  }
  // A frame that loads a page (its own, again, or one a link led to) must prove itself.
  document.addEventListener("load", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("iframe[data-lc-jsx]")) hello(target);
  }, true);

  window.addEventListener("message", function (event) {
    var frame = frameOf(event.source);
    var message = event.data;
    if (!frame || !message || message.lc !== "jsx" || typeof message.type !== "string") return;
    var key = frame.getAttribute("data-lc-key");
    if (!key || message.key !== key) return;
    if (message.type === "ready") greet(frame);
    else if (message.type === "height" && typeof message.height === "number") {
      heights.set(frame, Math.max(0, Math.min(Math.ceil(message.height), MAX_HEIGHT)) + "px");
      fit(frame);
    } else if (message.type === "call" && typeof message.id === "number") {
      perform(frame, message);
    }
  });

  // What each request of the element posts, below the element's URL; the server checks it
  // all again.
  function request(op, data) {
    var body = new URLSearchParams();
    data = data || {};
    if (op === "update") { body.set("props", JSON.stringify(data)); return ["/props", body]; }
    if (op === "delete") return ["/delete", body];
    if (op === "submit") { body.set("values", JSON.stringify(data)); return ["/submit", body]; }
    if (op === "cancel") return ["/cancel", body];
    if (op === "action") {
      body.set("name", String(data.name || ""));
      body.set("payload", JSON.stringify(data.payload || {}));
      return ["/actions", body];
    }
    if (op === "message") {
      body.set("content", String(data.content || ""));
      if (typeof data.command === "string" && data.command) body.set("command", data.command);
      return ["/message", body];
    }
    return null;
  }
  function perform(frame, message) {
    var chat = frame.getAttribute("data-lc-chat");
    var token = document.querySelector('meta[name="lc-csrf-token"]') ||
      document.querySelector('meta[name="csrf-token"]');
    var found;
    try { found = request(message.op, message.data); } catch (error) { found = null; }
    if (!found || !chat || !token) { answer(frame, message.id, false, "refused"); return; }
    if (new Blob([found[1].toString()]).size > MAX_JSON * 3) {
      answer(frame, message.id, false, "too large");
      return;
    }
    var element = chat + "/elements/" + encodeURIComponent(frame.getAttribute("data-lc-jsx"));
    var url = element + found[0];
    fetch(url, {
      method: "POST",
      body: found[1],
      credentials: "same-origin",
      headers: { "X-CSRF-Token": token.content, "HX-Request": "true" },
    }).then(function (response) {
      if (response.ok) { answer(frame, message.id, true); return null; }
      return response.text().then(function (text) {
        var detail = alertText(text) || String(response.status);
        notice(detail);
        answer(frame, message.id, false, detail);
      });
    }, function (error) { answer(frame, message.id, false, String(error)); });
  }
  function answer(frame, id, ok, error) {
    send(frame, { type: "result", id: id, ok: ok, error: error || null });
  }
  // The server's refusal (an htmx notice fragment) as text, shown where the chat shows
  // its notices.
  function alertText(html) {
    var parsed = new DOMParser().parseFromString(html, "text/html");
    var alert = parsed.querySelector("[role=alert]");
    return alert ? alert.textContent : "";
  }
  function notice(text) {
    var box = document.getElementById("lc-notice");
    if (!box) return;
    var line = document.createElement("p");
    line.setAttribute("role", "alert");
    line.textContent = text;
    box.replaceChildren(line);
  }

  // New props arrive with the element's redraw (its frame's data-lc-props changes); a
  // frame put in anew loads and says "ready" itself. The theme follows the page's.
  new MutationObserver(function (records) {
    records.forEach(function (record) {
      var target = record.target;
      var isFrame = target.matches && target.matches("iframe[data-lc-jsx]");
      if (record.type === "attributes" && isFrame && record.attributeName === "data-lc-props") {
        if (ready.has(target)) send(target, { type: "props", props: propsOf(target) });
      } else if (record.type === "attributes" && isFrame && record.attributeName === "style") {
        fit(target);
      } else if (record.type === "attributes" && target === document.documentElement) {
        Array.prototype.forEach.call(frames(), function (frame) {
          if (ready.has(frame)) send(frame, { type: "theme", theme: target.getAttribute("data-theme") || "" });
        });
      }
    });
  }).observe(document.documentElement, {
    attributes: true, subtree: true, attributeFilter: ["data-lc-props", "data-theme", "style"],
  });
  // Frames that were ready before this script ran.
  Array.prototype.forEach.call(frames(), hello);
})();
