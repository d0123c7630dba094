/* The call queue of hvkit-calls.h. */
#include "hvkit-calls.h"

int call_queue_init(struct call_queue *q, uintptr_t address, uint32_t capacity, uint32_t limit, call_done_fn done,
		    void *ctx)
{
	q->header = (volatile struct hvkit_call_batch_header *)address;
	q->entries = (volatile struct hvkit_call_batch_entry *)(address + sizeof(struct hvkit_call_batch_header));
	q->limit = limit;
	q->flushes = 0;
	q->done = done;
	q->ctx = ctx;
	q->header->magic = HVKIT_CALL_BATCH_MAGIC;
	q->header->capacity = capacity;
	q->header->count = 0;
	q->header->next = 0;
	q->header->flags = 0;
	for (uint32_t i = 0; i < sizeof(q->header->reserved); i++)
		q->header->reserved[i] = 0;
	return hypercall(HVKIT_CALL_BATCH_REGISTER, (uint32_t)address, 0, 0, 0, 0).status == HVKIT_STATUS_OK;
}

void call_queue_add(struct call_queue *q, uint32_t word, uint32_t a0, uint32_t a1)
{
	uint32_t i = q->header->count;
	volatile struct hvkit_call_batch_entry *e = &q->entries[i];
	e->word = word | HVKIT_ANNOTATION_MAY_QUEUE;
	e->status = HVKIT_CALL_BATCH_STATUS_PENDING;
	e->result = 0;
	e->args[0] = a0;
	e->args[1] = a1;
	e->args[2] = 0;
	e->args[3] = 0;
	e->args[4] = 0;
	for (uint32_t k = 0; k < sizeof(e->reserved); k++)
		e->reserved[k] = 0;
	q->header->count = i + 1;
	if (i + 1 >= q->limit)
		call_queue_flush(q);
}

struct hc call_queue_flush_once(struct call_queue *q)
{
	q->flushes++;
	return hypercall(HVKIT_CALL_BATCH_FLUSH, 0, 0, 0, 0, 0);
}

void call_queue_flush(struct call_queue *q)
{
	uint32_t count = q->header->count;
	if (count == 0)
		return;
	for (;;) {
		struct hc r = call_queue_flush_once(q);
		/* A refused header processes nothing: its entries stay pending and are reported so. */
		if (r.status != HVKIT_STATUS_OK || r.v1 >= r.v2)
			break;
	}
	for (uint32_t i = 0; i < count; i++)
		q->done(q->ctx, i, q->entries[i].status, q->entries[i].result);
	q->header->count = 0;
	q->header->next = 0;
}
