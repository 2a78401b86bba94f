/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the test clients that leak on purpose (gomm_leak, gomm_unload)
 * share.
 */
#ifndef _GOMM_CLIENT_H
#define _GOMM_CLIENT_H

#include <linux/compiler.h>
#include <linux/string.h>

/*
 * gomm_client_wipe_stack - zero this task's stack below the caller's frame
 * @depth: 512-byte frames to zero, less one
 *
 * kmemleak scans every task's stack whole, used part or not, and a dead
 * task's stack too while the kernel keeps it cached for the next task: a
 * stale copy of a leaked pointer there (in the frames of the allocation,
 * of printk(), or of the caller) hides the leak, at random.  A client
 * calls this after it leaked, from the function that holds the pointers
 * (having cleared its own copies), to zero the frames its callees used.
 * Seen before the wipe: a leaked object at a chunk's first byte, and the
 * unload test's kmalloc() control, each missed once after many good runs.
 */
static noinline void gomm_client_wipe_stack(unsigned int depth)
{
	char frame[512];

	memzero_explicit(frame, sizeof(frame));
	if (depth)
		gomm_client_wipe_stack(depth - 1);
	barrier_data(frame);
}

/* enough for the deepest printk() to the console, allocation or kmalloc() */
#define GOMM_CLIENT_WIPE_DEPTH	11

#endif /* _GOMM_CLIENT_H */
