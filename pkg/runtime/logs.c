/* Container logs in the CRI format the kubelet writes and `kubectl logs` reads:
 *   TIMESTAMP STREAM TAG CONTENT
 * with TIMESTAMP RFC 3339 with nanoseconds, STREAM stdout|stderr and TAG "F" for a
 * full line or "P" for a partial one (a line longer than the buffer, continued in
 * the next record). https://github.com/kubernetes/design-proposals-archive/blob/main/node/kubelet-cri-logging.md
 * The writer (rt_log_*, in shimlib.c) runs in the shim; the file is rotated at
 * a size cap, one old file (container.log.1) kept. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include "internal.h"

int mk_runtime_log_line_parse(const char *line, size_t len, struct mk_runtime_log_line *ret,
			      struct mk_error **err)
{
	const char *end = line + len, *p, *sp;
	struct mk_runtime_log_line r = { 0 };

	if (len > 0 && line[len - 1] == '\n')
		end--;
	sp = memchr(line, ' ', (size_t)(end - line));
	if (!sp || sp == line)
		return mk_error_set(err, EINVAL, "log line: no timestamp");
	r.time = line;
	r.time_len = (size_t)(sp - line);
	p = sp + 1;
	if (end - p >= 7 && !memcmp(p, "stdout ", 7))
		r.is_stderr = false;
	else if (end - p >= 7 && !memcmp(p, "stderr ", 7))
		r.is_stderr = true;
	else
		return mk_error_set(err, EINVAL, "log line: bad stream");
	p += 7;
	if (end - p < 1 || (*p != 'F' && *p != 'P'))
		return mk_error_set(err, EINVAL, "log line: bad tag");
	r.partial = *p == 'P';
	p++;
	if (p < end) {
		if (*p != ' ')
			return mk_error_set(err, EINVAL, "log line: bad tag");
		p++;
	}
	r.content = p;
	r.content_len = (size_t)(end - p);
	*ret = r;
	return 0;
}
