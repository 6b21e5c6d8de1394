/* CustomResourceDefinitions on the server (crds.c): the server keeps a
 * definition's status, and after any write the served resources follow at once. */
#include "internal.h"

static void written(struct mk_request *req, struct mk_reply *rep)
{
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_crds_sync(req->srv, &err) < 0)
		mk_log(MK_LOG_WARN, "apiserver", "custom resource definitions: %s", err->msg);
}

const struct mk_server_strategy mk_strategy_crds = {
	.group = "apiextensions.k8s.io",
	.resource = "customresourcedefinitions",
	.prepare = mk_crds_prepare,
	.written = written,
};
