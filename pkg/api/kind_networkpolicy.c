/* networking.k8s.io/v1 NetworkPolicy: defaults (policyTypes, port protocol) as
 * pkg/apis/networking/v1/defaults.go, validation as pkg/apis/networking/validation
 * (ports, endPort, peers, ipBlock CIDRs with except strictly inside, selectors,
 * policyTypes), the NAME POD-SELECTOR AGE columns of kubectl. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static void np_default_ports(cJSON *rules)
{
	cJSON *r, *p;
	cJSON_ArrayForEach(r, rules)
	{
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "ports"))
		{
			if (cJSON_IsObject(p))
				mk_api_json_default(p, "protocol", cJSON_CreateString("TCP"));
		}
	}
}

static void np_defaults(cJSON *obj)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec))
		return;
	cJSON *ing = cJSON_GetObjectItemCaseSensitive(spec, "ingress");
	cJSON *egr = cJSON_GetObjectItemCaseSensitive(spec, "egress");
	np_default_ports(ing);
	np_default_ports(egr);
	if (!cJSON_GetObjectItemCaseSensitive(spec, "podSelector") ||
	    cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(spec, "podSelector")))
		mk_json_set(spec, "podSelector", cJSON_CreateObject());
	cJSON *pt = cJSON_GetObjectItemCaseSensitive(spec, "policyTypes");
	if (cJSON_GetArraySize(pt) == 0) {
		cJSON *types = cJSON_CreateArray();
		cJSON_AddItemToArray(types, cJSON_CreateString("Ingress"));
		if (cJSON_GetArraySize(egr) > 0)
			cJSON_AddItemToArray(types, cJSON_CreateString("Egress"));
		mk_json_set(spec, "policyTypes", types);
	}
}

/* Parses "ADDR/LEN" (IPv4 or IPv6) into family, address bytes and prefix. */
static bool parse_cidr(const char *s, int *family, unsigned char addr[16], int *plen)
{
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || (size_t)(slash - s) >= 64 || !slash[1])
		return false;
	char ip[64];
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	char *end;
	long l = strtol(slash + 1, &end, 10);
	if (*end || slash[1] < '0' || slash[1] > '9')
		return false;
	if (inet_pton(AF_INET, ip, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, ip, addr) == 1)
		*family = AF_INET6;
	else
		return false;
	if (l < 0 || l > (*family == AF_INET ? 32 : 128))
		return false;
	*plen = (int)l;
	return true;
}

/* true when the first plen bits of a and b agree */
static bool prefix_equal(const unsigned char *a, const unsigned char *b, int plen)
{
	int bytes = plen / 8, bits = plen % 8;
	if (memcmp(a, b, (size_t)bytes))
		return false;
	if (!bits)
		return true;
	unsigned char m = (unsigned char)(0xff << (8 - bits));
	return (a[bytes] & m) == (b[bytes] & m);
}

static void v_ip_block(cJSON *causes, const cJSON *b, const char *f)
{
	char fld[384];
	const cJSON *cidr = cJSON_GetObjectItemCaseSensitive(b, "cidr");
	snprintf(fld, sizeof(fld), "%s.cidr", f);
	int fam = 0, plen = 0;
	unsigned char addr[16];
	bool ok = false;
	if (!cJSON_IsString(cidr) || !cidr->valuestring[0]) {
		mk_api_v_required(causes, fld, "");
	} else if (!(ok = parse_cidr(cidr->valuestring, &fam, addr, &plen))) {
		mk_api_v_invalid(causes, fld, cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
	}
	const cJSON *ex;
	int i = 0;
	cJSON_ArrayForEach(ex, cJSON_GetObjectItemCaseSensitive(b, "except"))
	{
		snprintf(fld, sizeof(fld), "%s.except[%d]", f, i++);
		int efam = 0, eplen = 0;
		unsigned char eaddr[16];
		if (!cJSON_IsString(ex) || !parse_cidr(ex->valuestring, &efam, eaddr, &eplen)) {
			mk_api_v_invalid(causes, fld, ex, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
			continue;
		}
		if (ok && (efam != fam || eplen <= plen || !prefix_equal(addr, eaddr, plen)))
			mk_api_v_invalid(causes, fld, ex, "must be a strict subset of `cidr`");
	}
}

static void v_peer(cJSON *causes, const cJSON *peer, const char *f)
{
	char fld[256];
	if (!cJSON_IsObject(peer)) {
		mk_api_v_invalid(causes, f, peer, "must be an object");
		return;
	}
	const cJSON *ps = cJSON_GetObjectItemCaseSensitive(peer, "podSelector");
	const cJSON *ns = cJSON_GetObjectItemCaseSensitive(peer, "namespaceSelector");
	const cJSON *ib = cJSON_GetObjectItemCaseSensitive(peer, "ipBlock");
	int n = 0;
	if (ps && !cJSON_IsNull(ps)) {
		n++;
		snprintf(fld, sizeof(fld), "%s.podSelector", f);
		mk_api_v_label_selector(causes, ps, fld);
	}
	if (ns && !cJSON_IsNull(ns)) {
		n++;
		snprintf(fld, sizeof(fld), "%s.namespaceSelector", f);
		mk_api_v_label_selector(causes, ns, fld);
	}
	if (ib && !cJSON_IsNull(ib)) {
		n++;
		snprintf(fld, sizeof(fld), "%s.ipBlock", f);
		v_ip_block(causes, ib, fld);
	}
	if (n == 0)
		mk_api_v_required(causes, f, "must specify a peer");
	else if (ib && !cJSON_IsNull(ib) && n > 1)
		mk_api_v_forbidden(causes, f, "may not specify more than 1 peer type");
}

static const char *const protocols[] = { "SCTP", "TCP", "UDP", NULL };

static void v_port(cJSON *causes, const cJSON *p, const char *f)
{
	char fld[256];
	if (!cJSON_IsObject(p)) {
		mk_api_v_invalid(causes, f, p, "must be an object");
		return;
	}
	const cJSON *proto = cJSON_GetObjectItemCaseSensitive(p, "protocol");
	snprintf(fld, sizeof(fld), "%s.protocol", f);
	if (proto && !cJSON_IsNull(proto)) {
		bool ok = false;
		for (size_t i = 0; cJSON_IsString(proto) && protocols[i]; i++)
			ok = ok || strcmp(protocols[i], proto->valuestring) == 0;
		if (!ok)
			mk_api_v_not_supported(causes, fld, cJSON_IsString(proto) ? proto->valuestring : "",
					       protocols);
	}
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(p, "port");
	const cJSON *end = cJSON_GetObjectItemCaseSensitive(p, "endPort");
	bool has_port = port && !cJSON_IsNull(port), has_end = end && !cJSON_IsNull(end);
	snprintf(fld, sizeof(fld), "%s.port", f);
	if (has_port && cJSON_IsNumber(port)) {
		if (port->valuedouble < 1 || port->valuedouble > 65535 ||
		    port->valuedouble != (double)port->valueint)
			mk_api_v_invalid(causes, fld, port, "must be between 1 and 65535, inclusive");
	} else if (has_port && cJSON_IsString(port)) {
		const char *msg = mk_api_check_port_name(port->valuestring);
		if (msg)
			mk_api_v_invalid(causes, fld, port, msg);
	} else if (has_port) {
		mk_api_v_invalid(causes, fld, port, "must be a port number or a port name");
	}
	if (!has_end)
		return;
	snprintf(fld, sizeof(fld), "%s.endPort", f);
	if (!cJSON_IsNumber(end) || end->valuedouble != (double)end->valueint) {
		mk_api_v_invalid(causes, fld, end, "must be an integer");
		return;
	}
	if (!has_port) {
		char pf[256];
		snprintf(pf, sizeof(pf), "%s.port", f);
		mk_api_v_required(causes, pf, "must be defined if an endPort is also defined");
	} else if (cJSON_IsString(port)) {
		mk_api_v_forbidden(causes, fld, "may not be defined when port is non-numeric");
	} else if (cJSON_IsNumber(port)) {
		if (end->valuedouble < port->valuedouble)
			mk_api_v_invalid(causes, fld, end, "must be greater than or equal to `port`");
		if (end->valuedouble < 1 || end->valuedouble > 65535)
			mk_api_v_invalid(causes, fld, end, "must be between 1 and 65535, inclusive");
	}
}

static void v_rules(cJSON *causes, const cJSON *rules, const char *dir, const char *peers)
{
	char f[64], g[128];
	if (rules && !cJSON_IsNull(rules) && !cJSON_IsArray(rules)) {
		snprintf(f, sizeof(f), "spec.%s", dir);
		mk_api_v_invalid(causes, f, rules, "must be a list of rules");
		return;
	}
	int i = 0;
	const cJSON *r;
	cJSON_ArrayForEach(r, rules)
	{
		int j = 0;
		const cJSON *x;
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(r, "ports"))
		{
			snprintf(g, sizeof(g), "spec.%s[%d].ports[%d]", dir, i, j++);
			v_port(causes, x, g);
		}
		j = 0;
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(r, peers))
		{
			snprintf(g, sizeof(g), "spec.%s[%d].%s[%d]", dir, i, peers, j++);
			v_peer(causes, x, g);
		}
		i++;
	}
}

static const char *const policy_types[] = { "Ingress", "Egress", NULL };

static void np_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec)) {
		mk_api_v_required(causes, "spec", "");
		return;
	}
	const cJSON *ps = cJSON_GetObjectItemCaseSensitive(spec, "podSelector");
	if (ps && !cJSON_IsNull(ps))
		mk_api_v_label_selector(causes, ps, "spec.podSelector");
	v_rules(causes, cJSON_GetObjectItemCaseSensitive(spec, "ingress"), "ingress", "from");
	v_rules(causes, cJSON_GetObjectItemCaseSensitive(spec, "egress"), "egress", "to");
	const cJSON *pt = cJSON_GetObjectItemCaseSensitive(spec, "policyTypes");
	const cJSON *t;
	int i = 0;
	cJSON_ArrayForEach(t, pt)
	{
		char f[64];
		snprintf(f, sizeof(f), "spec.policyTypes[%d]", i++);
		bool ok = false;
		for (size_t k = 0; cJSON_IsString(t) && policy_types[k]; k++)
			ok = ok || strcmp(policy_types[k], t->valuestring) == 0;
		if (!ok)
			mk_api_v_not_supported(causes, f, cJSON_IsString(t) ? t->valuestring : "",
					       policy_types);
	}
	if (cJSON_GetArraySize(pt) > 2)
		mk_api_v_too_many(causes, "spec.policyTypes", cJSON_GetArraySize(pt), 2);
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "Pod-Selector", "string", "", "The pods the policy selects (spec.podSelector).", 0 },
	MK_API_AGE_COL,
};

static void np_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	mk_api_cell_selector(cells, mk_json_get(obj, "spec.podSelector"));
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
}

const struct mk_api_kind_ops mk_api_networkpolicy_ops = {
	.defaults = np_defaults,
	.validate = np_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = np_cells,
};
