/* Shared by kubectl_logs.c and kubectl_exec.c: raw libcurl handles on the
 * connection settings of the kubectl client (streams that mk_client does not
 * buffer: followed logs, WebSocket exec). */
#ifndef MINIK8S_CMD_KUBECTL_STREAM_H
#define MINIK8S_CMD_KUBECTL_STREAM_H

#include <curl/curl.h>
#include "kubectl.h"

/* A curl handle for SERVER+path with the client's TLS settings and bearer token
 * (*ret_headers owned: curl_slist_free_all after the transfer). NULL on OOM. */
CURL *kubectl_stream_curl(struct kubectl *k, const char *path, struct curl_slist **ret_headers);
/* Prints a non-2xx reply body (Status or text) like kubectl; returns 1. */
int kubectl_stream_error(long code, const char *body, size_t len);

int kubectl_logs(struct kubectl *k, int argc, char **argv);
int kubectl_exec(struct kubectl *k, int argc, char **argv);

#endif
