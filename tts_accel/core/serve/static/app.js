// tts-accel's page: POST /v1/audio/speech as server-sent events (pcm, word times), every delta
// scheduled on one Web Audio clock as it arrives, and the word under the play head highlighted.
// No build step, no dependency. window.ttsState exposes what happened (the browser test reads it).
"use strict";

const $ = (id) => document.getElementById(id);
const state = (window.ttsState = {
  voices: [], bytes: 0, deltas: 0, samplesScheduled: 0, done: false, error: null,
  words: [], highlighted: [], playing: false, contextState: null,
});
let ctx = null;
let controller = null;

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("key").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

function say(text) { $("status").textContent = text; }

async function loadVoices() {
  try {
    const reply = await fetch("v1/audio/voices", { headers: headers() });
    if (!reply.ok) throw new Error((await reply.json()).error.message);
    const data = await reply.json();
    const select = $("voice");
    select.textContent = "";
    for (const v of data.voices) {
      const option = new Option(`${v.id} (${v.language}, ${v.sample_rate} Hz)`, v.id);
      option.selected = v.id === data.default;
      select.add(option);
    }
    state.voices = data.voices.map((v) => v.id);
    say("");
  } catch (err) {
    say("Cannot list the voices: " + err.message + (err.message.includes("API key") ? " Enter the key." : ""));
  }
}

function pcmToFloat(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength >> 1);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(2 * i, true) / 32768;
  return out;
}

function b64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function addWords(words) {
  const box = $("words");
  for (const w of words) {
    const span = document.createElement("span");
    span.textContent = w.word;
    box.append(span, " ");
    state.words.push({ word: w.word, start: w.start, end: w.end, span });
  }
}

// [context time a delta starts, its first sample's time in the request's audio], in order: after
// an underrun the rest plays later, and the play head still maps to the right word
let segments = [];

function playHead() {
  const now = ctx.currentTime;
  let at = 0;
  for (const [when, audio] of segments) if (when <= now) at = audio + (now - when);
  return segments.length && now >= segments[0][0] ? at : -1;
}

function follow() {
  // the last word that has started under the play head is "now"
  if (!state.playing) return;
  const at = playHead();
  let now = -1;
  for (let i = 0; i < state.words.length && state.words[i].start <= at; i++) now = i;
  state.words.forEach((w, i) => {
    w.span.classList.toggle("now", i === now);
    w.span.classList.toggle("spoken", i < now);
  });
  if (now >= 0 && state.highlighted[state.highlighted.length - 1] !== now) state.highlighted.push(now);
  state.contextState = ctx.state;
  if (state.done && at > state.samplesScheduled / state.rate + 0.1) {
    state.playing = false;
    finish("Done.");
    return;
  }
  requestAnimationFrame(follow);
}

function finish(message) {
  $("speak").disabled = false;
  $("stop").disabled = true;
  if (message) say(message);
}

async function speak() {
  ctx = ctx || new AudioContext();
  await ctx.resume();
  Object.assign(state, { bytes: 0, deltas: 0, samplesScheduled: 0, done: false, error: null, words: [],
    highlighted: [], playing: false });
  $("words").textContent = "";
  $("speak").disabled = true;
  $("stop").disabled = false;
  say("Asking…");
  controller = new AbortController();
  const body = {
    input: $("text").value, voice: $("voice").value || undefined, speed: Number($("speed").value) || 1,
    response_format: "pcm", stream_format: "sse", timestamps: true,
  };
  let reply;
  try {
    reply = await fetch("v1/audio/speech", { method: "POST", headers: headers(), body: JSON.stringify(body),
      signal: controller.signal });
  } catch (err) {
    state.error = err.message;
    return finish("Cannot reach the server: " + err.message);
  }
  if (!reply.ok) {
    let message = reply.statusText;
    try { message = (await reply.json()).error.message; } catch (_) { /* not our error shape */ }
    state.error = message;
    return finish(`Refused (${reply.status}): ${message}`);
  }
  const rate = Number(reply.headers.get("X-Sample-Rate")) || 24000;
  state.rate = rate;
  const reader = reply.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let next = 0;
  segments = [];
  say("Speaking…");
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffered.indexOf("\n\n")) >= 0) {
        const line = buffered.slice(0, cut).trim();
        buffered = buffered.slice(cut + 2);
        if (!line.startsWith("data: ")) continue;
        const event = JSON.parse(line.slice(6));
        if (event.type === "speech.audio.done") { state.done = true; continue; }
        if (event.type !== "speech.audio.delta") continue;
        state.deltas += 1;
        if (event.words) addWords(event.words);
        if (!event.audio) continue;
        const bytes = b64(event.audio);
        state.bytes += bytes.length;
        const samples = pcmToFloat(bytes);
        if (!samples.length) continue;
        const buffer = ctx.createBuffer(1, samples.length, rate);
        buffer.copyToChannel(samples, 0);
        const source = ctx.createBufferSource();
        source.buffer = buffer;
        source.connect(ctx.destination);
        if (!segments.length) {
          next = ctx.currentTime + 0.05; // a little lead, so the first delta plays whole
          state.playing = true;
          requestAnimationFrame(follow);
        }
        next = Math.max(next, ctx.currentTime); // after an underrun, as soon as it can
        segments.push([next, state.samplesScheduled / rate]);
        source.start(next);
        next += buffer.duration;
        state.samplesScheduled += samples.length;
      }
    }
  } catch (err) {
    if (err.name !== "AbortError") { state.error = err.message; say("The stream broke: " + err.message); }
  }
  if (!state.done && !state.error) {
    state.error = "the stream ended short";
    say("The stream ended short.");
  }
  if (!state.playing) finish();
}

$("speak").addEventListener("click", speak);
$("stop").addEventListener("click", () => {
  if (controller) controller.abort();
  state.playing = false;
  if (ctx) ctx.close().then(() => { ctx = null; });
  finish("Stopped.");
});
$("key").addEventListener("change", loadVoices);
loadVoices();
