/*
 * A minimal KVM run loop in C, the peer of hvkit's TypeScript run loop in bench/run-loop.kvm.bench.ts:
 * loads a flat 32-bit guest image at LOAD, enters 32-bit protected mode with flat segments (the
 * same state src/kvm/protected-mode.ts sets up), and handles port I/O exits — OUTs are read,
 * INs answered like hvkit's device model — until EXITS exits have been handled, then prints
 * "exits=<n> ns=<elapsed>". Usage: run_loop <image> <load> <stack> <rounds> <exits>
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM (2u << 20)

/* Last value written to each port (the device model's latch). */
static uint32_t last[65536];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void flat(struct kvm_segment *s, uint16_t selector, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffffffffu;
	s->selector = selector;
	s->type = type;
	s->present = 1;
	s->db = 1;
	s->s = 1;
	s->g = 1;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: %s image load stack rounds exits in_xor\n", argv[0]);
		return 2;
	}
	unsigned long load = strtoul(argv[2], NULL, 0), stack = strtoul(argv[3], NULL, 0);
	unsigned long rounds = strtoul(argv[4], NULL, 0), want = strtoul(argv[5], NULL, 0);
	uint32_t in_xor = (uint32_t)strtoul(argv[6], NULL, 0);
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");
	if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0)
		die("KVM_SET_TSS_ADDR");
	uint8_t *ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap ram");
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		die(argv[1]);
	size_t n = fread(ram + load, 1, RAM - load, f);
	fclose(f);
	if (n == 0)
		die("empty image");
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = RAM, .userspace_addr = (uint64_t)(uintptr_t)ram
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		die("KVM_CREATE_VCPU");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");
	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	flat(&sregs.cs, 0x08, 0xb);
	flat(&sregs.ds, 0x10, 0x3);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	flat(&sregs.tr, 0x18, 0xb);
	sregs.tr.s = 0;
	sregs.tr.db = 0;
	sregs.tr.g = 0;
	sregs.tr.limit = 0x67;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.type = 2;
	sregs.ldt.unusable = 1;
	sregs.gdt.base = sregs.idt.base = 0;
	sregs.gdt.limit = sregs.idt.limit = 0;
	sregs.cr0 = (sregs.cr0 | 0x11u) & ~(1ull << 31);
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	struct kvm_regs regs = { .rip = load, .rsp = stack, .rbx = 0, .rcx = rounds, .rflags = 2 };
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned long exits = 0;
	while (exits < want) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			die("KVM_RUN");
		exits++;
		if (run->exit_reason == KVM_EXIT_HLT)
			continue; /* no halt period: the bench measures the I/O round trip */
		if (run->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
			return 1;
		}
		uint8_t *data = (uint8_t *)run + run->io.data_offset;
		for (uint32_t i = 0; i < run->io.count; i++) {
			uint32_t v = 0;
			if (run->io.direction == KVM_EXIT_IO_OUT) {
				memcpy(&v, data + i * run->io.size, run->io.size);
				last[run->io.port] = v;
			} else {
				v = last[run->io.port] ^ (in_xor | run->io.port);
				memcpy(data + i * run->io.size, &v, run->io.size);
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long ns = (t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec);
	printf("exits=%lu ns=%lld\n", exits, ns);
	return 0;
}
