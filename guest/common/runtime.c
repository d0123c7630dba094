/*
 * The round driver and the report protocol shared by every workload guest.
 */
#include "hvkit-guest.h"

void report(struct guest *g, uint32_t code, uint32_t value)
{
	outl(HVKIT_PORT_REPORT_VALUE, value);
	outl(HVKIT_PORT_REPORT_CODE, code);
	g->reports++;
}

void guest_halt(struct guest *g)
{
	__asm__ volatile("hlt");
	g->halts++;
}

void set_halt_period(struct guest *g, uint32_t microseconds)
{
	outl(HVKIT_PORT_HALT_PERIOD, microseconds);
	g->io_ops++;
}

void device_out(struct guest *g, uint16_t port, uint32_t value)
{
	outl(port, value);
	g->io_ops++;
}

static uint32_t device_expect(uint16_t port, uint32_t last)
{
	return last ^ (HVKIT_DEVICE_IN_XOR | port);
}

static void absorb(struct guest *g, uint32_t value, uint32_t expected)
{
	if (value != expected)
		g->errors++;
	g->checksum = g->checksum * 31u + value;
	g->io_ops++;
}

void device_check_in(struct guest *g, uint16_t port, uint32_t last)
{
	absorb(g, inl(port), device_expect(port, last));
}

void device_out_string(struct guest *g, uint16_t port, const uint8_t *bytes, uint32_t n)
{
	const uint8_t *p = bytes;
	uint32_t count = n;
	__asm__ volatile("cld; rep outsb" : "+S"(p), "+c"(count) : "d"(port) : "memory");
	g->io_ops += n;
	absorb(g, inb(port), device_expect(port, bytes[n - 1]) & 0xffu);
}

uint32_t xorshift(uint32_t x, uint32_t iterations)
{
	for (uint32_t i = 0; i < iterations; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
	}
	return x;
}

__attribute__((weak)) void workload_start(struct guest *g, uint32_t arg, uint32_t memory_kib)
{
	(void)g;
	(void)arg;
	(void)memory_kib;
}

__attribute__((weak)) void workload_finish(struct guest *g)
{
	(void)g;
}

void guest_main(uint32_t vcpu, uint32_t rounds, uint32_t arg, uint32_t memory_kib);

void guest_main(uint32_t vcpu, uint32_t rounds, uint32_t arg, uint32_t memory_kib)
{
	struct guest g = { .vcpu = vcpu, .checksum = (vcpu + 1u) * HVKIT_SEED_MULTIPLIER };
	report(&g, HVKIT_REPORT_START, vcpu);
	workload_start(&g, arg, memory_kib);
	for (uint32_t round = 1; rounds == 0 || round <= rounds; round++) {
		workload_round(&g, round);
		report(&g, HVKIT_REPORT_ROUND, round);
	}
	workload_finish(&g);
	report(&g, HVKIT_REPORT_HALTS, g.halts);
	report(&g, HVKIT_REPORT_IO_OPS, g.io_ops);
	report(&g, HVKIT_REPORT_CHECKSUM, g.checksum);
	report(&g, HVKIT_REPORT_CHECK_ERRORS, g.errors);
	report(&g, HVKIT_REPORT_REPORTS, g.reports);
	report(&g, HVKIT_REPORT_DONE, rounds); /* the VMM stops this vCPU here */
}
