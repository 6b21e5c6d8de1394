#!/usr/bin/python3
"""Helpers of tests/e2e/list_cache.sh.

list_cache.py make HOST PORT TOKEN CAFILE N: creates pods lc-0..lc-N-1 in default
  (4 keep-alive HTTPS connections), relabels every 10th, deletes every 25th (at
  once, grace 0); prints the number of pods left.
list_cache.py python KUBECONFIG N: the official Python client's lists (limit and
  continue, resourceVersion=0, resourceVersionMatch) of the relabelled pods; prints
  "PASS: name" / "FAIL: name: why" lines.
"""
import http.client
import json
import ssl
import sys
import threading


def make(host, port, token, cafile, n):
    ctx = ssl.create_default_context(cafile=cafile)
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    base = "/api/v1/namespaces/default/pods"
    errors = []

    def worker(k):
        conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=60)

        def req(method, path, body, ctype="application/json"):
            h = dict(hdr)
            h["Content-Type"] = ctype
            conn.request(method, path, body=json.dumps(body), headers=h)
            r = conn.getresponse()
            return r.status, r.read()

        for i in range(k, n, 4):
            name = "lc-%d" % i
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": name, "labels": {"app": "lc", "i": str(i)}},
                   "spec": {"nodeName": "ghost",
                            "containers": [{"name": "c", "image": "busybox:1.36"}]}}
            s, d = req("POST", base, pod)
            if s != 201:
                errors.append("create %s: %d %r" % (name, s, d[:200]))
                return
            if i % 10 == 0:
                s, d = req("PATCH", "%s/%s" % (base, name),
                           {"metadata": {"labels": {"tenth": "yes"}}},
                           "application/merge-patch+json")
                if s != 200:
                    errors.append("patch %s: %d %r" % (name, s, d[:200]))
                    return
            if i % 25 == 0:
                s, d = req("DELETE", "%s/%s" % (base, name), {"gracePeriodSeconds": 0})
                if s != 200:
                    errors.append("delete %s: %d %r" % (name, s, d[:200]))
                    return

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise SystemExit(errors[0])
    print(sum(1 for i in range(n) if i % 25 != 0))


def report(name, ok, why=""):
    why = " ".join(str(why).split("\n"))
    print(("PASS: %s" % name) if ok else ("FAIL: %s: %s" % (name, why)), flush=True)


def check(name, fn):
    try:
        ok, why = fn()
    except Exception as e:  # ApiException, urllib3 errors
        ok, why = False, "%s: %s" % (type(e).__name__, str(e)[:300])
    report(name, ok, why)


SEL = "tenth=yes"  # the relabelled pods: few enough for the client's models


def python(kubeconfig, n):
    # the pods relabelled and still there
    want = sum(1 for i in range(n) if i % 10 == 0 and i % 25 != 0)
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    config.load_kube_config(config_file=kubeconfig)
    v1 = client.CoreV1Api()

    def paged():
        names, cont, pages = [], None, 0
        while pages < 100:
            kw = {"limit": 17, "label_selector": SEL}
            if cont:
                kw["_continue"] = cont
            r = v1.list_namespaced_pod("default", **kw)
            names += [p.metadata.name for p in r.items]
            pages += 1
            cont = r.metadata._continue
            if not cont:
                break
        ok = len(names) == want and len(set(names)) == want and names == sorted(names)
        return ok, "%d names (%d distinct) in %d pages, want %d" % (
            len(names), len(set(names)), pages, want)

    check("python_list_limit_continue", paged)

    def any_rv():
        r = v1.list_namespaced_pod("default", resource_version="0", label_selector=SEL)
        return len(r.items) == want and int(r.metadata.resource_version) > 0, \
            "%d items at %s" % (len(r.items), r.metadata.resource_version)

    check("python_list_resource_version_0", any_rv)

    def not_older():
        rv = v1.list_namespaced_pod("default", limit=1).metadata.resource_version
        r = v1.list_namespaced_pod("default", resource_version=rv,
                                   resource_version_match="NotOlderThan", label_selector=SEL)
        return (len(r.items) == want and int(r.metadata.resource_version) >= int(rv),
                "%d items at %s (asked not older than %s)" % (
                    len(r.items), r.metadata.resource_version, rv))

    check("python_list_not_older_than", not_older)

    def exact():
        rv = v1.list_namespaced_pod("default", limit=1).metadata.resource_version
        r = v1.list_namespaced_pod("default", resource_version=rv,
                                   resource_version_match="Exact", label_selector="tenth=yes")
        tenth = want
        return (r.metadata.resource_version == rv and len(r.items) == tenth,
                "%d relabelled items at %s, want %d at %s" % (
                    len(r.items), r.metadata.resource_version, tenth, rv))

    check("python_list_exact_selector", exact)

    def invalid():
        try:
            v1.list_namespaced_pod("default", resource_version="0",
                                   resource_version_match="Exact")
        except ApiException as e:
            body = json.loads(e.body)
            causes = body.get("details", {}).get("causes", [])
            return (e.status == 422 and body.get("reason") == "Invalid"
                    and [c.get("field") for c in causes] == ["resourceVersionMatch"],
                    "HTTP %d %s" % (e.status, e.body[:300]))
        return False, "Exact at resourceVersion 0 was accepted"

    check("python_list_exact_at_0_invalid", invalid)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(*sys.argv[2:6], int(sys.argv[6]))
    else:
        python(sys.argv[2], int(sys.argv[3]))
