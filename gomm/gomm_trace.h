/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gomm's tracepoints, modelled on kmalloc and kfree in
 * include/trace/events/kmem.h:
 *
 *   gomm:gomm_alloc  call_site ptr bytes_req bytes_alloc gfp_flags
 *   gomm:gomm_free   call_site ptr
 *
 * Every gomm_alloc() call fires gomm_alloc (a failed one with ptr=0) and
 * every gomm_free() call gomm_free, bad frees included, as kfree does.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM gomm

#if !defined(_GOMM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _GOMM_TRACE_H

#include <linux/tracepoint.h>
#include <trace/events/mmflags.h>

/*
 * malloc.c: a probe on gomm_alloc sends gomm's allocations to their traced
 * copies, one on gomm_free its frees
 */
int gomm_trace_alloc_reg(void);
void gomm_trace_alloc_unreg(void);
int gomm_trace_free_reg(void);
void gomm_trace_free_unreg(void);

TRACE_EVENT_FN(gomm_alloc,

	TP_PROTO(unsigned long call_site, const void *ptr, size_t bytes_req, size_t bytes_alloc,
		 gfp_t gfp_flags),
	TP_ARGS(call_site, ptr, bytes_req, bytes_alloc, gfp_flags),
	TP_STRUCT__entry(__field(unsigned long, call_site)
			 __field(const void *, ptr)
			 __field(size_t, bytes_req)
			 __field(size_t, bytes_alloc)
			 __field(unsigned long, gfp_flags)),
	TP_fast_assign(__entry->call_site = call_site;
		       __entry->ptr = ptr;
		       __entry->bytes_req = bytes_req;
		       __entry->bytes_alloc = bytes_alloc;
		       __entry->gfp_flags = (__force unsigned long)gfp_flags;),
	TP_printk("call_site=%pS ptr=%p bytes_req=%zu bytes_alloc=%zu gfp_flags=%s",
		  (void *)__entry->call_site, __entry->ptr, __entry->bytes_req,
		  __entry->bytes_alloc, show_gfp_flags(__entry->gfp_flags)),
	gomm_trace_alloc_reg, gomm_trace_alloc_unreg
);

TRACE_EVENT_FN(gomm_free,

	TP_PROTO(unsigned long call_site, const void *ptr),
	TP_ARGS(call_site, ptr),
	TP_STRUCT__entry(__field(unsigned long, call_site)
			 __field(const void *, ptr)),
	TP_fast_assign(__entry->call_site = call_site;
		       __entry->ptr = ptr;),
	TP_printk("call_site=%pS ptr=%p", (void *)__entry->call_site, __entry->ptr),
	gomm_trace_free_reg, gomm_trace_free_unreg
);

#endif /* _GOMM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE gomm_trace
#include <trace/define_trace.h>
