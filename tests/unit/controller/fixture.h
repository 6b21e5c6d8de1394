/* A real API server on an in-memory store, a client, and (optionally) the
 * controller manager, for controller tests: the test writes the state the
 * controllers' informers will see, then waits for the writes they must make. */
#ifndef MINIK8S_TEST_CONTROLLER_FIXTURE_H
#define MINIK8S_TEST_CONTROLLER_FIXTURE_H

#include <stdbool.h>
#include <cjson/cJSON.h>
#include "minik8s/client.h"
#include "minik8s/controller.h"

extern struct mk_client *fx_cli;
extern struct mk_controllers *fx_ctl;

/* Check fixtures: the API server and client only / and the controllers too. */
void fx_setup(void);
void fx_setup_controllers(void);
/* The same with these options. */
void fx_setup_controllers_with(const struct mk_controllers_options *o);
void fx_teardown(void);

/* Creates the JSON object at path (aborts the test on error). */
void fx_create(const char *path, const char *json);
/* Merge-patches path (a /status path for status) with json. */
void fx_patch(const char *path, const char *json);
/* The object at path (owned), or NULL on 404. */
cJSON *fx_get(const char *path);
/* Polls path every 20 ms for up to 10 s until pred(obj, arg) holds; returns the
 * object that satisfied it (owned) or aborts the test with what. */
typedef bool (*fx_pred_fn)(const cJSON *obj, const void *arg);
cJSON *fx_wait(const char *path, fx_pred_fn pred, const void *arg, const char *what);

/* A Ready node named name with labels ("k=v" or NULL) and taints JSON (or NULL). */
void fx_node(const char *name, const char *labels_json, const char *taints_json);
/* Marks pod ns/name Running on its node with ip and Ready=ready. */
void fx_pod_running(const char *ns, const char *name, const char *ip, bool ready);

#endif
