/*
 * A C consumer of the hvkit stats table, built from the generated header.
 *
 * Maps /dev/shm/<name> read-only, takes every address from the producer's header
 * (vcpu_offs + i * vcpu_stride, its dom_size and vcpu_size), and reads each group with
 * the seqlock protocol using C11 atomics:
 *   s1 = load_acquire(seq); retry while odd; copy with relaxed loads;
 *   acquire fence; s2 = load(seq); retry if s1 != s2; bounded retries.
 *
 * The identity words and the name are read from the private copy of the header: they are
 * written once, before or right after the table is published, and never under a seqlock.
 *
 * usage: stats_table_reader <name> once
 *          prints one JSON snapshot: the identity (domid, unique_id, owner_pid, name; zero and
 *          empty when the producer's revision lacks them) and every group this header knows,
 *          the ports group as its eight [port, accesses] slots
 *        stats_table_reader <name> watch <ms>
 *          snapshots for <ms> milliseconds and checks that the counters of vCPU 0's exits
 *          group are all equal in every snapshot; prints counts as JSON
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hvkit/stats-table.h"

#define MAX_RETRIES 1000
#define MAX_GROUP 4096

struct table {
	const unsigned char *base;
	uint64_t length;
	struct hvkit_stats_table_dom hdr; /* private copy: fields of the header only */
};

static int fail(const char *what)
{
	fprintf(stderr, "stats_table_reader: %s\n", what);
	return 2;
}

/* Copies a group consistently; returns the retries used, or -1 if it never settled. */
static int read_group(const unsigned char *group, size_t size, unsigned char *out)
{
	const _Atomic uint32_t *seq = (const _Atomic uint32_t *)(const void *)group;
	for (int attempt = 0; attempt <= MAX_RETRIES; attempt++) {
		uint32_t s1 = atomic_load_explicit(seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		for (size_t off = 0; off < size; off += 8) {
			const _Atomic uint64_t *word = (const _Atomic uint64_t *)(const void *)(group + off);
			uint64_t v = atomic_load_explicit(word, memory_order_relaxed);
			memcpy(out + off, &v, 8);
		}
		atomic_thread_fence(memory_order_acquire);
		uint32_t s2 = atomic_load_explicit(seq, memory_order_relaxed);
		if (s1 == s2)
			return attempt;
	}
	return -1;
}

static int open_table(const char *name, struct table *t)
{
	char path[300];
	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return fail("cannot open the region");
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)offsetof(struct hvkit_stats_table_dom, sched)) {
		close(fd);
		return fail("region too small");
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return fail("mmap failed");
	t->base = map;
	t->length = (uint64_t)st.st_size;
	/* Only the header words are copied: the groups after them are read under their seqlocks. */
	memset(&t->hdr, 0, sizeof(t->hdr));
	memcpy(&t->hdr, t->base, offsetof(struct hvkit_stats_table_dom, sched));
	const struct hvkit_stats_table_dom *h = &t->hdr;
	if (h->magic != HVKIT_STATS_TABLE_DOM_MAGIC)
		return fail("bad magic");
	if (h->vcpu_offs < h->dom_size || h->vcpu_stride < h->vcpu_size || h->vcpu_offs % 8 || h->vcpu_stride % 8)
		return fail("bad layout");
	if (h->region_size > t->length ||
	    (uint64_t)h->vcpu_offs + (uint64_t)h->nr_vcpus * h->vcpu_stride > h->region_size)
		return fail("layout exceeds the region");
	return 0;
}

/* Address of block i: the one place addresses are computed, from the producer's header. */
static const unsigned char *vcpu_block(const struct table *t, uint32_t i)
{
	return t->base + t->hdr.vcpu_offs + (uint64_t)i * t->hdr.vcpu_stride;
}

/* Reads group at `offset` of size `size` in a block the producer made `producer_size` long. */
static int group_state(const unsigned char *block, uint32_t producer_size, size_t offset, size_t size,
		       uint64_t active, int bit, unsigned char *out)
{
	if (offset + size > producer_size)
		return -2; /* absent: the producer is older than this header */
	if (!((active >> bit) & 1))
		return -3; /* inactive */
	return read_group(block + offset, size, out);
}

static void print_u64s(const char *name, const uint64_t *v, size_t n, int last)
{
	printf("\"%s\":[", name);
	for (size_t i = 0; i < n; i++)
		printf("%s\"%" PRIu64 "\"", i ? "," : "", v[i]);
	printf("]%s", last ? "" : ",");
}

static void print_state(const char *name, int r, int last)
{
	printf("\"%s\":\"%s\"%s", name, r == -2 ? "absent" : r == -3 ? "inactive" : "torn", last ? "" : ",");
}

/* The name as a JSON string: bounded by its field, up to the first NUL; bytes that need it escaped. */
static void print_name(const char *name, size_t size)
{
	putchar('"');
	for (size_t i = 0; i < size && name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_identity(const struct hvkit_stats_table_dom *h)
{
	printf("\"identity\":{\"domid\":%" PRIu32 ",\"unique_id\":\"%" PRIu64 "\",\"owner_pid\":%" PRIu32 ",\"name\":",
	       h->domid, h->unique_id, h->owner_pid);
	print_name(h->name, sizeof(h->name));
	printf("},");
}

static void print_ports(const struct hvkit_stats_table_vcpu_ports *g)
{
	const uint64_t slots[][2] = {
		{ g->port0, g->port0_accesses }, { g->port1, g->port1_accesses }, { g->port2, g->port2_accesses },
		{ g->port3, g->port3_accesses }, { g->port4, g->port4_accesses }, { g->port5, g->port5_accesses },
		{ g->port6, g->port6_accesses }, { g->port7, g->port7_accesses },
	};
	printf("\"ports\":[");
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		printf("%s[\"%" PRIu64 "\",\"%" PRIu64 "\"]", i ? "," : "", slots[i][0], slots[i][1]);
	printf("]");
}

static int once(const struct table *t)
{
	_Alignas(64) unsigned char buf[MAX_GROUP];
	const struct hvkit_stats_table_dom *h = &t->hdr;
	printf("{\"nr_vcpus\":%" PRIu32 ",", h->nr_vcpus);
	print_identity(h);
	printf("\"dom\":{");
	int r = group_state(t->base, h->dom_size, offsetof(struct hvkit_stats_table_dom, sched),
			    sizeof(struct hvkit_stats_table_dom_sched), h->dom_active, HVKIT_STATS_TABLE_DOM_GROUPS_SCHED_BIT, buf);
	if (r >= 0) {
		struct hvkit_stats_table_dom_sched g;
		memcpy(&g, buf, sizeof(g));
		uint64_t v[] = { g.cpu_time_ns, g.steal_time_ns, g.wakeups, g.vcpus_running, g.vcpus_running_peak };
		print_u64s("sched", v, 5, 0);
	} else {
		print_state("sched", r, 0);
	}
	r = group_state(t->base, h->dom_size, offsetof(struct hvkit_stats_table_dom, memory),
			sizeof(struct hvkit_stats_table_dom_memory), h->dom_active, HVKIT_STATS_TABLE_DOM_GROUPS_MEMORY_BIT, buf);
	if (r >= 0) {
		struct hvkit_stats_table_dom_memory g;
		memcpy(&g, buf, sizeof(g));
		uint64_t v[] = { g.pages_present, g.pages_peak, g.page_faults, g.bytes_mapped };
		print_u64s("memory", v, 4, 1);
	} else {
		print_state("memory", r, 1);
	}
	printf("},\"vcpus\":[");
	for (uint32_t i = 0; i < h->nr_vcpus; i++) {
		const unsigned char *b = vcpu_block(t, i);
		uint32_t magic, id;
		memcpy(&magic, b + offsetof(struct hvkit_stats_table_vcpu, magic), 4);
		memcpy(&id, b + offsetof(struct hvkit_stats_table_vcpu, vcpu_id), 4);
		printf("%s{\"magic_ok\":%s,\"id\":%" PRIu32 ",", i ? "," : "", magic == HVKIT_STATS_TABLE_VCPU_MAGIC ? "true" : "false", id);
		r = group_state(b, h->vcpu_size, offsetof(struct hvkit_stats_table_vcpu, exits),
				sizeof(struct hvkit_stats_table_vcpu_exits), h->vcpu_active, HVKIT_STATS_TABLE_VCPU_GROUPS_EXITS_BIT, buf);
		if (r >= 0) {
			struct hvkit_stats_table_vcpu_exits g;
			memcpy(&g, buf, sizeof(g));
			uint64_t v[] = { g.exits_total, g.io_exits, g.mmio_exits, g.hlt_exits, g.irq_window_exits, g.hypercalls, g.signal_exits, g.insn_emulations };
			print_u64s("exits", v, 8, 0);
		} else {
			print_state("exits", r, 0);
		}
		r = group_state(b, h->vcpu_size, offsetof(struct hvkit_stats_table_vcpu, halt),
				sizeof(struct hvkit_stats_table_vcpu_halt), h->vcpu_active, HVKIT_STATS_TABLE_VCPU_GROUPS_HALT_BIT, buf);
		if (r >= 0) {
			struct hvkit_stats_table_vcpu_halt g;
			memcpy(&g, buf, sizeof(g));
			uint64_t v[] = { g.halt_poll_success, g.halt_poll_attempts, g.halt_wakeups, g.halt_wait_ns };
			print_u64s("halt", v, 4, 0);
			print_u64s("halt_wait_hist", g.halt_wait_hist, sizeof(g.halt_wait_hist) / 8, 0);
		} else {
			print_state("halt", r, 0);
		}
		r = group_state(b, h->vcpu_size, offsetof(struct hvkit_stats_table_vcpu, io),
				sizeof(struct hvkit_stats_table_vcpu_io), h->vcpu_active, HVKIT_STATS_TABLE_VCPU_GROUPS_IO_BIT, buf);
		if (r >= 0) {
			struct hvkit_stats_table_vcpu_io g;
			memcpy(&g, buf, sizeof(g));
			uint64_t v[] = { g.pio_ops, g.mmio_ops, g.pio_bytes, g.mmio_bytes };
			print_u64s("io", v, 4, 0);
		} else {
			print_state("io", r, 0);
		}
		r = group_state(b, h->vcpu_size, offsetof(struct hvkit_stats_table_vcpu, ports),
				sizeof(struct hvkit_stats_table_vcpu_ports), h->vcpu_active, HVKIT_STATS_TABLE_VCPU_GROUPS_PORTS_BIT, buf);
		if (r >= 0) {
			struct hvkit_stats_table_vcpu_ports g;
			memcpy(&g, buf, sizeof(g));
			print_ports(&g);
		} else {
			print_state("ports", r, 1);
		}
		printf("}");
	}
	printf("]}\n");
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int watch(const struct table *t, double ms)
{
	_Alignas(64) unsigned char buf[MAX_GROUP];
	const struct hvkit_stats_table_dom *h = &t->hdr;
	if (h->nr_vcpus < 1)
		return fail("no vCPU to watch");
	const unsigned char *b = vcpu_block(t, 0);
	uint64_t snapshots = 0, unequal = 0, torn = 0, retries = 0, last = 0, backwards = 0;
	double end = now_ms() + ms;
	while (now_ms() < end) {
		for (int k = 0; k < 1000; k++) {
			int r = group_state(b, h->vcpu_size, offsetof(struct hvkit_stats_table_vcpu, exits),
					    sizeof(struct hvkit_stats_table_vcpu_exits), h->vcpu_active,
					    HVKIT_STATS_TABLE_VCPU_GROUPS_EXITS_BIT, buf);
			snapshots++;
			if (r < 0) {
				torn++;
				continue;
			}
			retries += (uint64_t)r;
			struct hvkit_stats_table_vcpu_exits g;
			memcpy(&g, buf, sizeof(g));
			uint64_t v[] = { g.exits_total, g.io_exits, g.mmio_exits, g.hlt_exits, g.irq_window_exits, g.hypercalls, g.signal_exits, g.insn_emulations };
			for (size_t i = 1; i < 8; i++)
				if (v[i] != v[0])
					unequal++;
			if (v[0] < last)
				backwards++;
			last = v[0];
		}
	}
	printf("{\"snapshots\":%" PRIu64 ",\"unequal\":%" PRIu64 ",\"torn\":%" PRIu64 ",\"retries\":%" PRIu64
	       ",\"backwards\":%" PRIu64 ",\"last\":\"%" PRIu64 "\"}\n",
	       snapshots, unequal, torn, retries, backwards, last);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return fail("usage: stats_table_reader <name> once | watch <ms>");
	struct table t;
	int r = open_table(argv[1], &t);
	if (r)
		return r;
	if (strcmp(argv[2], "once") == 0)
		r = once(&t);
	else if (strcmp(argv[2], "watch") == 0 && argc > 3)
		r = watch(&t, atof(argv[3]));
	else
		r = fail("unknown mode");
	munmap((void *)t.base, t.length);
	return r;
}
