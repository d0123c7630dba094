/*
 * What every hvkit workload guest shares: port I/O primitives and the report protocol.
 *
 * Port numbers, report codes and workload sizes come from the host's guest ABI
 * (src/vmm/guest-abi.ts) as -D definitions at build time, so there is one place that defines
 * them. The simulated guests (src/vmm/sim-workloads.ts) mirror this code step by step.
 */
#ifndef HVKIT_GUEST_H
#define HVKIT_GUEST_H

#include <stdint.h>

/* Counts kept by the guest and reported at the end, so the host can check what it did. */
struct guest {
	uint32_t vcpu;
	/* Every HLT executed. */
	uint32_t halts;
	/* Port accesses other than the report protocol's (one per element of a string instruction). */
	uint32_t io_ops;
	/* Reports sent so far. */
	uint32_t reports;
	/* IN values that differed from what the device model promises. */
	uint32_t errors;
	/* A digest of the computation and of every IN value. */
	uint32_t checksum;
};

static inline void outl(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t value;
	__asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t value;
	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

void report(struct guest *g, uint32_t code, uint32_t value);
void guest_halt(struct guest *g);
void set_halt_period(struct guest *g, uint32_t microseconds);
void device_out(struct guest *g, uint16_t port, uint32_t value);
/* Reads a device port and checks the value against the last one written (4 bytes). */
void device_check_in(struct guest *g, uint16_t port, uint32_t last);
/* `rep outsb` of n bytes to one port, then a 1-byte IN checked against the last byte. */
void device_out_string(struct guest *g, uint16_t port, const uint8_t *bytes, uint32_t n);
uint32_t xorshift(uint32_t x, uint32_t iterations);

/* Provided by each workload: one round of its behaviour. */
void workload_round(struct guest *g, uint32_t round);
/*
 * Optional (weak defaults do nothing): before the first round, with the configuration word and
 * the guest memory size from entry; after the last round, before the closing reports.
 */
void workload_start(struct guest *g, uint32_t arg, uint32_t memory_kib);
void workload_finish(struct guest *g);

#endif
