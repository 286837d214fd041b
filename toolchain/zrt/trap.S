/*
 * The trap and setjmp/longjmp for ZeroVM programs built by `zerovm cc`, in
 * libc.a (not crt0.o: a program linked with -nostartfiles keeps them).
 * Written as ordinary x32 assembly: the driver runs it through the
 * sandboxing pass like any other source, which turns the indirect call,
 * the returns and the memory operands into their sandboxed forms.
 */
	.text
/*
 * int32_t __zrt_trap(uint64_t block[6]): ZeroVM's only system call, slot 0
 * of the trampoline at 0x10000, with %edi pointing at
 * [function, 0, arg0, arg1, arg2, arg3]; the result comes back in %eax.
 * The trap preserves %rbx, %rbp, %r12-%r14 and %rsp; everything else the C
 * calling convention lets a callee clobber.
 */
	.globl	__zrt_trap
	.type	__zrt_trap, @function
__zrt_trap:
	pushq	%rbx
	movl	$0x10000, %ebx
	call	*%rbx
	popq	%rbx
	ret
	.size	__zrt_trap, .-__zrt_trap

/*
 * jmp_buf (newlib's x86_64 layout, 8 x 8 bytes): rbx, rbp, r12, r13, r14,
 * the caller's rsp, the return address. The return address is a bundle
 * start (every call is aligned to end a bundle), so the masked jump of
 * longjmp lands exactly there.
 */
	.globl	setjmp
	.type	setjmp, @function
	.globl	_setjmp
	.type	_setjmp, @function
setjmp:
_setjmp:
	movq	%rbx, 0(%edi)
	movq	%rbp, 8(%edi)
	movq	%r12, 16(%edi)
	movq	%r13, 24(%edi)
	movq	%r14, 32(%edi)
	leaq	8(%rsp), %rax
	movq	%rax, 40(%edi)
	movq	(%rsp), %rax
	movq	%rax, 48(%edi)
	xorl	%eax, %eax
	ret
	.size	setjmp, .-setjmp

	.globl	longjmp
	.type	longjmp, @function
	.globl	_longjmp
	.type	_longjmp, @function
longjmp:
_longjmp:
	movl	%esi, %eax
	testl	%eax, %eax
	jnz	1f
	movl	$1, %eax
1:
	movq	0(%edi), %rbx
	movq	8(%edi), %rbp
	movq	16(%edi), %r12
	movq	24(%edi), %r13
	movq	32(%edi), %r14
	movq	48(%edi), %rdx
	movq	40(%edi), %rsp
	jmp	*%rdx
	.size	longjmp, .-longjmp
	.section	.note.GNU-stack,"",@progbits
