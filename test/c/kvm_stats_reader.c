/*
 * kvm_stats_reader: an independent reader of KVM binary statistics, used to cross-check hvkit's
 * TypeScript reader on the same live fds and captured files.
 *
 *   kvm_stats_reader [--describe] [PATH]      print every u64 item as name=value (name[i]=value
 *                                             for stats with size != 1); --describe first prints
 *                                             "#header", "#id" and one "#desc" line per stat
 *   kvm_stats_reader --bench N [PATH]         pread + decode the data block N times, print
 *                                             "iterations=N ns_per_iter=X"
 *
 * Without PATH it reads the stats fd inherited as fd 3. Everything is read with pread, so the fd's
 * file position is never used. Exit status: 0 ok, 1 malformed stats, 2 usage or I/O error.
 *
 * Layouts come from <linux/kvm.h> when the installed headers define them (KVM_GET_STATS_FD,
 * Linux 5.14+ uapi); otherwise from the definitions below, which follow the same documented ABI.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<linux/kvm.h>)
#include <linux/kvm.h>
#endif
#endif

#ifdef KVM_GET_STATS_FD
typedef struct kvm_stats_header stats_header;
typedef struct kvm_stats_desc stats_desc_fixed;
#define LAYOUT_SOURCE "linux/kvm.h"
#else
typedef struct {
	uint32_t flags, name_size, num_desc, id_offset, desc_offset, data_offset;
} stats_header;
typedef struct {
	uint32_t flags;
	int16_t exponent;
	uint16_t size;
	uint32_t offset;
	uint32_t bucket_size;
} stats_desc_fixed;
#define LAYOUT_SOURCE "built-in"
#endif

_Static_assert(sizeof(stats_header) == 24, "kvm_stats_header is 24 bytes");
_Static_assert(sizeof(stats_desc_fixed) == 16, "kvm_stats_desc is 16 bytes before its name");

/* Sanity limits: nothing is allocated from a size read from the source before checking these. */
#define MAX_NAME_SIZE 4096u
#define MAX_DESCRIPTORS 65536u
#define MAX_BLOCK_BYTES (16u * 1024u * 1024u)

struct stat_desc {
	stats_desc_fixed fixed;
	const char *name;
};

struct stats {
	int fd;
	stats_header header;
	char *id;
	unsigned char *desc_block;
	struct stat_desc *descs;
	size_t data_size;
};

static int fail(int status, const char *fmt, const char *detail, uint64_t value)
{
	fprintf(stderr, "kvm_stats_reader: ");
	fprintf(stderr, fmt, detail, value);
	fputc('\n', stderr);
	return status;
}

/* Reads exactly len bytes at pos; 0 on success, 1 on a short read (truncated source), 2 on error. */
static int pread_full(int fd, void *buf, size_t len, uint64_t pos)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (unsigned char *)buf + done, len - done, (off_t)(pos + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 2;
		if (n == 0)
			return 1;
		done += (size_t)n;
	}
	return 0;
}

static int read_metadata(struct stats *s)
{
	int r = pread_full(s->fd, &s->header, sizeof s->header, 0);
	if (r)
		return r == 2 ? fail(2, "%s: %" PRIu64, "pread header failed", (uint64_t)errno)
			      : fail(1, "%s (%" PRIu64 " bytes)", "truncated header", sizeof s->header);
	const stats_header *h = &s->header;
	if (h->name_size == 0 || h->name_size > MAX_NAME_SIZE)
		return fail(1, "%s: %" PRIu64, "bad name_size", h->name_size);
	if (h->num_desc > MAX_DESCRIPTORS)
		return fail(1, "%s: %" PRIu64, "too many descriptors", h->num_desc);
	uint64_t desc_stride = sizeof(stats_desc_fixed) + (uint64_t)h->name_size;
	uint64_t desc_bytes = desc_stride * h->num_desc;
	if (desc_bytes > MAX_BLOCK_BYTES)
		return fail(1, "%s: %" PRIu64, "descriptor block too large", desc_bytes);

	s->id = calloc(1, h->name_size);
	s->desc_block = malloc(desc_bytes ? desc_bytes : 1);
	s->descs = calloc(h->num_desc ? h->num_desc : 1, sizeof *s->descs);
	if (!s->id || !s->desc_block || !s->descs)
		return fail(2, "%s%" PRIu64, "out of memory", 0);

	if ((r = pread_full(s->fd, s->id, h->name_size, h->id_offset)))
		return fail(r, "%s at %" PRIu64, "cannot read id", h->id_offset);
	if (!memchr(s->id, '\0', h->name_size))
		return fail(1, "%s (name_size %" PRIu64 ")", "id is not NUL-terminated", h->name_size);
	if ((r = pread_full(s->fd, s->desc_block, desc_bytes, h->desc_offset)))
		return fail(r, "%s at %" PRIu64, "cannot read descriptors", h->desc_offset);

	uint64_t data_end = 0;
	for (uint32_t i = 0; i < h->num_desc; i++) {
		unsigned char *at = s->desc_block + i * desc_stride;
		struct stat_desc *d = &s->descs[i];
		memcpy(&d->fixed, at, sizeof d->fixed);
		d->name = (const char *)at + sizeof d->fixed;
		if (!memchr(d->name, '\0', h->name_size))
			return fail(1, "%s %" PRIu64 " is not NUL-terminated", "descriptor name", i);
		if (d->fixed.offset % 8 != 0)
			return fail(1, "%s: offset %" PRIu64 " is not 8-byte aligned", d->name, d->fixed.offset);
		uint64_t end = (uint64_t)d->fixed.offset + 8u * (uint64_t)d->fixed.size;
		if (end > data_end)
			data_end = end;
	}
	if (data_end > MAX_BLOCK_BYTES)
		return fail(1, "%s: %" PRIu64, "data block too large", data_end);
	s->data_size = (size_t)data_end;
	return 0;
}

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* One sample: pread the data block, decode every item of every stat into values[] (by word). */
static int read_data(const struct stats *s, unsigned char *block, uint64_t *values)
{
	int r = pread_full(s->fd, block, s->data_size, s->header.data_offset);
	if (r)
		return fail(r, "%s at %" PRIu64, "cannot read data block", s->header.data_offset);
	for (uint32_t i = 0; i < s->header.num_desc; i++) {
		const stats_desc_fixed *d = &s->descs[i].fixed;
		size_t word = d->offset / 8;
		for (size_t k = 0; k < d->size; k++)
			values[word + k] = load_le64(block + 8 * (word + k));
	}
	return 0;
}

static void describe(const struct stats *s)
{
	const stats_header *h = &s->header;
	printf("#header flags=%" PRIu32 " name_size=%" PRIu32 " num_desc=%" PRIu32 " id_offset=%" PRIu32
	       " desc_offset=%" PRIu32 " data_offset=%" PRIu32 " layout=%s\n",
	       h->flags, h->name_size, h->num_desc, h->id_offset, h->desc_offset, h->data_offset, LAYOUT_SOURCE);
	printf("#id %s\n", s->id);
	for (uint32_t i = 0; i < h->num_desc; i++) {
		const struct stat_desc *d = &s->descs[i];
		printf("#desc index=%" PRIu32 " name=%s flags=%" PRIu32 " exponent=%d size=%u offset=%" PRIu32
		       " bucket_size=%" PRIu32 "\n",
		       i, d->name, d->fixed.flags, (int)d->fixed.exponent, (unsigned)d->fixed.size, d->fixed.offset,
		       d->fixed.bucket_size);
	}
}

static void print_values(const struct stats *s, const uint64_t *values)
{
	for (uint32_t i = 0; i < s->header.num_desc; i++) {
		const struct stat_desc *d = &s->descs[i];
		size_t word = d->fixed.offset / 8;
		if (d->fixed.size == 1) {
			printf("%s=%" PRIu64 "\n", d->name, values[word]);
			continue;
		}
		for (size_t k = 0; k < d->fixed.size; k++)
			printf("%s[%zu]=%" PRIu64 "\n", d->name, k, values[word + k]);
	}
}

static int bench(const struct stats *s, unsigned char *block, uint64_t *values, unsigned long iterations)
{
	struct timespec t0, t1;
	uint64_t sink = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < iterations; i++) {
		int r = read_data(s, block, values);
		if (r)
			return r;
		sink += values[i % (s->data_size / 8 ? s->data_size / 8 : 1)];
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	printf("iterations=%lu ns_per_iter=%.1f data_bytes=%zu sink=%" PRIu64 "\n", iterations, ns / (double)iterations,
	       s->data_size, sink);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: kvm_stats_reader [--describe] [--bench N] [PATH]   (no PATH: read fd 3)\n");
	return 2;
}

int main(int argc, char **argv)
{
	int describe_flag = 0;
	unsigned long iterations = 0;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--describe") == 0) {
			describe_flag = 1;
		} else if (strcmp(argv[i], "--bench") == 0 && i + 1 < argc) {
			char *end;
			iterations = strtoul(argv[++i], &end, 10);
			if (*end != '\0' || iterations == 0)
				return usage();
		} else if (argv[i][0] == '-' || path) {
			return usage();
		} else {
			path = argv[i];
		}
	}

	struct stats s = { .fd = 3 };
	if (path && (s.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "kvm_stats_reader: cannot open %s: %s\n", path, strerror(errno));
		return 2;
	}
	int status = read_metadata(&s);
	unsigned char *block = NULL;
	uint64_t *values = NULL;
	if (status == 0) {
		block = malloc(s.data_size ? s.data_size : 1);
		values = calloc(s.data_size / 8 ? s.data_size / 8 : 1, sizeof *values);
		if (!block || !values)
			status = fail(2, "%s%" PRIu64, "out of memory", 0);
	}
	if (status == 0 && iterations) {
		status = bench(&s, block, values, iterations);
	} else if (status == 0) {
		if (describe_flag)
			describe(&s);
		status = read_data(&s, block, values);
		if (status == 0)
			print_values(&s, values);
	}
	free(block);
	free(values);
	free(s.id);
	free(s.desc_block);
	free(s.descs);
	if (path)
		close(s.fd);
	return status;
}
