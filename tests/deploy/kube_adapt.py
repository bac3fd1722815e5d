"""tests/deploy/kube_adapt.py: turns the rendered local overlay (kubectl kustomize) into what
podman 4.3's `kube play` can run, changing as little as possible, and says what it changed.

podman plays Pods, Deployments, PVCs and ConfigMaps; it has no Services, StatefulSets, Jobs,
NetworkPolicies, PodDisruptionBudgets, secret volumes or cluster DNS. So:
  - the Deployments (msaas-api, msaas-worker) and the StatefulSets' pod templates (redis,
    minio) become the containers of one pod, whose shared network stands in for the Services:
    `redis`, `minio` and `msaas-api` resolve to 127.0.0.1 (hostAliases). Each container keeps
    its image settings, env (ConfigMap and Secret references), args, probes, resources and
    security context; the pod-level runAsUser/runAsNonRoot move onto each container;
  - volumes get the workload's name as a prefix; volumeClaimTemplates become PVCs (podman named
    volumes); secret volumes become hostPath folders the test fills; the worker's models come
    from a hostPath folder, so its init container (a download from the internet) is left out;
  - images: ours by their local names, Redis and MinIO replaced by the test stand-ins (MinIO's
    root credentials become the S3 peer's, its probes are MinIO-only and are dropped);
  - the probes of every container are printed as JSON (one per line) for the test to run.
Only rendered, never run: Services, Jobs, NetworkPolicies, PodDisruptionBudgets, Namespace.

Usage: python3 kube_adapt.py RENDERED.yaml OUT.yaml PROBES.jsonl VERSION MODELS_DIR KEYS_DIR
"""

import json
import sys

import yaml

rendered, out_path, probes_path, version, models_dir, keys_dir = sys.argv[1:7]
objects = [o for o in yaml.safe_load_all(open(rendered)) if o]
by_kind = lambda kind: [o for o in objects if o["kind"] == kind]

IMAGES = {
    "ghcr.io/msaas/msaas-api": f"localhost/msaas-api:{version}",
    "ghcr.io/msaas/msaas-worker": f"localhost/msaas-worker:{version}",
    "redis": f"localhost/msaas-test/redis:{version}",
    "minio/minio": f"localhost/msaas-test/s3peer:{version}",
}
config = next(o for o in by_kind("ConfigMap") if o["metadata"]["name"] == "msaas-config")


def local_image(image):
    return IMAGES[image.rsplit(":", 1)[0]]


def adapt_container(workload, container, pod_security, volume_names):
    container = dict(container)
    container["image"] = local_image(container["image"])
    security = dict(container.get("securityContext", {}))
    for key in ("runAsUser", "runAsGroup", "runAsNonRoot"):
        if key in pod_security:
            security.setdefault(key, pod_security[key])
    container["securityContext"] = security
    for mount in container.get("volumeMounts", []):
        mount["name"] = volume_names[mount["name"]]
    if workload == "minio":
        # The S3 peer in MinIO's place: MinIO's root credentials become the peer's.
        renamed = {"MINIO_ROOT_USER": "S3PEER_ACCESS_KEY", "MINIO_ROOT_PASSWORD": "S3PEER_SECRET_KEY"}
        for env in container.get("env", []):
            env["name"] = renamed.get(env["name"], env["name"])
        container["env"].append({"name": "S3PEER_REGION", "value": config["data"]["MSAAS_S3_REGION"]})
        container["args"] = ["--directory", "/data", "--address", "0.0.0.0", "--port", "9000"]
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            container.pop(probe, None)
    return container


def adapt_volumes(workload, spec, claims):
    names, volumes = {}, []
    for volume in spec.get("volumes", []):
        volume = dict(volume)
        names[volume["name"]] = f"{workload}-{volume['name']}"
        volume["name"] = names[volume["name"]]
        if "secret" in volume:
            volume = {"name": volume["name"],
                      "hostPath": {"path": f"{keys_dir}/{volume['secret']['secretName']}", "type": "Directory"}}
        elif workload == "msaas-worker" and names.get("models") == volume["name"]:
            volume = {"name": volume["name"], "hostPath": {"path": models_dir, "type": "Directory"}}
        volumes.append(volume)
    for claim in claims:
        name = claim["metadata"]["name"]
        names[name] = f"msaas-{workload}-{name}"
        volumes.append({"name": names[name], "persistentVolumeClaim": {"claimName": names[name]}})
    return names, volumes


def probes_of(container):
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        if kind in container:
            yield {"container": container["name"], "kind": kind, "probe": container[kind]}


containers, volumes, pvcs, probes = [], [], [], []
for workload in by_kind("Deployment") + by_kind("StatefulSet"):
    name = workload["metadata"]["name"]
    spec = workload["spec"]["template"]["spec"]
    claims = workload["spec"].get("volumeClaimTemplates", [])
    names, workload_volumes = adapt_volumes(name, spec, claims)
    volumes += workload_volumes
    for claim in claims:
        pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": names[claim["metadata"]["name"]]}, "spec": claim["spec"]}
        pvcs.append(pvc)
    for container in spec["containers"]:
        adapted = adapt_container(name, container, spec.get("securityContext", {}), names)
        containers.append(adapted)
        probes += probes_of(adapted)

pod = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "msaas", "labels": {"app.kubernetes.io/part-of": "msaas"}},
    "spec": {
        "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["redis", "minio", "msaas-api"]}],
        "containers": containers,
        "volumes": volumes,
        "terminationGracePeriodSeconds": 30,
    },
}
config = {k: v for k, v in config.items() if k in ("apiVersion", "kind", "data")} | {
    "metadata": {"name": "msaas-config"}}
with open(out_path, "w") as out:
    yaml.safe_dump_all([config, *pvcs, pod], out, sort_keys=False)
with open(probes_path, "w") as out:
    for probe in probes:
        out.write(json.dumps(probe) + "\n")
