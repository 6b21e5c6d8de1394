/* discovery.k8s.io/v1 EndpointSlice: defaults, validation and Table columns as
 * kube-apiserver has them (pkg/apis/discovery). A slice holds up to 1000
 * endpoints of one address type, each with 1 (at most 100) addresses and its
 * ready / serving / terminating conditions, and up to 100 ports. */
#include <arpa/inet.h>
#include <string.h>
#include "internal.h"

#define MAX_ENDPOINTS 1000
#define MAX_ADDRESSES 100
#define MAX_PORTS 100
#define SHOWN 3

static const char *const address_types[] = { "FQDN", "IPv4", "IPv6", NULL };
static const char *const protocols[] = { "SCTP", "TCP", "UDP", NULL };

static void slice_defaults(cJSON *obj)
{
	cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(obj, "ports"))
	{
		if (!cJSON_IsObject(p))
			continue;
		mk_api_json_default(p, "name", cJSON_CreateString(""));
		mk_api_json_default(p, "protocol", cJSON_CreateString("TCP"));
	}
}

static bool address_ok(const char *type, const char *a)
{
	unsigned char buf[16];
	if (!strcmp(type, "IPv4"))
		return inet_pton(AF_INET, a, buf) == 1;
	if (!strcmp(type, "IPv6"))
		return inet_pton(AF_INET6, a, buf) == 1;
	return mk_api_check_dns1123_subdomain(a) == NULL;
}

static void validate_endpoint(cJSON *causes, const cJSON *ep, const char *type, const char *base)
{
	char f[256];
	const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(ep, "addresses");
	int n = cJSON_GetArraySize(addrs);
	snprintf(f, sizeof(f), "%s.addresses", base);
	if (n == 0)
		mk_api_v_required(causes, f, "must contain at least 1 address");
	else if (n > MAX_ADDRESSES)
		mk_api_v_too_many(causes, f, n, MAX_ADDRESSES);
	for (int i = 0; i < n && type; i++) {
		const cJSON *a = cJSON_GetArrayItem(addrs, i);
		snprintf(f, sizeof(f), "%s.addresses[%d]", base, i);
		if (!cJSON_IsString(a))
			mk_api_v_invalid(causes, f, a, "must be a string");
		else if (!address_ok(type, a->valuestring))
			mk_api_v_invalid(causes, f, a,
					 !strcmp(type, "FQDN") ? "must be a valid DNS subdomain"
							       : !strcmp(type, "IPv4")
								 ? "must be a valid IPv4 address"
								 : "must be a valid IPv6 address");
	}
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(ep, "nodeName");
	if (cJSON_IsString(node) && node->valuestring[0] &&
	    mk_api_check_dns1123_subdomain(node->valuestring)) {
		snprintf(f, sizeof(f), "%s.nodeName", base);
		mk_api_v_invalid(causes, f, node, mk_api_check_dns1123_subdomain(node->valuestring));
	}
	const cJSON *cond = cJSON_GetObjectItemCaseSensitive(ep, "conditions"), *c;
	cJSON_ArrayForEach(c, cond)
	{
		if (!cJSON_IsBool(c) && !cJSON_IsNull(c)) {
			snprintf(f, sizeof(f), "%s.conditions.%s", base, c->string);
			mk_api_v_invalid(causes, f, c, "must be a boolean");
		}
	}
}

static void validate_ports(cJSON *causes, const cJSON *ports)
{
	char f[64];
	int n = cJSON_GetArraySize(ports);
	if (n > MAX_PORTS)
		mk_api_v_too_many(causes, "ports", n, MAX_PORTS);
	for (int i = 0; i < n; i++) {
		const cJSON *p = cJSON_GetArrayItem(ports, i);
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
		const cJSON *port = cJSON_GetObjectItemCaseSensitive(p, "port");
		const cJSON *proto = cJSON_GetObjectItemCaseSensitive(p, "protocol");
		if (cJSON_IsString(name) && name->valuestring[0]) {
			const char *why = mk_api_check_dns1123_label(name->valuestring);
			snprintf(f, sizeof(f), "ports[%d].name", i);
			if (why)
				mk_api_v_invalid(causes, f, name, why);
			for (int j = 0; j < i; j++) {
				const cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ports, j), "name");
				if (cJSON_IsString(o) && !strcmp(o->valuestring, name->valuestring)) {
					mk_api_v_duplicate(causes, f, name);
					break;
				}
			}
		}
		if (port && !cJSON_IsNull(port) &&
		    (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535 ||
		     port->valuedouble != (double)port->valueint)) {
			snprintf(f, sizeof(f), "ports[%d].port", i);
			mk_api_v_invalid(causes, f, port, "must be between 1 and 65535, inclusive");
		}
		if (cJSON_IsString(proto)) {
			bool ok = false;
			for (size_t k = 0; protocols[k]; k++)
				ok |= !strcmp(proto->valuestring, protocols[k]);
			if (!ok) {
				snprintf(f, sizeof(f), "ports[%d].protocol", i);
				mk_api_v_not_supported(causes, f, proto->valuestring, protocols);
			}
		}
	}
}

static void slice_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(obj, "addressType");
	const char *type = NULL;
	if (!cJSON_IsString(at) || !at->valuestring[0]) {
		mk_api_v_required(causes, "addressType", NULL);
	} else {
		for (size_t k = 0; address_types[k]; k++)
			if (!strcmp(at->valuestring, address_types[k]))
				type = address_types[k];
		if (!type)
			mk_api_v_not_supported(causes, "addressType", at->valuestring, address_types);
	}
	if (old)
		mk_api_v_immutable(causes, "addressType", at,
				   cJSON_GetObjectItemCaseSensitive(old, "addressType"));

	const cJSON *eps = cJSON_GetObjectItemCaseSensitive(obj, "endpoints");
	int n = cJSON_GetArraySize(eps);
	if (n > MAX_ENDPOINTS)
		mk_api_v_too_many(causes, "endpoints", n, MAX_ENDPOINTS);
	for (int i = 0; i < n && i < MAX_ENDPOINTS; i++) {
		char base[32];
		snprintf(base, sizeof(base), "endpoints[%d]", i);
		validate_endpoint(causes, cJSON_GetArrayItem(eps, i), type, base);
	}
	validate_ports(causes, cJSON_GetObjectItemCaseSensitive(obj, "ports"));
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "AddressType", "string", "", "The address type of the endpoints in the slice.", 0 },
	{ "Ports", "string", "", "The ports of the slice.", 0 },
	{ "Endpoints", "string", "", "The first addresses of the slice's endpoints.", 0 },
	MK_API_AGE_COL,
};

/* kubectl's printer: the port numbers joined by ",", or <unset>; the first
 * SHOWN addresses and " + N more...", or <unset> when there are none. */
static void slice_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	struct mk_buf b;
	const cJSON *p, *ep, *a;
	int shown = 0, count = 0;

	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	mk_api_cell_str(cells, mk_json_get_string(obj, "addressType"));
	mk_buf_init(&b);
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(obj, "ports"))
	{
		const cJSON *port = cJSON_GetObjectItemCaseSensitive(p, "port");
		if (cJSON_IsNumber(port))
			mk_buf_printf(&b, "%s%d", b.len ? "," : "", port->valueint);
	}
	mk_api_cell_str(cells, b.len ? b.data : "<unset>");
	mk_buf_release(&b);

	mk_buf_init(&b);
	cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(obj, "endpoints"))
	{
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(ep, "addresses"))
		{
			count++;
			if (shown < SHOWN && cJSON_IsString(a)) {
				mk_buf_printf(&b, "%s%s", shown ? "," : "", a->valuestring);
				shown++;
			}
		}
	}
	if (count > shown)
		mk_buf_printf(&b, " + %d more...", count - shown);
	mk_api_cell_str(cells, b.len ? b.data : "<unset>");
	mk_buf_release(&b);
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
}

const struct mk_api_kind_ops mk_api_endpointslice_ops = {
	.defaults = slice_defaults,
	.validate = slice_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = slice_cells,
};
