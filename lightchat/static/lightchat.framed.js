// lightchat in a frame: window messages between the chat page and the page that frames it
// (the copilot widget's host page, lightchat/static/copilot.js, or any page the app lets
// frame it), the widget's commands ("hello", "send", function results) and the calls of the
// host page's functions (CopilotFunction). Loaded only where the chat page is framed: the
// copilot's chat page names it, and lightchat.js adds it to any other chat page it finds in
// a frame. On the copilot's sign-in page (GET /auth/jwt) it signs the frame in with the
// widget's access token instead. No build step.
(function () {
  "use strict";

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
  // The copilot's sign-in page (GET /auth/jwt, opened by a widget mounted with an
  // accessToken): it asks the widget for the token instead of saying "ready" (what the
  // widget queued waits for the chat), posts it to /auth/jwt as any write of the app's
  // pages (its form token), and goes on to the chat. The token comes only from the parent,
  // whose origin the app lets frame it; the widget posts it only to the app's origin.
  var tokenPage = document.getElementById("lc-token-sign-in");
  var tokenSent = false;
  function askToken() {
    if (!tokenSent) postUp({ __lightchat: "need-token" });
  }
  function signIn(token) {
    if (!tokenPage || tokenSent || typeof token !== "string" || !token) return;
    tokenSent = true;
    var meta = document.querySelector('meta[name="csrf-token"]');
    fetch(tokenPage.dataset.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Authorization": "Bearer " + token, "X-CSRF-Token": meta ? meta.content : "" },
    }).then(function (response) {
      if (response.ok) { location.replace(tokenPage.dataset.next); return null; }
      return response.text().then(signInFailed);
    }).catch(function () { signInFailed(""); });
  }
  // Why the sign-in was refused: the answer's detail (JSON from /auth/jwt, or the alert of
  // a refusal page from the checks in front of it), else a text of this page's language.
  function signInFailed(body) {
    var detail = "";
    try { detail = JSON.parse(body).detail; } catch (error) {
      var alert = new DOMParser().parseFromString(body, "text/html").querySelector("[role=alert]");
      detail = alert ? alert.textContent.trim() : "";
    }
    var shown = document.getElementById("lc-token-error");
    if (!shown) return;
    shown.textContent = typeof detail === "string" && detail ? detail : pageText("sign_in_failed");
    shown.hidden = false;
  }
  function pageText(key) {
    var meta = document.querySelector('meta[name="lc-texts"]');
    try { return JSON.parse(meta.content)[key] || key; } catch (error) { return key; }
  }
  function widgetCommand(command) {
    if (tokenPage) {
      if (command.__lightchat === "hello") askToken();
      if (command.__lightchat === "access-token") signIn(command.token);
      return;
    }
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
  if (framed && tokenPage) askToken();
  else if (framed) sayReady();
})();
