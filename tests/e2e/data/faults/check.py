#!/usr/bin/env python3
"""Checks for tests/e2e/faults.sh (the sentinel pod is created after the lists) after the kill -9 rounds. Reads the burst log
(burst.py), the watch log (watcher.py) and the final lists of pods and
deployments (JSON files), prints "PASS: name" / "FAIL: name: why" lines.
usage: check.py BURST_LOG WATCH_LOG PODS_JSON DEPLOYS_JSON"""
import json, sys

burst, watch, pods_f, deps_f = sys.argv[1:5]
pods = json.load(open(pods_f))
deps = json.load(open(deps_f))
list_rv = int(pods["metadata"]["resourceVersion"])
have_pods = {p["metadata"]["name"] for p in pods["items"]}
have_deps = {d["metadata"]["name"]: d for d in deps["items"]}


def report(name, problems):
    if problems:
        print(f"FAIL: {name}: {len(problems)} problem(s): " + "; ".join(problems[:5]))
    else:
        print(f"PASS: {name}")


# last operation per object: (status, op, value); a "lost" op makes the outcome open
last = {}
acked = lost = 0
acked_pod_creates, acked_pod_deletes = set(), set()
for line in open(burst):
    f = line.split()
    if len(f) < 4:
        continue
    st, op, res, name = f[0], f[1], f[2], f[3]
    val = f[4] if len(f) > 4 else ""
    key = (res, name)
    if st == "ok":
        acked += 1
        if res == "pods" and op == "create":
            acked_pod_creates.add(name)
        if res == "pods" and op == "delete":
            acked_pod_deletes.add(name)
    if st == "lost":
        lost += 1
    if st == "err":
        # a definite refusal changes nothing (e.g. scale of a deployment whose create was lost)
        continue
    # a lost write may or may not have happened: the object's state is open then
    # (until a later acknowledged write settles it)
    last[key] = (st, op, val, st == "lost")

print(f"burst: {acked} acknowledged writes, {lost} without answer")
problems = []
for (res, name), (st, op, val, unsure) in sorted(last.items()):
    if unsure:
        continue
    exists = name in (have_pods if res == "pods" else have_deps)
    if op == "delete" and exists:
        problems.append(f"{res}/{name} deleted (acknowledged) but present")
    if op in ("create", "scale") and not exists:
        problems.append(f"{res}/{name} {op} acknowledged but missing")
    if res == "deployments" and exists and op in ("create", "scale"):
        got = have_deps[name]["spec"].get("replicas")
        if str(got) != val:
            problems.append(f"deployments/{name} replicas {got}, last acknowledged {val}")
report("faults_acknowledged_writes_kept", problems)

# the watch stream, resumed after every kill, has every event once and in order
events, problems, prev = [], [], 0
gone = False
for line in open(watch):
    f = line.split()
    if f[0] in ("ADDED", "MODIFIED", "DELETED"):
        rv = int(f[1])
        if rv <= prev:
            problems.append(f"revision {rv} after {prev} ({f[0]} {f[2]})")
        prev = max(prev, rv)
        events.append((f[0], rv, f[2].split("/", 1)[1]))
    elif f[0] == "GONE":
        gone = True
if gone:
    problems.append("the server answered 410 Gone to a resume")
seen_add = {n for t, rv, n in events if t == "ADDED"}
seen_del = {n for t, rv, n in events if t == "DELETED"}
for n in sorted(acked_pod_creates - seen_add):
    problems.append(f"no ADDED event for acknowledged create of {n}")
for n in sorted(acked_pod_deletes - seen_del):
    problems.append(f"no DELETED event for acknowledged delete of {n}")
# replaying the events up to the list's revision gives exactly the listed pods
state = set()
for t, rv, n in events:
    if rv > list_rv:
        break
    if t == "DELETED":
        state.discard(n)
    else:
        state.add(n)
if not any(n == "sentinel" for t, rv, n in events):
    problems.append("the watch never delivered the sentinel pod created after the list")
elif state != have_pods:
    problems.append(f"watch replay differs from the list: only in watch {sorted(state - have_pods)[:5]}, "
                    f"only in list {sorted(have_pods - state)[:5]}")
print(f"watch: {len(events)} events up to revision {prev}")
report("faults_watch_resumes_without_gap", problems)
