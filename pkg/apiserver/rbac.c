/* The RBAC authorizer, pure part: an in-memory index of Roles, ClusterRoles and
 * their bindings, the decision "may user u do a" as Kubernetes' rbac/validation
 * takes it (rules x request attributes, with * wildcards, star-slash-SUB subresource
 * wildcards, resourceNames, nonResourceURLs with a * suffix), the rules a user
 * holds in a namespace (SelfSubjectRulesReview, escalation checks), rule coverage
 * (the escalation check: does the caller hold every permission it grants) and
 * ClusterRole aggregation. Nothing here reads the store or takes a lock:
 * rbac_policy.c keeps an index per server up to date and serves it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "internal.h"

enum subject_kind { SUBJ_USER, SUBJ_GROUP, SUBJ_SA };

/* both NULL, or equal strings */
static bool streq0(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

struct rrule {
	char **verbs, **groups, **resources, **names, **urls; /* NULL-terminated */
};

struct rrole {
	char *ns;	/* NULL: ClusterRole */
	char *name;
	struct rrule *rules;
	size_t nrules;
};

struct rsubject {
	enum subject_kind kind;
	char *name;
	char *ns; /* service accounts */
};

struct rbinding {
	char *ns;		/* NULL: ClusterRoleBinding */
	char *name;
	bool ref_cluster;	/* roleRef.kind ClusterRole */
	char *ref_name;
	const struct rrole *role; /* resolved at seal; NULL: missing */
	struct rsubject *subjects;
	size_t nsubjects;
};

/* indices into bindings[] */
struct blist {
	size_t n, cap;
	size_t *idx;
};

struct mk_rbac_index {
	struct rrole *roles;
	size_t nroles, roles_cap;
	struct rbinding *bindings;
	size_t nbindings, bindings_cap;
	/* the fast path (made by seal): bindings by the user name they grant to (User
	 * subjects, and ServiceAccount subjects as system:serviceaccount:NS:NAME) and
	 * by group, so a decision looks at the caller's bindings only */
	struct mk_hmap by_user, by_group;
};

static void blist_add(struct mk_hmap *m, const char *key, size_t i)
{
	struct blist *l = mk_hmap_get(m, key);
	if (!l) {
		l = mk_malloc0(sizeof(*l));
		mk_hmap_put(m, key, l);
	}
	if (l->n && l->idx[l->n - 1] == i)
		return;
	MK_GROW(l->idx, l->cap, l->n + 1);
	l->idx[l->n++] = i;
}

static void blist_free(void *p)
{
	struct blist *l = p;
	if (l)
		free(l->idx);
	free(l);
}

/* ---- building ----------------------------------------------------------------- */

static char **strv_from_json(const cJSON *arr)
{
	char **v = NULL;
	size_t n = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (cJSON_IsString(it))
			mk_strv_push(&v, &n, mk_strdup(it->valuestring));
	}
	if (!v)
		v = mk_malloc0(sizeof(char *));
	return v;
}

struct mk_rbac_index *mk_rbac_index_new(void)
{
	struct mk_rbac_index *x = mk_malloc0(sizeof(struct mk_rbac_index));
	mk_hmap_init(&x->by_user);
	mk_hmap_init(&x->by_group);
	return x;
}

static void rules_parse(const cJSON *rules, struct rrule **ret, size_t *ret_n)
{
	size_t n = (size_t)cJSON_GetArraySize(rules), i = 0;
	struct rrule *r = n ? mk_malloc0(n * sizeof(*r)) : NULL;
	const cJSON *it;
	cJSON_ArrayForEach(it, rules)
	{
		r[i].verbs = strv_from_json(cJSON_GetObjectItemCaseSensitive(it, "verbs"));
		r[i].groups = strv_from_json(cJSON_GetObjectItemCaseSensitive(it, "apiGroups"));
		r[i].resources = strv_from_json(cJSON_GetObjectItemCaseSensitive(it, "resources"));
		r[i].names = strv_from_json(cJSON_GetObjectItemCaseSensitive(it, "resourceNames"));
		r[i].urls = strv_from_json(cJSON_GetObjectItemCaseSensitive(it, "nonResourceURLs"));
		i++;
	}
	*ret = r;
	*ret_n = i;
}

void mk_rbac_index_add(struct mk_rbac_index *x, const char *resource, const cJSON *obj)
{
	const char *name = mk_json_get_string(obj, "metadata.name");
	const char *ns = mk_json_get_string(obj, "metadata.namespace");
	bool role = !strcmp(resource, "roles"), crole = !strcmp(resource, "clusterroles");
	bool rb = !strcmp(resource, "rolebindings"), crb = !strcmp(resource, "clusterrolebindings");

	if (!name || ((role || rb) && !ns))
		return;
	if (role || crole) {
		MK_GROW(x->roles, x->roles_cap, x->nroles + 1);
		struct rrole *r = &x->roles[x->nroles++];
		memset(r, 0, sizeof(*r));
		r->ns = role ? mk_strdup(ns) : NULL;
		r->name = mk_strdup(name);
		rules_parse(cJSON_GetObjectItemCaseSensitive(obj, "rules"), &r->rules, &r->nrules);
		return;
	}
	if (!rb && !crb)
		return;
	const char *rk = mk_json_get_string(obj, "roleRef.kind");
	const char *rn = mk_json_get_string(obj, "roleRef.name");
	if (!rk || !rn)
		return;
	MK_GROW(x->bindings, x->bindings_cap, x->nbindings + 1);
	struct rbinding *b = &x->bindings[x->nbindings++];
	memset(b, 0, sizeof(*b));
	b->ns = rb ? mk_strdup(ns) : NULL;
	b->name = mk_strdup(name);
	b->ref_cluster = !strcmp(rk, "ClusterRole");
	b->ref_name = mk_strdup(rn);
	const cJSON *subs = cJSON_GetObjectItemCaseSensitive(obj, "subjects"), *s;
	size_t n = (size_t)cJSON_GetArraySize(subs);
	b->subjects = n ? mk_malloc0(n * sizeof(*b->subjects)) : NULL;
	cJSON_ArrayForEach(s, subs)
	{
		const char *k = mk_json_get_string(s, "kind"), *sn = mk_json_get_string(s, "name");
		const char *sns = mk_json_get_string(s, "namespace");
		if (!k || !sn)
			continue;
		struct rsubject *d = &b->subjects[b->nsubjects];
		if (!strcmp(k, "User"))
			d->kind = SUBJ_USER;
		else if (!strcmp(k, "Group"))
			d->kind = SUBJ_GROUP;
		else if (!strcmp(k, "ServiceAccount"))
			d->kind = SUBJ_SA;
		else
			continue;
		d->name = mk_strdup(sn);
		/* a RoleBinding's service account without a namespace is in the binding's */
		d->ns = mk_strdup(sns && *sns ? sns : ns);
		b->nsubjects++;
	}
}

static const struct rrole *find_role(const struct mk_rbac_index *x, const char *ns,
				     const char *name)
{
	for (size_t i = 0; i < x->nroles; i++) {
		const struct rrole *r = &x->roles[i];
		if (!strcmp(r->name, name) && (ns ? r->ns && !strcmp(r->ns, ns) : !r->ns))
			return r;
	}
	return NULL;
}

void mk_rbac_index_seal(struct mk_rbac_index *x)
{
	for (size_t i = 0; i < x->nbindings; i++) {
		struct rbinding *b = &x->bindings[i];
		b->role = find_role(x, b->ref_cluster ? NULL : b->ns, b->ref_name);
		if (!b->role)
			continue;
		for (size_t j = 0; j < b->nsubjects; j++) {
			const struct rsubject *s = &b->subjects[j];
			if (s->kind == SUBJ_GROUP) {
				blist_add(&x->by_group, s->name, i);
			} else if (s->kind == SUBJ_USER) {
				blist_add(&x->by_user, s->name, i);
			} else if (s->ns) {
				_cleanup_free_ char *u = mk_strdup_printf(
					"system:serviceaccount:%s:%s", s->ns, s->name);
				blist_add(&x->by_user, u, i);
			}
		}
	}
}

void mk_rbac_index_free(struct mk_rbac_index *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->nroles; i++) {
		struct rrole *r = &x->roles[i];
		for (size_t j = 0; j < r->nrules; j++) {
			mk_strv_free(r->rules[j].verbs);
			mk_strv_free(r->rules[j].groups);
			mk_strv_free(r->rules[j].resources);
			mk_strv_free(r->rules[j].names);
			mk_strv_free(r->rules[j].urls);
		}
		free(r->rules);
		free(r->ns);
		free(r->name);
	}
	for (size_t i = 0; i < x->nbindings; i++) {
		struct rbinding *b = &x->bindings[i];
		for (size_t j = 0; j < b->nsubjects; j++) {
			free(b->subjects[j].name);
			free(b->subjects[j].ns);
		}
		free(b->subjects);
		free(b->ns);
		free(b->name);
		free(b->ref_name);
	}
	free(x->roles);
	free(x->bindings);
	mk_hmap_release(&x->by_user, blist_free);
	mk_hmap_release(&x->by_group, blist_free);
	free(x);
}

/* ---- matching ----------------------------------------------------------------- */

static bool has(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (!strcmp(*v, s))
			return true;
	return false;
}

bool mk_user_info_in_group(const struct mk_user_info *u, const char *g)
{
	for (size_t i = 0; i < u->ngroups; i++)
		if (!strcmp(u->groups[i], g))
			return true;
	return false;
}

static bool subject_applies(const struct rsubject *s, const struct mk_user_info *u)
{
	switch (s->kind) {
	case SUBJ_USER:
		return u->name && !strcmp(s->name, u->name);
	case SUBJ_GROUP:
		return mk_user_info_in_group(u, s->name);
	case SUBJ_SA: {
		/* system:serviceaccount:NS:NAME */
		static const char pfx[] = "system:serviceaccount:";
		size_t pl = sizeof(pfx) - 1, nl;
		if (!u->name || !s->ns || strncmp(u->name, pfx, pl))
			return false;
		nl = strlen(s->ns);
		return !strncmp(u->name + pl, s->ns, nl) && u->name[pl + nl] == ':' &&
		       !strcmp(u->name + pl + nl + 1, s->name);
	}
	}
	return false;
}

static bool binding_applies(const struct rbinding *b, const struct mk_user_info *u)
{
	for (size_t i = 0; i < b->nsubjects; i++)
		if (subject_applies(&b->subjects[i], u))
			return true;
	return false;
}

/* ResourceMatches: "*", the resource (with "/SUB"), or star-slash-SUB: that sub of any resource */
static bool resource_matches(const struct rrule *r, const char *res, const char *sub)
{
	for (char *const *p = r->resources; p && *p; p++) {
		const char *rr = *p;
		if (!strcmp(rr, "*"))
			return true;
		if (!sub) {
			if (!strcmp(rr, res))
				return true;
			continue;
		}
		size_t l = strlen(res);
		if (!strncmp(rr, res, l) && rr[l] == '/' && !strcmp(rr + l + 1, sub))
			return true;
		if (rr[0] == '*' && rr[1] == '/' && !strcmp(rr + 2, sub))
			return true;
	}
	return false;
}

static bool url_matches(const struct rrule *r, const char *path)
{
	for (char *const *p = r->urls; p && *p; p++) {
		size_t l = strlen(*p);
		if (!strcmp(*p, "*") || !strcmp(*p, path))
			return true;
		if (l && (*p)[l - 1] == '*' && !strncmp(*p, path, l - 1))
			return true;
	}
	return false;
}

bool mk_rbac_rule_allows(const struct rrule *r, const struct mk_authz_attrs *a)
{
	if (!has(r->verbs, "*") && !has(r->verbs, a->verb))
		return false;
	if (!a->resource)
		return a->path && url_matches(r, a->path);
	if (!has(r->groups, "*") && !has(r->groups, a->group ? a->group : ""))
		return false;
	if (!resource_matches(r, a->resource, a->sub && *a->sub ? a->sub : NULL))
		return false;
	if (!r->names || !r->names[0])
		return true;
	return a->name && has(r->names, a->name);
}

static bool role_allows(const struct rrole *role, const struct mk_authz_attrs *a)
{
	for (size_t i = 0; role && i < role->nrules; i++)
		if (mk_rbac_rule_allows(&role->rules[i], a))
			return true;
	return false;
}

static char *allowed_reason(const struct rbinding *b, const struct mk_user_info *u)
{
	const char *kind = "User", *who = u->name;
	for (size_t i = 0; i < b->nsubjects; i++) {
		const struct rsubject *s = &b->subjects[i];
		if (!subject_applies(s, u))
			continue;
		kind = s->kind == SUBJ_GROUP ? "Group" : s->kind == SUBJ_SA ? "ServiceAccount" : "User";
		who = s->name;
		break;
	}
	if (b->ns)
		return mk_strdup_printf("RBAC: allowed by RoleBinding \"%s/%s\" of %s \"%s\" to %s \"%s\"",
					b->name, b->ns, b->ref_cluster ? "ClusterRole" : "Role",
					b->ref_name, kind, who);
	return mk_strdup_printf("RBAC: allowed by ClusterRoleBinding \"%s\" of ClusterRole \"%s\" "
				"to %s \"%s\"", b->name, b->ref_name, kind, who);
}

/* whether one of the bindings of l grants a (their subjects match already) */
static bool list_allows(const struct mk_rbac_index *x, const struct blist *l,
			const struct mk_user_info *u, const struct mk_authz_attrs *a,
			char **ret_reason)
{
	for (size_t k = 0; l && k < l->n; k++) {
		const struct rbinding *b = &x->bindings[l->idx[k]];
		/* a RoleBinding grants within its namespace only: never cluster-wide,
		 * never across namespaces, never on non-resource URLs */
		if (b->ns && (!a->resource || !a->ns || strcmp(b->ns, a->ns)))
			continue;
		if (!role_allows(b->role, a))
			continue;
		if (ret_reason)
			*ret_reason = allowed_reason(b, u);
		return true;
	}
	return false;
}

bool mk_rbac_index_allows(const struct mk_rbac_index *x, const struct mk_user_info *u,
			  const struct mk_authz_attrs *a, char **ret_reason)
{
	if (!x || !a->verb)
		return false;
	if (u->name && list_allows(x, mk_hmap_get(&x->by_user, u->name), u, a, ret_reason))
		return true;
	for (size_t i = 0; i < u->ngroups; i++)
		if (list_allows(x, mk_hmap_get(&x->by_group, u->groups[i]), u, a, ret_reason))
			return true;
	return false;
}

static cJSON *json_strv(char *const *v)
{
	cJSON *a = cJSON_CreateArray();
	for (; v && *v; v++)
		cJSON_AddItemToArray(a, cJSON_CreateString(*v));
	return a;
}

cJSON *mk_rbac_rule_to_json(const struct rrule *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "verbs", json_strv(r->verbs));
	if (r->groups && r->groups[0])
		cJSON_AddItemToObject(o, "apiGroups", json_strv(r->groups));
	if (r->resources && r->resources[0])
		cJSON_AddItemToObject(o, "resources", json_strv(r->resources));
	if (r->names && r->names[0])
		cJSON_AddItemToObject(o, "resourceNames", json_strv(r->names));
	if (r->urls && r->urls[0])
		cJSON_AddItemToObject(o, "nonResourceURLs", json_strv(r->urls));
	return o;
}

cJSON *mk_rbac_index_rules(const struct mk_rbac_index *x, const struct mk_user_info *u,
			   const char *ns)
{
	cJSON *out = cJSON_CreateArray();
	for (size_t i = 0; x && i < x->nbindings; i++) {
		const struct rbinding *b = &x->bindings[i];
		if (b->ns && (!ns || strcmp(b->ns, ns)))
			continue;
		if (!b->role || !binding_applies(b, u))
			continue;
		/* as upstream's RulesFor: every rule of the role, also the non-resource
		 * ones of a ClusterRole bound in a namespace (which the authorizer never
		 * applies: a non-resource request has no namespace) */
		for (size_t j = 0; j < b->role->nrules; j++)
			cJSON_AddItemToArray(out, mk_rbac_rule_to_json(&b->role->rules[j]));
	}
	return out;
}

cJSON *mk_rbac_index_role_rules(const struct mk_rbac_index *x, const char *ns, const char *name)
{
	const struct rrole *r = x ? find_role(x, ns, name) : NULL;
	if (!r)
		return NULL;
	cJSON *out = cJSON_CreateArray();
	for (size_t j = 0; j < r->nrules; j++)
		cJSON_AddItemToArray(out, mk_rbac_rule_to_json(&r->rules[j]));
	return out;
}

/* ---- coverage (escalation checks) --------------------------------------------- */

static bool json_has(const cJSON *arr, const char *s)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (cJSON_IsString(it) && !strcmp(it->valuestring, s))
			return true;
	}
	return false;
}

/* whether owner rule o covers the atomic permission (verb, group, resource, name)
 * or (verb, url), as upstream's ruleCovers */
static bool covers_one(const cJSON *o, const char *verb, const char *group, const char *res,
		       const char *name, const char *url)
{
	const cJSON *verbs = cJSON_GetObjectItem(o, "verbs");
	if (!json_has(verbs, "*") && !json_has(verbs, verb))
		return false;
	if (url) {
		const cJSON *u;
		cJSON_ArrayForEach(u, cJSON_GetObjectItem(o, "nonResourceURLs"))
		{
			if (!cJSON_IsString(u))
				continue;
			const char *p = u->valuestring;
			size_t l = strlen(p);
			if (!strcmp(p, "*") || !strcmp(p, url) ||
			    (l && p[l - 1] == '*' && !strncmp(p, url, l - 1)))
				return true;
		}
		return false;
	}
	const cJSON *groups = cJSON_GetObjectItem(o, "apiGroups");
	if (!json_has(groups, "*") && !json_has(groups, group))
		return false;
	const cJSON *rs = cJSON_GetObjectItem(o, "resources");
	bool res_ok = json_has(rs, "*") || json_has(rs, res);
	const char *slash = strchr(res, '/');
	if (!res_ok && slash) {
		_cleanup_free_ char *any_sub = mk_strdup_printf("%.*s/*", (int)(slash - res), res);
		_cleanup_free_ char *any_res = mk_strdup_printf("*%s", slash);
		res_ok = json_has(rs, any_sub) || json_has(rs, any_res);
	}
	if (!res_ok)
		return false;
	const cJSON *names = cJSON_GetObjectItem(o, "resourceNames");
	if (!cJSON_GetArraySize(names))
		return true;
	return name && json_has(names, name);
}

static bool owner_covers(const cJSON *owner, const char *verb, const char *group,
			 const char *res, const char *name, const char *url)
{
	const cJSON *o;
	cJSON_ArrayForEach(o, owner)
	{
		if (covers_one(o, verb, group, res, name, url))
			return true;
	}
	return false;
}

/* A missing atomic permission, merged with others of the same target
 * (upstream's CompactRules: one line per group/resource/name, verbs together). */
struct missing {
	char *group, *res, *name, *url;
	struct mk_buf verbs;
};

static void missing_add(struct missing **m, size_t *n, size_t *cap, const char *verb,
			const char *group, const char *res, const char *name, const char *url)
{
	for (size_t i = 0; i < *n; i++) {
		struct missing *e = &(*m)[i];
		if (!streq0(e->group, group) || !streq0(e->res, res) ||
		    !streq0(e->name, name) || !streq0(e->url, url))
			continue;
		mk_buf_printf(&e->verbs, " \"%s\"", verb);
		return;
	}
	MK_GROW(*m, *cap, *n + 1);
	struct missing *e = &(*m)[(*n)++];
	e->group = group ? mk_strdup(group) : NULL;
	e->res = res ? mk_strdup(res) : NULL;
	e->name = name ? mk_strdup(name) : NULL;
	e->url = url ? mk_strdup(url) : NULL;
	mk_buf_init(&e->verbs);
	mk_buf_printf(&e->verbs, "\"%s\"", verb);
}

char *mk_rbac_rules_uncovered(const cJSON *owner, const cJSON *servant)
{
	struct missing *m = NULL;
	size_t n = 0, cap = 0;
	const cJSON *rule;

	cJSON_ArrayForEach(rule, servant)
	{
		const cJSON *verbs = cJSON_GetObjectItem(rule, "verbs"), *v, *g, *r, *nm, *u;
		const cJSON *urls = cJSON_GetObjectItem(rule, "nonResourceURLs");
		const cJSON *names = cJSON_GetObjectItem(rule, "resourceNames");
		cJSON_ArrayForEach(v, verbs)
		{
			if (!cJSON_IsString(v))
				continue;
			const char *verb = v->valuestring;
			cJSON_ArrayForEach(u, urls)
			{
				if (cJSON_IsString(u) &&
				    !owner_covers(owner, verb, NULL, NULL, NULL, u->valuestring))
					missing_add(&m, &n, &cap, verb, NULL, NULL, NULL, u->valuestring);
			}
			cJSON_ArrayForEach(g, cJSON_GetObjectItem(rule, "apiGroups"))
			{
				cJSON_ArrayForEach(r, cJSON_GetObjectItem(rule, "resources"))
				{
					if (!cJSON_IsString(g) || !cJSON_IsString(r))
						continue;
					if (!cJSON_GetArraySize(names)) {
						if (!owner_covers(owner, verb, g->valuestring,
								  r->valuestring, NULL, NULL))
							missing_add(&m, &n, &cap, verb, g->valuestring,
								    r->valuestring, NULL, NULL);
						continue;
					}
					cJSON_ArrayForEach(nm, names)
					{
						if (cJSON_IsString(nm) &&
						    !owner_covers(owner, verb, g->valuestring,
								  r->valuestring, nm->valuestring,
								  NULL))
							missing_add(&m, &n, &cap, verb, g->valuestring,
								    r->valuestring, nm->valuestring,
								    NULL);
					}
				}
			}
		}
	}
	if (!n)
		return NULL;
	/* PolicyRule.CompactString: {APIGroups:[..], Resources:[..],
	 * ResourceNames:[..], NonResourceURLs:[..], Verbs:[..]}, one a line */
	struct mk_buf b;
	mk_buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		struct missing *e = &m[i];
		if (i)
			mk_buf_append(&b, "\n", 1);
		mk_buf_append(&b, "{", 1);
		if (e->url)
			mk_buf_printf(&b, "NonResourceURLs:[\"%s\"], ", e->url);
		else
			mk_buf_printf(&b, "APIGroups:[\"%s\"], Resources:[\"%s\"], ", e->group,
				      e->res);
		if (e->name)
			mk_buf_printf(&b, "ResourceNames:[\"%s\"], ", e->name);
		mk_buf_printf(&b, "Verbs:[%s]}", e->verbs.data);
		free(e->group);
		free(e->res);
		free(e->name);
		free(e->url);
		mk_buf_release(&e->verbs);
	}
	free(m);
	return b.data;
}

/* ---- aggregation ------------------------------------------------------------- */

cJSON *mk_rbac_aggregate_rules(const cJSON *role, const cJSON *const *roles, size_t n)
{
	const cJSON *sels = mk_json_get(role, "aggregationRule.clusterRoleSelectors"), *s;
	const char *self = mk_json_get_string(role, "metadata.name");
	cJSON *out = cJSON_CreateArray();
	size_t nsel = (size_t)cJSON_GetArraySize(sels), k = 0;
	struct mk_label_selector **ls = mk_malloc0((nsel + 1) * sizeof(*ls));

	cJSON_ArrayForEach(s, sels)
	{
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_label_selector_from_json(s, &ls[k], &err) == 0)
			k++;
	}
	for (size_t i = 0; i < n; i++) {
		const char *nm = mk_json_get_string(roles[i], "metadata.name");
		const cJSON *labels = mk_json_get(roles[i], "metadata.labels"), *r;
		bool match = false;
		if (!nm || (self && !strcmp(nm, self)))
			continue;
		for (size_t j = 0; j < k && !match; j++)
			match = !mk_label_selector_empty(ls[j]) &&
				mk_label_selector_matches(ls[j], labels);
		if (!match)
			continue;
		cJSON_ArrayForEach(r, cJSON_GetObjectItem(roles[i], "rules"))
		{
			bool dup = false;
			const cJSON *e;
			cJSON_ArrayForEach(e, out)
			{
				if (cJSON_Compare(e, r, 1)) {
					dup = true;
					break;
				}
			}
			if (!dup)
				cJSON_AddItemToArray(out, cJSON_Duplicate(r, 1));
		}
	}
	for (size_t j = 0; j < k; j++)
		mk_label_selector_free(ls[j]);
	free(ls);
	return out;
}

/* ---- request attributes ------------------------------------------------------ */

static const char *lower_verb(const char *m)
{
	static const char *const verbs[] = { "get", "post", "put", "patch", "delete", "head",
					     "options" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(verbs); i++)
		if (!strcasecmp(m, verbs[i]))
			return verbs[i];
	return "unknown";
}

/* as upstream's RequestInfoFactory */
void mk_authz_attrs_from_request(const char *method, const char *url, bool watch,
				 char **scratch, struct mk_authz_attrs *a)
{
	size_t l = strcspn(url, "?");
	char *buf = mk_malloc0(2 * l + 2);
	char *path = buf, *work = buf + l + 1, *seg[8], *save = NULL;
	int n = 0;

	memcpy(path, url, l);
	memcpy(work, url, l);
	*scratch = buf;
	memset(a, 0, sizeof(*a));
	a->path = path;
	for (char *t = strtok_r(work, "/", &save); t && n < 8; t = strtok_r(NULL, "/", &save))
		seg[n++] = t;

	int i;
	if (n >= 3 && !strcmp(seg[0], "api")) {
		a->group = "";
		i = 2;
	} else if (n >= 4 && !strcmp(seg[0], "apis")) {
		a->group = seg[1];
		i = 3;
	} else {
		a->verb = lower_verb(method);
		a->group = NULL;
		return;
	}
	if (!strcmp(seg[i], "namespaces") && n - i >= 2) {
		a->ns = seg[i + 1];
		if (n - i > 2 && strcmp(seg[i + 2], "status") && strcmp(seg[i + 2], "finalize"))
			i += 2;
	}
	a->resource = seg[i];
	a->name = n - i >= 2 ? seg[i + 1] : NULL;
	a->sub = n - i >= 3 ? seg[i + 2] : NULL;
	if (!strcasecmp(method, "GET") || !strcasecmp(method, "HEAD"))
		a->verb = watch ? "watch" : a->name ? "get" : "list";
	else if (!strcasecmp(method, "POST"))
		a->verb = "create";
	else if (!strcasecmp(method, "PUT"))
		a->verb = "update";
	else if (!strcasecmp(method, "PATCH"))
		a->verb = "patch";
	else if (!strcasecmp(method, "DELETE"))
		a->verb = a->name ? "delete" : "deletecollection";
	else
		a->verb = lower_verb(method);
}

char *mk_rbac_forbidden_message(const char *user, const struct mk_authz_attrs *a)
{
	if (!a->resource)
		return mk_strdup_printf("forbidden: User \"%s\" cannot %s path \"%s\"", user,
					a->verb, a->path ? a->path : "");
	const char *g = a->group ? a->group : "";
	_cleanup_free_ char *qual = *g ? mk_strdup_printf("%s.%s", a->resource, g)
				       : mk_strdup(a->resource);
	_cleanup_free_ char *subj = a->name && *a->name
					    ? mk_strdup_printf("%s \"%s\"", qual, a->name)
					    : mk_strdup(qual);
	_cleanup_free_ char *scope = a->ns && *a->ns
					     ? mk_strdup_printf("in the namespace \"%s\"", a->ns)
					     : mk_strdup("at the cluster scope");
	bool sub = a->sub && *a->sub;
	return mk_strdup_printf("%s is forbidden: User \"%s\" cannot %s resource \"%s%s%s\" in "
				"API group \"%s\" %s",
				subj, user, a->verb, a->resource, sub ? "/" : "", sub ? a->sub : "",
				g, scope);
}

/* ---- user info ---------------------------------------------------------------- */

void mk_user_info_add_group(struct mk_user_info *u, const char *g)
{
	if (mk_user_info_in_group(u, g))
		return;
	mk_strv_push(&u->groups, &u->ngroups, mk_strdup(g));
}

void mk_user_info_release(struct mk_user_info *u)
{
	free(u->name);
	free(u->uid);
	mk_strv_free(u->groups);
	memset(u, 0, sizeof(*u));
}

void mk_user_info_copy(struct mk_user_info *dst, const struct mk_user_info *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->name = src->name ? mk_strdup(src->name) : NULL;
	dst->uid = src->uid ? mk_strdup(src->uid) : NULL;
	for (size_t i = 0; i < src->ngroups; i++)
		mk_strv_push(&dst->groups, &dst->ngroups, mk_strdup(src->groups[i]));
}

/* groups="a" "b" as Go's %q of a []string prints them */
char *mk_user_info_groups_quoted(const struct mk_user_info *u)
{
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_append(&b, "[", 1);
	for (size_t i = 0; i < u->ngroups; i++)
		mk_buf_printf(&b, "%s\"%s\"", i ? " " : "", u->groups[i]);
	mk_buf_append(&b, "]", 1);
	return b.data;
}
