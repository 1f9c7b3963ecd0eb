#!/usr/bin/env python3
"""Checks rendered Kubernetes manifests (kubectl kustomize output, or any YAML stream) offline:
the fields each kind requires, and what wharf's deployment relies on -- every worker Deployment
has the three probes on the admin port, a drain preStop hook and a termination grace period
longer than its WHARF_GRACE; every KEDA ScaledObject targets a Deployment of the stream's queue
with well-formed triggers whose address variable the target container has; every
PodDisruptionBudget selects pods of some workload. Exits 1 with one line per problem.

usage: check_manifests.py FILE [--namespace NS] [--image PREFIX]"""
import re
import sys

import yaml

problems = []


def problem(obj, text):
    problems.append("%s/%s: %s" % (obj.get("kind"), obj.get("metadata", {}).get("name"), text))


def need(obj, path, kind_=None):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            problem(obj, "missing " + path)
            return None
        cur = cur[part]
    if kind_ is not None and not isinstance(cur, kind_):
        problem(obj, "%s is not a %s" % (path, kind_.__name__))
        return None
    return cur


def seconds(text):
    m = re.fullmatch(r"(\d+)(s|m)?", str(text))
    if not m:
        return None
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def pod_spec_of(obj):
    if obj["kind"] in ("Deployment", "Job"):
        return need(obj, "spec.template.spec", dict)
    if obj["kind"] == "ScaledJob":
        return need(obj, "spec.jobTargetRef.template.spec", dict)
    return None


def env_names(container, objects):
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        target = objects.get((kind, ref.get("name")))
        if target is None:
            problems.append("%s %s referenced by envFrom does not exist" % (kind, ref.get("name")))
            continue
        names |= set((target.get("data") or {}).keys()) | set((target.get("stringData") or {}).keys())
    return names


def check_container(obj, c, objects, is_worker):
    for field in ("name", "image"):
        if field not in c:
            problem(obj, "container without " + field)
    sc = c.get("securityContext", {})
    if sc.get("allowPrivilegeEscalation") is not False or sc.get("readOnlyRootFilesystem") is not True:
        problem(obj, "container %s: allowPrivilegeEscalation false and readOnlyRootFilesystem true expected" % c.get("name"))
    if not is_worker:
        return
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        p = c.get(probe)
        if not p or "httpGet" not in p:
            problem(obj, "container %s has no %s httpGet" % (c.get("name"), probe))
            continue
        want = "/readyz" if probe == "readinessProbe" else "/livez"
        if p["httpGet"].get("path") != want:
            problem(obj, "%s path %s, expected %s" % (probe, p["httpGet"].get("path"), want))
        port = p["httpGet"].get("port")
        if port not in ports and port not in ports.values():
            problem(obj, "%s port %s is not a container port" % (probe, port))
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    if pre[:2] != ["wharfctl", "drain"]:
        problem(obj, "no `wharfctl drain` preStop hook")
    env = env_names(c, objects)
    if "WHARF_ADMIN_LISTEN" not in env:
        problem(obj, "WHARF_ADMIN_LISTEN not set: probes could not reach the admin port")


def main():
    args = sys.argv[1:]
    path = args[0]
    namespace = args[args.index("--namespace") + 1] if "--namespace" in args else None
    image = args[args.index("--image") + 1] if "--image" in args else None
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    objects = {}
    for d in docs:
        for field in ("apiVersion", "kind"):
            if field not in d:
                problems.append("a document without %s" % field)
        name = need(d, "metadata.name", str)
        objects[(d.get("kind"), name)] = d
        if namespace and d["kind"] != "Namespace" and d["metadata"].get("namespace") != namespace:
            problem(d, "not in namespace %s" % namespace)

    deployments = {n: o for (k, n), o in objects.items() if k == "Deployment"}
    for (kind, name), obj in objects.items():
        spec = pod_spec_of(obj)
        if spec is not None:
            containers = need(obj, "spec.template.spec.containers" if kind != "ScaledJob"
                              else "spec.jobTargetRef.template.spec.containers", list) or []
            if not containers:
                problem(obj, "no containers")
            long_running = kind == "Deployment"
            for c in containers:
                check_container(obj, c, objects, long_running)
                if image and not c.get("image", "").startswith(image):
                    problem(obj, "image %s is not from %s" % (c.get("image"), image))
            if kind == "Deployment":
                if need(obj, "spec.selector.matchLabels", dict) is not None:
                    labels = obj["spec"]["template"].get("metadata", {}).get("labels", {})
                    for k, v in obj["spec"]["selector"]["matchLabels"].items():
                        if labels.get(k) != v:
                            problem(obj, "selector %s=%s does not match the pod labels" % (k, v))
            grace_env = None
            for c in containers:
                for e in c.get("env", []):
                    if e["name"] == "WHARF_GRACE":
                        grace_env = seconds(e.get("value"))
            grace = spec.get("terminationGracePeriodSeconds")
            if grace_env is not None and (grace is None or grace <= grace_env):
                problem(obj, "terminationGracePeriodSeconds %s not above WHARF_GRACE %ss" % (grace, grace_env))
        if kind in ("ScaledObject", "ScaledJob"):
            if kind == "ScaledObject":
                target = need(obj, "spec.scaleTargetRef.name", str)
                if target is not None and target not in deployments:
                    problem(obj, "scaleTargetRef %s is not a Deployment here" % target)
                    continue
                container = deployments[target]["spec"]["template"]["spec"]["containers"][0] if target else {}
                lo, hi = obj["spec"].get("minReplicaCount", 0), obj["spec"].get("maxReplicaCount", 100)
                if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi):
                    problem(obj, "min/maxReplicaCount out of order")
            else:
                container = obj["spec"]["jobTargetRef"]["template"]["spec"]["containers"][0]
            queues = ""
            for e in container.get("env", []):
                if e["name"] == "WHARF_QUEUES":
                    queues = e.get("value", "")
            queue_names = {q.split("=")[0] for q in queues.split(",") if q}
            triggers = need(obj, "spec.triggers", list) or []
            if not triggers:
                problem(obj, "no triggers")
            env = env_names(container, objects)
            for t in triggers:
                meta = t.get("metadata", {})
                if t.get("type") == "prometheus":
                    for field in ("serverAddress", "query", "threshold"):
                        if field not in meta:
                            problem(obj, "prometheus trigger without " + field)
                    query = meta.get("query", "")
                    if "wharf_queue_backlog" not in query or "wharf_queue_in_flight" not in query:
                        problem(obj, "prometheus trigger does not count backlog plus in-flight work")
                    for q in re.findall(r'queue="([^"]+)"', query):
                        if q not in queue_names:
                            problem(obj, "query names queue %s, which the target does not run" % q)
                elif t.get("type") == "redis-streams":
                    for field in ("stream", "consumerGroup"):
                        if field not in meta:
                            problem(obj, "redis-streams trigger without " + field)
                    m = re.fullmatch(r"wharf:\{([^}]+)\}:stream", meta.get("stream", ""))
                    if not m or m.group(1) not in queue_names:
                        problem(obj, "stream %s is not a queue the target runs" % meta.get("stream"))
                    if meta.get("consumerGroup") != "workers":
                        problem(obj, "consumerGroup must be wharf's 'workers'")
                    if not any(f in meta for f in ("pendingEntriesCount", "lagCount", "streamLength")):
                        problem(obj, "redis-streams trigger without a count")
                    for f in ("pendingEntriesCount", "lagCount", "streamLength"):
                        if f in meta and not str(meta[f]).isdigit():
                            problem(obj, "%s must be a number in a string" % f)
                    if "addressFromEnv" in meta and meta["addressFromEnv"] not in env:
                        problem(obj, "addressFromEnv %s is not in the target's environment" % meta["addressFromEnv"])
                    if "address" not in meta and "addressFromEnv" not in meta and "host" not in meta:
                        problem(obj, "redis-streams trigger without an address")
                else:
                    problem(obj, "unknown trigger type %s" % t.get("type"))
        if kind == "PodDisruptionBudget":
            sel = need(obj, "spec.selector.matchLabels", dict) or {}
            if ("minAvailable" in obj["spec"]) == ("maxUnavailable" in obj["spec"]):
                problem(obj, "exactly one of minAvailable and maxUnavailable")
            if not any(all(d["spec"]["template"].get("metadata", {}).get("labels", {}).get(k) == v
                           for k, v in sel.items()) for d in deployments.values()):
                problem(obj, "selects no Deployment's pods")
    for p in problems:
        print(p)
    print("%d objects, %d problems" % (len(docs), len(problems)), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
