/*
 * qemu-rom: a 64 KiB firmware image for QEMU's `-bios`, the tiny guest hvkit's tests run under a
 * foreign VMM (QEMU with -accel kvm) to watch it from outside.
 *
 * QEMU maps a BIOS image at the top of the 4 GiB space and its last 64 KiB also at 0xF0000 in
 * real mode; the CPU starts at F000:FFF0. The image is linked at 0xF0000, so offset 0 is
 * F000:0000. The boot vCPU writes AL = 0, 1, 2, … to port 0x80 for ever (QEMU's POST-code port,
 * served in QEMU's userspace: every OUT is a KVM_EXIT_IO and one `io_exits`); the other vCPUs stay
 * in wait-for-SIPI, as on real hardware until firmware starts them.
 */
	.code16
	.text
	.globl	_start
_start:
	cli
	xorw	%ax, %ax
1:	outb	%al, $0x80
	incb	%al
	jmp	1b

	.org	0xfff0
reset:
	ljmp	$0xf000, $0		/* to _start */
	.org	0x10000
