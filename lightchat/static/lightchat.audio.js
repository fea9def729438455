// lightchat: voice (features.audio), on chat pages of apps that have it. The microphone
// button (#lc-mic, "Start recording") records 16-bit PCM, mono, at the app's sample rate
// (an AudioWorklet, lightchat.audio-worklet.js beside this file) and posts it to the chat
// in numbered chunks, one post at a time; pressed again ("Stop recording") it sends what is
// left and says how many chunks went. The app's voice arrives on the chat's stream
// ("lc-audio" events) and is played on an AudioContext's timeline, each chunk right after
// the one before, so nothing is heard between them; "lc-audio-interrupt" silences it at
// once. The button's data-* attributes show what plays (data-chunks-played, -ended,
// data-playing, data-interrupts) and the app's voice connection (data-connection).
// Keys: "P" outside a text field (as Chainlit), or Alt+M anywhere.
(function () {
  "use strict";

  var script = document.currentScript;
  // This file comes joined with the page's other scripts: the worklet sits beside it.
  var workletSrc = script ? script.src.replace(/\/[^\/?#]*(?=[?#]|$)/, "/lightchat.audio-worklet.js") : "";
  var CHUNK_SECONDS = 0.2;
  var RETRY_MS = 400;

  function button() { return document.getElementById("lc-mic"); }

  function texts() {
    try {
      var meta = document.querySelector('meta[name="lc-texts"]');
      return meta ? JSON.parse(meta.content) : {};
    } catch (error) { return {}; }
  }
  function text(key, values) {
    var found = texts()[key];
    if (typeof found !== "string") found = key;
    return found.replace(/\{(\w+)\}/g, function (match, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  }

  function notice(message) {
    var box = document.getElementById("lc-notice");
    if (!box) return;
    var p = document.createElement("p");
    p.setAttribute("role", "alert");
    p.textContent = message;
    box.replaceChildren(p);
  }

  function token() {
    var meta = document.querySelector('meta[name="lc-csrf-token"]') ||
      document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function post(url, body) {
    var headers = { "X-CSRF-Token": token() };
    if (body) headers["Content-Type"] = "application/octet-stream";
    return fetch(url, { method: "POST", headers: headers, body: body || null, credentials: "same-origin" });
  }

  function bump(el, name, by) {
    el.dataset[name] = String((parseInt(el.dataset[name] || "0", 10) || 0) + by);
  }

  // -- the app's voice ------------------------------------------------------------------

  var player = { context: null, next: 0, sources: [], muted: {}, lastSeq: 0 };

  function sampleRate() {
    var el = button();
    var rate = el ? parseInt(el.dataset.sampleRate, 10) : 0;
    return rate > 0 ? rate : 24000;
  }

  function playbackContext() {
    if (!player.context) player.context = new AudioContext({ sampleRate: sampleRate() });
    if (player.context.state === "suspended") player.context.resume().catch(function () {});
    return player.context;
  }

  function showPlaying() {
    var el = button();
    if (el) el.dataset.playing = player.sources.length ? "true" : "false";
  }

  function play(chunk) {
    if (chunk.mime && chunk.mime !== "pcm16") return;
    if (player.muted[chunk.track]) return;  // a track interrupted: its late chunks stay silent
    var raw = atob(chunk.data || "");
    var count = raw.length >> 1;
    if (!count) return;
    var context = playbackContext();
    var buffer = context.createBuffer(1, count, sampleRate());
    var samples = buffer.getChannelData(0);
    for (var i = 0; i < count; i++) {
      var value = raw.charCodeAt(2 * i) | (raw.charCodeAt(2 * i + 1) << 8);
      samples[i] = (value >= 0x8000 ? value - 0x10000 : value) / 0x8000;
    }
    var source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    var at = Math.max(context.currentTime + 0.05, player.next);
    source.start(at);
    player.next = at + buffer.duration;
    source.lcTrack = chunk.track;
    player.sources.push(source);
    source.onended = function () {
      var at = player.sources.indexOf(source);
      if (at < 0) return;  // stopped by an interruption
      player.sources.splice(at, 1);
      var el = button();
      if (el) bump(el, "chunksEnded", 1);
      showPlaying();
    };
    var el = button();
    if (el) bump(el, "chunksPlayed", 1);
    showPlaying();
  }

  function interrupt() {
    var sources = player.sources;
    player.sources = [];
    sources.forEach(function (source) {
      if (source.lcTrack) player.muted[source.lcTrack] = true;
      try { source.stop(); } catch (error) { /* not started yet */ }
    });
    player.next = 0;
    var el = button();
    if (el) bump(el, "interrupts", 1);
    showPlaying();
  }

  function parsed(event) {
    try {
      var sent = JSON.parse(event.detail && event.detail.data);
      if (!sent || typeof sent.seq !== "number" || sent.seq <= player.lastSeq) return null;
      player.lastSeq = sent.seq;  // each event once, after a reconnection too
      return sent;
    } catch (error) { return null; }
  }

  document.addEventListener("lc-audio", function (event) {
    var sent = parsed(event);
    if (sent) play(sent);
  });
  document.addEventListener("lc-audio-interrupt", function (event) {
    if (parsed(event)) interrupt();
  });
  document.addEventListener("lc-audio-connection", function (event) {
    var sent = parsed(event);
    var el = button();
    if (!sent || !el) return;
    el.dataset.connection = sent.state === "on" ? "on" : "off";
    if (sent.state !== "on" && recorder && recorder.ready) stop(recorder);
  });

  // -- the user's voice -----------------------------------------------------------------

  var recorder = null;  // the recording under way

  function showRecording(on) {
    var el = button();
    if (!el) return;
    var label = on ? el.dataset.labelStop : el.dataset.labelStart;
    el.setAttribute("aria-pressed", on ? "true" : "false");
    el.title = label;
    var hidden = el.querySelector(".lc-mic-label");
    if (hidden) hidden.textContent = label;
    el.classList.toggle("lc-recording", on);
  }

  function release(rec) {
    if (rec.stream) rec.stream.getTracks().forEach(function (track) { track.stop(); });
    if (rec.context) rec.context.close().catch(function () {});
    rec.stream = null;
    rec.context = null;
  }

  function fail(rec, message) {
    rec.failed = true;
    rec.queue = [];
    release(rec);
    if (recorder === rec) recorder = null;
    showRecording(false);
    notice(message);
  }

  // Chunks go one post at a time, in order; 429 (too fast, or the app is behind) waits and
  // sends again; any other refusal ends the recording with the server's words.
  function pump(rec) {
    if (rec.sending || rec.failed) return;
    if (!rec.queue.length) {
      if (rec.stopped && !rec.ended) {
        rec.ended = true;
        post(rec.url + "/end?chunks=" + rec.seq).catch(function () {});
      }
      return;
    }
    rec.sending = true;
    var data = rec.queue[0];
    post(rec.url + "/chunks/" + rec.seq, data).then(function (response) {
      rec.sending = false;
      if (response.ok) {
        rec.queue.shift();
        rec.seq += 1;
        var el = button();
        if (el) { bump(el, "sentChunks", 1); bump(el, "sentBytes", data.byteLength); }
        pump(rec);
      } else if (response.status === 429 || response.status === 503) {
        setTimeout(function () { pump(rec); }, RETRY_MS);
      } else {
        response.text().then(function (body) { fail(rec, body || String(response.status)); });
      }
    }, function () {
      rec.sending = false;
      setTimeout(function () { pump(rec); }, RETRY_MS);
    });
  }

  function start() {
    var el = button();
    if (!el || recorder) return;
    var rec = { queue: [], seq: 0, sending: false, stopped: false, ended: false, failed: false, ready: false };
    recorder = rec;
    showRecording(true);
    playbackContext();  // in the click: the browser lets the app's voice play from now on
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.AudioWorkletNode) {
      fail(rec, text("mic_failed", { reason: "this browser cannot record audio here" }));
      return;
    }
    navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    }).then(function (stream) {
      rec.stream = stream;
      if (rec.stopped) { release(rec); return null; }
      return post(el.dataset.url);
    }).then(function (response) {
      if (!response) return null;
      if (!response.ok) {
        return response.text().then(function (body) { fail(rec, body || String(response.status)); return null; });
      }
      return response.json();
    }).then(function (started) {
      if (!started || rec.failed) return null;
      rec.url = started.url;
      if (rec.stopRequested) {  // stopped while the app was asked: an empty recording
        rec.stopped = true;
        release(rec);
        pump(rec);
        return null;
      }
      rec.context = new AudioContext({ sampleRate: started.sampleRate });
      return rec.context.audioWorklet.addModule(workletSrc).then(function () {
        if (rec.failed || !rec.context) return;
        var node = new AudioWorkletNode(rec.context, "lightchat-recorder", {
          processorOptions: { chunkSamples: Math.round(started.sampleRate * CHUNK_SECONDS) },
        });
        node.port.onmessage = function (message) {
          if (message.data === "flushed") {
            release(rec);
            rec.stopped = true;
            pump(rec);
          } else if (message.data instanceof ArrayBuffer && !rec.failed) {
            rec.queue.push(message.data);
            pump(rec);
          }
        };
        rec.context.createMediaStreamSource(rec.stream).connect(node);
        node.connect(rec.context.destination);  // silent: it keeps the graph pulling
        rec.node = node;
        rec.ready = true;
        if (rec.stopRequested) stop(rec);
      });
    }).catch(function (error) {
      if (!rec.failed) fail(rec, text("mic_failed", { reason: (error && error.message) || String(error) }));
    });
  }

  function stop(given) {
    var rec = given || recorder;
    if (!rec) return;
    if (recorder === rec) recorder = null;
    showRecording(false);
    if (!rec.ready) {  // still asking for the microphone or the app: stopped when it answers
      rec.stopRequested = true;
      if (!rec.url) { rec.stopped = true; release(rec); }
      return;
    }
    rec.ready = false;
    rec.node.port.postMessage("flush");  // the rest comes back, then "flushed"
  }

  function toggle() {
    if (recorder) stop(recorder); else start();
  }

  function reveal() {
    var el = button();
    if (el && el.hidden && window.AudioContext) el.hidden = false;
  }

  document.addEventListener("click", function (event) {
    var el = event.target.closest && event.target.closest("#lc-mic");
    if (!el) return;
    event.preventDefault();
    toggle();
  });

  function inTextField(target) {
    if (!target || target === document.body) return false;
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  document.addEventListener("keydown", function (event) {
    if (!button() || event.repeat) return;
    var alt = event.altKey && !event.ctrlKey && !event.metaKey && event.code === "KeyM";
    var plain = !event.altKey && !event.ctrlKey && !event.metaKey && (event.key === "p" || event.key === "P") &&
      !inTextField(document.activeElement);
    if (!alt && !plain) return;
    event.preventDefault();
    toggle();
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", reveal);
  else reveal();
  document.addEventListener("htmx:after:swap", reveal);
})();
