#!/usr/bin/env python3
"""Generates kube-proxy's rulesets for N services x E endpoints, as kube-proxy
writes them, for the side-by-side proxy benchmark (same clusterIPs and
endpoint IPs as proxyctl's synthetic services: 10.96.0.1+i, 10.244.0.2+...).

  gen_kubeproxy.py iptables N E            full nat table (iptables-restore input)
  gen_kubeproxy.py iptables-change N E I   one service's chains rewritten (--noflush)
  gen_kubeproxy.py nft N E                 kube-proxy nftables-mode table
  gen_kubeproxy.py nft-change N E I        one endpoint replaced in service I
"""
import hashlib, sys, ipaddress

def svc_ip(i): return str(ipaddress.IPv4Address(0x0a600000 + 1 + i))
def ep_ip(i, j, e, salt=0): return str(ipaddress.IPv4Address(0x0af40000 + ((i * e + j + salt) % 65000) + 2))
def h(s): return hashlib.sha256(s.encode()).hexdigest()[:16].upper()

def ipt_names(i, e, salt=0):
    name = "bench/svc-%d:http" % i
    return name, "KUBE-SVC-" + h(name), ["KUBE-SEP-" + h(name + ep_ip(i, j, e, salt)) for j in range(e)]

def ipt_rules(i, e, salt=0):
    name, svc, seps = ipt_names(i, e, salt)
    out = ['-A %s ! -s 10.244.0.0/16 -d %s/32 -p tcp -m comment --comment "%s cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ' % (svc, svc_ip(i), name)]
    for j, s in enumerate(seps):
        ip = ep_ip(i, j, e, salt)
        left = e - j
        stat = "" if left == 1 else " -m statistic --mode random --probability %.11f" % (1.0 / left)
        out.append('-A %s -m comment --comment "%s -> %s:8080"%s -j %s' % (svc, name, ip, stat, s))
    for j, s in enumerate(seps):
        ip = ep_ip(i, j, e, salt)
        out.append('-A %s -s %s/32 -m comment --comment "%s" -j KUBE-MARK-MASQ' % (s, ip, name))
        out.append('-A %s -p tcp -m comment --comment "%s" -m tcp -j DNAT --to-destination %s:8080' % (s, name, ip))
    return out

def iptables(n, e):
    out = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
           ":KUBE-SERVICES - [0:0]", ":KUBE-NODEPORTS - [0:0]", ":KUBE-POSTROUTING - [0:0]", ":KUBE-MARK-MASQ - [0:0]"]
    for i in range(n):
        _, svc, seps = ipt_names(i, e)
        out += [":%s - [0:0]" % c for c in [svc] + seps]
    out += ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
            '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
            '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
            '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
            '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully']
    for i in range(n):
        out += ipt_rules(i, e)
    for i in range(n):
        name, svc, _ = ipt_names(i, e)
        out.append('-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment "%s cluster IP" -m tcp --dport 80 -j %s' % (svc_ip(i), name, svc))
    out.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    out.append("COMMIT")
    return out

def iptables_change(n, e, i):
    # kube-proxy with MinimizeIPTablesRestore: only the changed service's
    # chains (declaring a chain flushes it), --noflush; stale endpoint chains deleted
    _, _, old = ipt_names(i, e)
    _, svc, seps = ipt_names(i, e, salt=1)
    stale = [s for s in old if s not in seps]
    out = ["*nat"] + [":%s - [0:0]" % c for c in [svc] + seps + stale] + ipt_rules(i, e, salt=1)
    out += ["-X %s" % s for s in stale]
    out.append("COMMIT")
    return out

def nft_service(out, i, e, salt=0):
    name = "bench/svc-%d/tcp/http" % i
    sc = "service-%s-%s" % (h(name)[:8], name.replace("/", "/"))
    eps = []
    for j in range(e):
        ip = ep_ip(i, j, e, salt)
        ec = "endpoint-%s-%s__%s/8080" % (h(name + ip)[:8], name, ip)
        eps.append(ec)
        out.append('add chain ip kube-proxy %s' % ec)
        out.append('add rule ip kube-proxy %s ip saddr %s jump mark-for-masquerade' % (ec, ip))
        out.append('add rule ip kube-proxy %s meta l4proto tcp dnat to %s:8080' % (ec, ip))
    out.append('add chain ip kube-proxy %s' % sc)
    out.append('add rule ip kube-proxy %s ip daddr %s tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade' % (sc, svc_ip(i)))
    vm = ", ".join("%d : goto %s" % (j, c) for j, c in enumerate(eps))
    out.append('add rule ip kube-proxy %s numgen random mod %d vmap { %s }' % (sc, e, vm))
    return sc, eps

def nft(n, e):
    out = ["add table ip kube-proxy",
           "add chain ip kube-proxy mark-for-masquerade",
           "add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000",
           "add chain ip kube-proxy masquerading { type nat hook postrouting priority srcnat ; }",
           "add rule ip kube-proxy masquerading mark and 0x4000 == 0 return",
           "add rule ip kube-proxy masquerading mark set mark xor 0x4000",
           "add rule ip kube-proxy masquerading masquerade fully-random",
           "add chain ip kube-proxy services",
           "add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority dstnat ; }",
           "add rule ip kube-proxy nat-prerouting jump services",
           "add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }",
           "add rule ip kube-proxy nat-output jump services",
           "add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }",
           "add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips"]
    for i in range(n):
        sc, _ = nft_service(out, i, e)
        out.append("add element ip kube-proxy service-ips { %s . tcp . 80 : goto %s }" % (svc_ip(i), sc))
    return out

def nft_change(n, e, i):
    name = "bench/svc-%d/tcp/http" % i
    old = ["endpoint-%s-%s__%s/8080" % (h(name + ep_ip(i, j, e))[:8], name, ep_ip(i, j, e)) for j in range(e)]
    out = []
    sc = "service-%s-%s" % (h(name)[:8], name)
    out.append("flush chain ip kube-proxy %s" % sc)
    tmp = []
    _, eps = nft_service(tmp, i, e, salt=1)
    # re-adding existing endpoint chains is harmless; the new one is created
    out += [l for l in tmp if not l.startswith("add chain ip kube-proxy service-")]
    for c in old:
        if c not in eps:
            out.append("delete chain ip kube-proxy %s" % c)
    return out

if __name__ == "__main__":
    kind, n, e = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    i = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    f = {"iptables": lambda: iptables(n, e), "iptables-change": lambda: iptables_change(n, e, i),
         "nft": lambda: nft(n, e), "nft-change": lambda: nft_change(n, e, i)}[kind]
    sys.stdout.write("\n".join(f()) + "\n")
