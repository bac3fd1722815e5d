// The page in a real browser: Playwright driving Debian's Chromium (headless) against
// `msaas up` with a small test model. Uploads a generated MP3, waits for the stems, plays them,
// mutes and solos stems, downloads one and checks it decodes; then an upload that is not audio.
// Screenshots go to $MSAAS_SCREENSHOTS. Run by ctest (web_page_test); env: MSAAS_BINARY,
// MSAAS_MODELS, MSAAS_SCREENSHOTS.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { muteVocalsThenSoloDrums, startService, stopService, waitFor } from "./support.mjs";

const binary = process.env.MSAAS_BINARY;
const screenshots = process.env.MSAAS_SCREENSHOTS ?? join(tmpdir(), "msaas-screenshots");
const work = mkdtempSync(join(tmpdir(), "msaas-page-"));
mkdirSync(screenshots, { recursive: true });

function step(text) {
  console.log(`page test: ${text}`);
}

function makeSong(path, seconds) {
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i",
    `aevalsrc=0.4*sin(2*PI*220*t)+0.2*sin(2*PI*880*t)|0.3*sin(2*PI*330*t):s=44100:d=${seconds}`,
    "-c:a", "libmp3lame", path]);
  return path;
}

function duration(path) {
  return Number(execFileSync("ffprobe", ["-v", "error", "-show_entries", "format=duration",
    "-of", "csv=p=0", path]).toString());
}

function startMsaas(name, extraEnv = {}) {
  return startService(binary, ["--data", join(work, name), "--default-model", "tinyht1"], extraEnv);
}

const { up, url } = await startMsaas("var");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
});
let failed = false;
try {
  const page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  step(`open ${url}`);
  const response = await page.goto(url);
  assert.equal(response.status(), 200);
  assert.equal(await page.title(), "MSaaS: split a song into stems");
  await page.waitForSelector("#model option[value=tinyht1]", { state: "attached" });
  assert.equal(await page.inputValue("#model"), "tinyht1");

  step("upload a song");
  const song = makeSong(join(work, "My Song.mp3"), 6);
  await page.setInputFiles("#file-input", song);
  await page.selectOption("#format", "mp3");
  await page.click("#separate");
  await waitFor(page, () => document.body.dataset.stemsReady === "true", "the stems");
  assert.equal(await page.textContent("#job-status"), "done");
  assert.equal(await page.getAttribute("#job-progress", "value"), "100");
  const stems = await page.$$eval("#stem-list li", (items) => items.map((i) => i.dataset.stem));
  assert.deepEqual(stems, ["drums", "bass", "other", "vocals"]);
  assert.match(await page.textContent("#recent"), /My Song\.mp3/);
  await page.screenshot({ path: join(screenshots, "stems.png"), fullPage: true });

  step("play all stems in sync");
  await page.click("#play");
  const playing = await waitFor(page, () => {
    const s = window.msaas.mixer.state();
    return s.every((x) => x.playing) && s[0].time > 0.5 ? s : null;
  }, "playback");
  const times = playing.map((s) => s.time);
  assert.ok(Math.max(...times) - Math.min(...times) < 0.2, `stems out of sync: ${times}`);
  assert.equal(await page.getAttribute("#play", "aria-label"), "Pause");

  step("mute vocals, then solo drums");
  await muteVocalsThenSoloDrums(page);
  let state;
  await page.fill("li[data-stem=drums] .volume", "0.5");
  state = await page.evaluate(() => window.msaas.mixer.state());
  assert.equal(state[0].volume, 0.5);
  await page.click("#play");  // pause
  await waitFor(page, () => window.msaas.mixer.state().every((x) => !x.playing), "pause");

  step("download a stem");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click("li[data-stem=bass] .download"),
  ]);
  const saved = join(work, "bass.mp3");
  await download.saveAs(saved);
  assert.ok(Math.abs(duration(saved) - 6) < 0.3, `downloaded stem lasts ${duration(saved)} s`);
  assert.match(await page.getAttribute("#zip", "href"), /\/stems\.zip$/);
  assert.match(await page.textContent("#queue"), /Queue: 0 waiting, 0 separating/);

  step("an upload that is not audio");
  const fake = join(work, "not-a-song.mp3");
  writeFileSync(fake, "This is a text file with an .mp3 name.\n".repeat(100));
  await page.setInputFiles("#file-input", fake);
  await page.click("#separate");
  await page.waitForSelector("#error:not([hidden])", { timeout: 60000 });
  assert.match(await page.textContent("#error"), /could not be read as audio/);
  assert.equal(await page.textContent("#job-status"), "done");  // refused at the door: no new job
  await page.screenshot({ path: join(screenshots, "error.png"), fullPage: true });
  assert.deepEqual(consoleErrors, []);

  step("a server with API keys: the page asks for one, then works");
  const keys = join(work, "keys");
  writeFileSync(keys, `tester:${"k".repeat(32)}\n`);
  const locked = await startMsaas("locked", { MSAAS_API_KEYS_FILE: keys });
  try {
    const second = await browser.newPage();
    await second.goto(locked.url);
    await second.waitForSelector("#key-form:not([hidden])");
    assert.match(await second.textContent("#error"), /needs an API key/);
    await second.fill("#key-input", "k".repeat(32));
    await second.click("#key-form button");
    await second.waitForSelector("#model option[value=tinyht1]", { state: "attached" });
    await second.setInputFiles("#file-input", song);
    await second.click("#separate");
    await waitFor(second, () => document.body.dataset.stemsReady === "true", "stems with a key");
    assert.match(await second.getAttribute("li[data-stem=vocals] .download", "href"),
      /access_token=k{32}$/);
    await second.screenshot({ path: join(screenshots, "with-key.png"), fullPage: true });
  } finally {
    await stopService(locked.up);
  }
  step("all good");
} catch (error) {
  failed = true;
  console.error(`page test failed: ${error.stack ?? error}`);
} finally {
  await browser.close();
  await stopService(up);
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
