/* private helpers of pkg/client */
#ifndef MINIK8S_CLIENT_INTERNAL_H
#define MINIK8S_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include "minik8s/client.h"

/* curl_global_init once per process (thread-safe). */
void mk_client_curl_global_init(void);
/* Applies the connection settings of cfg (TLS, auth header list) to handle h.
 * *headers receives an owned list the caller frees after the transfer;
 * accept/content_type may be NULL. */
int mk_client_setup_handle(const struct mk_client_config *cfg, CURL *h, const char *accept,
			   const char *content_type, struct curl_slist **headers,
			   struct mk_error **err);
/* errno-like code and message for a failed transfer */
int mk_client_curl_error(CURL *h, CURLcode rc, const char *method, const char *url,
			 const char *errbuf, struct mk_error **err);
/* Decodes standard base64 (whitespace ignored); owned result. */
int mk_client_base64_decode(const char *in, char **ret, size_t *ret_len);

#endif
