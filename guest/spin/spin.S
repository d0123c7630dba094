/* spin: reports START, then loops forever without a single exit (tests kicking out of KVM_RUN). */
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
	xorl	%eax, %eax
1:	incl	%eax
	jmp	1b
