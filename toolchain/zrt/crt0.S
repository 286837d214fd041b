/*
 * Program entry for ZeroVM programs built by `zerovm cc`: the only code of
 * crt0.o, which -nostartfiles and -nostdlib leave out (the trap and
 * setjmp/longjmp are in trap.S, inside libc.a, so a program with its own
 * _start still has the C library). Written as ordinary x32 assembly: the
 * driver runs it through the sandboxing pass like any other source.
 *
 * Entry state (spec/runtime.md "Initial state"): %rsp = %rbp = base + 4 GiB - 56,
 * arguments are not on the stack (the C library reads /dev/nvram), so
 * _start aligns the stack for the C calling convention, clears the frame
 * pointer chain, has the C library set itself up (__zrt_init: heap,
 * descriptors, argv and environment from the nvram, constructors) and
 * returns main(argc, argv, environ) through exit, which never returns.
 */
	.text
	.globl	_start
	.type	_start, @function
_start:
	andq	$-16, %rsp
	xorl	%ebp, %ebp
	call	__zrt_init
	movl	__zrt_argc(%rip), %edi
	movl	__zrt_argv(%rip), %esi
	movl	environ(%rip), %edx
	call	main
	movl	%eax, %edi
	call	exit
	hlt
	.size	_start, .-_start

	.section	.note.GNU-stack,"",@progbits
