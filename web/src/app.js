// The page: pick or drop a song, upload it with progress, follow the job's events, play the
// stems while they are separated (live.js), then hand the finished stems to the mixer. Also the
// recent songs and the queue length.
import { apiFetch, authHeaders, setApiKey, setOnMissingKey, withKey } from "./auth.js";
import { jobError, uploadError } from "./messages.js";
import { LiveMixer } from "./live.js";
import { Mixer } from "./mixer.js";
import { forgetJob, recentJobs, rememberJob } from "./recent.js";

const $ = (id) => document.getElementById(id);
const mixer = new Mixer($("stem-list"), $("stem-row"), showClock);
const liveMixer = new LiveMixer($("stem-list"), $("stem-row"), showClock);
let player = mixer;  // the one the transport drives: live while separating, then the mixer
let listenedLive = false;  // played during the separation: keep the live player to the end
let chosenFile = null;
let events = null;
// The live player keeps every sample it has heard in the tab (16-bit): 4 stems of 20 minutes are
// about 850 MB. Longer songs are heard once done, from the files, as before.
const liveMaxSeconds = 20 * 60;
// Each stem is a connection held open, and the events one more: over HTTP/1.1 a browser opens 6
// per server, so 6 stems would leave one waiting (HTTP/2, as behind the cluster's load balancer,
// has no such limit).
const http1 = performance.getEntriesByType("navigation")[0]?.nextHopProtocol === "http/1.1";
function canListenLive(job) {
  return job.live && job.live.seconds <= liveMaxSeconds && (!http1 || job.live.stems.length <= 4);
}

// Lets tests (and the curious) look inside.
window.msaas = { get mixer() { return player; }, liveMixer };

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

function formatTime(seconds) {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function showClock(time, duration, playing) {
  $("clock").textContent = `${formatTime(time)} / ${formatTime(duration)}`;
  $("play").textContent = playing ? "❚❚ Pause" : "▶ Play";
  $("play").setAttribute("aria-label", playing ? "Pause" : "Play");
}

// ---- choosing a file

function chooseFile(file) {
  chosenFile = file ?? null;
  $("file-name").textContent = file ? `${file.name} (${(file.size / 1e6).toFixed(1)} MB)` : "";
  $("separate").disabled = !file;
  showError("");
}

function setUpDropZone() {
  const zone = $("drop-zone");
  $("file-input").addEventListener("change", (e) => chooseFile(e.target.files[0]));
  for (const type of ["dragenter", "dragover"])
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
  for (const type of ["dragleave", "drop"])
    zone.addEventListener(type, () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    chooseFile(e.dataTransfer.files[0]);
  });
}

// ---- uploading

function upload(event) {
  event.preventDefault();
  if (!chosenFile) return;
  const form = new FormData();
  for (const name of ["model", "stems", "format"]) form.append(name, $(name).value);
  form.append("file", chosenFile, chosenFile.name);
  const request = new XMLHttpRequest();
  request.open("POST", "/v1/jobs");
  for (const [name, value] of Object.entries(authHeaders())) request.setRequestHeader(name, value);
  request.responseType = "json";
  $("upload-status").hidden = false;
  $("separate").disabled = true;
  showError("");
  request.upload.onprogress = (e) => {
    if (!e.lengthComputable) return;
    const percent = Math.round((100 * e.loaded) / e.total);
    $("upload-progress").value = percent;
    $("upload-text").textContent = `Uploading ${percent}%`;
  };
  const finished = () => {
    $("separate").disabled = false;
    $("upload-status").hidden = true;
  };
  request.onerror = () => {
    finished();
    showError(uploadError(0));
  };
  request.onload = () => {
    finished();
    const body = request.response ?? {};
    if (request.status === 401) askForKey();
    if (request.status !== 200 && request.status !== 201)
      return showError(uploadError(request.status, body.error));
    rememberJob(body.id, chosenFile.name);
    showRecent();
    follow(body.id, chosenFile.name);
  };
  request.send(form);
}

// ---- following a job

function showJob(job, name) {
  $("job-section").hidden = false;
  $("job-name").textContent = name;
  $("job-status").textContent = job.status;
  $("job-status").dataset.status = job.status;
  $("job-progress").value = job.progress ?? 0;
  let stage = job.status === "queued" ? "waiting for a worker" : job.status === "running" ? job.stage : "";
  if (canListenLive(job))
    stage += ` (${formatTime(job.seconds_ready ?? 0)} of ${formatTime(job.live.seconds)} ready to play)`;
  $("job-stage").textContent = stage;
}

// How long a finished job waits for the tail of its live streams before loading the files.
const liveTailWaitMs = 15000;

// The stems as they are separated: the live player takes the transport until the job is done.
// A stream that breaks off (the job went back to the queue, a worker stopped) is opened again
// when the next run's stems come, from where the listener was.
let liveBroken = false;
function listenLive(job) {
  if ((player === liveMixer && !liveBroken) || !canListenLive(job)) return;
  const resume = player === liveMixer ? { time: liveMixer.time(), playing: liveMixer.playing } : null;
  mixer.destroy();
  player = liveMixer;
  liveBroken = false;
  if (!resume) listenedLive = false;
  $("stems-section").hidden = false;
  $("zip").hidden = true;
  showClock(0, job.live.seconds, false);
  document.body.dataset.live = "true";
  const started = liveMixer.start(job.live, withKey, authHeaders());
  if (resume) liveMixer.resumeAt(resume.time, resume.playing);
  started.then(
    () => (document.body.dataset.liveComplete = "true"),
    () => {
      if (player !== liveMixer) return;
      liveBroken = true;
      $("job-stage").textContent += " (listening paused: waiting for the separation to go on)";
    },
  );
}

async function finish(job, name) {
  showJob(job, name);
  if (job.status === "failed") {
    stopListening();
    showError(jobError(job.error));
    return;
  }
  $("stems-section").hidden = false;
  $("zip").href = withKey(job.zip_url);
  $("zip").hidden = false;
  const stems = job.stems.map((s) => ({ ...s, url: withKey(s.url) }));
  // Let the tail of the streamed audio arrive rather than throw away what was heard.
  const following = events;
  const heardWhole =
    player === liveMixer && listenedLive && (await liveMixer.completeWithin(liveTailWaitMs));
  if (events !== following) return;  // another song was opened meanwhile
  if (heardWhole) {
    // Heard while it separated, and all of it came: the same audio goes on; the downloads are
    // offered now.
    liveMixer.offerDownloads(stems);
    document.body.dataset.stemsReady = "true";
    return;
  }
  const resume = player === liveMixer && listenedLive ? liveMixer.time() : 0;
  const wasPlaying = player === liveMixer && liveMixer.playing;
  liveMixer.destroy();
  player = mixer;
  showClock(0, 0, false);
  try {
    await mixer.load(stems);
    if (resume) mixer.seek(resume);  // from where the live player was, playing if it was
    showClock(resume, mixer.duration(), false);
    if (wasPlaying) await mixer.play();
    document.body.dataset.stemsReady = "true";
  } catch {
    showError("The stems could not be loaded for listening; the download links still work.");
  }
}

// The job failed or went: what the live player held is of no more use.
function stopListening() {
  if (player !== liveMixer) return;
  liveMixer.destroy();
  player = mixer;
  $("stems-section").hidden = true;
}

function follow(id, name) {
  events?.close();
  mixer.destroy();
  liveMixer.destroy();
  player = mixer;
  for (const flag of ["stemsReady", "live", "liveComplete"]) delete document.body.dataset[flag];
  $("stems-section").hidden = true;
  history.replaceState(null, "", `#job=${id}`);
  events = new EventSource(withKey(`/v1/jobs/${id}/events`));
  events.addEventListener("progress", (e) => {
    const job = JSON.parse(e.data);
    if (job.status === "done" || job.status === "failed") {
      events.close();
      finish(job, name);
      showQueue();  // one job fewer separating: say so now, not at the next poll
    } else {
      showJob(job, name);
      if (job.status === "running" && job.live) listenLive(job);
    }
  });
  events.addEventListener("deleted", () => {
    events.close();
    stopListening();
    showError("This song was deleted from the server.");
  });
  // The browser reconnects by itself after a dropped connection; say so if it takes long.
  events.onerror = () => {
    if (events.readyState === EventSource.CONNECTING)
      $("job-stage").textContent = "reconnecting to the server…";
  };
}

// ---- recent songs and the queue

function showRecent() {
  const jobs = recentJobs();
  $("recent-empty").hidden = jobs.length > 0;
  $("recent").replaceChildren(
    ...jobs.map((job) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${job.name} (${new Date(job.at).toLocaleString()})`;
      button.addEventListener("click", () => openJob(job.id, job.name));
      item.append(button);
      return item;
    }),
  );
}

async function openJob(id, name) {
  const response = await apiFetch(`/v1/jobs/${id}`);
  if (response.status === 404) {
    forgetJob(id);
    showRecent();
    return showError("That song is no longer on the server (results are kept for a limited time).");
  }
  if (!response.ok) return showError(uploadError(response.status));
  showError("");
  follow(id, name);
}

async function showQueue() {
  try {
    const response = await apiFetch("/v1/queue");
    if (!response.ok) throw new Error(String(response.status));
    const queue = await response.json();
    $("queue").textContent = `Queue: ${queue.waiting} waiting, ${queue.running} separating`;
  } catch {
    $("queue").textContent = "Queue: unknown (server unreachable)";
  }
}

async function loadModels() {
  const select = $("model");
  try {
    const response = await apiFetch("/v1/models");
    if (!response.ok) throw new Error(String(response.status));
    const models = await response.json();
    const names = models.models.map((m) => m.name);
    if (!names.includes(models.default)) names.unshift(models.default);
    select.replaceChildren(
      ...names.map((name) => new Option(name, name, false, name === models.default)),
    );
  } catch {
    select.replaceChildren(new Option("default", ""));
  }
}

// ---- the API key, when the server wants one

function askForKey() {
  $("key-form").hidden = false;
  showError(uploadError(401));
}

$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setApiKey($("key-input").value.trim());
  $("key-form").hidden = true;
  showError("");
  loadModels();
  showQueue();
});
setOnMissingKey(askForKey);

setUpDropZone();
$("upload-form").addEventListener("submit", upload);
$("play").addEventListener("click", () => {
  if (player === liveMixer) listenedLive = true;
  player.toggle();
});
loadModels();
showRecent();
showQueue();
setInterval(showQueue, 5000);
const linked = /#job=([0-9a-f]{32})/.exec(location.hash);
if (linked) openJob(linked[1], recentJobs().find((j) => j.id === linked[1])?.name ?? "song");
