/*
 * capture: the smallest guest that moves a vCPU's exit counters.
 *
 * 16-bit real mode, loaded and entered at the address the host links it for (see
 * src/kvm/capture-guest.ts). Register contract, set by the host before the first KVM_RUN:
 *   DX = I/O port, CX = number of writes.
 * The guest writes AL = 0, 1, 2, ... (CX bytes) to port DX with `out` (one KVM_EXIT_IO each),
 * then executes `hlt` (KVM_EXIT_HLT, since the VM has no in-kernel irqchip). Entering it again
 * after the halt just halts again.
 */
	.code16
	.text
	.globl	_start
_start:
	xorw	%ax, %ax
	jcxz	halt			/* CX = 0: no writes (`loop` would otherwise run 65536 times) */
write:
	outb	%al, %dx
	incb	%al
	loop	write
halt:
	hlt
	jmp	halt
