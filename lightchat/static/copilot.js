// lightchat's copilot widget: one <script> tag on any page adds a button that opens the
// chat in a panel (an iframe of the app, /?client=copilot). Plain JavaScript, no build.
//
//   <script src="https://chat.example.com/copilot/index.js"></script>
//
// The script mounts itself when the page has loaded, unless the page mounts it first
// (window.mountChainlitWidget({chainlitServer: "https://chat.example.com"}), as for
// Chainlit) or the tag says data-mount="manual". Options, as data- attributes of the tag or
// keys of the mount call: server (chainlitServer), label, title, position ("left"/"right"),
// opened ("true"); and, in the mount call only, accessToken (below).
//
// A host site that signs its users in itself (the app's custom auth) passes the user's
// access token, made on its server with lightchat.auth.create_jwt: mount({..., accessToken}),
// as for Chainlit. The panel then opens on the app's sign-in page (/auth/jwt), which asks
// for the token; the widget posts it down to the app's origin only, the page posts it to
// /auth/jwt and goes on to the chat, signed in. The token is never put in a URL.
//
// The host page talks to the chat with:
//   window.sendChainlitMessage("text" or {content: "text"})  a message, as if typed
//   window.postLightchatWindowMessage(data)   a window message for @on_window_message
//   window.toggleChainlitCopilot()            open or close the panel
// and hears send_window_message(data) as a "message" event from the chat's origin (and a
// "lightchat:window-message" CustomEvent whose detail is the data).
//
// The panel keeps its chat when the host page reloads or moves on to another of its pages
// (in the same tab): the chat's id is kept in the page's sessionStorage, under a key named
// after the app's address, and the panel opens it again through /chat/ID/copilot, where the
// server checks it like any chat (a chat this browser no longer has gives a new one).
//
// The chat calls the page's functions (cl.CopilotFunction) through a "chainlit-call-fn"
// CustomEvent on window, as Chainlit's widget does; its detail is {name, args, callback}.
// The listener answers with callback(result): the result (JSON data) goes back to the chat.
//
// Styles are set through the CSSOM (element.style), which a strict Content-Security-Policy
// on the host page allows; no <style> element and no style attribute is written.
(function () {
  "use strict";
  if (window.mountLightchatWidget) return;  // the tag is on the page twice

  // The widget's texts, in the visitor's language: the server fills them in.
  var texts = {} /* texts */;
  function text(key, fallback) { return typeof texts[key] === "string" ? texts[key] : fallback; }

  var script = document.currentScript;
  var scriptData = (script && script.dataset) || {};
  // The app's address: where this script came from, without its own path.
  function serverFromScript() {
    if (!script || !script.src) return "";
    var url = new URL(script.src, document.baseURI);
    var path = url.pathname.replace(/\/(copilot\/index\.js|-\/copilot\.js|-\/static\/copilot\.js)$/, "");
    return url.origin + path;
  }

  var state = null;  // the mounted widget

  // The chat the panel showed last, kept per tab and per app. Storage may be off (a
  // browser setting, a sandboxed page): the widget then starts a new chat each time.
  var CHAT_ID = /^[A-Za-z0-9_-]{1,100}$/;  // the shape of a chat id; anything else is ignored
  function storageKey() { return "lightchat-copilot:" + state.server + ":chat"; }
  function keptChat() {
    var chat = null;
    try { chat = window.sessionStorage.getItem(storageKey()); } catch (error) { /* no storage */ }
    return chat && CHAT_ID.test(chat) ? chat : null;
  }
  function keepChat(chat) {
    if (typeof chat !== "string" || !CHAT_ID.test(chat)) return;
    try { window.sessionStorage.setItem(storageKey(), chat); } catch (error) { /* no storage */ }
  }

  function applyStyle(element, styles) {
    Object.keys(styles).forEach(function (name) { element.style[name] = styles[name]; });
  }

  function icon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "26");
    svg.setAttribute("height", "26");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  function mount(config) {
    config = config || {};
    if (state) unmount();
    var server = String(config.chainlitServer || config.server || scriptData.server || serverFromScript()).replace(/\/+$/, "");
    if (!server) throw new Error("lightchat widget: give the app's address, e.g. mountLightchatWidget({server: \"https://chat.example.com\"})");
    var origin = new URL(server, document.baseURI).origin;
    var side = (config.position || scriptData.position) === "left" ? "left" : "right";
    var id = "lightchat-copilot";

    var button = document.createElement("button");
    button.type = "button";
    button.id = id + "-button";
    button.setAttribute("aria-label", config.label || scriptData.label || text("open", "Open chat"));
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", id + "-panel");
    button.appendChild(icon());
    applyStyle(button, {
      position: "fixed", bottom: "20px", width: "56px", height: "56px", borderRadius: "50%",
      border: "none", background: "#2563eb", color: "#fff", cursor: "pointer", zIndex: "2147483000",
      boxShadow: "0 4px 14px rgba(0,0,0,.25)", display: "flex", alignItems: "center",
      justifyContent: "center", padding: "0",
    });
    button.style[side] = "20px";

    var panel = document.createElement("div");
    panel.id = id + "-panel";
    panel.setAttribute("role", "region");
    panel.setAttribute("aria-label", config.title || scriptData.title || text("title", "Chat"));
    panel.hidden = true;
    applyStyle(panel, {
      position: "fixed", bottom: "88px", width: "min(420px, calc(100vw - 40px))",
      height: "min(640px, calc(100vh - 110px))", zIndex: "2147483000", background: "#fff",
      borderRadius: "12px", boxShadow: "0 8px 30px rgba(0,0,0,.3)", overflow: "hidden",
      flexDirection: "column",
    });
    panel.style[side] = "20px";

    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "×";
    close.setAttribute("aria-label", text("close", "Close chat"));
    applyStyle(close, {
      border: "none", background: "transparent", fontSize: "22px", lineHeight: "1",
      cursor: "pointer", color: "#555", padding: "2px 10px",
    });
    var bar = document.createElement("div");
    applyStyle(bar, { display: "flex", justifyContent: "flex-end", flex: "none", borderBottom: "1px solid #e5e7eb" });
    bar.appendChild(close);
    panel.appendChild(bar);

    state = {
      server: server, origin: origin, button: button, panel: panel, frame: null,
      ready: false, queue: [],
      accessToken: typeof config.accessToken === "string" && config.accessToken ? config.accessToken : null,
    };
    button.addEventListener("click", function () { toggle(); });
    close.addEventListener("click", function () { setOpen(false); });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") setOpen(false);
    });
    document.body.appendChild(panel);
    document.body.appendChild(button);
    if (config.opened || scriptData.open === "true") setOpen(true);
    return state;
  }

  function unmount() {
    if (!state) return;
    state.button.remove();
    state.panel.remove();
    state = null;
  }

  // The chat is loaded when first needed (opening the panel starts a chat on the server,
  // or goes back to the one it showed before the page reloaded).
  function frame() {
    if (state.frame) return state.frame;
    var iframe = document.createElement("iframe");
    var kept = keptChat();
    var chat = kept ? "/chat/" + encodeURIComponent(kept) + "/copilot" : "/?client=copilot";
    if (state.accessToken) {
      // Signed in first, with the token; the sign-in page then goes on to the chat.
      var path = new URL(state.server, document.baseURI).pathname.replace(/\/+$/, "");
      iframe.src = state.server + "/auth/jwt?next=" + encodeURIComponent(path + chat);
    } else {
      iframe.src = state.server + chat;
    }
    iframe.title = text("title", "Chat");
    // The chat may record the user's voice and play the app's (features.audio).
    iframe.setAttribute("allow", "clipboard-write; microphone; autoplay");
    applyStyle(iframe, { border: "none", width: "100%", flex: "1", minHeight: "0", display: "block" });
    iframe.addEventListener("load", function () {
      state.ready = false;
      // The chat answers "ready" (it also says so by itself when it knows this page).
      iframe.contentWindow.postMessage({ __lightchat: "hello" }, state.origin);
    });
    state.panel.appendChild(iframe);
    state.frame = iframe;
    return iframe;
  }

  function setOpen(open) {
    if (!state) return;
    if (open) frame();
    state.panel.hidden = !open;
    state.panel.style.display = open ? "flex" : "none";
    state.button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) state.frame.focus();
    else state.button.focus();
  }

  function toggle() {
    if (state) setOpen(state.panel.hidden);
  }

  // Down to the chat, once it is ready (queued until then).
  function post(data) {
    if (!state) throw new Error("lightchat widget: mount it first (mountLightchatWidget).");
    frame();
    if (state.ready) state.frame.contentWindow.postMessage(data, state.origin);
    else state.queue.push(data);
  }

  window.addEventListener("message", function (event) {
    if (!state || !state.frame || event.source !== state.frame.contentWindow || event.origin !== state.origin) return;
    var data = event.data;
    if (data && typeof data === "object" && typeof data.__lightchat === "string") {
      if (data.__lightchat === "ready") {
        state.ready = true;
        keepChat(data.chat);  // the chat on show now: a new one replaces the kept one
        var queued = state.queue.splice(0);
        queued.forEach(function (item) { state.frame.contentWindow.postMessage(item, state.origin); });
      } else if (data.__lightchat === "need-token") {
        // The app's sign-in page asks for the access token: to the app's origin only.
        if (state.accessToken) {
          state.frame.contentWindow.postMessage({ __lightchat: "access-token", token: state.accessToken }, state.origin);
        }
      } else if (data.__lightchat === "escape") {
        setOpen(false);
      } else if (data.__lightchat === "call-fn") {
        callFunction(data, event.source, event.origin);
      }
      return;
    }
    window.dispatchEvent(new CustomEvent("lightchat:window-message", { detail: data }));
  });

  // A function call from the chat, for the page's "chainlit-call-fn" listeners. The first
  // callback answers, into the frame that asked and only at the chat's origin.
  function callFunction(call, source, origin) {
    if (typeof call.id !== "string" || typeof call.name !== "string") return;
    var answered = false;
    var callback = function (result) {
      if (answered) return;
      answered = true;
      source.postMessage({ __lightchat: "fn-result", id: call.id, result: result }, origin);
    };
    var args = call.args && typeof call.args === "object" ? call.args : {};
    window.dispatchEvent(new CustomEvent("chainlit-call-fn", {
      detail: { name: call.name, args: args, callback: callback },
    }));
  }

  function sendMessage(message) {
    var content = typeof message === "string" ? message : message && message.content;
    if (typeof content !== "string" || !content.trim()) return;
    post({ __lightchat: "send", content: content });
  }

  window.mountLightchatWidget = mount;
  window.mountChainlitWidget = mount;
  window.unmountLightchatWidget = unmount;
  window.toggleLightchatWidget = toggle;
  window.toggleChainlitCopilot = toggle;
  window.sendLightchatMessage = sendMessage;
  window.sendChainlitMessage = sendMessage;
  window.postLightchatWindowMessage = post;

  // Mounted by itself once the page has loaded, unless the page mounted it already.
  if (scriptData.mount !== "manual") {
    var auto = function () { if (!state) mount({}); };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", auto);
    else setTimeout(auto, 0);
  }
})();
