/*
 * mmio: reports START, then stores to a guest physical address no memory slot backs
 * (KVM_EXIT_MMIO, which hvkit's VMM has no device for: the vCPU must be reported as crashed).
 */
	.section .text.entry, "ax"
	.code32
	.globl	_start
_start:
	movl	%ebx, %eax
	movw	$HVKIT_PORT_REPORT_VALUE, %dx
	outl	%eax, %dx
	movl	$HVKIT_REPORT_START, %eax
	movw	$HVKIT_PORT_REPORT_CODE, %dx
	outl	%eax, %dx
	movl	$0x12345678, %eax
	movl	%eax, HVKIT_UNMAPPED_ADDRESS
1:	hlt
	jmp	1b
