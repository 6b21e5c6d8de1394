/* minik8s apiserver: the Kubernetes REST API over libmicrohttpd, backed by the store. */
#ifndef MINIK8S_APISERVER_H
#define MINIK8S_APISERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "minik8s/util.h"
#include "minik8s/store.h"

/* ---- TLS material (pkg/apiserver/certs.c) ------------------------------- */

/* Ensures DIR holds a cluster CA and a serving certificate signed by it:
 *   DIR/ca.crt, DIR/ca.key (generated once, kept across restarts; ECDSA P-256,
 *   10 years), DIR/server.crt, DIR/server.key (re-issued when the wanted SANs are
 *   not all covered; 1 year). SANs: every IP in ips (NULL-terminated; 127.0.0.1
 *   always added) and every DNS name in dns_names (NULL-terminated; "localhost",
 *   "kubernetes", "kubernetes.default", "kubernetes.default.svc",
 *   "kubernetes.default.svc.cluster.local" always added). Keys are written 0600,
 *   certificates 0644, the directory 0700. */
int mk_apiserver_tls_ensure(const char *dir, const char *const *ips,
			    const char *const *dns_names, struct mk_error **err);
/* Only the cluster CA of mk_apiserver_tls_ensure: DIR/ca.crt and DIR/ca.key loaded
 * and checked, or made when DIR has no ca.crt. */
int mk_apiserver_tls_ca_ensure(const char *dir, struct mk_error **err);

/* ---- cluster bootstrap data on a shared datastore (pkg/apiserver/cluster.c) ----
 *
 * k3s's "cluster bootstrap data": the first server on an external datastore puts
 * the cluster's identity (DIR/tls/ca.crt, ca.key, sa.key, the admin token DIR/token,
 * the join secret DIR/node-secret and DIR/cred/secrets-encryption.key when there is
 * one) into the store, sealed with AES-256-GCM under a key derived (PBKDF2-SHA256)
 * from the cluster token; a later server with the same token writes those files
 * into its own DIR instead of making new ones, so every server has the same CA,
 * tokens and keys. Two first servers at once: the store's create-if-absent picks
 * one. */
struct mk_apiserver_cluster_options {
	const char *data_dir;
	/* the cluster token (--token); NULL: DIR/node-secret's when it exists, else a
	 * first server makes one */
	const char *token;
	bool secrets_encryption; /* the cluster gets a secrets key if it has none */
};
/* Returns 1 when the cluster's data was loaded from the store, 0 when this server
 * published its own, -1 with *err: EACCES when the data does not open with the
 * token (or no token was given), or a store error. */
int mk_apiserver_cluster_bootstrap(struct mk_store *store,
				   const struct mk_apiserver_cluster_options *o,
				   struct mk_error **err);

/* ---- several servers: their Leases and the kubernetes Endpoints (serverleases.c) ----
 * Each server keeps the Lease kube-system/apiserver-<hash of identity> (label
 * apiserver.kubernetes.io/identity=kube-apiserver, annotation
 * minik8s.io/advertise-address "IP:PORT"), renewed every renew_ms (default 5000)
 * with leaseDurationSeconds duration_s (default 15), and sets the Endpoints
 * default/kubernetes to the addresses of the servers whose Lease has not expired;
 * expired server Leases are deleted. The first renewal happens in start. Stop
 * deletes this server's Lease. */
struct mk_apiserver_leases;
struct mk_apiserver_leases_options {
	const char *identity;	/* the server's identity (holderIdentity) */
	const char *address;	/* its advertise address (an IP) */
	unsigned port;		/* its HTTPS port */
	unsigned renew_ms;
	unsigned duration_s;
};
int mk_apiserver_leases_start(struct mk_store *store, const struct mk_apiserver_leases_options *o,
			      struct mk_apiserver_leases **ret, struct mk_error **err);
void mk_apiserver_leases_stop(struct mk_apiserver_leases *l); /* accepts NULL */
/* The Endpoints subsets (owned JSON array) for the server Leases in leases (a JSON
 * array of Lease objects) at wall-clock time now: one subset per port, addresses
 * sorted, expired and foreign Leases left out. */
cJSON *mk_apiserver_endpoints_from_leases(const cJSON *leases, time_t now);
/* The addresses (NULL-terminated, owned strings in an owned array) of the servers
 * whose Lease has not expired. */
int mk_apiserver_server_addresses(struct mk_store *store, char ***ret, struct mk_error **err);

/* The "kubernetes" Service's ClusterIP, the first address of service_cidr, into buf
 * (at least 16 bytes): pods reach the API there, so the serving certificate names it.
 * -1 if the CIDR is malformed. (services.c) */
int mk_apiserver_kubernetes_service_ip(const char *service_cidr, char *buf, size_t size);

/* Ensures DIR/NAME.crt and DIR/NAME.key hold a client certificate (clientAuth,
 * common name cn, 1 year) signed by the CA in DIR (made by mk_apiserver_tls_ensure);
 * re-issued when missing, not matching, for another name or near its end. The
 * API server presents it to the agents' streaming servers (logs, exec), which
 * accept only CN "minik8s-apiserver": name "apiserver-kubelet-client" as kubeadm. */
int mk_apiserver_tls_client_ensure(const char *dir, const char *name, const char *cn,
				   struct mk_error **err);

/* ---- the server ----------------------------------------------------------- */

struct mk_apiserver_options {
	const char *bind_address;	/* "127.0.0.1", "0.0.0.0" */
	uint16_t port;
	const char *tls_cert_file;	/* PEM; NULL = plain HTTP (tests only) */
	const char *tls_key_file;
	const char *admin_token;	/* required bearer token */
	const char *node_token;		/* join token for agents (restricted), or NULL */
	const char *ca_file;		/* cluster CA served at /cacerts, or NULL */
	const char *service_cidr;	/* ClusterIP range; default 10.96.0.0/12 */
	const char *cluster_cidr;	/* pod range, a /24 per node; default 10.244.0.0/16 */
	const char *cluster_dns;	/* kube-dns ClusterIP; default the 10th service address */
	const char *advertise_address;	/* address agents and pods use to reach the API
					 * (endpoints of the kubernetes service); default:
					 * bind_address, or 127.0.0.1 when that is 0.0.0.0 */
	bool namespace_controller;	/* true: DELETE of a namespace marks it Terminating
					 * and a namespace controller empties and finalizes
					 * it; false: the apiserver empties it synchronously */
	size_t max_body_bytes;		/* 0 = default 3 MiB, as kube-apiserver */
	unsigned max_connections;	/* authenticated connections; 0 = default 1024
					 * (anonymous ones have their own budget: connguard.h) */
	const char *kubelet_client_cert_file; /* PEM client certificate and key presented */
	const char *kubelet_client_key_file;  /* to agents for pods/log and pods/exec;
					       * NULL: those answer 503 */
	const char *sa_key_file;	/* RSA key signing service account tokens (made,
					 * 0600, when absent); NULL: a new key per run */
	const char *token_auth_file;	/* static bearer tokens of users (kube-apiserver's
					 * --token-auth-file: token,user,uid,"g1,g2"), or NULL */
	unsigned metrics_resolution_ms;	/* how often metrics.k8s.io scrapes the agents
					 * (metrics-server's --metric-resolution);
					 * 0 = 15 s */
};

struct mk_apiserver;
/* Starts serving in background threads. store is borrowed and must outlive the
 * server. *ret owned (mk_apiserver_free stops and frees). */
int mk_apiserver_start(const struct mk_apiserver_options *opts, struct mk_store *store,
		       struct mk_apiserver **ret, struct mk_error **err);
void mk_apiserver_free(struct mk_apiserver *srv);

/* The in-process transport (local.c): c's requests and watches (c a client of
 * this server, its credential as over HTTP) go straight into srv's router, with
 * the same authentication, authorization and admission, without a socket or TLS.
 * srv must outlive c's requests. */
struct mk_client;
void mk_apiserver_local_attach(struct mk_apiserver *srv, struct mk_client *c);

#endif
