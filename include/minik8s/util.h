/* minik8s util: errors, cleanup helpers, logging, strings, time, random, files.
 * Library code (pkg/) never prints to stdout and never exits; it reports through
 * struct mk_error, in the style of crun's libcrun_error_t. */
#ifndef MINIK8S_UTIL_H
#define MINIK8S_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <time.h>
#include <cjson/cJSON.h>

/* ---- errors ------------------------------------------------------------- */

/* code is errno-like (EINVAL, ENOENT, EEXIST, ...) or an HTTP status code
 * (>= 400) when the error is meant for an API client. */
struct mk_error {
	int code;
	char *msg;
};

/* Sets *err (if err != NULL and *err == NULL) to a new error; returns -1. */
int mk_error_set(struct mk_error **err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like mk_error_set, but appends ": strerror(errnum)". Returns -1. */
int mk_error_errno(struct mk_error **err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prepends "CONTEXT: " to an existing error's message. Returns -1. */
int mk_error_wrap(struct mk_error **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Frees *err and sets it to NULL; accepts NULL and *err == NULL. */
void mk_error_free(struct mk_error **err);
/* Error code (HTTP status or errno) of err, 0 when NULL. */
static inline int mk_error_code(const struct mk_error *e) { return e ? e->code : 0; }

/* ---- cleanup helpers (systemd style) ------------------------------------ */

static inline void mk_freep(void *p) { free(*(void **)p); }
static inline void mk_closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void mk_fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void mk_cjson_deletep(cJSON **j) { if (*j) cJSON_Delete(*j); }
static inline void mk_cjson_freep(char **s) { if (*s) cJSON_free(*s); }
static inline void mk_error_freep(struct mk_error **e) { mk_error_free(e); }

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(mk_freep)
#define _cleanup_close_ _cleanup_(mk_closep)
#define _cleanup_fclose_ _cleanup_(mk_fclosep)
#define _cleanup_cjson_ _cleanup_(mk_cjson_deletep)
/* for strings returned by cJSON_Print* */
#define _cleanup_cjson_str_ _cleanup_(mk_cjson_freep)
#define _cleanup_error_ _cleanup_(mk_error_freep)

/* Hands ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })

#define MK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- logging ------------------------------------------------------------ */

enum { MK_LOG_ERROR, MK_LOG_WARN, MK_LOG_INFO, MK_LOG_DEBUG };
extern int mk_log_level; /* default MK_LOG_INFO */
/* klog-style verbosity (-v N of the server and agent commands, default 0): a message
 * of verbosity n is logged when mk_log_v(n); 4 logs every API request. */
extern int mk_log_verbosity;
#define mk_log_v(n) (mk_log_verbosity >= (n))
/* Writes one line to stderr: "time level component: message". Thread-safe. */
void mk_log(int level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same from a va_list, with trailing newlines of the message dropped (for
 * libraries' log callbacks, such as libmicrohttpd's). */
void mk_logv(int level, const char *component, const char *fmt, va_list ap);

/* ---- strings and buffers ------------------------------------------------- */

/* UTF-8 as RFC 3629 defines it (what Go's unicode/utf8 accepts). */
bool mk_utf8_valid(const char *s, size_t len);
/* A copy of s (owned, NUL-terminated; *ret_len its length if not NULL) in which
 * every byte that starts no valid UTF-8 sequence is replaced by U+FFFD, the way
 * Go's encoding/json (and so kube-apiserver) reads and writes strings. */
char *mk_utf8_sanitize(const char *s, size_t len, size_t *ret_len);

/* Growable byte buffer; data is always NUL-terminated. Embedded: _init/_release. */
struct mk_buf {
	char *data;
	size_t len, cap;
};
void mk_buf_init(struct mk_buf *b);
void mk_buf_release(struct mk_buf *b);
void mk_buf_append(struct mk_buf *b, const void *data, size_t len); /* aborts on OOM */
void mk_buf_puts(struct mk_buf *b, const char *s);
void mk_buf_printf(struct mk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mk_buf_vprintf(struct mk_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Returns the data (caller frees) and resets the buffer. */
char *mk_buf_steal(struct mk_buf *b);

/* asprintf that aborts on OOM; returns owned string. */
char *mk_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* strdup that aborts on OOM; NULL in -> NULL out. */
char *mk_strdup(const char *s);
void *mk_malloc0(size_t n); /* calloc that aborts on OOM */
/* Standard base64 (RFC 4648) with padding; returns an owned string. */
char *mk_base64_encode(const void *data, size_t len);
/* Decodes standard base64 (whitespace ignored); *ret_data owned. -1 if malformed. */
int mk_base64_decode(const char *s, void **ret_data, size_t *ret_len);
/* URL-safe base64 without padding (RFC 4648 5, Go's base64.RawURLEncoding, JWT
 * segments, continue tokens); returns an owned string. */
char *mk_base64url_encode(const void *data, size_t len);
/* Decodes len bytes of s as unpadded base64url: -1 for any byte outside that
 * alphabet (padding, '+', '/', whitespace) or an impossible length. */
int mk_base64url_decode(const char *s, size_t len, void **ret_data, size_t *ret_len);
int mk_str_has_prefix(const char *s, const char *prefix);

/* ---- writing to non-blocking connections (io.c) ----------------------------
 * A transport's "send some": writes up to len bytes of data and sets *ret_n to
 * how many went; returns 0, MK_IO_AGAIN when nothing can go without blocking, or
 * -1 when the peer is gone (or the connection failed). */
enum { MK_IO_AGAIN = 1 };
typedef int (*mk_io_send_fn)(void *ctx, const void *data, size_t len, size_t *ret_n);
/* ctx: an int * holding a socket; send() with MSG_NOSIGNAL, EINTR retried. */
int mk_io_sock_send(void *ctx, const void *data, size_t len, size_t *ret_n);
/* (mk_io_curl_send, for a libcurl CONNECT_ONLY handle, is in minik8s/client.h) */
/* Writes all of data through send_some; whenever it would block, waits up to
 * timeout_ms for fd (the connection's socket) to be writable. 0, or -1 when the
 * peer is gone or stayed unwritable that long. */
int mk_io_write_all(mk_io_send_fn send_some, void *ctx, int fd, const void *data, size_t len,
		    int timeout_ms);
/* Sends b's bytes from *off on as far as the connection takes them without
 * blocking, advancing *off; once all are sent, empties b and zeroes *off. 0, or
 * -1 when the peer is gone. */
int mk_io_flush(mk_io_send_fn send_some, void *ctx, struct mk_buf *b, size_t *off);

/* ---- string vectors: NULL-terminated arrays of owned strings ---------------- */

/* Number of strings in v, a char ** or const char *const * (0 for NULL). */
size_t mk_strv_len(const void *v);
/* Appends s (owned by the vector from now on) to *v, which has *n strings, and
 * keeps it NULL-terminated. Aborts on OOM. */
void mk_strv_push(char ***v, size_t *n, char *s);
/* Frees every string and the vector. Accepts NULL. */
void mk_strv_free(char **v);
static inline void mk_strv_freep(char ***v) { mk_strv_free(*v); }
#define _cleanup_strv_ _cleanup_(mk_strv_freep)

/* ---- growable arrays --------------------------------------------------------
 * MK_GROW(arr, cap, need): makes room for at least need elements in arr, whose
 * allocated size is cap elements (a size_t, updated), doubling from 8; aborts on
 * OOM. Elements beyond the old cap are uninitialised. */
void *mk_grow(void *p, size_t *cap, size_t need, size_t elem);
#define MK_GROW(arr, cap, need) ((arr) = mk_grow((arr), &(cap), (need), sizeof(*(arr))))

/* ---- FNV-1a, for hash tables and short stable names (not for security) ----- */
uint32_t mk_fnv1a32(const void *data, size_t len);
uint64_t mk_fnv1a64(const void *data, size_t len);
static inline uint32_t mk_fnv1a32_str(const char *s) { return mk_fnv1a32(s, strlen(s)); }
static inline uint64_t mk_fnv1a64_str(const char *s) { return mk_fnv1a64(s, strlen(s)); }
int mk_str_has_suffix(const char *s, const char *suffix);

/* ---- time ---------------------------------------------------------------- */

/* RFC 3339 UTC with second precision ("2026-11-26T08:24:15Z") into buf (>= 21 bytes). */
void mk_time_format(time_t t, char *buf, size_t size);
/* Now as metav1.MicroTime: RFC 3339 UTC with microseconds
 * ("2026-11-26T08:24:15.123456Z") into buf (>= 28 bytes; microtime.c). */
void mk_time_micro_now(char *buf, size_t size);
/* Parses RFC 3339 ("...Z" or with offset, optional fraction); -1 on error. */
time_t mk_time_parse(const char *s);
/* Kubernetes' human duration as kubectl shows it in AGE columns
 * ("0s", "45s", "3m", "3m20s", "5h", "5h3m", "2d", "2d3h", "400d", "3y10d"). */
void mk_time_human_duration(int64_t seconds, char *buf, size_t size);
/* Monotonic clock in nanoseconds / milliseconds. */
uint64_t mk_time_mono_ns(void);
uint64_t mk_time_mono_ms(void);
/* Absolute CLOCK_MONOTONIC deadline ms from now, for pthread_cond_timedwait on a
 * condition variable initialised with mk_time_cond_init (which selects that clock). */
void mk_time_mono_deadline(struct timespec *ts, uint64_t ms);
void mk_time_cond_init(pthread_cond_t *c);
/* Parses a duration ("500ms", "3s", "5m", "1h", or plain seconds "40") into
 * milliseconds. Returns 0, or -1 (EINVAL / ERANGE) with *err. */
int mk_time_parse_duration(const char *s, unsigned *ret_ms, struct mk_error **err);

/* ---- hash table ------------------------------------------------------------
 * One hash table for the project: chaining, power-of-two buckets that grow at
 * load 1. Not thread-safe: its owner locks. Keys are C strings (copied) unless
 * the table was made with a type (in the manner of redis's dict): the type says
 * how a key hashes, compares, is copied and freed, so binary keys or keys that
 * live inside the value work without a copy. */
struct mk_hmap_type {
	uint64_t (*hash)(const void *key);
	bool (*equal)(const void *a, const void *b);
	/* NULL: the table keeps the caller's pointer (the key must outlive the entry,
	 * e.g. a key inside its value) and key_free is not called. */
	void *(*key_dup)(const void *key);
	void (*key_free)(void *key);
};
/* Binary keys: a pointer to this struct is the key. Borrowed (no key_dup), so
 * the struct and its bytes usually live inside the value. */
struct mk_hmap_bytes {
	const void *data;
	size_t len;
};
extern const struct mk_hmap_type mk_hmap_type_bytes;

struct mk_hmap_entry {
	union {
		char *key;     /* string tables */
		void *key_ptr; /* typed tables */
	};
	uint64_t hash;
	void *val;
	struct mk_hmap_entry *next;
};
struct mk_hmap {
	struct mk_hmap_entry **buckets;
	size_t cap, n;
	const struct mk_hmap_type *type; /* NULL: C strings, copied */
};
struct mk_hmap_iter {
	size_t b;
	struct mk_hmap_entry *e;
};
#define MK_HMAP_ITER_INIT { 0, NULL }

void mk_hmap_init(struct mk_hmap *m);
/* A table whose keys follow type (borrowed; static storage). */
void mk_hmap_init_type(struct mk_hmap *m, const struct mk_hmap_type *type);
/* free_val (may be NULL) is called on every value. */
void mk_hmap_release(struct mk_hmap *m, void (*free_val)(void *));
/* key: a C string, or what the table's type takes. */
struct mk_hmap_entry *mk_hmap_find(const struct mk_hmap *m, const void *key);
void *mk_hmap_get(const struct mk_hmap *m, const void *key);
bool mk_hmap_has(const struct mk_hmap *m, const void *key);
/* The hash of key under m's type, and a lookup given it, so that a reader can
 * hash before taking its lock. */
uint64_t mk_hmap_hash(const struct mk_hmap *m, const void *key);
void *mk_hmap_get_hashed(const struct mk_hmap *m, const void *key, uint64_t hash);
/* Sets key (copied, or borrowed per the type) to val; returns the previous value
 * (or NULL). A borrowed key replaces the stored one, so it may move with val. */
void *mk_hmap_put(struct mk_hmap *m, const void *key, void *val);
/* Removes key; returns its value (or NULL). */
void *mk_hmap_del(struct mk_hmap *m, const void *key);
/* Iteration; the table must not change meanwhile. */
struct mk_hmap_entry *mk_hmap_iter_next(const struct mk_hmap *m, struct mk_hmap_iter *it);

/* ---- random -------------------------------------------------------------- */

/* Fills buf with len cryptographically random bytes (getrandom); aborts on failure. */
void mk_random_bytes(void *buf, size_t len);
/* SHA-256 of data as 64 lowercase hex chars + NUL. */
void mk_sha256_hex(const void *data, size_t len, char out[65]);
/* Writes a random RFC 4122 v4 UUID ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") into out[37]. */
void mk_uuid_v4(char out[37]);
/* Writes 2*nbytes lowercase hex chars + NUL into out. */
void mk_random_hex(char *out, size_t nbytes);
/* Kubernetes' generateName suffix alphabet ("bcdfghjklmnpqrstvwxz2456789"): n chars + NUL. */
void mk_random_k8s_suffix(char *out, size_t n);

/* ---- files --------------------------------------------------------------- */

/* Creates directory and parents with mode; EEXIST is fine. */
int mk_fs_mkdir_p(const char *path, mode_t mode, struct mk_error **err);
/* Writes data atomically (temp file + fsync + rename) with the given mode. */
int mk_fs_write_file(const char *path, const void *data, size_t len, mode_t mode,
		     struct mk_error **err);
/* The same atomic rename without any fsync: for files rewritten from memory
 * after every restart, or that describe processes no reboot keeps. */
int mk_fs_write_file_nosync(const char *path, const void *data, size_t len, mode_t mode,
			    struct mk_error **err);
/* Reads a whole file; *ret_data owned by caller, NUL-terminated. */
int mk_fs_read_file(const char *path, char **ret_data, size_t *ret_len, struct mk_error **err);
/* Locks DIR/lock (created, holding our pid) for the life of the process, so a second
 * process on the same directory fails (EBUSY: "WHAT DIR is in use by pid N"). The lock
 * is dropped by the kernel when the process exits, crash included. *ret_fd: the
 * lock's descriptor (close-on-exec), kept open by the caller. */
int mk_fs_dir_lock(const char *dir, const char *what, int *ret_fd, struct mk_error **err);
/* The pid holding DIR/lock (mk_fs_dir_lock), 0 when nobody does. Does not lock. */
pid_t mk_fs_dir_lock_holder(const char *dir);

/* ---- JSON helpers over cJSON (all results borrowed) ----------------------- */

/* Walks a dotted path ("metadata.name"); NULL if absent. */
cJSON *mk_json_get(const cJSON *obj, const char *path);
/* Replaces invalid UTF-8 in every string and key of item, its siblings and their
 * descendants by U+FFFD (mk_utf8_sanitize); returns how many strings changed. */
int mk_json_utf8_sanitize(cJSON *item);
/* Rewrites, in place, every \uXXXX escape of JSON text that is half of a UTF-16
 * surrogate pair without its other half as \ufffd (same length), which is how Go's
 * decoder reads it; cJSON would refuse the document. Returns how many changed. */
int mk_json_fix_surrogates(char *text, size_t len);
/* String at path or NULL if absent / not a string. */
const char *mk_json_get_string(const cJSON *obj, const char *path);
/* The first element whose "name" is name in the arrays at paths[0..n) of obj,
 * searched in that order (a pod's "spec.containers", "spec.initContainers");
 * NULL when none is, or name is NULL. */
const cJSON *mk_json_find_named(const cJSON *obj, const char *const *paths, size_t n,
				const char *name);
/* Returns the object at path, creating intermediate objects as needed. */
cJSON *mk_json_ensure_object(cJSON *obj, const char *path);
/* Replaces (or adds) key in obj with item; item is moved into obj. */
void mk_json_set(cJSON *obj, const char *key, cJSON *item);
void mk_json_set_string(cJSON *obj, const char *key, const char *value);
/* Writes canonical JSON (object keys sorted, integral numbers without a fraction)
 * into b: equal objects give equal bytes whatever their key order. */
void mk_json_canonical(const cJSON *v, struct mk_buf *b);

/* ---- time zones and cron schedules (tz.c, cron.c) --------------------------
 * A zone of the system's tz database (/usr/share/zoneinfo), read once and then
 * used from any thread: no process-wide TZ is touched. */
struct mk_tz;
/* Loads zone name ("UTC", "" and NULL: UTC). EINVAL "invalid location name",
 * ENOENT "unknown time zone NAME". *ret owned (mk_tz_free). */
int mk_tz_load(const char *name, struct mk_tz **ret, struct mk_error **err);
void mk_tz_free(struct mk_tz *tz);
const char *mk_tz_name(const struct mk_tz *tz); /* borrowed */
/* Seconds east of UTC in force at instant t (tz NULL: UTC). */
int32_t mk_tz_offset(const struct mk_tz *tz, int64_t t);
/* Proleptic Gregorian dates <-> days since 1970-01-01. */
int64_t mk_days_from_civil(int64_t y, int m, int d);
void mk_civil_from_days(int64_t days, int64_t *ret_y, int *ret_m, int *ret_d);

/* A parsed five-field cron schedule (bit v set: value v matches). */
struct mk_cron {
	uint64_t minute;
	uint32_t hour, dom;
	uint16_t month;
	uint8_t dow;
	bool dom_star, dow_star; /* the day field was "*" (or "?") */
	unsigned every_s;	 /* "@every D": a fixed interval instead */
};
/* Parses spec (see pkg/util/cron.c); EINVAL with robfig/cron-like messages. */
int mk_cron_parse(const char *spec, struct mk_cron *ret, struct mk_error **err);
/* The first time strictly after t (whole minutes, in zone tz, NULL: UTC) the
 * schedule fires; local times a DST gap skips never fire, those an overlap repeats
 * fire at each instant. -1 when none within five years (such as Feb 30). */
int64_t mk_cron_next(const struct mk_cron *c, const struct mk_tz *tz, int64_t t);

#endif
