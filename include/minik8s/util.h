/* minik8s util: errors, cleanup helpers, logging, strings, time, random, files.
 * Library code (pkg/) never prints to stdout and never exits; it reports through
 * struct mk_error, in the style of crun's libcrun_error_t. */
#ifndef MINIK8S_UTIL_H
#define MINIK8S_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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
int mk_str_has_prefix(const char *s, const char *prefix);
int mk_str_has_suffix(const char *s, const char *suffix);

/* ---- time ---------------------------------------------------------------- */

/* RFC 3339 UTC with second precision ("2026-11-26T08:24:15Z") into buf (>= 21 bytes). */
void mk_time_format(time_t t, char *buf, size_t size);
/* Parses RFC 3339 ("...Z" or with offset, optional fraction); -1 on error. */
time_t mk_time_parse(const char *s);
/* Kubernetes' human duration as kubectl shows it in AGE columns
 * ("0s", "45s", "3m", "3m20s", "5h", "5h3m", "2d", "2d3h", "400d", "3y10d"). */
void mk_time_human_duration(int64_t seconds, char *buf, size_t size);
/* Monotonic clock in nanoseconds. */
uint64_t mk_time_mono_ns(void);

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
/* Reads a whole file; *ret_data owned by caller, NUL-terminated. */
int mk_fs_read_file(const char *path, char **ret_data, size_t *ret_len, struct mk_error **err);

/* ---- JSON helpers over cJSON (all results borrowed) ----------------------- */

/* Walks a dotted path ("metadata.name"); NULL if absent. */
cJSON *mk_json_get(const cJSON *obj, const char *path);
/* String at path or NULL if absent / not a string. */
const char *mk_json_get_string(const cJSON *obj, const char *path);
/* Returns the object at path, creating intermediate objects as needed. */
cJSON *mk_json_ensure_object(cJSON *obj, const char *path);
/* Replaces (or adds) key in obj with item; item is moved into obj. */
void mk_json_set(cJSON *obj, const char *key, cJSON *item);
void mk_json_set_string(cJSON *obj, const char *key, const char *value);

#endif
