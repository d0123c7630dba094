/* io: bursts of OUT/IN pairs over the device ports, each IN checked; a HLT every few rounds. */
#include "hvkit-guest.h"

void workload_round(struct guest *g, uint32_t round)
{
	for (uint32_t j = 0; j < HVKIT_IO_BURST; j++) {
		uint16_t port = (uint16_t)(HVKIT_PORT_DEVICE_BASE + (j % HVKIT_DEVICE_PORTS));
		uint32_t value = round * 0x10000u + j;
		device_out(g, port, value);
		device_check_in(g, port, value);
	}
	if (round % HVKIT_IO_HALT_EVERY == 0)
		guest_halt(g);
}
