// SPDX-License-Identifier: GPL-2.0
/*
 * scripts/profile.d/tbprof.c - a QEMU TCG plugin for scripts/profile: guest
 * instructions executed per translation block of kernel text, written at
 * exit as "vaddr insns count" lines (out=FILE).  QEMU 7.2 (Debian 12)
 * ships no plugin header: the few calls used are declared here as its
 * plugin API (version 1) has them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb_t)(qemu_plugin_id_t id, void *userdata);

extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb_t cb);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr, uint64_t imm);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb_t cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = PLUGIN_VERSION;

struct ent { uint64_t vaddr; uint64_t insns; uint64_t count; struct ent *next; };
#define NB (1 << 20)
static struct ent *tab[NB];
static const char *outpath = "/tmp/tbprof.out";

static void trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t va = qemu_plugin_tb_vaddr(tb);
	size_t n = qemu_plugin_tb_n_insns(tb);
	uint64_t h = (va * 0x9E3779B97F4A7C15ULL) >> 44;
	struct ent *e;

	/* kernel text only */
	if (va < 0xffffffff00000000ULL)
		return;
	for (e = tab[h]; e; e = e->next)
		if (e->vaddr == va && e->insns == n)
			break;
	if (!e) {
		e = calloc(1, sizeof(*e));
		e->vaddr = va; e->insns = n; e->next = tab[h]; tab[h] = e;
	}
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &e->count, 1);
}

static void atexit_cb(qemu_plugin_id_t id, void *p)
{
	FILE *f = fopen(outpath, "w");
	size_t i;
	struct ent *e;

	if (!f)
		return;
	for (i = 0; i < NB; i++)
		for (e = tab[i]; e; e = e->next)
			if (e->count)
				fprintf(f, "%llx %llu %llu\n", (unsigned long long)e->vaddr,
					(unsigned long long)e->insns, (unsigned long long)e->count);
	fclose(f);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			outpath = strdup(argv[i] + 4);
	qemu_plugin_register_vcpu_tb_trans_cb(id, trans);
	qemu_plugin_register_atexit_cb(id, atexit_cb, NULL);
	return 0;
}
