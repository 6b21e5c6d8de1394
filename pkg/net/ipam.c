/* Per-node IPv4 address management over the node's pod CIDR.
 *
 * File format (text, rewritten atomically with mk_fs_write_file):
 *   minik8s-ipam 1
 *   cidr 10.244.1.0/24
 *   generation 42
 *   next 7
 *   10.244.1.2 <owner>
 *   ...
 * Every operation takes flock(PATH.lock) -- a separate file, since the rename of
 * an atomic rewrite replaces the data file's inode -- and checks the generation in
 * the header: the in-memory bitmap is re-parsed only when another handle or
 * process wrote in between. Finding a free address is next-fit over a bitmap, 64
 * addresses per word; owners are found through a hash table; the rewrite is
 * O(allocated).
 *
 * Group commit: the threads of one handle that change the range while a rewrite
 * is being written and fsynced change the memory meanwhile (the handle keeps the
 * file lock until no change is pending, so memory is the truth) and the next
 * rewrite, by one of them, carries them all; each returns once a rewrite that
 * holds its change is durable. A rewrite that fails reloads the memory from the
 * file, so each thread tells from the memory whether its change is there. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "internal.h"

#define IPAM_MAGIC "minik8s-ipam 1"
#define IPAM_LOCK_TIMEOUT_MS 10000

struct mk_net_ipam {
	pthread_mutex_t lock; /* threads sharing this handle */
	char *path, *lock_path;
	int lock_fd;
	uint32_t net; /* host byte order */
	int prefix;
	uint32_t size;	   /* addresses in the range, 2^(32-prefix) */
	uint64_t *bitmap;  /* bit set: allocated or reserved */
	char **owners;	   /* by offset; NULL if free or reserved */
	uint32_t *ht;	   /* owner -> offset, open addressing; 0 = empty slot */
	uint32_t ht_mask;
	uint32_t next;	   /* next-fit cursor (offset) */
	uint64_t gen;	   /* generation the memory reflects; 0 = nothing loaded */
	/* group commit (under lock) */
	pthread_cond_t cond;
	bool flocked;	   /* this handle holds the file lock */
	bool committing;   /* a thread writes the file, lock released meanwhile */
	uint64_t seq_dirty; /* changes made in memory */
	uint64_t seq_done;  /* changes a finished rewrite carried (durably or not) */
	char *last_err;	    /* why the last rewrite failed */
};

static int bit_get(const uint64_t *b, uint32_t i) { return (b[i / 64] >> (i % 64)) & 1; }
static void bit_set(uint64_t *b, uint32_t i) { b[i / 64] |= 1ULL << (i % 64); }
static void bit_clear(uint64_t *b, uint32_t i) { b[i / 64] &= ~(1ULL << (i % 64)); }

static uint32_t first_host(void) { return 2; } /* offset 0 network, 1 gateway */
static uint32_t last_host(const struct mk_net_ipam *p) { return p->size - 2; } /* size-1 broadcast */

static void offset_to_ip(const struct mk_net_ipam *p, uint32_t off, char out[MK_NET_IP_STRLEN])
{
	struct in_addr a = { htonl(p->net + off) };
	inet_ntop(AF_INET, &a, out, MK_NET_IP_STRLEN);
}

static int check_owner(const char *owner, struct mk_error **err)
{
	size_t n = owner ? strlen(owner) : 0;

	if (n == 0 || n > 253)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)owner[i] <= 0x20 || (unsigned char)owner[i] >= 0x7f)
			goto bad;
	return 0;
bad:
	return mk_error_set(err, EINVAL, "invalid IPAM owner '%s'", owner ? owner : "");
}

/* ---- owner index: linear probing with backward-shift deletion --------------- */

static int find_owner(const struct mk_net_ipam *p, const char *owner)
{
	for (uint32_t i = mk_fnv1a32_str(owner) & p->ht_mask; p->ht[i]; i = (i + 1) & p->ht_mask)
		if (!strcmp(p->owners[p->ht[i]], owner))
			return (int)p->ht[i];
	return -1;
}

static void index_add(struct mk_net_ipam *p, uint32_t off)
{
	uint32_t i = mk_fnv1a32_str(p->owners[off]) & p->ht_mask;
	while (p->ht[i])
		i = (i + 1) & p->ht_mask;
	p->ht[i] = off;
}

/* Call while p->owners[off] is still set. */
static void index_remove(struct mk_net_ipam *p, uint32_t off)
{
	uint32_t i = mk_fnv1a32_str(p->owners[off]) & p->ht_mask, j, k;

	while (p->ht[i] != off)
		i = (i + 1) & p->ht_mask;
	p->ht[i] = 0;
	/* shift later members of the probe run back so lookups still find them */
	for (j = (i + 1) & p->ht_mask; p->ht[j]; j = (j + 1) & p->ht_mask) {
		k = mk_fnv1a32_str(p->owners[p->ht[j]]) & p->ht_mask;
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue; /* its home lies after the hole: it stays */
		p->ht[i] = p->ht[j];
		p->ht[j] = 0;
		i = j;
	}
}

static void reset_state(struct mk_net_ipam *p)
{
	memset(p->ht, 0, ((size_t)p->ht_mask + 1) * sizeof(uint32_t));
	for (uint32_t i = 0; i < p->size; i++) {
		free(p->owners[i]);
		p->owners[i] = NULL;
	}
	memset(p->bitmap, 0, ((p->size + 63) / 64) * sizeof(uint64_t));
	bit_set(p->bitmap, 0);
	bit_set(p->bitmap, 1);
	bit_set(p->bitmap, p->size - 1);
	p->next = first_host();
	p->gen = 0;
}

/* ---- lock ---------------------------------------------------------------- */

static int file_lock(struct mk_net_ipam *p, struct mk_error **err)
{
	/* bounded: a holder keeps the lock for one read-modify-write (milliseconds);
	 * a stuck holder must not hang the agent forever */
	long waited_ms = 0, step_ms = 1;

	for (;;) {
		if (flock(p->lock_fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return mk_error_errno(err, errno, "lock '%s'", p->lock_path);
		if (waited_ms >= IPAM_LOCK_TIMEOUT_MS)
			return mk_error_set(err, ETIMEDOUT, "lock '%s': timed out after %ld ms",
					    p->lock_path, waited_ms);
		struct timespec ts = { 0, step_ms * 1000000L };
		nanosleep(&ts, NULL);
		waited_ms += step_ms;
		if (step_ms < 20)
			step_ms *= 2;
	}
}

static void file_unlock(struct mk_net_ipam *p)
{
	flock(p->lock_fd, LOCK_UN);
}

/* ---- load / store ----------------------------------------------------------- */

static int malformed(struct mk_net_ipam *p, int line, const char *why, struct mk_error **err)
{
	return mk_error_set(err, EINVAL, "IPAM file '%s' line %d: %s", p->path, line, why);
}

/* Loads the file if its generation differs from memory. ENOENT if missing. */
static int refresh(struct mk_net_ipam *p, struct mk_error **err)
{
	_cleanup_fclose_ FILE *f = fopen(p->path, "re");
	char line[512], cidr[MK_NET_CIDR_STRLEN + 1];
	uint64_t gen;
	uint32_t next;
	int lineno = 0;

	if (!f)
		return mk_error_errno(err, errno, "open '%s'", p->path);
	if (!fgets(line, sizeof(line), f) || strcmp(line, IPAM_MAGIC "\n"))
		return malformed(p, 1, "not an IPAM file", err);
	if (!fgets(line, sizeof(line), f) || sscanf(line, "cidr %19s", cidr) != 1)
		return malformed(p, 2, "no cidr", err);
	{
		struct in_addr a;
		int prefix;
		_cleanup_error_ struct mk_error *e = NULL;
		if (parse_ipv4(cidr, 1, &a, &prefix, &e) < 0 || ntohl(a.s_addr) != p->net ||
		    prefix != p->prefix) {
			char want[MK_NET_IP_STRLEN];
			offset_to_ip(p, 0, want);
			return mk_error_set(err, EINVAL, "IPAM file '%s' is for %s, not %s/%d",
					    p->path, cidr, want, p->prefix);
		}
	}
	if (!fgets(line, sizeof(line), f) || sscanf(line, "generation %" SCNu64, &gen) != 1 ||
	    gen == 0)
		return malformed(p, 3, "no generation", err);
	if (gen == p->gen)
		return 0; /* nobody wrote since we did: memory is current */
	if (!fgets(line, sizeof(line), f) || sscanf(line, "next %" SCNu32, &next) != 1)
		return malformed(p, 4, "no next", err);
	reset_state(p);
	lineno = 4;
	while (fgets(line, sizeof(line), f)) {
		char ip[64], owner[300];
		struct in_addr a;
		uint32_t off;

		lineno++;
		if (!strchr(line, '\n'))
			return malformed(p, lineno, "line too long", err);
		if (sscanf(line, "%63s %299s", ip, owner) != 2 || inet_pton(AF_INET, ip, &a) != 1)
			goto bad;
		off = ntohl(a.s_addr) - p->net;
		if (ntohl(a.s_addr) < p->net || off < first_host() || off > last_host(p) ||
		    bit_get(p->bitmap, off) || check_owner(owner, NULL) < 0)
			goto bad;
		if (find_owner(p, owner) >= 0)
			goto bad;
		bit_set(p->bitmap, off);
		p->owners[off] = mk_strdup(owner);
		index_add(p, off);
		continue;
bad:
		reset_state(p);
		return malformed(p, lineno, "bad allocation entry", err);
	}
	p->next = (next >= first_host() && next <= last_host(p)) ? next : first_host();
	p->gen = gen;
	return 0;
}

static void render(struct mk_net_ipam *p, struct mk_buf *b)
{
	char ip[MK_NET_IP_STRLEN];

	offset_to_ip(p, 0, ip);
	mk_buf_printf(b, IPAM_MAGIC "\ncidr %s/%d\ngeneration %" PRIu64 "\nnext %" PRIu32 "\n",
		      ip, p->prefix, p->gen + 1, p->next);
	for (uint32_t i = first_host(); i <= last_host(p); i++) {
		if (!p->owners[i])
			continue;
		offset_to_ip(p, i, ip);
		mk_buf_printf(b, "%s %s\n", ip, p->owners[i]);
	}
}

/* Writes the memory to the file (caller holds both locks, nothing in flight). */
static int store(struct mk_net_ipam *p, struct mk_error **err)
{
	struct mk_buf b;
	int r;

	mk_buf_init(&b);
	render(p, &b);
	r = mk_fs_write_file(p->path, b.data, b.len, 0644, err);
	mk_buf_release(&b);
	if (r < 0) {
		p->gen = 0; /* memory is ahead of the file: reload next time */
		return -1;
	}
	p->gen++;
	return 0;
}

/* One rewrite carrying every change made so far, written with p->lock released
 * so that others change the memory meanwhile. On failure the memory is reloaded
 * from the file (reset if that fails too: gen 0 reloads it next time). */
static void lead(struct mk_net_ipam *p)
{
	struct mk_buf b;
	_cleanup_error_ struct mk_error *e = NULL;
	uint64_t upto = p->seq_dirty, gen;

	if (p->gen == 0 && refresh(p, NULL) < 0) {
		/* the memory is not the file's: write nothing, every change pending fails */
		reset_state(p);
		p->seq_done = upto;
		pthread_cond_broadcast(&p->cond);
		return;
	}
	gen = p->gen + 1;
	p->committing = true;
	mk_buf_init(&b);
	render(p, &b);
	pthread_mutex_unlock(&p->lock);
	int r = mk_fs_write_file(p->path, b.data, b.len, 0644, &e);
	mk_buf_release(&b);
	pthread_mutex_lock(&p->lock);
	if (r == 0) {
		p->gen = gen;
	} else {
		free(p->last_err);
		p->last_err = mk_strdup(e->msg);
		p->gen = 0;
		if (refresh(p, NULL) < 0)
			reset_state(p);
	}
	p->seq_done = upto;
	p->committing = false;
	pthread_cond_broadcast(&p->cond);
}

/* Makes this thread's change (just made in memory) durable: leads a rewrite or
 * waits for one that carries it. Then the caller checks the memory for it. */
static void commit(struct mk_net_ipam *p)
{
	uint64_t mine = ++p->seq_dirty;

	while (p->seq_done < mine) {
		if (!p->committing)
			lead(p);
		else
			pthread_cond_wait(&p->cond, &p->lock);
	}
}

/* Unlocks; the file lock stays while a change of this handle is not written. */
static void end(struct mk_net_ipam *p)
{
	if (p->flocked && !p->committing && p->seq_done == p->seq_dirty) {
		file_unlock(p);
		p->flocked = false;
	}
	pthread_mutex_unlock(&p->lock);
}

/* Locks (thread, then file) and refreshes. */
static int begin(struct mk_net_ipam *p, struct mk_error **err)
{
	bool fresh;

	pthread_mutex_lock(&p->lock);
	fresh = !p->flocked;
	if (fresh) {
		if (file_lock(p, err) < 0) {
			pthread_mutex_unlock(&p->lock);
			return -1;
		}
		p->flocked = true;
	}
	/* while this handle holds the file lock with changes in flight, the memory
	 * is ahead of the file: it is read again only after a failure (gen 0) */
	if (!p->committing && (fresh || p->gen == 0) && refresh(p, err) < 0) {
		p->gen = 0;
		end(p);
		return -1;
	}
	return 0;
}

/* The error of a change the rewrite did not carry (see lead). */
static int lost(struct mk_net_ipam *p, const char *what, const char *owner,
		struct mk_error **err)
{
	return mk_error_set(err, EIO, "IPAM file '%s': %s for '%s' not written: %s", p->path,
			    what, owner, p->last_err ? p->last_err : "the file could not be read");
}

/* ---- public ------------------------------------------------------------------- */

int mk_net_ipam_open(const char *path, const char *cidr, struct mk_net_ipam **ret,
		     struct mk_error **err)
{
	struct mk_net_ipam *p;
	struct in_addr a;
	int prefix, r;
	uint32_t mask;

	if (parse_ipv4(cidr, 1, &a, &prefix, err) < 0)
		return -1;
	if (prefix < 16 || prefix > 30)
		return mk_error_set(err, EINVAL, "IPAM range '%s': prefix must be 16..30", cidr);
	mask = 0xffffffffu << (32 - prefix);
	if (ntohl(a.s_addr) & ~mask)
		return mk_error_set(err, EINVAL, "IPAM range '%s' has host bits set", cidr);
	p = mk_malloc0(sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->path = mk_strdup(path);
	p->lock_path = mk_strdup_printf("%s.lock", path);
	p->net = ntohl(a.s_addr);
	p->prefix = prefix;
	p->size = 1u << (32 - prefix);
	p->bitmap = mk_malloc0(((p->size + 63) / 64) * sizeof(uint64_t));
	p->owners = mk_malloc0(p->size * sizeof(char *));
	p->ht_mask = 2 * p->size - 1; /* load factor <= 1/2 */
	p->ht = mk_malloc0(2 * (size_t)p->size * sizeof(uint32_t));
	reset_state(p);
	p->lock_fd = open(p->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (p->lock_fd < 0) {
		r = mk_error_errno(err, errno, "open '%s'", p->lock_path);
		goto fail;
	}
	if (file_lock(p, err) < 0)
		goto fail;
	if (access(p->path, F_OK) < 0 && errno == ENOENT)
		r = store(p, err); /* a new, empty range */
	else
		r = refresh(p, err);
	file_unlock(p);
	if (r < 0)
		goto fail;
	*ret = p;
	return 0;
fail:
	mk_net_ipam_free(p);
	return -1;
}

void mk_net_ipam_free(struct mk_net_ipam *p)
{
	if (!p)
		return;
	if (p->owners)
		for (uint32_t i = 0; i < p->size; i++)
			free(p->owners[i]);
	free(p->owners);
	free(p->ht);
	free(p->bitmap);
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	free(p->path);
	free(p->lock_path);
	free(p->last_err);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void mk_net_ipam_gateway(const struct mk_net_ipam *p, char out[MK_NET_IP_STRLEN], int *ret_prefix)
{
	offset_to_ip(p, 1, out);
	if (ret_prefix)
		*ret_prefix = p->prefix;
}

/* First clear bit in [from, to], or -1; whole words at a time. */
static int64_t find_free(const uint64_t *b, uint32_t from, uint32_t to)
{
	uint32_t i = from;

	while (i <= to) {
		uint64_t w = ~b[i / 64] & (~0ULL << (i % 64));
		if (w) {
			uint32_t pos = (i / 64) * 64 + (uint32_t)__builtin_ctzll(w);
			return pos <= to ? (int64_t)pos : -1;
		}
		i = (i / 64 + 1) * 64;
	}
	return -1;
}

/* Checks owner, takes the range (begin) and finds owner's offset: *ret_have, -1
 * when it has none. -1 with err, the range not taken, when either step fails. */
static int begin_owner(struct mk_net_ipam *p, const char *owner, int *ret_have,
		       struct mk_error **err)
{
	if (check_owner(owner, err) < 0 || begin(p, err) < 0)
		return -1;
	*ret_have = find_owner(p, owner);
	return 0;
}

int mk_net_ipam_allocate(struct mk_net_ipam *p, const char *owner, char ret_ip[MK_NET_IP_STRLEN],
			 struct mk_error **err)
{
	int64_t off;
	int have;

	if (begin_owner(p, owner, &have, err) < 0)
		return -1;
	if (have >= 0) {
		offset_to_ip(p, (uint32_t)have, ret_ip);
		end(p);
		return 0;
	}
	off = find_free(p->bitmap, p->next, last_host(p));
	if (off < 0)
		off = find_free(p->bitmap, first_host(), last_host(p));
	if (off < 0) {
		char net[MK_NET_IP_STRLEN];
		offset_to_ip(p, 0, net);
		end(p);
		return mk_error_set(err, ENOSPC, "IPAM range %s/%d is full", net, p->prefix);
	}
	bit_set(p->bitmap, (uint32_t)off);
	p->owners[off] = mk_strdup(owner);
	index_add(p, (uint32_t)off);
	p->next = (uint32_t)off + 1 > last_host(p) ? first_host() : (uint32_t)off + 1;
	commit(p);
	/* a failed rewrite reloaded the memory from the file: then it is not there */
	if (p->gen == 0 || find_owner(p, owner) != (int)off) {
		end(p);
		return lost(p, "allocation", owner, err);
	}
	offset_to_ip(p, (uint32_t)off, ret_ip);
	end(p);
	return 0;
}

int mk_net_ipam_lookup(struct mk_net_ipam *p, const char *owner, char ret_ip[MK_NET_IP_STRLEN],
		       struct mk_error **err)
{
	int have;

	if (begin_owner(p, owner, &have, err) < 0)
		return -1;
	if (have >= 0)
		offset_to_ip(p, (uint32_t)have, ret_ip);
	end(p);
	return have >= 0;
}

int mk_net_ipam_release(struct mk_net_ipam *p, const char *owner, struct mk_error **err)
{
	int have, r = 1;

	if (begin_owner(p, owner, &have, err) < 0)
		return -1;
	if (have < 0) {
		end(p);
		return 0;
	}
	index_remove(p, (uint32_t)have);
	free(p->owners[have]);
	p->owners[have] = NULL;
	bit_clear(p->bitmap, (uint32_t)have);
	commit(p);
	if (p->gen == 0 || find_owner(p, owner) >= 0)
		r = lost(p, "release", owner, err);
	end(p);
	return r;
}

int mk_net_ipam_list(struct mk_net_ipam *p, struct mk_net_ipam_entry **ret, size_t *ret_n,
		     struct mk_error **err)
{
	struct mk_net_ipam_entry *v = NULL;
	size_t n = 0, cap = 0;

	if (begin(p, err) < 0)
		return -1;
	for (uint32_t i = first_host(); i <= last_host(p); i++) {
		if (!p->owners[i])
			continue;
		MK_GROW(v, cap, n + 1);
		offset_to_ip(p, i, v[n].ip);
		v[n].owner = mk_strdup(p->owners[i]);
		n++;
	}
	end(p);
	*ret = v;
	*ret_n = n;
	return 0;
}

void mk_net_ipam_entries_free(struct mk_net_ipam_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++)
		free(e[i].owner);
	free(e);
}
