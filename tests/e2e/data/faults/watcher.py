#!/usr/bin/env python3
"""Watcher for tests/e2e/faults.sh: watches RESOURCE (all namespaces) from
revision RV, and whenever the stream breaks (the server was killed) resumes from
the last resourceVersion it saw, as client-go's reflector does. Appends one line
per event to LOG: "TYPE RV NAMESPACE/NAME"; "GONE" if the server answered 410.
Stops when the file STOP exists.  usage: watcher.py HOST PORT TOKEN CAFILE RESOURCE RV LOG STOP"""
import http.client, json, os, ssl, sys, time

host, port, token, cafile, res, rv, logf, stop = sys.argv[1:9]
ctx = ssl.create_default_context(cafile=cafile)
path = "/api/v1/" + res if res in ("pods", "services", "namespaces", "nodes") else "/apis/apps/v1/" + res
log = open(logf, "a", buffering=1)
while not os.path.exists(stop):
    try:
        c = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=2)
        c.request("GET", f"{path}?watch=1&allowWatchBookmarks=false&resourceVersion={rv}&timeoutSeconds=600",
                  headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        if c.sock:
            c.sock.settimeout(None)  # events may be far apart; a killed server closes the socket
        if r.status != 200:
            log.write(f"HTTP {r.status}\n")
            time.sleep(0.2)
            continue
        while not os.path.exists(stop):
            line = r.readline()  # the response decodes the chunked stream
            if not line:
                break
            ev = json.loads(line)
            o = ev["object"]
            if ev["type"] == "ERROR":
                log.write(f"ERROR {o.get('code')} {o.get('message')}\n")
                if o.get("code") == 410:
                    log.write("GONE\n")
                    sys.exit(0)
                break
            m = o["metadata"]
            rv = m["resourceVersion"]
            log.write(f"{ev['type']} {rv} {m.get('namespace', '')}/{m['name']}\n")
    except (http.client.HTTPException, OSError, ValueError):
        time.sleep(0.2)
log.close()
