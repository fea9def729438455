// lightchat: the microphone's audio worklet (loaded by lightchat.audio.js). It turns the
// microphone's samples, at the audio context's rate, into 16-bit PCM, mono, and posts them to
// the page in chunks of `chunkSamples` samples; "flush" posts what is left and ends it.
class LightchatRecorder extends AudioWorkletProcessor {
  constructor(options) {
    super();
    var given = options && options.processorOptions && options.processorOptions.chunkSamples;
    this.size = Math.max(128, Math.floor(given || 4800));
    this.buffer = new Int16Array(this.size);
    this.filled = 0;
    this.ended = false;
    var self = this;
    this.port.onmessage = function (event) {
      if (event.data !== "flush" || self.ended) return;
      if (self.filled) self.port.postMessage(self.buffer.slice(0, self.filled).buffer);
      self.filled = 0;
      self.ended = true;
      self.port.postMessage("flushed");
    };
  }

  process(inputs) {
    if (this.ended) return false;
    var input = inputs[0];
    if (!input || !input.length) return true;
    var channels = input.length;
    var frames = input[0].length;
    for (var i = 0; i < frames; i++) {
      var sum = 0;
      for (var c = 0; c < channels; c++) sum += input[c][i];
      var sample = Math.max(-1, Math.min(1, sum / channels));
      this.buffer[this.filled++] = sample < 0 ? sample * 0x8000 : sample * 0x7fff;
      if (this.filled === this.size) {
        var full = this.buffer.buffer;
        this.buffer = new Int16Array(this.size);
        this.filled = 0;
        this.port.postMessage(full, [full]);
      }
    }
    return true;
  }
}

registerProcessor("lightchat-recorder", LightchatRecorder);
