/* libFuzzer target for the DNS packet path (not part of `make all`).
 * Build and run with tests/e2e/dns_fuzz.sh [SECONDS] (or by hand, see there).
 * Every input is (1) parsed by mk_dns_msg_parse and (2) answered by
 * mk_dns_zone_answer against a small realistic zone, over UDP and TCP limits;
 * every reply must itself parse, stay within its transport's size limit, and
 * carry the query's ID. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "minik8s/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *ZONE =
	"{\"kind\":\"List\",\"items\":["
	"{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"demo\"},"
	"\"spec\":{\"clusterIP\":\"10.96.0.20\",\"ports\":[{\"name\":\"http\",\"port\":80}]}},"
	"{\"kind\":\"Service\",\"metadata\":{\"name\":\"db\",\"namespace\":\"demo\"},"
	"\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"name\":\"pg\",\"port\":5432}]}},"
	"{\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"db\",\"namespace\":\"demo\"},"
	"\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.0.5\",\"hostname\":\"db-0\"},{\"ip\":\"10.244.0.6\"}],"
	"\"ports\":[{\"name\":\"pg\",\"port\":5432}]}]},"
	"{\"kind\":\"Service\",\"metadata\":{\"name\":\"ext\",\"namespace\":\"demo\"},"
	"\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"example.org\"}},"
	"{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":\"demo\"},"
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.0.5\"}}]}";

static struct mk_dns_zone *zone;
static struct mk_dns_msg msg;
static uint8_t out[MK_DNS_TCP_MAX];

static void init(void)
{
	struct mk_dns_zone_options o = { NULL, "10.96.0.10", false };
	cJSON *j = cJSON_Parse(ZONE);
	if (!j || mk_dns_zone_new(&o, &zone, NULL) < 0 || mk_dns_zone_load(zone, j, NULL) != 5)
		abort();
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mk_error *err = NULL;

	if (!zone)
		init();
	if (mk_dns_msg_parse(data, size, &msg, &err) < 0) {
		if (!err || !err->msg || strncmp(err->msg, "dns: ", 5) != 0)
			abort();
		mk_error_free(&err);
	}
	for (int tcp = 0; tcp < 2; tcp++) {
		size_t len = 0;
		enum mk_dns_action a = mk_dns_zone_answer(zone, data, size, tcp, tcp, out, &len);
		if (a != MK_DNS_ACTION_REPLY)
			continue;
		if (len < 12 || len > (tcp ? MK_DNS_TCP_MAX : MK_DNS_UDP_MAX) || memcmp(out, data, 2) != 0)
			abort();
		if (mk_dns_msg_parse(out, len, &msg, &err) < 0)
			abort();
	}
	return 0;
}
