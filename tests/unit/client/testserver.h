/* A tiny HTTP/1.1 server on 127.0.0.1 for the client tests: a thread per
 * connection, keep-alive honoured. */
#ifndef MK_TEST_CLIENT_SERVER_H
#define MK_TEST_CLIENT_SERVER_H
#include <pthread.h>
#include <stdbool.h>

struct ts_reply {
	int status;
	const char *content_type;
	const char *const *chunks;	/* NULL-terminated; sent chunked when chunked */
	bool chunked;
	int delay_ms;			/* between chunks */
	bool hold_open;			/* after the chunks, keep the stream open until the client leaves */
};

struct ts;
typedef void (*ts_handler)(struct ts *t, const char *method, const char *target,
			   const char *headers, const char *body, struct ts_reply *reply);

struct ts {
	int fd, port;
	pthread_t th;
	ts_handler handler;
	void *userdata;
	int requests;		/* served so far */
	int connections;	/* accepted so far */
	int active;		/* connection threads running */
	char last_target[4096];
	char last_headers[8192];
	char last_body[8192];
};

void ts_start(struct ts *t, ts_handler h, void *userdata);
void ts_stop(struct ts *t);
char *ts_url(struct ts *t); /* owned "http://127.0.0.1:PORT" */
#endif
