// The songs separated on this browser, newest first, kept in localStorage.
const key = "msaas.recent";
const limit = 10;

export function recentJobs() {
  try {
    const jobs = JSON.parse(localStorage.getItem(key) ?? "[]");
    return Array.isArray(jobs) ? jobs : [];
  } catch {
    return [];
  }
}

export function rememberJob(id, name) {
  const jobs = recentJobs().filter((j) => j.id !== id);
  jobs.unshift({ id, name, at: Date.now() });
  localStorage.setItem(key, JSON.stringify(jobs.slice(0, limit)));
}

export function forgetJob(id) {
  localStorage.setItem(key, JSON.stringify(recentJobs().filter((j) => j.id !== id)));
}
