/*
 * mixed: some arithmetic, a few OUT/IN pairs, one string OUT (`rep outsb`), a halt period
 * chosen by the guest, then a HLT, every round.
 */
#include "hvkit-guest.h"

void workload_round(struct guest *g, uint32_t round)
{
	uint8_t bytes[HVKIT_MIXED_STRING_BYTES];
	uint32_t x = xorshift(g->checksum, HVKIT_MIXED_ITERATIONS);
	g->checksum = x;
	for (uint32_t j = 0; j < HVKIT_MIXED_IO_PAIRS; j++) {
		uint16_t port = (uint16_t)(HVKIT_PORT_DEVICE_BASE + (j % 2u));
		device_out(g, port, x + j);
		device_check_in(g, port, x + j);
	}
	for (uint32_t k = 0; k < HVKIT_MIXED_STRING_BYTES; k++)
		bytes[k] = (uint8_t)((x >> ((k % 4u) * 8u)) + k);
	device_out_string(g, (uint16_t)(HVKIT_PORT_DEVICE_BASE + 3), bytes, HVKIT_MIXED_STRING_BYTES);
	set_halt_period(g, HVKIT_MIXED_HALT_BASE_US + (round % 4u) * HVKIT_MIXED_HALT_STEP_US);
	guest_halt(g);
}
