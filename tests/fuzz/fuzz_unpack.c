/* libFuzzer target for the image layer unpacker (pkg/image/unpack.c; make fuzz).
 * Each input is a layer blob (tar, or tar compressed with any filter libarchive
 * detects), written to a file on tmpfs and unpacked with mk_image_layer_unpack into
 * a fresh directory. Around it sits a box directory holding the layer, a canary
 * file and the destination; a canary symlink target lies next to the box.
 * Invariants: nothing is created, removed or changed outside the destination (the
 * box holds exactly its three entries, the canaries keep their content and mode,
 * the work directory holds only the box); on failure the destination is gone and
 * the error has a message; on success the diff id is "sha256:" + 64 hex digits. */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minik8s/image.h"
#include "../../pkg/image/internal.h" /* img_remove_tree */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char work[64], box[128], layer[160], dest[160], canary[160], outside[160];
static const char CANARY[] = "canary: must stay as it is\n";

static void write_all(const char *path, const void *p, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n) || close(fd) < 0)
		abort();
}

static void check_file(const char *path)
{
	char got[sizeof(CANARY) + 8];
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0644 ||
	    st.st_nlink != 1 || st.st_uid != 0)
		abort();
	n = read(fd, got, sizeof(got));
	close(fd);
	if (n != (ssize_t)sizeof(CANARY) - 1 || memcmp(got, CANARY, sizeof(CANARY) - 1) != 0)
		abort();
}

/* the names in dir, other than . and .., must be exactly want (NULL-terminated) */
static void check_dir(const char *dir, const char *const *want)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t seen = 0, n = 0;

	if (!d)
		abort();
	while (want[n])
		n++;
	while ((e = readdir(d))) {
		size_t i;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		for (i = 0; i < n && strcmp(e->d_name, want[i]); i++)
			;
		if (i == n)
			abort(); /* something was written outside the destination */
		seen++;
	}
	closedir(d);
	if (seen != n)
		abort();
}

static void init(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(work, sizeof(work), "%s/mk-fuzz-unpack.XXXXXX", base);
	if (!mkdtemp(work))
		abort();
	snprintf(box, sizeof(box), "%s/box", work);
	snprintf(layer, sizeof(layer), "%s/layer", box);
	snprintf(dest, sizeof(dest), "%s/root", box);
	snprintf(canary, sizeof(canary), "%s/canary", box);
	snprintf(outside, sizeof(outside), "%s/outside", work);
	if (mkdir(box, 0755) < 0)
		abort();
	write_all(canary, CANARY, sizeof(CANARY) - 1, 0644);
	write_all(outside, CANARY, sizeof(CANARY) - 1, 0644);
	chmod(canary, 0644);
	chmod(outside, 0644);
}

static void cleanup(void)
{
	if (work[0])
		img_remove_tree(work);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const box_names[] = { "layer", "canary", NULL };
	static const char *const box_names_ok[] = { "layer", "canary", "root", NULL };
	static const char *const work_names[] = { "box", "outside", NULL };
	struct mk_error *err = NULL;
	char diff_id[72];

	if (!work[0]) {
		init();
		atexit(cleanup);
	}
	write_all(layer, data, size, 0600);
	if (mk_image_layer_unpack(layer, dest, NULL, diff_id, &err) < 0) {
		if (!err || !err->msg)
			abort();
		mk_error_free(&err);
		check_dir(box, box_names);
	} else {
		if (strncmp(diff_id, "sha256:", 7) != 0 || strspn(diff_id + 7, "0123456789abcdef") != 64 ||
		    diff_id[71] != '\0')
			abort();
		check_dir(box, box_names_ok);
		if (img_remove_tree(dest) < 0)
			abort();
	}
	check_dir(work, work_names);
	check_file(canary);
	check_file(outside);
	return 0;
}
