// Listening while it separates, in a real browser: Playwright driving Debian's Chromium against
// `msaas up` with the real htdemucs (../shared/models; the tiny test models finish before anyone
// could listen). Uploads a 60 s song, plays before the job is done, checks the playhead moves,
// the stems stay within 50 ms of each other and the waveforms grow, mutes and solos while it
// separates, then that every stem heard equals the final download, sample for sample.
// Run by ctest (web_live_RealHtdemucs); env: MSAAS_BINARY, MSAAS_REAL_MODELS, MSAAS_SCREENSHOTS.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { muteVocalsThenSoloDrums, startService, stopService, waitFor } from "./support.mjs";

const binary = process.env.MSAAS_BINARY;
const models = process.env.MSAAS_REAL_MODELS;
const screenshots = process.env.MSAAS_SCREENSHOTS ?? join(tmpdir(), "msaas-screenshots");
if (!models || !existsSync(join(models, "955717e8-9e616d19.th"))) {
  console.log(`live page test: skipped, no htdemucs in ${models}`);
  process.exit(0);
}
const work = mkdtempSync(join(tmpdir(), "msaas-live-"));
mkdirSync(screenshots, { recursive: true });
const step = (text) => console.log(`live page test: ${text}`);

function makeSong(path, seconds) {
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i",
    "aevalsrc=0.3*sin(2*PI*55*t)+0.2*sin(2*PI*(440+20*sin(2*PI*5*t))*t)+0.3*exp(-20*mod(t\\,0.5))*sin(2*PI*80*t)|" +
    `0.3*sin(2*PI*55*t)+0.15*sin(2*PI*262*t)+0.3*exp(-20*mod(t\\,0.5))*sin(2*PI*80*t):s=44100:d=${seconds}`,
    "-c:a", "libmp3lame", path]);
  return path;
}

const { up, url } = await startService(binary,
  ["--data", join(work, "var"), "--default-model", "955717e8"], { MSAAS_MODELS: models }, 120000);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector("#model option[value='955717e8']", { state: "attached" });

  step("upload a 60 s song as WAV");
  await page.setInputFiles("#file-input", makeSong(join(work, "Live Song.mp3"), 60));
  await page.selectOption("#format", "wav");
  await page.click("#separate");
  await waitFor(page, () => document.body.dataset.live === "true", "the live stems", 120000);
  await waitFor(page, () => window.msaas.liveMixer.ready() >= 2, "two seconds of every stem");
  const rows = await page.$$eval("#stem-list li", (items) => items.map((i) => i.dataset.stem));
  assert.deepEqual(rows, ["drums", "bass", "other", "vocals"]);
  assert.match(await page.textContent("#job-stage"), /ready to play/);

  step("play while it separates");
  await page.click("#play");
  const readyAtPlay = await page.evaluate(() => window.msaas.liveMixer.ready());
  await waitFor(page, () => {
    const s = window.msaas.mixer.state();
    return s.every((x) => x.playing) && s[0].time > 1;
  }, "playback");
  let previous = -1;
  for (let i = 0; i < 8; i++) {
    const state = await page.evaluate(() => window.msaas.mixer.state());
    const times = state.map((s) => s.time);
    assert.ok(state.every((s) => s.playing), `a stem stopped: ${JSON.stringify(state)}`);
    assert.ok(Math.max(...times) - Math.min(...times) < 0.05, `stems out of step: ${times}`);
    assert.ok(times[0] > previous, `the playhead did not move: ${times[0]} after ${previous}`);
    previous = times[0];
    await page.waitForTimeout(250);
  }
  assert.equal(await page.textContent("#job-status"), "running", "played before the job was done");

  step("mute vocals, solo drums and back, turn bass down, while it separates");
  await muteVocalsThenSoloDrums(page);
  let state;
  await page.click("li[data-stem=drums] .solo");
  await page.fill("li[data-stem=bass] .volume", "0.5");
  state = await page.evaluate(() => window.msaas.mixer.state());
  assert.equal(state[1].volume, 0.5);
  assert.deepEqual(state.map((s) => s.muted), [false, false, false, true]);
  const grown = await waitFor(page, (before) => {
    const now = window.msaas.liveMixer.ready();
    return now > before ? now : null;
  }, "the waveforms to grow", 60000, readyAtPlay);
  step(`ready grew from ${readyAtPlay.toFixed(1)} s to ${grown.toFixed(1)} s while playing`);
  await page.screenshot({ path: join(screenshots, "live.png"), fullPage: true });

  step("the job ends: downloads offered, playback goes on");
  await waitFor(page, () => document.body.dataset.stemsReady === "true", "the job to finish", 240000);
  assert.equal(await page.textContent("#job-status"), "done");
  assert.equal(await page.isVisible("li[data-stem=vocals] .download"), true);
  assert.ok(await page.evaluate(() => window.msaas.mixer === window.msaas.liveMixer),
            "the page dropped the audio it had heard and loaded the files again");
  const compared = await page.evaluate(async () => {
    const live = window.msaas.liveMixer;
    const out = {};
    for (const row of document.querySelectorAll("#stem-list li")) {
      const name = row.dataset.stem;
      const bytes = await (await fetch(row.querySelector(".download").href)).arrayBuffer();
      const view = new DataView(bytes);
      let at = 12;
      while (String.fromCharCode(...new Uint8Array(bytes, at, 4)) !== "data") at += 8 + view.getUint32(at + 4, true);
      const final = new Int16Array(bytes.slice(at + 8, at + 8 + view.getUint32(at + 4, true)));
      const heard = live.samples(name);
      let differ = 0;
      for (let i = 0; i < Math.min(final.length, heard.length); i++) if (final[i] !== heard[i]) differ++;
      out[name] = { final: final.length, heard: heard.length, differ };
    }
    return out;
  });
  for (const [name, c] of Object.entries(compared)) {
    assert.ok(c.final > 60 * 44100 * 2 * 0.99, `${name}: final stem too short (${c.final} samples)`);
    assert.equal(c.heard, c.final, `${name}: heard ${c.heard} samples, the download has ${c.final}`);
    assert.equal(c.differ, 0, `${name}: ${c.differ} samples differ from the download`);
  }
  assert.deepEqual(errors, []);
  step("all good");
} catch (error) {
  failed = true;
  console.error(`live page test failed: ${error.stack ?? error}`);
} finally {
  await browser.close();
  await stopService(up);
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
