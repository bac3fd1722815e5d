// Validates rendered Kubernetes manifests (and deploy/compose.yaml): every object against the
// official schema (kubernetes-models, @kubernetes-models/keda), then the rules that matter for
// MSaaS: resources and probes set, images pinned, non-root, MinIO private, no inlined secrets,
// the worker's grace period matching its settings.
// Usage: node validate.mjs OVERLAY=rendered.yaml ... [--compose ../compose.yaml]
import { readFileSync } from "node:fs";
import { parseAllDocuments, parse } from "yaml";

const problems = [];
const problem = (where, text) => problems.push(`${where}: ${text}`);

// apiVersion + kind -> the class that knows its schema.
async function schemaClass(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const path =
    group === "keda.sh"
      ? `@kubernetes-models/keda/keda.sh/${version}/${kind}`
      : group === ""
        ? `kubernetes-models/${version}/${kind}`
        : `kubernetes-models/${group}/${version}/${kind}`;
  try {
    return (await import(path))[kind];
  } catch {
    return null;
  }
}

// GKE's own resources have no published schema package: checked by hand.
function checkBackendConfig(where, object) {
  const spec = object.spec ?? {};
  if (!Number.isInteger(spec.timeoutSec)) problem(where, "BackendConfig needs spec.timeoutSec");
  if (spec.healthCheck && typeof spec.healthCheck.requestPath !== "string")
    problem(where, "BackendConfig healthCheck needs requestPath");
}

function podSpecOf(object) {
  if (["Deployment", "StatefulSet", "Job"].includes(object.kind))
    return object.spec?.template?.spec ?? null;
  return null;
}

function checkImage(where, image) {
  if (!image || !image.includes(":")) return problem(where, `image ${image} has no tag`);
  const tag = image.slice(image.lastIndexOf(":") + 1);
  if (tag === "latest" || tag === "") problem(where, `image ${image} uses a moving tag`);
}

function checkContainers(where, object, pod) {
  const serves = ["msaas-api", "redis", "minio"].includes(object.metadata.name);
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const at = `${where} container ${c.name}`;
    checkImage(at, c.image);
    const r = c.resources ?? {};
    if (!r.requests?.cpu || !r.requests?.memory) problem(at, "needs cpu and memory requests");
    if (!r.limits?.memory) problem(at, "needs a memory limit");
    for (const e of c.env ?? [])
      if (/KEY|PASSWORD|SECRET|TOKEN/.test(e.name) && !e.valueFrom?.secretKeyRef)
        problem(at, `${e.name} must come from a Secret (secretKeyRef), not a value`);
  }
  if (object.kind === "Job") return;
  for (const c of pod.containers) {
    const at = `${where} container ${c.name}`;
    if (!c.livenessProbe) problem(at, "needs a liveness probe");
    if (serves && !c.readinessProbe) problem(at, "serves traffic: needs a readiness probe");
  }
  if (!pod.securityContext?.runAsNonRoot) problem(where, "pods must run as non-root");
}

function checkRules(overlay, objects) {
  const byKind = (kind) => objects.filter((o) => o.kind === kind);
  const config = byKind("ConfigMap").find((o) => o.metadata.name === "msaas-config");
  if (!config) problem(overlay, "no ConfigMap msaas-config");
  const clusterScoped = ["Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass", "PriorityClass"];
  for (const o of objects) {
    const where = `${overlay} ${o.kind}/${o.metadata.name}`;
    // An object left without the overlay's namespace lands in "default", away from the rest.
    if (!clusterScoped.includes(o.kind) && !o.metadata.namespace) problem(where, "has no namespace");
    if (o.kind === "Secret") problem(where, "secrets must not be rendered from the repository");
    const pod = podSpecOf(o);
    if (pod) checkContainers(where, o, pod);
  }
  // Workers: grace period = the worker's own grace + 30 s; memory from the measured peak.
  for (const worker of byKind("Deployment").filter((o) => o.metadata.name.startsWith("msaas-worker"))) {
    const where = `${overlay} Deployment/${worker.metadata.name}`;
    const grace = Number(config?.data?.MSAAS_GRACE_SECONDS);
    const pod = worker.spec.template.spec;
    if (pod.terminationGracePeriodSeconds !== grace + 30)
      problem(where, `terminationGracePeriodSeconds must be MSAAS_GRACE_SECONDS + 30 (${grace + 30})`);
    // The longest song allowed must finish within the grace period: end-to-end real-time factor
    // 0.62 on 2 cores (docs/benchmarks.md), with room for decoding, encoding and storing.
    const longest = Number(config?.data?.MSAAS_MAX_AUDIO_SECONDS);
    if (!(grace >= 0.75 * longest))
      problem(where, `MSAAS_GRACE_SECONDS must be at least 0.75 x MSAAS_MAX_AUDIO_SECONDS (${0.75 * longest})`);
    // Scratch: the largest job's files at once (worker.yaml says which).
    const upload = Number(config?.data?.MSAAS_MAX_UPLOAD_BYTES);
    const scratch = upload + longest * 88200 * (4 + 24 + 12);
    const work = pod.volumes?.find((v) => v.name === "work")?.emptyDir?.sizeLimit;
    if (!(gibibytes(work) * 2 ** 30 >= scratch))
      problem(where, `the work volume must hold the largest job's scratch (${(scratch / 2 ** 30).toFixed(1)} GiB)`);
    // docs/benchmarks.md: about 640 MB whatever the song's length; 1 GiB leaves room.
    const memory = pod.containers[0].resources?.requests?.memory ?? "0";
    const unit = { Mi: 1, Gi: 1024 }[memory.match(/^[0-9]+(Mi|Gi)$/)?.[1]];
    if (!unit || parseInt(memory) * unit < 1024)
      problem(where, "worker memory request must cover the measured 640 MB peak (>= 1Gi)");
  }
  // API keys: on in every cluster overlay, read from a mounted Secret.
  const api = byKind("Deployment").find((o) => o.metadata.name === "msaas-api");
  // The upload spool holds every concurrent upload at the size limit.
  const spool = api?.spec.template.spec.volumes?.find((v) => v.name === "spool")?.emptyDir?.sizeLimit;
  const spooled = Number(config?.data?.MSAAS_MAX_CONCURRENT_UPLOADS) * Number(config?.data?.MSAAS_MAX_UPLOAD_BYTES);
  if (api && !(gibibytes(spool) * 2 ** 30 >= spooled))
    problem(overlay, `msaas-api's spool volume must hold every concurrent upload (${(spooled / 2 ** 30).toFixed(1)} GiB)`);
  if (!config?.data?.MSAAS_API_KEYS_FILE) problem(overlay, "API keys must be on (MSAAS_API_KEYS_FILE)");
  if (api && !api.spec.template.spec.volumes?.some((v) => v.secret?.secretName === "msaas-api-keys"))
    problem(overlay, "msaas-api must mount the Secret msaas-api-keys");
  // Redis: append-only persistence on a volume.
  const redis = byKind("StatefulSet").find((o) => o.metadata.name === "redis");
  if (!redis) problem(overlay, "no Redis StatefulSet");
  else {
    const args = redis.spec.template.spec.containers[0].args.join(" ");
    if (!args.includes("--appendonly yes")) problem(overlay, "Redis must run with --appendonly yes");
    // A 201 promises the job: it must be on disk before the answer (docs/reliability.md).
    if (!args.includes("--appendfsync always"))
      problem(overlay, "Redis must run with --appendfsync always");
    if (!redis.spec.volumeClaimTemplates?.length) problem(overlay, "Redis needs a volume");
  }
  // MinIO: inside the cluster only.
  for (const s of byKind("Service"))
    if (["minio", "redis"].includes(s.metadata.name) && (s.spec.type ?? "ClusterIP") !== "ClusterIP")
      problem(overlay, `Service ${s.metadata.name} must be ClusterIP`);
  for (const ingress of byKind("Ingress")) {
    const text = JSON.stringify(ingress.spec);
    if (text.includes('"minio"') || text.includes('"redis"'))
      problem(overlay, `Ingress ${ingress.metadata.name} must not route to MinIO or Redis`);
  }
  const policies = byKind("NetworkPolicy");
  for (const name of ["minio", "redis"])
    if (!policies.some((p) => p.spec.podSelector?.matchLabels?.["app.kubernetes.io/name"] === name))
      problem(overlay, `no NetworkPolicy admitting traffic to ${name}`);
  if (!policies.some((p) => Object.keys(p.spec.podSelector ?? {}).length === 0 && !p.spec.ingress))
    problem(overlay, "no default-deny ingress NetworkPolicy");
  // Workers' egress: a policy that keeps them off the metadata server and private ranges.
  const egress = policies.find((p) => p.spec.policyTypes?.includes("Egress") &&
    p.spec.podSelector?.matchLabels?.["app.kubernetes.io/component"] === "worker");
  const needs = { "0.0.0.0/0": ["169.254.0.0/16", "10.0.0.0/8"], "::/0": ["fe80::/10", "fc00::/7"] };
  const open = (egress?.spec.egress ?? []).some((rule) => (rule.to ?? []).some((to) => {
    const cidr = to.ipBlock?.cidr;
    if (!cidr) return false;
    if (needs[cidr]) return !needs[cidr].every((c) => to.ipBlock.except?.includes(c));
    // Anything narrower (a node-local DNS cache) is for DNS only.
    return !(rule.ports ?? []).length || rule.ports.some((p) => p.port !== 53);
  }));
  if (!egress || open)
    problem(overlay, "workers need an egress NetworkPolicy that excludes 169.254.0.0/16 and private ranges");
  for (const name of ["msaas-api", "msaas-worker"])
    if (!byKind("PodDisruptionBudget").some((p) => p.metadata.name === name))
      problem(overlay, `no PodDisruptionBudget for ${name}`);
  for (const scaled of byKind("ScaledObject")) {
    const target = scaled.spec.scaleTargetRef.name;
    if (!byKind("Deployment").some((d) => d.metadata.name === target))
      problem(overlay, `ScaledObject ${scaled.metadata.name} targets missing ${target}`);
    // Running jobs must count, or a long song's worker is scaled away in mid-job (issue 17).
    const trigger = scaled.spec.triggers[0];
    if (trigger?.type !== "metrics-api" || !/\/scaling$/.test(trigger?.metadata?.url ?? "") ||
        trigger?.metadata?.valueLocation !== "demand")
      problem(overlay, `ScaledObject ${scaled.metadata.name} must scale on the API's /scaling demand`);
    // KEDA resolves the name from its own namespace: only the full name reaches the API.
    const api = `http://msaas-api.${scaled.metadata.namespace}.svc.cluster.local/scaling`;
    if (trigger?.metadata?.url !== api)
      problem(overlay, `ScaledObject ${scaled.metadata.name} must ask ${api}`);
  }
}

// "20Gi", "512Mi" as GiB; NaN when absent or in another unit.
function gibibytes(quantity) {
  const match = /^([0-9]+)(Mi|Gi)$/.exec(quantity ?? "");
  return match ? Number(match[1]) / (match[2] === "Mi" ? 1024 : 1) : NaN;
}

function checkCompose(path, configKeys) {
  const compose = parse(readFileSync(path, "utf8"), { merge: true });
  const services = compose.services ?? {};
  for (const name of ["redis", "minio", "buckets", "api", "worker"])
    if (!services[name]) problem(path, `no service ${name}`);
  for (const [name, s] of Object.entries(services)) {
    if (s.image) checkImage(`${path} ${name}`, s.image.replace(/\$\{[^}]*\}/g, "x"));
    for (const [key, value] of Object.entries(s.environment ?? {}))
      if (/KEY|PASSWORD|SECRET|TOKEN/.test(key) && !/^\$\{[A-Z0-9_]+:\?/.test(String(value)))
        problem(`${path} ${name}`, `${key} must come from the environment (\${VAR:?...})`);
  }
  for (const name of ["api", "worker"]) {
    const env = Object.keys(services[name]?.environment ?? {});
    for (const key of configKeys.filter((k) => k !== "MSAAS_API_KEYS_FILE"))
      if (!env.includes(key)) problem(`${path} ${name}`, `missing setting ${key} (the cluster's msaas-config has it)`);
    if (!services[name]?.healthcheck) problem(`${path} ${name}`, "needs a healthcheck");
  }
  if (!String(services.redis?.command ?? "").includes("--appendonly yes"))
    problem(path, "redis must run with --appendonly yes");
  if (!String(services.redis?.command ?? "").includes("--appendfsync always"))
    problem(path, "redis must run with --appendfsync always");
  if (services.minio?.ports) problem(path, "MinIO must not publish ports on the host");
  if (services.redis?.ports) problem(path, "Redis must not publish ports on the host");
}

let configKeys = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; ++i) {
  if (args[i] === "--compose") {
    checkCompose(args[++i], configKeys);
    continue;
  }
  const [overlay, file] = args[i].split("=");
  const objects = parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS()).filter(Boolean);
  const valid = [];  // the rules below read only objects that passed their schema
  for (const object of objects) {
    const where = `${overlay} ${object.kind}/${object.metadata?.name}`;
    if (object.apiVersion === "cloud.google.com/v1" && object.kind === "BackendConfig") {
      checkBackendConfig(where, object);
      valid.push(object);
      continue;
    }
    const Model = await schemaClass(object.apiVersion, object.kind);
    if (!Model) {
      problem(where, `no schema known for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    try {
      new Model(object).validate();
      valid.push(object);
    } catch (error) {
      problem(where, `schema: ${error.message}`);
    }
  }
  checkRules(overlay, valid);
  const config = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "msaas-config");
  configKeys = Object.keys(config?.data ?? {});
  console.log(`${overlay}: ${objects.length} objects checked`);
}

for (const p of problems) console.error(`manifest problem: ${p}`);
process.exit(problems.length ? 1 : 0);
