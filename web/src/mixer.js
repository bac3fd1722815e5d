// The stem mixer: one waveform row per stem, all played in sync from one transport, with mute,
// solo and volume per stem (a karaoke or drumless mix in the browser), and downloads.
import { applyMutes, wireMuteSolo } from "./mute_solo.js";
import { stemColour } from "./stem_colours.js";
import WaveSurfer from "./wavesurfer.js";


export class Mixer {
  constructor(list, template, onTick) {
    this.list = list;
    this.template = template;
    this.onTick = onTick;
    this.rows = [];
  }

  // stems: [{name, url}]. Resolves when every waveform is drawn.
  async load(stems) {
    this.destroy();
    const ready = stems.map((stem) => this.addRow(stem));
    await Promise.all(ready);
  }

  addRow(stem) {
    const item = this.template.content.firstElementChild.cloneNode(true);
    item.dataset.stem = stem.name;
    item.querySelector(".name").textContent = stem.name.replace("no_", "no ");
    item.querySelector(".download").href = stem.url;
    this.list.append(item);
    const ws = WaveSurfer.create({
      container: item.querySelector(".wave"),
      url: stem.url,
      height: 56,
      waveColor: stemColour(stem.name),
      progressColor: "#343a40",
      cursorColor: "#000",
      normalize: true,
    });
    const row = { name: stem.name, ws, item, muted: false, solo: false };
    this.rows.push(row);
    wireMuteSolo(row, () => this.applyMutes());
    item.querySelector(".volume").addEventListener("input", (e) => ws.setVolume(Number(e.target.value)));
    // Clicking one waveform moves every stem to that time.
    ws.on("interaction", (time) => this.seek(time));
    ws.on("timeupdate", (time) => {
      if (row === this.rows[0]) this.follow(time);
    });
    ws.on("finish", () => {
      if (row === this.rows[0]) this.pause();
    });
    return new Promise((resolve, reject) => {
      ws.on("ready", resolve);
      ws.on("error", reject);
    });
  }

  get playing() {
    return this.rows.length > 0 && this.rows[0].ws.isPlaying();
  }

  async play() {
    const time = this.rows[0]?.ws.getCurrentTime() ?? 0;
    for (const r of this.rows) r.ws.setTime(time);
    await Promise.all(this.rows.map((r) => r.ws.play()));
  }

  pause() {
    for (const r of this.rows) r.ws.pause();
    this.onTick?.(this.time(), this.duration(), false);
  }

  async toggle() {
    if (this.playing) this.pause();
    else await this.play();
  }

  seek(time) {
    for (const r of this.rows) r.ws.setTime(time);
  }

  // Keeps the other stems within 50 ms of the first one while playing.
  follow(time) {
    for (const r of this.rows.slice(1))
      if (Math.abs(r.ws.getCurrentTime() - time) > 0.05) r.ws.setTime(time);
    this.onTick?.(time, this.duration(), this.playing);
  }

  applyMutes() {
    applyMutes(this.rows, (r, silent) => r.ws.setMuted(silent));
  }

  time() {
    return this.rows[0]?.ws.getCurrentTime() ?? 0;
  }

  duration() {
    return this.rows[0]?.ws.getDuration() ?? 0;
  }

  // For tests and the curious: what each stem is doing.
  state() {
    return this.rows.map((r) => ({
      name: r.name,
      time: r.ws.getCurrentTime(),
      playing: r.ws.isPlaying(),
      muted: r.ws.getMuted(),
      volume: r.ws.getVolume(),
    }));
  }

  destroy() {
    for (const r of this.rows) r.ws.destroy();
    this.rows = [];
    this.list.replaceChildren();
  }
}
