/* compute: an arithmetic loop, then a HLT, every round. No port I/O besides the reports. */
#include "hvkit-guest.h"

void workload_round(struct guest *g, uint32_t round)
{
	(void)round;
	g->checksum = xorshift(g->checksum, HVKIT_COMPUTE_ITERATIONS);
	guest_halt(g);
}
