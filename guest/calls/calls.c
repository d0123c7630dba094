/*
 * calls: hypercalls through real VM exits. At start: calls that must fail with defined errors
 * (reserved bits, unknown family, unknown call) and one with an unknown annotation that must
 * work; then the feature query decides whether to batch (batch size from the configuration word)
 * or fall back to direct calls; with HVKIT_CALLS_HOSTILE, hostile batch headers and entries that
 * the host must refuse. Each round: CALLS_PER_ROUND experimental calls that may be queued
 * (accumulate, and every fourth an add), then a direct read_total — after the queue is flushed,
 * so the host's running total must equal the guest's. Every result is checked; the counts are
 * reported at the end. src/vmm/sim-calls.ts mirrors this step for step.
 */
#include "hvkit-calls.h"
#include "hvkit-guest.h"

#define UNKNOWN_FAMILY_WORD 0xfe000000u
#define UNKNOWN_CALL_WORD 0xff7f0000u
#define RESERVED_BIT 0x100u
#define UNKNOWN_ANNOTATION 0x80u
#define FAR_ADDRESS 0xfffff000u

struct calls_state {
	struct call_queue q;
	/* Batch size in use; 0 = direct calls. */
	uint32_t batch;
	uint32_t calls;
	uint32_t errors;
	uint32_t refused;
	uint64_t expected_total;
	uint64_t expected[HVKIT_BATCH_CAPACITY];
};

static struct calls_state states[HVKIT_MAX_VCPUS];

static struct hc call(struct calls_state *s, uint32_t word, uint32_t a0, uint32_t a1)
{
	s->calls++;
	return hypercall(word, a0, a1, 0, 0, 0);
}

static void expect(struct calls_state *s, int ok)
{
	if (!ok)
		s->errors++;
}

static void entry_done(void *ctx, uint32_t index, int32_t status, uint64_t result)
{
	struct calls_state *s = ctx;
	expect(s, status == HVKIT_STATUS_OK && result == s->expected[index]);
}

/* A call that may be queued: into the batch when batching, else made at once. */
static void issue(struct calls_state *s, uint32_t word, uint32_t a0, uint32_t a1, uint64_t expected)
{
	s->calls++;
	if (s->batch != 0) {
		s->expected[s->q.header->count] = expected;
		call_queue_add(&s->q, word, a0, a1);
		return;
	}
	struct hc r = hypercall(word | HVKIT_ANNOTATION_MAY_QUEUE, a0, a1, 0, 0, 0);
	expect(s, r.status == HVKIT_STATUS_OK && r.v0 == (uint32_t)expected);
}

/* Does the host serve `word` to guests, honouring the annotations `need`? */
static int supported(struct calls_state *s, uint32_t word, uint32_t need)
{
	struct hc r = call(s, HVKIT_CALL_QUERY, word, 0);
	uint32_t flags = HVKIT_QUERY_SUPPORTED | HVKIT_QUERY_GUEST;
	return r.status == HVKIT_STATUS_OK && (r.v0 & flags) == flags && (r.v1 & need) == need;
}

static void defined_errors(struct calls_state *s)
{
	expect(s, call(s, HVKIT_CALL_ADD | RESERVED_BIT, 1, 2).status == HVKIT_STATUS_RESERVED_BITS);
	expect(s, call(s, UNKNOWN_FAMILY_WORD, 0, 0).status == HVKIT_STATUS_UNKNOWN_FAMILY);
	expect(s, call(s, UNKNOWN_CALL_WORD, 0, 0).status == HVKIT_STATUS_UNKNOWN_CALL);
	struct hc r = call(s, HVKIT_CALL_ADD | UNKNOWN_ANNOTATION, 2, 3);
	expect(s, r.status == HVKIT_STATUS_OK && r.v0 == 5);
	s->calls++;
	r = hypercall(HVKIT_CALL_ECHO, 11, 22, 33, 44, 55);
	expect(s, r.status == HVKIT_STATUS_OK && r.v0 == 11 && r.v1 == 22 && r.v2 == 33);
}

static void refused(struct calls_state *s, int ok)
{
	if (ok)
		s->refused++;
	else
		s->errors++;
}

static int flush_refused(struct calls_state *s)
{
	return call_queue_flush_once(&s->q).status == HVKIT_STATUS_BAD_ARGUMENT;
}

/* Headers and entries the host must refuse; the buffer is restored after each. */
static void hostile(struct calls_state *s, uint32_t memory_kib)
{
	volatile struct hvkit_call_batch_header *h = s->q.header;
	uint32_t capacity = h->capacity;

	h->count = capacity + 1;
	refused(s, flush_refused(s));
	h->count = 0;

	h->magic = ~HVKIT_CALL_BATCH_MAGIC;
	refused(s, flush_refused(s));
	h->magic = HVKIT_CALL_BATCH_MAGIC;

	h->next = 1;
	refused(s, flush_refused(s));
	h->next = 0;

	h->capacity = HVKIT_BATCH_MAX_CAPACITY + 1;
	refused(s, flush_refused(s));
	h->capacity = capacity;

	/* A header inside guest memory whose entries would end past it. */
	uint32_t top = memory_kib > 1024 ? memory_kib * 1024u - 64u : FAR_ADDRESS;
	if (memory_kib > 1024) {
		volatile struct hvkit_call_batch_header *t = (volatile struct hvkit_call_batch_header *)top;
		t->magic = HVKIT_CALL_BATCH_MAGIC;
		t->capacity = 1;
		t->count = 0;
		t->next = 0;
		t->flags = 0;
	}
	refused(s, hypercall(HVKIT_CALL_BATCH_REGISTER, top, 0, 0, 0, 0).status == HVKIT_STATUS_BAD_ARGUMENT);
	refused(s, hypercall(HVKIT_CALL_BATCH_REGISTER, FAR_ADDRESS, 0, 0, 0, 0).status == HVKIT_STATUS_BAD_ARGUMENT);

	/* An entry without the may_queue annotation is not made: not_permitted, batch goes on. */
	volatile struct hvkit_call_batch_entry *e = &s->q.entries[0];
	e->word = HVKIT_CALL_ADD;
	e->status = HVKIT_CALL_BATCH_STATUS_PENDING;
	e->result = 0;
	e->args[0] = 1;
	e->args[1] = 2;
	h->count = 1;
	struct hc r = call_queue_flush_once(&s->q);
	refused(s, r.status == HVKIT_STATUS_OK && r.v1 == 1 && e->status == HVKIT_STATUS_NOT_PERMITTED);
	h->count = 0;
	h->next = 0;
}

void workload_start(struct guest *g, uint32_t arg, uint32_t memory_kib)
{
	struct calls_state *s = &states[g->vcpu];
	defined_errors(s);
	uint32_t batch = arg & HVKIT_CALLS_BATCH_MASK;
	if (batch > HVKIT_BATCH_CAPACITY)
		batch = HVKIT_BATCH_CAPACITY;
	if (batch != 0 && supported(s, HVKIT_CALL_BATCH_REGISTER, 0) && supported(s, HVKIT_CALL_BATCH_FLUSH, 0) &&
	    supported(s, HVKIT_CALL_ACCUMULATE, HVKIT_ANNOTATION_MAY_QUEUE) &&
	    supported(s, HVKIT_CALL_ADD, HVKIT_ANNOTATION_MAY_QUEUE) &&
	    call_queue_init(&s->q, HVKIT_BATCH_AREA + g->vcpu * HVKIT_BATCH_STRIDE, HVKIT_BATCH_CAPACITY, batch,
			    entry_done, s))
		s->batch = batch;
	if (s->batch != 0 && (arg & HVKIT_CALLS_HOSTILE) != 0)
		hostile(s, memory_kib);
}

void workload_round(struct guest *g, uint32_t round)
{
	struct calls_state *s = &states[g->vcpu];
	for (uint32_t j = 0; j < HVKIT_CALLS_PER_ROUND; j++) {
		if ((j & 3u) == 3u) {
			uint32_t a = round * 1000u + j;
			issue(s, HVKIT_CALL_ADD, a, j, (uint64_t)a + j);
		} else {
			uint32_t x = round + j;
			s->expected_total += x;
			issue(s, HVKIT_CALL_ACCUMULATE, x, 0, s->expected_total);
		}
	}
	/* read_total may not be queued: what is queued goes first, so the total is complete. */
	if (s->batch != 0)
		call_queue_flush(&s->q);
	struct hc r = call(s, HVKIT_CALL_READ_TOTAL, 0, 0);
	expect(s, r.status == HVKIT_STATUS_OK && r.v0 == (uint32_t)s->expected_total);
	g->checksum = g->checksum * 31u + r.v0;
}

void workload_finish(struct guest *g)
{
	struct calls_state *s = &states[g->vcpu];
	report(g, HVKIT_REPORT_BATCH_SIZE, s->batch);
	report(g, HVKIT_REPORT_CALLS, s->calls);
	report(g, HVKIT_REPORT_FLUSHES, s->q.flushes);
	report(g, HVKIT_REPORT_CALL_ERRORS, s->errors);
	report(g, HVKIT_REPORT_REFUSED, s->refused);
}
