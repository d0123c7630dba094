/*
 * pools: a page-pool client of either pool ABI generation, through real VM exits. The
 * configuration word (EDX at entry) is the pool ABI version it speaks: 0 (64-bit object ids, two
 * oid words) or 1 (192-bit ids). src/vmm/sim-pools.ts mirrors this step for step.
 *
 * At start: the feature query must list every guest pool call, else pools are off. Then two
 * provoked refusals (a reserved create flag bit: bad_argument; an unknown pool version:
 * not_supported — the guest carries on without that pool), then an ephemeral and a persistent
 * pool of the guest's version; a create refused with not_supported (the guest speaks a version
 * the host does not serve) means pools are off, exactly as if the family were absent.
 *
 * Each round, in both pools: put POOLS_OBJECTS × POOLS_PAGES pages of a known pattern, get every
 * one back and compare every byte, flush page 0 of each object (get: miss), flush a page already
 * gone (removes nothing), flush each object (its other pages: miss) — so every round ends with
 * empty pools.
 *
 * Object ids: a hypercall carries five arguments (EBX..EDI), too few for a v1 id's six words, so
 * (as in tmem v1) a v1 guest passes its id BY REFERENCE: the guest-physical address of the id's
 * 24 bytes (struct pool_oid, 8-byte aligned, kept in this guest's memory for the whole run):
 * [pool_page, index, &oid]. A v0 guest passes its two words in registers: [pool_page, index,
 * w0, w1]. v1 ids use all 192 bits: words 0..2 are the same for objects o and o + 2, which differ
 * only in words 3..5 (object 2 from 0 in word 5, object 3 from 1 in words 3 and 4), so a host that
 * kept fewer than 192 bits would hand back the wrong page and the byte checks would count errors.
 *
 * At the end: destroy both pools, check that a call on a destroyed pool is refused, report.
 */
#include "../../include/hvkit/call-word.h"
#include "hvkit-calls.h"
#include "hvkit-guest.h"

#define POOL_WORD(call) ((HVKIT_CALL_WORD_FAMILY_POOL << 24) | ((uint32_t)(call) << 16))
#define CREATE POOL_WORD(HVKIT_CALL_WORD_POOL_CALL_CREATE)
#define PUT POOL_WORD(HVKIT_CALL_WORD_POOL_CALL_PUT)
#define GET POOL_WORD(HVKIT_CALL_WORD_POOL_CALL_GET)
#define FLUSH_PAGE POOL_WORD(HVKIT_CALL_WORD_POOL_CALL_FLUSH_PAGE)
#define FLUSH_OBJECT POOL_WORD(HVKIT_CALL_WORD_POOL_CALL_FLUSH_OBJECT)
#define DESTROY POOL_WORD(HVKIT_CALL_WORD_POOL_CALL_DESTROY)
#define PERSISTENT ((uint32_t)HVKIT_CALL_WORD_POOL_FLAGS_PERSISTENT)
#define RESERVED_FLAG 0x00000100u
#define UNKNOWN_VERSION 0x7fu
#define PAGE 4096u
#define POISON 0xeeu

/* An object id as the host reads it by reference: six u32 words, least significant first — on
 * little-endian x86 exactly the ABI's 24 little-endian bytes. */
struct pool_oid {
	uint32_t w[6];
} __attribute__((aligned(8)));

struct pools_state {
	/* Object o's id (v0 uses words 0 and 1, in registers). */
	struct pool_oid oid[HVKIT_POOLS_OBJECTS];
	uint32_t version;
	/* Ephemeral pool [0] and persistent pool [1]; 0 = none. */
	uint32_t pool[2];
	uint8_t *out;
	uint8_t *in;
	uint32_t puts, hits, misses, flushed, refused, errors, lost;
};

static struct pools_state states[HVKIT_MAX_VCPUS];

static void expect(struct pools_state *s, int ok)
{
	if (!ok)
		s->errors++;
}

static uint32_t version_flags(uint32_t version)
{
	return version << HVKIT_CALL_WORD_POOL_VERSION_SHIFT;
}

/* Object o's id: v0 has only words 0 and 1; v1 objects o and o + 2 differ only in words 3..5. */
static void make_oid(struct pools_state *s, uint32_t vcpu, uint32_t o)
{
	uint32_t *w = s->oid[o].w;
	for (uint32_t k = 0; k < 6; k++)
		w[k] = 0;
	if (s->version == 0) {
		w[0] = 0x1000u + o;
		w[1] = 0x2000u + vcpu;
		return;
	}
	w[0] = 0x1000u + (o & 1u);
	w[1] = 0x2000u + vcpu;
	w[2] = 0xa5a50000u + vcpu;
	if (o == 2u)
		w[5] = 0xc3c30000u + o;
	if (o == 3u) {
		w[3] = 0x3c3c0000u + o;
		w[4] = 0x5a5a0000u + o;
	}
}

/* The pattern of a page: every byte depends on the round, pool, object, index and position. */
static uint32_t page_seed(const struct pools_state *s, uint32_t round, uint32_t kind, uint32_t o, uint32_t i)
{
	return (1u + o + 16u * i + 256u * kind + 4096u * round + 65536u * s->version) * HVKIT_SEED_MULTIPLIER;
}

static uint8_t pattern_byte(uint32_t seed, uint32_t k)
{
	return (uint8_t)((seed >> ((k & 3u) * 8u)) + k);
}

/* A page call on object o: [a0, index, oid] — v0: two id words; v1: the id's guest-physical address. */
static struct hc page_call(const struct pools_state *s, uint32_t word, uint32_t a0, uint32_t index, uint32_t o)
{
	const struct pool_oid *id = &s->oid[o];
	if (s->version == 0)
		return hypercall(word, a0, index, id->w[0], id->w[1], 0);
	return hypercall(word, a0, index, (uint32_t)(uintptr_t)id, 0, 0);
}

/* flush_object on object o: [pool, oid] as for the page calls. */
static struct hc flush_object(const struct pools_state *s, uint32_t pool, uint32_t o)
{
	const struct pool_oid *id = &s->oid[o];
	if (s->version == 0)
		return hypercall(FLUSH_OBJECT, pool, id->w[0], id->w[1], 0, 0);
	return hypercall(FLUSH_OBJECT, pool, (uint32_t)(uintptr_t)id, 0, 0, 0);
}

/* Does the host serve `word` to guests? */
static int supported(uint32_t word)
{
	struct hc r = hypercall(HVKIT_CALL_QUERY, word, 0, 0, 0, 0);
	uint32_t flags = HVKIT_QUERY_SUPPORTED | HVKIT_QUERY_GUEST;
	return r.status == HVKIT_STATUS_OK && (r.v0 & flags) == flags;
}

static void refused(struct pools_state *s, int ok)
{
	if (ok)
		s->refused++;
	else
		s->errors++;
}

/* A create the host must refuse with `status`; a pool it made anyway is destroyed again. */
static void create_refused(struct pools_state *s, uint32_t flags, int32_t status)
{
	struct hc r = hypercall(CREATE, flags, 0, 0, 0, 0);
	refused(s, r.status == status);
	if (r.status == HVKIT_STATUS_OK)
		hypercall(DESTROY, r.v0, 0, 0, 0, 0);
}

/* 0 = pools off (a refused version or no room); otherwise both pools exist. */
static int create_pools(struct pools_state *s)
{
	for (uint32_t kind = 0; kind < 2; kind++) {
		struct hc r = hypercall(CREATE, version_flags(s->version) | (kind ? PERSISTENT : 0), 0, 0, 0, 0);
		if (r.status != HVKIT_STATUS_OK) {
			/* not_supported is the defined answer to a version the host does not serve. */
			expect(s, r.status == HVKIT_STATUS_NOT_SUPPORTED);
			if (kind == 1)
				hypercall(DESTROY, s->pool[0], 0, 0, 0, 0);
			s->pool[0] = 0;
			return 0;
		}
		s->pool[kind] = r.v0;
	}
	return 1;
}

static void destroy_pools(struct pools_state *s)
{
	for (uint32_t kind = 0; kind < 2; kind++) {
		struct hc r = hypercall(DESTROY, s->pool[kind], 0, 0, 0, 0);
		expect(s, r.status == HVKIT_STATUS_OK);
		s->flushed += r.v0;
	}
	refused(s, page_call(s, GET, s->pool[0] | (uint32_t)(uintptr_t)s->in, 0, 0).status == HVKIT_STATUS_BAD_ARGUMENT);
}

/* Gets page (o, i) of pool `kind` into the in-page; hit: every byte must be the pattern's. */
static void get_expect(struct pools_state *s, uint32_t round, uint32_t kind, uint32_t o, uint32_t i, int hit)
{
	for (uint32_t k = 0; k < PAGE; k++)
		s->in[k] = POISON;
	struct hc r = page_call(s, GET, s->pool[kind] | (uint32_t)(uintptr_t)s->in, i, o);
	if (r.status != HVKIT_STATUS_OK) {
		s->errors++;
		return;
	}
	if (!hit) {
		if (r.v0 == 0)
			s->misses++;
		else
			s->errors++;
		return;
	}
	if (r.v0 == 0) {
		/* An ephemeral pool may have evicted the page; a persistent one must not. */
		if (kind == 0)
			s->lost++;
		else
			s->errors++;
		return;
	}
	uint32_t seed = page_seed(s, round, kind, o, i);
	uint32_t bad = 0;
	for (uint32_t k = 0; k < PAGE; k++)
		if (s->in[k] != pattern_byte(seed, k))
			bad++;
	if (bad == 0)
		s->hits++;
	else
		s->errors++;
}

void workload_start(struct guest *g, uint32_t arg, uint32_t memory_kib)
{
	struct pools_state *s = &states[g->vcpu];
	s->version = arg & HVKIT_POOLS_VERSION_MASK;
	uint32_t area = HVKIT_POOL_AREA + g->vcpu * 2u * PAGE;
	s->out = (uint8_t *)(uintptr_t)area;
	s->in = (uint8_t *)(uintptr_t)(area + PAGE);
	if (memory_kib < (area + 2u * PAGE) / 1024u)
		return;
	if (!supported(CREATE) || !supported(PUT) || !supported(GET) || !supported(FLUSH_PAGE) ||
	    !supported(FLUSH_OBJECT) || !supported(DESTROY))
		return;
	for (uint32_t o = 0; o < HVKIT_POOLS_OBJECTS; o++)
		make_oid(s, g->vcpu, o);
	create_refused(s, version_flags(s->version) | RESERVED_FLAG, HVKIT_STATUS_BAD_ARGUMENT);
	create_refused(s, version_flags(UNKNOWN_VERSION), HVKIT_STATUS_NOT_SUPPORTED);
	create_pools(s);
}

void workload_round(struct guest *g, uint32_t round)
{
	struct pools_state *s = &states[g->vcpu];
	if (s->pool[0] == 0)
		return;
	for (uint32_t kind = 0; kind < 2; kind++) {
		uint32_t pool = s->pool[kind];
		for (uint32_t o = 0; o < HVKIT_POOLS_OBJECTS; o++) {
			for (uint32_t i = 0; i < HVKIT_POOLS_PAGES; i++) {
				uint32_t seed = page_seed(s, round, kind, o, i);
				for (uint32_t k = 0; k < PAGE; k++)
					s->out[k] = pattern_byte(seed, k);
				struct hc r = page_call(s, PUT, pool | (uint32_t)(uintptr_t)s->out, i, o);
				if (r.status == HVKIT_STATUS_OK)
					s->puts++;
				else
					s->errors++;
			}
		}
		for (uint32_t o = 0; o < HVKIT_POOLS_OBJECTS; o++)
			for (uint32_t i = 0; i < HVKIT_POOLS_PAGES; i++)
				get_expect(s, round, kind, o, i, 1);
		for (uint32_t o = 0; o < HVKIT_POOLS_OBJECTS; o++) {
			struct hc r = page_call(s, FLUSH_PAGE, pool, 0, o);
			expect(s, r.status == HVKIT_STATUS_OK && r.v0 == 1);
			s->flushed += r.v0;
			get_expect(s, round, kind, o, 0, 0);
		}
		struct hc again = page_call(s, FLUSH_PAGE, pool, 0, 0);
		expect(s, again.status == HVKIT_STATUS_OK && again.v0 == 0);
		for (uint32_t o = 0; o < HVKIT_POOLS_OBJECTS; o++) {
			struct hc r = flush_object(s, pool, o);
			expect(s, r.status == HVKIT_STATUS_OK && r.v0 == HVKIT_POOLS_PAGES - 1u);
			s->flushed += r.v0;
			for (uint32_t i = 1; i < HVKIT_POOLS_PAGES; i++)
				get_expect(s, round, kind, o, i, 0);
		}
	}
	g->checksum = g->checksum * 31u + s->hits;
}

void workload_finish(struct guest *g)
{
	struct pools_state *s = &states[g->vcpu];
	int on = s->pool[0] != 0;
	if (on)
		destroy_pools(s);
	report(g, HVKIT_REPORT_POOL_VERSION, on ? s->version : HVKIT_POOLS_OFF);
	report(g, HVKIT_REPORT_POOL_PUTS, s->puts);
	report(g, HVKIT_REPORT_POOL_HITS, s->hits);
	report(g, HVKIT_REPORT_POOL_MISSES, s->misses);
	report(g, HVKIT_REPORT_POOL_FLUSHED, s->flushed);
	report(g, HVKIT_REPORT_POOL_REFUSED, s->refused);
	report(g, HVKIT_REPORT_POOL_ERRORS, s->errors);
	report(g, HVKIT_REPORT_POOL_LOST, s->lost);
}
