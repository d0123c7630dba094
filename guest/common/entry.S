/*
 * Entry of every workload guest: 32-bit protected mode, flat segments, paging off, set up by the
 * host (src/kvm/protected-mode.ts). Register contract (src/vmm/guest-abi.ts): ESP = this vCPU's
 * stack top, EBX = vCPU index, ECX = rounds to run (0 = forever), EDX = the program's
 * configuration word, ESI = guest memory in KiB.
 */
	.section .text.entry, "ax"
	.code32
	.globl	_start
_start:
	pushl	%esi		/* guest_main(vcpu, rounds, arg, memory_kib): cdecl, pushed right to left */
	pushl	%edx
	pushl	%ecx
	pushl	%ebx
	call	guest_main
1:	hlt
	jmp	1b
