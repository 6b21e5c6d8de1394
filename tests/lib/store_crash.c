/* Helper for tests/e2e/store_crash.sh: durable writes that get killed with SIGKILL.
 *
 *   store_crash write PATH RUNID [THREADS]
 *     Opens a durable store at PATH and, from THREADS (default 4) threads, creates
 *     objects forever; every 8th write of a thread deletes its previous object.
 *     Prints one line per acknowledged write, flushed before the next write starts:
 *       ACK <name> <rv>     create acknowledged
 *       TRY <name>          about to delete <name> (may or may not happen)
 *       DEL <name> <rv>     delete acknowledged
 *   store_crash list PATH
 *     Opens the store and prints "REV <revision>", then "OBJ <name>" per object.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include "minik8s/store.h"

static struct mk_store *store;
static const char *run_id;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void *writer(void *arg)
{
	long id = (long)arg;
	char prev[96] = "";

	for (long i = 0;; i++) {
		struct mk_error *err = NULL;
		char name[96];
		uint64_t rv = 0;

		if (i % 8 == 7 && prev[0]) {
			out("TRY %s\n", prev);
			if (mk_store_delete(store, "configmaps", "crash", prev, 0, NULL, &rv, &err) < 0) {
				fprintf(stderr, "store_crash: delete %s: %s\n", prev, err->msg);
				exit(1);
			}
			out("DEL %s %llu\n", prev, (unsigned long long)rv);
			prev[0] = '\0';
			continue;
		}
		snprintf(name, sizeof(name), "%s-t%ld-%ld", run_id, id, i);
		cJSON *o = cJSON_CreateObject();
		cJSON *m = cJSON_AddObjectToObject(o, "metadata");
		cJSON_AddStringToObject(m, "name", name);
		cJSON_AddStringToObject(m, "namespace", "crash");
		cJSON *data = cJSON_AddObjectToObject(o, "data");
		for (int k = 0; k < 8; k++) {
			char key[16], val[64];
			snprintf(key, sizeof(key), "k%d", k);
			mk_random_hex(val, 24);
			cJSON_AddStringToObject(data, key, val);
		}
		if (mk_store_create(store, "configmaps", "crash", name, o, NULL, &rv, &err) < 0) {
			fprintf(stderr, "store_crash: create %s: %s\n", name, err->msg);
			exit(1);
		}
		cJSON_Delete(o);
		out("ACK %s %llu\n", name, (unsigned long long)rv);
		snprintf(prev, sizeof(prev), "%s", name);
	}
	return NULL;
}

static int open_store(const char *path)
{
	/* a small window so that event compaction also runs while being killed */
	struct mk_store_options o = { .path = path, .durable = 1, .event_window = 500 };
	struct mk_error *err = NULL;
	if (mk_store_open(&o, &store, &err) < 0) {
		fprintf(stderr, "store_crash: %s\n", err->msg);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "write") == 0) {
		int threads = argc > 4 ? atoi(argv[4]) : 4;
		pthread_t t;
		run_id = argv[3];
		if (threads < 1 || threads > 64 || open_store(argv[2]) < 0)
			return 1;
		for (long i = 0; i < threads; i++)
			if (pthread_create(&t, NULL, writer, (void *)i) != 0)
				return 1;
		for (;;)
			pause(); /* until killed */
	}
	if (argc == 3 && strcmp(argv[1], "list") == 0) {
		struct mk_store_list l = { 0 };
		struct mk_error *err = NULL;
		if (open_store(argv[2]) < 0)
			return 1;
		if (mk_store_list(store, "configmaps", "crash", NULL, NULL, &l, &err) < 0) {
			fprintf(stderr, "store_crash: %s\n", err->msg);
			return 1;
		}
		printf("REV %llu\n", (unsigned long long)mk_store_revision(store));
		for (size_t i = 0; i < l.n; i++) {
			cJSON *o = cJSON_Parse(l.items[i]);
			printf("OBJ %s\n", mk_json_get_string(o, "metadata.name"));
			cJSON_Delete(o);
		}
		mk_store_list_release(&l);
		mk_store_free(store);
		return 0;
	}
	fprintf(stderr, "usage: %s write PATH RUNID [THREADS] | list PATH\n", argv[0]);
	return 2;
}
