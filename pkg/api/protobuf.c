/* The protobuf request decoder: kubectl >= 1.32 sends `create deployment|namespace|
 * service` bodies as application/vnd.kubernetes.protobuf and never retries with JSON.
 *
 * `kubectl create configmap|secret|quota` send protobuf too.
 *
 * A body is the magic "k8s\0" and a runtime.Unknown {typeMeta, raw, contentEncoding,
 * contentType}; raw is the object encoded with the upstream generated.proto schema
 * (our subset is proto/k8s.proto, unpacked by protobuf-c). The object is converted to
 * the JSON the Kubernetes JSON serialisation would give by walking the protobuf-c
 * descriptors: proto field names are the JSON names upstream, so only a few
 * conversions need a table (see below).
 *
 * Presence. Go's gogo-protobuf encodes every non-pointer field, zero or not (kubectl's
 * bodies are full of `12 00` empty strings), and omits nil pointers. So:
 *  - strings, numbers and bools that are plain values in Go: zero means absent
 *    (their JSON tags carry omitempty);
 *  - fields that are pointers in Go (Deployment spec.replicas, terminationGracePeriod-
 *    Seconds, runAsUser, ...): present on the wire means present, 0/false included
 *    (`kubectl create deployment --replicas=0`), told by protobuf-c's has_ flags;
 *  - nested structs present on the wire become objects, empty ones included (Go's
 *    JSON writes `"resources":{}`, `"strategy":{}` as well);
 *  - empty lists and maps are absent. */
#include <errno.h>
#include <string.h>

#include "minik8s/api.h"
#include "k8s.pb-c.h"

#define MAGIC "k8s\0"
#define MAGIC_LEN 4
/* The API server bounds request bodies before this; this bound keeps protobuf-c's
 * allocations (a few times the input) sane when called directly. */
#define MAX_BODY (16u << 20)

struct kind {
	const char *api_version;
	const char *kind;
	const ProtobufCMessageDescriptor *desc;
};

static const struct kind kinds[] = {
	{ "v1", "Namespace", &k8s__namespace__descriptor },
	{ "v1", "Pod", &k8s__pod__descriptor },
	{ "v1", "Service", &k8s__service__descriptor },
	{ "v1", "ConfigMap", &k8s__config_map__descriptor },
	{ "v1", "Secret", &k8s__secret__descriptor },
	{ "apps/v1", "Deployment", &k8s__deployment__descriptor },
	{ "apps/v1", "ReplicaSet", &k8s__replica_set__descriptor },
	{ "batch/v1", "Job", &k8s__job__descriptor },
	{ "batch/v1", "CronJob", &k8s__cron_job__descriptor },
	{ "authorization.k8s.io/v1", "SelfSubjectAccessReview",
	  &k8s__self_subject_access_review__descriptor },
	{ "authentication.k8s.io/v1", "SelfSubjectReview", &k8s__self_subject_review__descriptor },
	{ "v1", "ServiceAccount", &k8s__service_account__descriptor },
	{ "authentication.k8s.io/v1", "TokenRequest", &k8s__token_request__descriptor },
	{ "rbac.authorization.k8s.io/v1", "Role", &k8s__role__descriptor },
	{ "rbac.authorization.k8s.io/v1", "ClusterRole", &k8s__cluster_role__descriptor },
	{ "rbac.authorization.k8s.io/v1", "RoleBinding", &k8s__role_binding__descriptor },
	{ "rbac.authorization.k8s.io/v1", "ClusterRoleBinding",
	  &k8s__cluster_role_binding__descriptor },
	{ "authorization.k8s.io/v1", "SelfSubjectRulesReview",
	  &k8s__self_subject_rules_review__descriptor },
	{ "authorization.k8s.io/v1", "SubjectAccessReview",
	  &k8s__subject_access_review__descriptor },
	{ "authorization.k8s.io/v1", "LocalSubjectAccessReview",
	  &k8s__local_subject_access_review__descriptor },
	{ "v1", "ResourceQuota", &k8s__resource_quota__descriptor }, /* kubectl create quota */
};

/* "Message.field" of the fields that are pointers in the Go types (k8s.io/api
 * core/v1 and apps/v1 types.go, metav1 ObjectMeta): present means present even
 * when the value is zero. */
static const char *const pointer_fields[] = {
	"DeploymentSpec.replicas",
	"DeploymentSpec.revisionHistoryLimit",
	"DeploymentSpec.progressDeadlineSeconds",
	"ReplicaSetSpec.replicas",
	"RollingUpdateDeployment.maxUnavailable",
	"RollingUpdateDeployment.maxSurge",
	"PodSpec.terminationGracePeriodSeconds",
	"PodSpec.activeDeadlineSeconds",
	"PodSpec.automountServiceAccountToken",
	"ServiceAccount.automountServiceAccountToken",
	"TokenRequestSpec.expirationSeconds",
	"PodSpec.enableServiceLinks",
	"Probe.terminationGracePeriodSeconds",
	"SecurityContext.privileged",
	"SecurityContext.runAsUser",
	"SecurityContext.runAsGroup",
	"SecurityContext.runAsNonRoot",
	"SecurityContext.readOnlyRootFilesystem",
	"SecurityContext.allowPrivilegeEscalation",
	"PodSecurityContext.runAsUser",
	"PodSecurityContext.runAsGroup",
	"PodSecurityContext.runAsNonRoot",
	"PodSecurityContext.fsGroup",
	"Toleration.tolerationSeconds",
	"ConfigMapVolumeSource.defaultMode",
	"ConfigMapVolumeSource.optional",
	"SecretVolumeSource.defaultMode",
	"SecretVolumeSource.optional",
	"KeyToPath.mode",
	"ConfigMapKeySelector.optional",
	"SecretKeySelector.optional",
	"OwnerReference.controller",
	"OwnerReference.blockOwnerDeletion",
	"ObjectMeta.deletionGracePeriodSeconds",
	"ServiceSpec.allocateLoadBalancerNodePorts",
	"ConfigMap.immutable",
	"Secret.immutable",
	"JobSpec.parallelism",
	"JobSpec.completions",
	"JobSpec.activeDeadlineSeconds",
	"JobSpec.manualSelector",
	"JobSpec.backoffLimit",
	"JobSpec.ttlSecondsAfterFinished",
	"JobSpec.completionMode",
	"JobSpec.suspend",
	"JobSpec.podReplacementPolicy",
	"PodFailurePolicyOnExitCodesRequirement.containerName",
	"CronJobSpec.startingDeadlineSeconds",
	"CronJobSpec.suspend",
	"CronJobSpec.successfulJobsHistoryLimit",
	"CronJobSpec.failedJobsHistoryLimit",
	"CronJobSpec.timeZone",
};

/* Embedded structs whose fields Go's JSON writes into the parent (`json:",inline"`). */
static const char *const inline_fields[] = {
	"Probe.handler",
	"Volume.volumeSource",
	"ConfigMapVolumeSource.localObjectReference",
	"ConfigMapKeySelector.localObjectReference",
	"SecretKeySelector.localObjectReference",
};

static bool field_in(const char *const *list, size_t n, const ProtobufCMessageDescriptor *d,
		     const ProtobufCFieldDescriptor *f)
{
	size_t dl = strlen(d->short_name);
	for (size_t i = 0; i < n; i++) {
		const char *s = list[i];
		if (strncmp(s, d->short_name, dl) == 0 && s[dl] == '.' && strcmp(s + dl + 1, f->name) == 0)
			return true;
	}
	return false;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF): a stored
 * object must print as valid JSON. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

struct conv {
	const char *kind; /* for error messages */
	struct mk_error **err;
};

/* A JSON string from a protobuf string: bytes that are not UTF-8 become U+FFFD, as
 * for JSON bodies (Go's encoding/json, hence kube-apiserver's JSON output, does the
 * same), so a protobuf body stores what a JSON one would. */
static cJSON *json_string(const char *s)
{
	if (utf8_valid((const unsigned char *)s, strlen(s)))
		return cJSON_CreateString(s);
	_cleanup_free_ char *fixed = mk_utf8_sanitize(s, strlen(s), NULL);
	return cJSON_CreateString(fixed);
}

/* A string as JSON, or NULL (and no error) when empty. */
static int string_item(struct conv *c, const ProtobufCMessageDescriptor *d,
		       const ProtobufCFieldDescriptor *f, const char *s, cJSON **ret)
{
	*ret = NULL;
	if (!s || !*s)
		return 0;
	*ret = json_string(s);
	return 0;
}

/* Reads scalar field f at p as a number/bool; *zero tells whether it is the zero value. */
static cJSON *scalar_item(const ProtobufCFieldDescriptor *f, const void *p, bool *zero)
{
	double v;
	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL:
		*zero = !*(const protobuf_c_boolean *)p;
		return cJSON_CreateBool(!*zero);
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		v = *(const int32_t *)p;
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		v = *(const uint32_t *)p;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		v = (double)*(const int64_t *)p;
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		v = (double)*(const uint64_t *)p;
		break;
	default:
		/* float, double, enum, bytes: none in the schema */
		*zero = true;
		return NULL;
	}
	*zero = v == 0;
	return cJSON_CreateNumber(v);
}

static int message_to_json(struct conv *c, const ProtobufCMessage *m, cJSON *out);

/* The value types Go's JSON writes as scalars. *ret NULL when zero (absent) unless
 * keep_zero. */
static int special_item(struct conv *c, const ProtobufCFieldDescriptor *f,
			const ProtobufCMessage *m, bool keep_zero, bool *handled, cJSON **ret)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	*handled = true;
	*ret = NULL;
	if (d == &k8s__int_or_string__descriptor) {
		const K8s__IntOrString *v = (const K8s__IntOrString *)m;
		if (v->type == 1) {
			if (v->strval && *v->strval) {
				*ret = json_string(v->strval);
			} else if (keep_zero) {
				*ret = cJSON_CreateString("");
			}
		} else if (v->type == 0) {
			if (v->intval != 0 || keep_zero)
				*ret = cJSON_CreateNumber(v->intval);
		} else {
			return mk_error_set(c->err, EINVAL,
					    "protobuf: malformed %s: IntOrString type %lld in %s",
					    c->kind, (long long)v->type, f->name);
		}
		return 0;
	}
	if (d == &k8s__quantity__descriptor) {
		const K8s__Quantity *q = (const K8s__Quantity *)m;
		return string_item(c, d, f, q->string, ret);
	}
	if (d == &k8s__time__descriptor) {
		const K8s__Time *t = (const K8s__Time *)m;
		/* 0001-01-01 .. 9999-12-31, the range RFC 3339 can write */
		if (t->seconds < -62135596800LL || t->seconds > 253402300799LL)
			return mk_error_set(c->err, EINVAL, "protobuf: malformed %s: time %s out of range",
					    c->kind, f->name);
		if (t->seconds != 0) {
			char buf[64];
			mk_time_format((time_t)t->seconds, buf, sizeof(buf));
			*ret = cJSON_CreateString(buf);
		}
		return 0;
	}
	*handled = false;
	return 0;
}

static bool is_map_entry(const ProtobufCMessageDescriptor *d)
{
	/* protoc lowers map<K,V> to a nested "<Field>Entry" message {key = 1, value = 2} */
	return d->n_fields == 2 && mk_str_has_suffix(d->name, "Entry") &&
	       strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

struct map_ent {
	char *key; /* owned */
	size_t idx;
};

static int map_ent_cmp(const void *a, const void *b)
{
	const struct map_ent *x = a, *y = b;
	int r = strcmp(x->key, y->key);
	if (r)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* A map field as a JSON object; NULL when empty. Keys come out sorted, as Go's JSON
 * writes maps, and the last of duplicate keys wins, as protobuf merges them; sorting
 * first keeps this O(n log n) for bodies with huge maps. */
static int map_item(struct conv *c, const ProtobufCFieldDescriptor *f,
		    ProtobufCMessage *const *entries, size_t n, cJSON **ret)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
	_cleanup_free_ struct map_ent *ents = NULL;
	_cleanup_cjson_ cJSON *obj = NULL;

	*ret = NULL;
	if (kf->type != PROTOBUF_C_TYPE_STRING ||
	    (vf->type != PROTOBUF_C_TYPE_STRING && vf->type != PROTOBUF_C_TYPE_MESSAGE &&
	     vf->type != PROTOBUF_C_TYPE_BYTES))
		return mk_error_set(c->err, EINVAL, "protobuf: unsupported map %s", f->name);
	ents = mk_malloc0(n * sizeof(*ents));
	for (size_t i = 0; i < n; i++) {
		const char *key = *(char *const *)((const char *)entries[i] + kf->offset);
		key = key ? key : "";
		/* a key that is not UTF-8 reads as U+FFFD too (then like a duplicate) */
		ents[i].key = mk_utf8_sanitize(key, strlen(key), NULL);
		ents[i].idx = i;
	}
	qsort(ents, n, sizeof(*ents), map_ent_cmp);

	int rc = 0;
	obj = cJSON_CreateObject();
	for (size_t i = 0; i < n; i++) {
		const char *base = (const char *)entries[ents[i].idx];
		cJSON *val = NULL;
		if (i + 1 < n && strcmp(ents[i].key, ents[i + 1].key) == 0)
			continue; /* a later duplicate overrides this one */
		if (vf->type == PROTOBUF_C_TYPE_STRING) {
			const char *s = *(char *const *)(base + vf->offset);
			if (!s)
				s = "";
			val = json_string(s);
		} else if (vf->type == PROTOBUF_C_TYPE_BYTES) {
			/* []byte values (Secret data, ConfigMap binaryData): base64 in JSON */
			const ProtobufCBinaryData *b = (const ProtobufCBinaryData *)(base + vf->offset);
			_cleanup_free_ char *enc = mk_base64_encode(b->data ? b->data : (const uint8_t *)"",
								    b->len);
			val = cJSON_CreateString(enc);
		} else {
			const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + vf->offset);
			bool handled = false;
			if (sub) {
				if (special_item(c, vf, sub, false, &handled, &val) < 0) {
					rc = -1;
					break;
				}
				if (!handled) {
					val = cJSON_CreateObject();
					if (message_to_json(c, sub, val) < 0) {
						cJSON_Delete(val);
						rc = -1;
						break;
					}
				}
			}
			if (!val) /* a resource list entry without a quantity */
				val = cJSON_CreateString("");
		}
		cJSON_AddItemToObject(obj, ents[i].key, val);
	}
	for (size_t i = 0; i < n; i++)
		free(ents[i].key);
	if (rc < 0)
		return -1;
	*ret = TAKE_PTR(obj);
	return 0;
}

static int repeated_item(struct conv *c, const ProtobufCMessageDescriptor *d,
			 const ProtobufCFieldDescriptor *f, const void *arr, size_t n, cJSON **ret)
{
	_cleanup_cjson_ cJSON *list = NULL;
	*ret = NULL;
	if (n == 0)
		return 0;
	if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor))
		return map_item(c, f, (ProtobufCMessage *const *)arr, n, ret);
	list = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON *item = NULL;
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			const char *s = ((char *const *)arr)[i];
			if (!s)
				s = "";
			/* list elements keep their zero values: ["", "x"] is not ["x"] */
			item = json_string(s);
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			const ProtobufCMessage *sub = ((ProtobufCMessage *const *)arr)[i];
			bool handled = false;
			if (special_item(c, f, sub, true, &handled, &item) < 0)
				return -1;
			if (!handled) {
				item = cJSON_CreateObject();
				if (message_to_json(c, sub, item) < 0) {
					cJSON_Delete(item);
					return -1;
				}
			}
		} else {
			bool zero;
			size_t sz = f->type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
				  : (f->type == PROTOBUF_C_TYPE_INT64 || f->type == PROTOBUF_C_TYPE_SINT64 ||
				     f->type == PROTOBUF_C_TYPE_SFIXED64 || f->type == PROTOBUF_C_TYPE_UINT64 ||
				     f->type == PROTOBUF_C_TYPE_FIXED64) ? 8 : 4;
			item = scalar_item(f, (const char *)arr + i * sz, &zero);
		}
		if (item)
			cJSON_AddItemToArray(list, item);
	}
	*ret = TAKE_PTR(list);
	return 0;
}

/* Adds m's fields to out (an object). */
static int message_to_json(struct conv *c, const ProtobufCMessage *m, cJSON *out)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *p = base + f->offset;
		cJSON *item = NULL;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			if (repeated_item(c, d, f, *(void *const *)p, n, &item) < 0)
				return -1;
		} else if (f->type == PROTOBUF_C_TYPE_STRING) {
			if (string_item(c, d, f, *(char *const *)p, &item) < 0)
				return -1;
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
			bool handled = false;
			if (!sub)
				continue;
			if (special_item(c, f, sub, field_in(pointer_fields, MK_ARRAY_SIZE(pointer_fields),
							     d, f),
					 &handled, &item) < 0)
				return -1;
			if (!handled) {
				if (field_in(inline_fields, MK_ARRAY_SIZE(inline_fields), d, f)) {
					if (message_to_json(c, sub, out) < 0)
						return -1;
					continue;
				}
				item = cJSON_CreateObject();
				if (message_to_json(c, sub, item) < 0) {
					cJSON_Delete(item);
					return -1;
				}
			}
		} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
			continue; /* only runtime.Unknown has bytes; never nested */
		} else {
			bool zero = true;
			const protobuf_c_boolean *has =
				(const protobuf_c_boolean *)(base + f->quantifier_offset);
			if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !*has)
				continue;
			item = scalar_item(f, p, &zero);
			if (item && zero &&
			    !field_in(pointer_fields, MK_ARRAY_SIZE(pointer_fields), d, f)) {
				cJSON_Delete(item);
				item = NULL;
			}
		}
		if (item)
			mk_json_set(out, f->name, item);
	}
	return 0;
}

static void unknown_freep(K8s__Unknown **u)
{
	if (*u)
		k8s__unknown__free_unpacked(*u, NULL);
}

static void message_freep(ProtobufCMessage **m)
{
	if (*m)
		protobuf_c_message_free_unpacked(*m, NULL);
}

int mk_api_protobuf_decode(const void *data, size_t len, cJSON **ret_obj, struct mk_error **err)
{
	_cleanup_(unknown_freep) K8s__Unknown *unk = NULL;
	_cleanup_(message_freep) ProtobufCMessage *msg = NULL;
	_cleanup_cjson_ cJSON *obj = NULL;
	const struct kind *k = NULL;
	const char *api_version, *kind;
	bool kind_known = false;

	if (!data || len < MAGIC_LEN || memcmp(data, MAGIC, MAGIC_LEN) != 0)
		return mk_error_set(err, EINVAL, "protobuf: missing k8s magic");
	if (len > MAX_BODY)
		return mk_error_set(err, EINVAL, "protobuf: body of %zu bytes too large", len);

	unk = k8s__unknown__unpack(NULL, len - MAGIC_LEN, (const uint8_t *)data + MAGIC_LEN);
	if (!unk)
		return mk_error_set(err, EINVAL, "protobuf: malformed runtime.Unknown envelope");
	if (!unk->typemeta || !unk->typemeta->kind || !*unk->typemeta->kind)
		return mk_error_set(err, EINVAL, "protobuf: missing typeMeta kind");
	api_version = unk->typemeta->apiversion ? unk->typemeta->apiversion : "";
	kind = unk->typemeta->kind;
	const char *strs[] = { api_version, kind, unk->contentencoding, unk->contenttype };
	for (size_t i = 0; i < MK_ARRAY_SIZE(strs); i++)
		if (strs[i] && !utf8_valid((const unsigned char *)strs[i], strlen(strs[i])))
			return mk_error_set(err, EINVAL, "protobuf: invalid UTF-8 in runtime.Unknown");
	if (unk->contentencoding && *unk->contentencoding)
		return mk_error_set(err, EINVAL, "protobuf: unsupported contentEncoding '%s'",
				    unk->contentencoding);
	if (unk->contenttype && *unk->contenttype &&
	    strcmp(unk->contenttype, "application/vnd.kubernetes.protobuf") != 0)
		return mk_error_set(err, EINVAL, "protobuf: unsupported contentType '%s'",
				    unk->contenttype);

	for (size_t i = 0; i < MK_ARRAY_SIZE(kinds); i++) {
		if (strcmp(kinds[i].kind, kind) != 0)
			continue;
		kind_known = true;
		if (strcmp(kinds[i].api_version, api_version) == 0)
			k = &kinds[i];
	}
	if (!kind_known)
		return mk_error_set(err, EINVAL, "protobuf: unsupported kind '%s'", kind);
	if (!k)
		return mk_error_set(err, EINVAL, "protobuf: unsupported apiVersion '%s' for kind '%s'",
				    api_version, kind);

	msg = protobuf_c_message_unpack(k->desc, NULL, unk->has_raw ? unk->raw.len : 0,
					unk->has_raw ? unk->raw.data : (const uint8_t *)"");
	if (!msg)
		return mk_error_set(err, EINVAL, "protobuf: malformed %s", k->kind);

	obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "apiVersion", k->api_version);
	cJSON_AddStringToObject(obj, "kind", k->kind);
	struct conv c = { .kind = k->kind, .err = err };
	if (message_to_json(&c, msg, obj) < 0)
		return -1;
	*ret_obj = TAKE_PTR(obj);
	return 0;
}
