// The live mixer: listening to a running job's stems while they are separated. Each stem comes
// as a WAV stream (wav_stream.js); its samples are kept as 16-bit chunks and turned into Web
// Audio buffers just before they play, every stem scheduled on the one AudioContext clock, so the
// stems play in sync to the sample. Waveforms grow as the audio arrives; mute, solo and volume
// are gain nodes; playback waits when it catches up with the separation, and goes on by itself.
// Same controls as Mixer (mixer.js): the page drives either.
import { applyMutes, wireMuteSolo } from "./mute_solo.js";
import { stemColour } from "./stem_colours.js";
import { readWavStream } from "./wav_stream.js";

const aheadSeconds = 1.5;  // audio scheduled ahead of the playhead
const chunkFrames = 44100;  // chunks of about a second: few nodes, short waits

export class LiveMixer {
  constructor(list, template, onTick) {
    this.list = list;
    this.template = template;
    this.onTick = onTick;
    this.rows = [];
    this.live = true;
  }

  // live: the job's `live` member ({seconds, stems: [{name, url}]}); urlFor adds the API key.
  // Resolves once every stem has arrived whole; rejects if a stream breaks off.
  start(live, urlFor, headers) {
    this.destroy();
    this.total = live.seconds;
    // At the stems' own rate: buffers played back to back are not resampled one by one (which
    // could click at their edges).
    this.context = new AudioContext({ sampleRate: live.sample_rate ?? 44100 });
    this.abort = new AbortController();
    this.position = 0;     // the playhead while paused or waiting
    this.playing = false;  // wanted by the listener (it may be waiting for audio)
    this.waiting = false;
    this.t0 = 0;           // context time at which the song's time 0 plays
    this.timer = setInterval(() => this.tick(), 100);
    this.streams = Promise.all(live.stems.map((stem) => this.addRow(stem, urlFor(stem.url), headers)));
    return this.streams;
  }

  addRow(stem, url, headers) {
    const item = this.template.content.firstElementChild.cloneNode(true);
    item.dataset.stem = stem.name;
    item.querySelector(".name").textContent = stem.name.replace("no_", "no ");
    item.querySelector(".download").hidden = true;  // offered once the stems are complete
    const wave = item.querySelector(".wave");
    wave.classList.add("live");
    const canvas = document.createElement("canvas");
    const cursor = document.createElement("div");
    cursor.className = "cursor";
    wave.append(canvas, cursor);
    this.list.append(item);
    canvas.width = Math.max(100, Math.round(wave.clientWidth)) || 600;
    canvas.height = 56;
    const gain = this.context.createGain();
    gain.connect(this.context.destination);
    const row = { name: stem.name, item, canvas, cursor, gain, muted: false, solo: false,
                  volume: 1, chunks: [], pending: [], pendingFrames: 0, frames: 0, rate: 44100,
                  channels: 2, totalFrames: 0, sources: [], next: 0 };
    this.rows.push(row);
    wireMuteSolo(row, () => this.applyMutes());
    item.querySelector(".volume").addEventListener("input", (e) => {
      row.volume = Number(e.target.value);
      this.applyMutes();
    });
    canvas.addEventListener("click", (e) => {
      const box = canvas.getBoundingClientRect();
      this.seek(((e.clientX - box.left) / box.width) * this.duration());
    });
    let flush = null;
    return readWavStream(url, headers, {
      signal: this.abort.signal,
      onHeader: (h) => {
        row.rate = h.sampleRate;
        row.channels = h.channels;
        row.totalFrames = h.frames;
      },
      onFrames: (samples) => {
        row.pending.push(samples);
        row.pendingFrames += samples.length / row.channels;
        if (row.pendingFrames >= chunkFrames) this.cutChunk(row);
        clearTimeout(flush);  // what is left of a burst becomes a chunk once the burst ends
        flush = setTimeout(() => this.cutChunk(row), 50);
      },
    }).then(() => {
      clearTimeout(flush);
      this.cutChunk(row);
    });
  }

  cutChunk(row) {
    if (row.pendingFrames === 0) return;
    const samples = new Int16Array(row.pendingFrames * row.channels);
    let at = 0;
    for (const part of row.pending) {
      samples.set(part, at);
      at += part.length;
    }
    const chunk = { start: row.frames, frames: row.pendingFrames, samples };
    row.chunks.push(chunk);
    row.frames += chunk.frames;
    row.pending = [];
    row.pendingFrames = 0;
    this.draw(row, chunk);
  }

  // Seconds every stem has, from the start.
  ready() {
    if (this.rows.length === 0) return 0;
    return Math.min(...this.rows.map((r) => r.frames / r.rate));
  }

  complete() {
    return this.rows.length > 0 && this.rows.every((r) => r.totalFrames > 0 && r.frames >= r.totalFrames);
  }

  // Whether every stem arrives whole, waiting at most `ms` for the streams still open (a job's
  // "done" can come before the last of its audio); at once where a stream broke off.
  async completeWithin(ms) {
    if (this.complete() || !this.streams) return this.complete();
    let timer;
    const timeout = new Promise((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([this.streams.catch(() => {}), timeout]).finally(() => clearTimeout(timer));
    return this.complete();
  }

  duration() {
    return this.total ?? 0;
  }

  time() {
    if (!this.playing || this.waiting) return this.position;
    return Math.min(this.duration(), this.context.currentTime - this.t0);
  }

  async play() {
    if (this.playing) return;
    await this.context.resume();
    this.playing = true;
    this.waiting = true;  // tick() starts the sources once there is audio at the playhead
    this.tick();
  }

  pause() {
    this.position = this.time();
    this.playing = false;
    this.waiting = false;
    this.stopSources();
    this.onTick?.(this.position, this.duration(), false);
  }

  async toggle() {
    if (this.playing) this.pause();
    else await this.play();
  }

  // Starting again where an earlier player was (a stream opened anew).
  resumeAt(time, playing) {
    this.position = time;
    if (playing) this.play();
  }

  seek(time) {
    const to = Math.max(0, Math.min(time, this.ready()));
    this.stopSources();
    this.position = to;
    if (this.playing) {
      this.waiting = true;
      this.tick();
    }
  }

  // Every 100 ms while open: start or stop waiting, schedule what plays next, move cursors.
  tick() {
    const ready = this.ready();
    const end = this.duration();
    if (this.playing && this.waiting) {
      const enough = ready >= Math.min(end, this.position + 1) && ready > this.position;
      if (enough) {
        this.waiting = false;
        this.t0 = this.context.currentTime + 0.1 - this.position;
        for (const row of this.rows) this.schedule(row, this.position);
      }
    } else if (this.playing) {
      const now = this.time();
      if (now >= end - 0.01) {
        this.pause();
        this.position = 0;
      } else if (now >= ready - 0.05) {
        this.position = Math.min(now, ready);  // caught up with the separation: wait for more
        this.waiting = true;
        this.stopSources();
      } else {
        for (const row of this.rows) this.schedule(row, now);
      }
    }
    const now = this.time();
    for (const row of this.rows) row.cursor.style.left = `${(100 * now) / (end || 1)}%`;
    this.onTick?.(now, end, this.playing);
  }

  // Starts a buffer source for each chunk of `row` that begins before now + aheadSeconds.
  schedule(row, now) {
    while (row.next < row.chunks.length) {
      const chunk = row.chunks[row.next];
      const begins = chunk.start / row.rate;
      if (begins > now + aheadSeconds) break;
      row.next += 1;
      const ends = begins + chunk.frames / row.rate;
      if (ends <= now) continue;
      const source = this.context.createBufferSource();
      source.buffer = this.toBuffer(row, chunk);
      source.connect(row.gain);
      const when = this.t0 + begins;
      const late = Math.max(0, this.context.currentTime - when);
      source.start(when + late, late);
      const entry = { source, when: when + late, songTime: begins + late };
      row.sources.push(entry);
      source.onended = () => {
        row.sources = row.sources.filter((s) => s !== entry);
      };
    }
  }

  toBuffer(row, chunk) {
    const buffer = this.context.createBuffer(row.channels, chunk.frames, row.rate);
    for (let c = 0; c < row.channels; c++) {
      const out = buffer.getChannelData(c);
      for (let i = 0; i < chunk.frames; i++) out[i] = chunk.samples[i * row.channels + c] / 32768;
    }
    return buffer;
  }

  stopSources() {
    for (const row of this.rows) {
      for (const s of row.sources) {
        s.source.onended = null;
        s.source.stop();
      }
      row.sources = [];
      // The next chunk to schedule: the one holding the playhead (found again on restart).
      row.next = 0;
      while (row.next < row.chunks.length) {
        const c = row.chunks[row.next];
        if ((c.start + c.frames) / row.rate > this.position) break;
        row.next += 1;
      }
    }
  }

  // A chunk's stretch of the waveform: one bar per pixel column, its peak.
  draw(row, chunk) {
    const { canvas } = row;
    const g = canvas.getContext("2d");
    const perColumn = (this.duration() * row.rate) / canvas.width;
    g.fillStyle = stemColour(row.name);
    const first = Math.floor(chunk.start / perColumn);
    const last = Math.ceil((chunk.start + chunk.frames) / perColumn);
    for (let x = first; x < last; x++) {
      const from = Math.max(0, Math.floor(x * perColumn) - chunk.start);
      const to = Math.min(chunk.frames, Math.floor((x + 1) * perColumn) - chunk.start);
      let peak = 0;
      for (let i = from; i < to; i++)
        for (let c = 0; c < row.channels; c++)
          peak = Math.max(peak, Math.abs(chunk.samples[i * row.channels + c]));
      const h = Math.max(1, (peak / 32768) * canvas.height);
      g.fillRect(x, (canvas.height - h) / 2, 1, h);
    }
  }

  applyMutes() {
    // Glided over 10 ms: a gain that jumps clicks.
    applyMutes(this.rows, (r, silent) =>
      r.gain.gain.setTargetAtTime(silent ? 0 : r.volume, this.context.currentTime, 0.01));
  }

  // Once the job is done: the stems' download links.
  offerDownloads(stems) {
    for (const stem of stems) {
      const row = this.rows.find((r) => r.name === stem.name);
      if (!row) continue;
      const link = row.item.querySelector(".download");
      link.href = stem.url;
      link.hidden = false;
    }
  }

  // For tests and the curious: what each stem is doing; `time` from the stem's own playing
  // buffer source, so stems out of step would show.
  state() {
    const now = this.context?.currentTime ?? 0;
    return this.rows.map((r) => {
      const current = r.sources.filter((s) => s.when <= now).at(-1);
      const playing = this.playing && !this.waiting && current !== undefined;
      return {
        name: r.name,
        time: playing ? current.songTime + (now - current.when) : this.position,
        playing,
        muted: r.item.classList.contains("silent"),
        volume: r.volume,
        ready: r.frames / r.rate,
      };
    });
  }

  // Every sample received of one stem (16-bit, interleaved), for comparing with the download.
  samples(name) {
    const row = this.rows.find((r) => r.name === name);
    const out = new Int16Array(row.frames * row.channels);
    let at = 0;
    for (const c of row.chunks) {
      out.set(c.samples, at);
      at += c.samples.length;
    }
    return out;
  }

  destroy() {
    clearInterval(this.timer);
    this.abort?.abort();
    if (this.context) {
      this.stopSources();
      this.context.close();
    }
    this.context = null;
    this.streams = null;
    this.rows = [];
    this.list.replaceChildren();
  }
}
