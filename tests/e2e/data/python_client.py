#!/usr/bin/python3
"""The official Kubernetes Python client (Debian python3-kubernetes) against minik8s.

Usage: python_client.py KUBECONFIG GROUP
GROUP: api (list, create, watch, logs), exec, portforward.
Prints "PASS: name" / "FAIL: name: why" lines (tests/lib/lib.sh's format); the exit
status is 0 whatever the checks say, a crash excepted.
"""
import re
import sys
import threading
import time
import traceback

from kubernetes import client, config, watch
from kubernetes.stream import portforward, stream

NS = "default"


def report(name, ok, why=""):
    why = " ".join(str(why).split("\n"))
    print(("PASS: %s" % name) if ok else ("FAIL: %s: %s" % (name, why)), flush=True)


def check(name, fn):
    """Runs fn; it returns (ok, why). An exception is a failure with its text."""
    try:
        ok, why = fn()
    except Exception as e:  # the client raises ApiException, urllib3 errors, ...
        ok, why = False, "%s: %s" % (type(e).__name__, str(e)[:400])
        traceback.print_exc(file=sys.stderr)
    report(name, ok, why)


def pod(name, labels=None):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
    )


def api_checks(v1):
    def list_pods():
        names = sorted(p.metadata.name for p in v1.list_namespaced_pod(NS).items)
        return "web" in names and "ticker" in names, "pods: %s" % names

    check("python_list_pods", list_pods)

    def list_nodes():
        nodes = [n.metadata.name for n in v1.list_node().items]
        return nodes == ["node1"], "nodes: %s" % nodes

    check("python_list_nodes", list_nodes)

    def create_read_delete():
        made = v1.create_namespaced_pod(NS, pod("py-made", {"made-by": "python"}))
        got = v1.read_namespaced_pod("py-made", NS)
        ok = (made.metadata.uid and got.metadata.uid == made.metadata.uid
              and got.spec.containers[0].image == "busybox"
              and got.spec.restart_policy == "Always")
        v1.delete_namespaced_pod("py-made", NS, grace_period_seconds=0)
        return ok, "created %s, read %s" % (made.metadata.uid, got.metadata.uid)

    check("python_create_read_delete", create_read_delete)

    def create_namespace_and_service():
        v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py-ns")))
        svc = v1.create_namespaced_service("py-ns", client.V1Service(
            metadata=client.V1ObjectMeta(name="py-svc"),
            spec=client.V1ServiceSpec(selector={"app": "x"},
                                      ports=[client.V1ServicePort(port=80, target_port=8080)])))
        ok = bool(re.match(r"^\d+\.\d+\.\d+\.\d+$", svc.spec.cluster_ip or ""))
        return ok, "clusterIP %r" % svc.spec.cluster_ip

    check("python_create_service", create_namespace_and_service)

    def watch_replay():
        # three pods created after rv: a watch from rv sees three ADDED events
        rv = v1.list_namespaced_pod(NS).metadata.resource_version
        for i in range(3):
            v1.create_namespaced_pod(NS, pod("py-w%d" % i, {"pywatch": "1"}))
        seen = []
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_pod, NS, label_selector="pywatch=1",
                           resource_version=rv, timeout_seconds=20,
                           allow_watch_bookmarks=True):
            seen.append((ev["type"], ev["object"].metadata.name))
            if len(seen) >= 3:
                w.stop()
        want = [("ADDED", "py-w%d" % i) for i in range(3)]
        return seen == want, "events %s" % seen

    check("python_watch_three_events", watch_replay)

    def watch_live():
        # a live watch (no resourceVersion: initial ADDED, then changes as they happen)
        w = watch.Watch()
        seen = []

        def later():
            time.sleep(0.5)
            v1.delete_namespaced_pod("py-w0", NS, grace_period_seconds=0)

        t = threading.Thread(target=later)
        t.start()
        for ev in w.stream(v1.list_namespaced_pod, NS, label_selector="pywatch=1",
                           timeout_seconds=20):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()
        t.join()
        return ("DELETED", "py-w0") in seen and len(seen) >= 4, "events %s" % seen

    check("python_watch_live_delete", watch_live)

    def logs():
        out = v1.read_namespaced_pod_log("web", NS)
        return "hello from web" in out, "log %r" % out[:200]

    check("python_logs", logs)

    def logs_timestamps():
        # timestamps=True (Python's spelling of the boolean) must reach the agent as true
        out = v1.read_namespaced_pod_log("web", NS, container="web", timestamps=True)
        first = out.splitlines()[0] if out else ""
        ok = re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ", first) is not None
        return ok, "first line %r" % first

    check("python_logs_timestamps", logs_timestamps)

    def logs_tail():
        out = v1.read_namespaced_pod_log("web", NS, tail_lines=1)
        return len(out.splitlines()) == 1, "log %r" % out

    check("python_logs_tail", logs_tail)

    def logs_follow():
        resp = v1.read_namespaced_pod_log("ticker", NS, follow=True, _preload_content=False,
                                          _request_timeout=20)
        lines = []
        buf = b""
        deadline = time.time() + 15
        for chunk in resp.stream(64):
            buf += chunk
            lines = [l for l in buf.decode(errors="replace").split("\n")[:-1] if l]
            if len(lines) >= 3 or time.time() > deadline:
                break
        resp.release_conn()
        ticks = [l for l in lines if l.startswith("tick ")]
        return len(ticks) >= 3, "lines %s" % lines

    check("python_logs_follow", logs_follow)


def exec_checks(v1):
    def exec_echo():
        out = stream(v1.connect_get_namespaced_pod_exec, "web", NS, container="web",
                     command=["echo", "hello python"], stderr=True, stdin=False,
                     stdout=True, tty=False, _request_timeout=20)
        return out.strip() == "hello python", "output %r" % out

    check("python_exec", exec_echo)

    def exec_stdin():
        resp = stream(v1.connect_get_namespaced_pod_exec, "web", NS, container="web",
                      command=["cat"], stderr=True, stdin=True, stdout=True, tty=False,
                      _preload_content=False, _request_timeout=20)
        resp.write_stdin("via stdin\n")
        out = ""
        deadline = time.time() + 10
        while resp.is_open() and "via stdin" not in out and time.time() < deadline:
            resp.update(timeout=1)
            out += resp.read_stdout()
        resp.close()
        return "via stdin" in out, "output %r" % out

    check("python_exec_stdin", exec_stdin)


def portforward_checks(v1):
    def forward():
        # python_client.sh listens on 7777 in the pod's network namespace (the
        # fixture's pods share the test's) and answers one connection
        pf = portforward(v1.connect_get_namespaced_pod_portforward, "web", NS, ports="7777")
        sock = pf.socket(7777)
        sock.settimeout(10)
        data = b""
        deadline = time.time() + 10
        while b"pong" not in data and time.time() < deadline:
            part = sock.recv(1024)
            if not part:
                break
            data += part
        sock.close()
        pf.close()
        return b"pong-from-pod" in data, "read %r" % data

    check("python_portforward", forward)


def main():
    kubeconfig, group = sys.argv[1], sys.argv[2]
    config.load_kube_config(config_file=kubeconfig)
    v1 = client.CoreV1Api()
    {"api": api_checks, "exec": exec_checks, "portforward": portforward_checks}[group](v1)


if __name__ == "__main__":
    main()
