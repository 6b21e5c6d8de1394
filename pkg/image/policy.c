/* imagePullPolicy semantics, as the kubelet applies them
 * (pkg/kubelet/images/image_manager.go: shouldPullImage, ErrImageNeverPull). */
#include <errno.h>
#include <string.h>
#include "internal.h"

int mk_image_pull_policy_parse(const char *s, const char *image, enum mk_image_pull_policy *ret,
			       struct mk_error **err)
{
	if (!s || !*s) {
		struct mk_image_ref r;
		if (mk_image_ref_parse(image, &r, err) < 0)
			return -1;
		/* Kubernetes defaults on the tag as written: none or ":latest" => Always */
		*ret = (!r.digest && r.tag && !strcmp(r.tag, "latest")) ? MK_IMAGE_PULL_ALWAYS
									 : MK_IMAGE_PULL_IF_NOT_PRESENT;
		mk_image_ref_release(&r);
		return 0;
	}
	if (!strcmp(s, "Always"))
		*ret = MK_IMAGE_PULL_ALWAYS;
	else if (!strcmp(s, "IfNotPresent"))
		*ret = MK_IMAGE_PULL_IF_NOT_PRESENT;
	else if (!strcmp(s, "Never"))
		*ret = MK_IMAGE_PULL_NEVER;
	else
		return mk_error_set(err, EINVAL,
				    "unsupported imagePullPolicy '%s': supported values: \"Always\", \"IfNotPresent\", \"Never\"",
				    s);
	return 0;
}

int mk_image_pull_policy_should_pull(enum mk_image_pull_policy p, int present)
{
	switch (p) {
	case MK_IMAGE_PULL_ALWAYS:
		return 1;
	case MK_IMAGE_PULL_IF_NOT_PRESENT:
		return !present;
	case MK_IMAGE_PULL_NEVER:
	default:
		return 0;
	}
}

int mk_image_ensure(struct mk_image_store *s, const char *image, enum mk_image_pull_policy policy,
		    const struct mk_image_pull_opts *opts, char **ret_id, const char **ret_reason,
		    struct mk_error **err)
{
	struct mk_image_ref ref;
	struct mk_image_info info;
	_cleanup_error_ struct mk_error *e = NULL;
	int present;

	if (mk_image_ref_parse(image, &ref, &e) < 0) {
		*ret_reason = MK_IMAGE_REASON_INVALID_NAME;
		return mk_error_set(err, EINVAL, "Failed to apply default image tag \"%s\": %s", image,
				    e->msg);
	}
	mk_image_ref_release(&ref);
	present = mk_image_get(s, image, &info, NULL) == 0;
	if (!mk_image_pull_policy_should_pull(policy, present)) {
		if (!present) {
			*ret_reason = MK_IMAGE_REASON_NEVER_PULL;
			return mk_error_set(err, ENOENT,
					    "Container image \"%s\" is not present with pull policy of Never",
					    image);
		}
		if (ret_id)
			*ret_id = TAKE_PTR(info.id);
		mk_image_info_release(&info);
		return 0;
	}
	if (present)
		mk_image_info_release(&info);
	if (mk_image_pull(s, image, opts, ret_id, &e) < 0) {
		*ret_reason = MK_IMAGE_REASON_PULL_ERROR;
		return mk_error_set(err, e->code, "failed to pull image \"%s\": %s", image, e->msg);
	}
	return 0;
}
