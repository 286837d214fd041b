/*
 * _start of a freestanding ZeroVM program (built with
 * `zerovm cc -nostdlib -nostartfiles`, so no crt0 and no C library): align
 * the stack for the C calling convention, run main, and end the session
 * with main's result through the program's own trap wrapper (freestanding.c).
 * Written as plain x32 assembly: the driver's sandboxing pass turns the call
 * into a bundle-ending one like every other.
 */
	.text
	.globl	_start
	.type	_start, @function
_start:
	andq	$-16, %rsp
	xorl	%ebp, %ebp
	call	main
	movl	%eax, %edi
	call	exit_session
	hlt
	.size	_start, .-_start
