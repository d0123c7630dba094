/*
 * fault: reports START, then executes an undefined instruction. With no IDT (limit 0) the #UD
 * escalates to a double and then a triple fault: KVM_EXIT_SHUTDOWN.
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
	movl	$0xdeadbeef, %esi	/* a marker the crash report must show */
	ud2
