// What the page's browser tests share: starting `msaas up` and waiting in the page.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";

// Starts `msaas up` with `args` (after `up --port 0`) and extra environment; resolves with the
// process and its URL once it says it is up.
export function startService(binary, args, env = {}, timeoutMs = 30000) {
  const up = spawn(binary, ["up", "--port", "0", ...args],
    { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`msaas up did not start:\n${log}`)), timeoutMs);
    const read = (chunk) => {
      log += chunk;
      const m = /MSaaS is up: (http:\/\/[\d.:]+\/)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ up, url: m[1] });
      }
    };
    up.stdout.on("data", read);
    up.stderr.on("data", read);
    up.on("exit", (code) => reject(new Error(`msaas up exited (${code}):\n${log}`)));
  });
}

// Evaluates `test(arg)` in the page every 100 ms until it gives something truthy (returned).
export async function waitFor(page, test, what, timeout = 60000, arg = undefined) {
  const until = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(test, arg);
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(100);
  }
}

// Mutes vocals, then solos drums (four stems), checking what each stem then does.
export async function muteVocalsThenSoloDrums(page) {
  await page.click("li[data-stem=vocals] .mute");
  let state = await page.evaluate(() => window.msaas.mixer.state());
  assert.deepEqual(state.map((s) => s.muted), [false, false, false, true]);
  await page.click("li[data-stem=drums] .solo");
  state = await page.evaluate(() => window.msaas.mixer.state());
  assert.deepEqual(state.map((s) => s.muted), [false, true, true, true]);
}

// Stops `msaas up` as Ctrl-C does, and waits for it (and so its children) to end.
export async function stopService(up) {
  up.kill("SIGINT");
  await new Promise((resolve) => up.on("exit", resolve));
}
