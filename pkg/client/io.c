/* The util.h "send some" of a libcurl CONNECT_ONLY handle, for mk_io_write_all and
 * mk_io_flush: the API server's relay to a node agent and kubectl exec's upgraded
 * connection. Here, not in pkg/util, because pkg/util does not link libcurl. */
#include <curl/curl.h>
#include "minik8s/client.h"

int mk_io_curl_send(void *ctx, const void *data, size_t len, size_t *ret_n)
{
	size_t n = 0;
	CURLcode c = curl_easy_send(ctx, data, len, &n);

	if (c == CURLE_AGAIN)
		return MK_IO_AGAIN;
	if (c != CURLE_OK)
		return -1;
	*ret_n = n;
	return 0;
}
