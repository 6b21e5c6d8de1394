#!/usr/bin/env python3
"""Write burst for tests/e2e/faults.sh: creates pods and deployments, scales and
deletes them over one keep-alive HTTPS connection while the test kills the server.
Every operation is logged to LOG once its outcome is known:
  ok    OP RESOURCE NAME [VALUE]   acknowledged (2xx)
  lost  OP RESOURCE NAME [VALUE]   no answer (connection broken): outcome unknown
  err   OP RESOURCE NAME CODE      a definite error answer (the write did not happen)
A broken connection is retried (new connection) after 0.2 s until the server is
back or DEADLINE (unix time) passes. Stops when the file STOP exists.
usage: burst.py HOST PORT TOKEN CAFILE LOG STOP DEADLINE"""
import http.client, json, os, random, ssl, sys, time

host, port, token, cafile, logf, stop, deadline = sys.argv[1:8]
deadline = float(deadline)
ctx = ssl.create_default_context(cafile=cafile)
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
log = open(logf, "a", buffering=1)
conn = None


def call(method, path, body=None, ctype=None):
    """(status, body) or None when the connection broke mid-request"""
    global conn
    h = dict(hdr)
    if ctype:
        h["Content-Type"] = ctype
    try:
        if conn is None:
            conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = conn.getresponse()
        return r.status, r.read()
    except (http.client.HTTPException, OSError):
        conn = None
        return None


def wait_up():
    while time.time() < deadline and not os.path.exists(stop):
        try:
            c = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return True
        except (http.client.HTTPException, OSError):
            pass
        time.sleep(0.2)
    return False


def do(op, res, name, path, method, body=None, value="", ctype=None):
    r = call(method, path, body, ctype)
    if r is None:
        log.write(f"lost {op} {res} {name} {value}\n")
        wait_up()
    elif 200 <= r[0] < 300:
        log.write(f"ok {op} {res} {name} {value}\n")
    else:
        log.write(f"err {op} {res} {name} {r[0]}\n")


def pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"burst": "pod"}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "1d"]}]}}


def deploy(name, replicas):
    lab = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": lab},
                     "template": {"metadata": {"labels": lab}, "spec": {"containers": [
                         {"name": "c", "image": "busybox:1.36", "command": ["sleep", "1d"]}]}}}}


P = "/api/v1/namespaces/default/pods"
D = "/apis/apps/v1/namespaces/default/deployments"
rnd = random.Random(int(os.environ.get("BURST_SEED", "1")))
pods, deps, i = [], [], 0
wait_up()
while time.time() < deadline and not os.path.exists(stop):
    i += 1
    k = rnd.random()
    if k < 0.45 or not pods:
        n = f"p{i}"
        do("create", "pods", n, P, "POST", pod(n))
        pods.append(n)
    elif k < 0.65:
        n = pods.pop(rnd.randrange(len(pods)))
        do("delete", "pods", n, f"{P}/{n}", "DELETE", {"gracePeriodSeconds": 0})
    elif k < 0.75 or not deps:
        n = f"d{i}"
        r = rnd.randint(0, 3)
        do("create", "deployments", n, D, "POST", deploy(n, r), r)
        deps.append(n)
    elif k < 0.92:
        n = rnd.choice(deps)
        r = rnd.randint(0, 4)
        do("scale", "deployments", n, f"{D}/{n}/scale", "PATCH", {"spec": {"replicas": r}}, r,
           "application/merge-patch+json")
    else:
        n = deps.pop(rnd.randrange(len(deps)))
        do("delete", "deployments", n, f"{D}/{n}", "DELETE", {"propagationPolicy": "Background"})
log.close()
