/*
 * Hypercalls and call batches for hvkit guests (src/vmm/guest-abi.ts has the contract).
 *
 * A hypercall: EAX = call word, EBX, ECX, EDX, ESI, EDI = arguments, then `outl %eax, $port`;
 * on return EAX = status (0 ok, negative = a defined error), EBX, ECX, EDX = the low 32 bits of
 * the first three values.
 *
 * A call queue wraps a per-vCPU batch buffer (include/hvkit/call-batch.h): calls that may be
 * queued are appended and flushed when the queue reaches its limit; call_queue_flush() hands the
 * rest to the host, flushing again while the host stopped early (a restartable batch), then tells
 * the owner every entry's status and result.
 */
#ifndef HVKIT_CALLS_H
#define HVKIT_CALLS_H

#include <stdint.h>

/* The generated ABI header; guest builds hash it through HVKIT_CALL_BATCH_DIGEST. */
#include "../../include/hvkit/call-batch.h"

struct hc {
	int32_t status;
	uint32_t v0, v1, v2;
};

static inline struct hc hypercall(uint32_t word, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t a4)
{
	uint32_t eax = word, ebx = a0, ecx = a1, edx = a2;
	__asm__ volatile("outl %%eax, %[port]"
			 : "+a"(eax), "+b"(ebx), "+c"(ecx), "+d"(edx)
			 : "S"(a3), "D"(a4), [port] "N"(HVKIT_PORT_HYPERCALL)
			 : "memory");
	struct hc r = { (int32_t)eax, ebx, ecx, edx };
	return r;
}

/* Told, after a flush, the outcome of each entry it processed (index in the batch). */
typedef void (*call_done_fn)(void *ctx, uint32_t index, int32_t status, uint64_t result);

struct call_queue {
	volatile struct hvkit_call_batch_header *header;
	volatile struct hvkit_call_batch_entry *entries;
	/* Flush when this many calls are queued (1..capacity). */
	uint32_t limit;
	/* Flush hypercalls made. */
	uint32_t flushes;
	call_done_fn done;
	void *ctx;
};

/* Lays out a buffer of `capacity` entries at `address` and registers it; 0 when the host refuses. */
int call_queue_init(struct call_queue *q, uintptr_t address, uint32_t capacity, uint32_t limit, call_done_fn done,
		    void *ctx);
/* Queues a call (the may_queue annotation is added); flushes when the queue is full. */
void call_queue_add(struct call_queue *q, uint32_t word, uint32_t a0, uint32_t a1);
/* Hands every queued call to the host (again while it stops early), reports them, empties the queue. */
void call_queue_flush(struct call_queue *q);
/* One flush hypercall as is (no reporting, no reset): for callers that inspect the raw answer. */
struct hc call_queue_flush_once(struct call_queue *q);

#endif
