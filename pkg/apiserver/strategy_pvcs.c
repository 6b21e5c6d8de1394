/* PersistentVolumeClaims on the server: LimitRanger's storage bounds, and the
 * storage an update adds is charged to the namespace's quotas. (The protection
 * finalizer and the default class are storage.c's admission.) */
#include "internal.h"

const struct mk_server_strategy mk_strategy_pvcs = {
	.group = "",
	.resource = "persistentvolumeclaims",
	.limits_check = mk_api_limitranges_admit_pvc,
	.quota_on_update = true,
};
