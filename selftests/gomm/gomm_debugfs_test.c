// SPDX-License-Identifier: GPL-2.0
/*
 * gomm_debugfs_test - kselftest for gomm's debugfs tables and controls.
 *
 * Checks the invariants of /sys/kernel/debug/gomm/ (per class: objects and
 * bytes in use never exceed what the class holds, the columns and totals
 * add up; the heap's pages add up and match what the classes hold), loads
 * a client (samples/gomm_demo.c, -m PATH) and checks that it allocated on
 * every CPU (each CPU's thread got objects, and that CPU's own counters in
 * gomm rose by at least as many) and that nothing stays in use once it is
 * unloaded, then drives
 * "drain" and "scavenge" and checks that pages go back to the kernel: down
 * to the retain target (module parameter retain_kb), and all of them with
 * retain_kb=0 (pages_released grows, MemFree rises).  The parameter is
 * restored before exit.
 *
 *   gomm_debugfs_test [-m DEMO_KO] [-t DURATION_MS]
 *
 * Without the demo module (default ./gomm_demo.ko) the tests that need a
 * client are skipped.  The strict "zero in use" checks apply when gomm has
 * no other client module (/sys/module/gomm/holders/ empty); otherwise the
 * counts must come back to what they were before the demo ran.  Needs root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"

#define GOMM_DIR	"/sys/kernel/debug/gomm"
#define GOMM_PARAMS	"/sys/module/gomm/parameters"
#define GOMM_HOLDERS	"/sys/module/gomm/holders"
#define NCLASSES	68	/* Go's table, class 0 = large */
#define PAGE_SZ		8192UL	/* gomm page */
#define CHUNK_PAGES	512UL	/* gomm pages per 4 MiB chunk */
#define MAX_CPUS	256
#define BUF_SIZE	(64 * 1024)
#define MAX_DIAG	5	/* violations printed per check */

struct class_row {
	unsigned long size, per_span, pages, spans, in_use, free;
	unsigned long bytes_used, bytes_held, waste;
	bool seen;
};

struct heap_info {
	unsigned long page_size, chunks, owned, in_use, large, free;
	unsigned long released, largest, grows, bytes_held;
};

struct snapshot {
	struct class_row cls[NCLASSES + 1];	/* [0] "large", [NCLASSES] "tiny" */
	long tiny;			/* tiny sub-objects, -1 if not shown */
	unsigned long small_used, small_held;
	bool have_small;
	struct heap_info heap;
	unsigned long errors;		/* sum of the error counters */
	int ncpus;
	/* per CPU: fast_hits + slow + tiny_allocs, objects its mcache took */
	unsigned long allocs[MAX_CPUS];
	char classes_text[BUF_SIZE];
};

static struct snapshot snap_start, snap_cur, snap_prev;
static int violations;

static ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t n, len = 0;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while ((size_t)len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (!n)
			break;
		len += n;
	}
	buf[len] = '\0';
	close(fd);
	return len;
}

static int write_file(const char *path, const char *val)
{
	ssize_t len = strlen(val);
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	if (write(fd, val, len) != len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int read_ulong(const char *path, unsigned long *val)
{
	char buf[64];

	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	*val = strtoul(buf, NULL, 10);
	return 0;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* "-" and other words count as 0 */
static unsigned long field(const char *s)
{
	return strtoul(s, NULL, 10);
}

static int parse_classes(struct snapshot *s)
{
	char *line, *save, *tok[10];
	unsigned long class;
	int n;

	s->tiny = -1;
	s->have_small = false;
	memset(s->cls, 0, sizeof(s->cls));
	if (read_file(GOMM_DIR "/classes", s->classes_text, BUF_SIZE) < 0)
		return -1;
	/* strtok_r() writes NULs: parse a copy */
	line = strdup(s->classes_text);
	if (!line)
		return -1;
	save = line;
	for (line = strtok(line, "\n"); line; line = strtok(NULL, "\n")) {
		char *p, *sp;

		if (sscanf(line, "# tiny sub-objects in use: %ld", &s->tiny) == 1)
			continue;
		if (sscanf(line, "# small: bytes in use %lu, bytes held %lu",
			   &s->small_used, &s->small_held) == 2) {
			s->have_small = true;
			continue;
		}
		if (line[0] == '#')
			continue;
		n = 0;
		for (p = strtok_r(line, " \t", &sp); p && n < 10;
		     p = strtok_r(NULL, " \t", &sp))
			tok[n++] = p;
		if (n < 10)
			continue;
		if (!strcmp(tok[0], "large")) {
			class = 0;
		} else if (!strcmp(tok[0], "tiny")) {
			/* the tiny blocks' spans: a class row of their own */
			class = NCLASSES;
		} else if (tok[0][0] >= '0' && tok[0][0] <= '9') {
			class = field(tok[0]);
			if (!class || class >= NCLASSES)
				continue;
		} else {
			continue;
		}
		s->cls[class] = (struct class_row) {
			.size = field(tok[1]), .per_span = field(tok[2]),
			.pages = field(tok[3]), .spans = field(tok[4]),
			.in_use = field(tok[5]), .free = field(tok[6]),
			.bytes_used = field(tok[7]), .bytes_held = field(tok[8]),
			.waste = field(tok[9]), .seen = true,
		};
	}
	free(save);
	return 0;
}

static int parse_heap(struct snapshot *s)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
#define K(k, f) { k, offsetof(struct heap_info, f) }
		K("page_size", page_size), K("chunks", chunks),
		K("pages_owned", owned), K("pages_in_use", in_use),
		K("pages_large", large), K("pages_free", free),
		K("pages_released", released), K("largest_free_run", largest),
		K("grows", grows), K("bytes_held", bytes_held),
#undef K
	};
	char buf[4096], key[64], *line;
	unsigned long val;
	unsigned int i, found = 0;

	if (read_file(GOMM_DIR "/heap", buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (sscanf(line, "%63s %lu", key, &val) != 2)
			continue;
		for (i = 0; i < ARRAY_SIZE(keys); i++) {
			if (!strcmp(key, keys[i].key)) {
				*(unsigned long *)((char *)&s->heap + keys[i].off) = val;
				found++;
			}
		}
	}
	return found == ARRAY_SIZE(keys) ? 0 : -1;
}

static int parse_errors_cpus(struct snapshot *s)
{
	char buf[BUF_SIZE], key[64], *line;
	unsigned long val, fast, slow, refills, sweeps, flushes, tiny;
	int cpu;

	if (read_file(GOMM_DIR "/errors", buf, sizeof(buf)) < 0)
		return -1;
	s->errors = 0;
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (sscanf(line, "%63s %lu", key, &val) == 2)
			s->errors += val;
	if (read_file(GOMM_DIR "/cpus", buf, sizeof(buf)) < 0)
		return -1;
	s->ncpus = 0;
	memset(s->allocs, 0, sizeof(s->allocs));
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#' ||
		    sscanf(line, "%d %lu %lu %lu %lu %lu %lu", &cpu, &fast, &slow,
			   &refills, &sweeps, &flushes, &tiny) != 7)
			continue;
		if (cpu < 0 || cpu >= MAX_CPUS)
			continue;
		s->allocs[cpu] = fast + slow + tiny;
		s->ncpus++;
	}
	return 0;
}

/*
 * Read every table.  The tables are lockless snapshots, so retry until
 * the classes table reads the same before and after the heap (nothing
 * allocated in between) and the cross-table sums can be compared.
 */
static int snapshot(struct snapshot *s, bool *stable)
{
	int try;

	*stable = false;
	for (try = 0; try < 20; try++) {
		if (parse_classes(&snap_prev) || parse_heap(s) ||
		    parse_errors_cpus(s) || parse_classes(s))
			return -1;
		if (!strcmp(snap_prev.classes_text, s->classes_text)) {
			*stable = true;
			return 0;
		}
		sleep_ms(100);
	}
	return 0;
}

#define VIOLATION(fmt, ...) do {					\
	if (violations++ < MAX_DIAG)					\
		ksft_print_msg("violated: " fmt "\n", ##__VA_ARGS__);	\
	} while (0)

static void check_class(unsigned int c, const struct class_row *r)
{
	unsigned long objs = r->spans * r->per_span;

	if (r->in_use > objs)
		VIOLATION("class %u: in_use %lu > spans %lu * objs/span %lu",
			  c, r->in_use, r->spans, r->per_span);
	if (r->in_use + r->free != objs)
		VIOLATION("class %u: in_use %lu + free %lu != %lu objects held",
			  c, r->in_use, r->free, objs);
	if (r->bytes_used != r->in_use * r->size)
		VIOLATION("class %u: bytes_in_use %lu != in_use %lu * size %lu",
			  c, r->bytes_used, r->in_use, r->size);
	if (r->bytes_used > r->bytes_held)
		VIOLATION("class %u: bytes_in_use %lu > bytes_held %lu",
			  c, r->bytes_used, r->bytes_held);
	if (r->bytes_held != r->spans * r->pages * PAGE_SZ)
		VIOLATION("class %u: bytes_held %lu != spans %lu * pages %lu * %lu",
			  c, r->bytes_held, r->spans, r->pages, PAGE_SZ);
	if (r->bytes_held &&
	    r->waste != (r->bytes_held - r->bytes_used) * 100 / r->bytes_held)
		VIOLATION("class %u: waste%% %lu does not match", c, r->waste);
}

/* Every invariant of one snapshot; @stable: the tables agree in time. */
static bool check_invariants(const struct snapshot *s, bool stable)
{
	const struct heap_info *h = &s->heap;
	unsigned long used = 0, held = 0, pages = 0;
	unsigned int c;

	violations = 0;
	for (c = 0; c < NCLASSES; c++)
		if (!s->cls[c].seen)
			VIOLATION("classes: no row for %s %u",
				  c ? "class" : "large", c);
	for (c = 1; c <= NCLASSES; c++) {
		check_class(c, &s->cls[c]);
		used += s->cls[c].bytes_used;
		held += s->cls[c].bytes_held;
		pages += s->cls[c].spans * s->cls[c].pages;
	}
	if (!s->have_small)
		VIOLATION("classes: no \"# small:\" totals line");
	else if (used != s->small_used || held != s->small_held)
		VIOLATION("classes: totals %lu/%lu != sum of rows %lu/%lu",
			  s->small_used, s->small_held, used, held);
	if (s->cls[0].bytes_used > s->cls[0].bytes_held)
		VIOLATION("large: bytes_in_use %lu > bytes_held %lu",
			  s->cls[0].bytes_used, s->cls[0].bytes_held);
	if (s->tiny < 0)
		VIOLATION("classes: tiny sub-objects not shown");

	if (h->page_size != PAGE_SZ)
		VIOLATION("heap: page_size %lu", h->page_size);
	if (h->in_use > h->owned)
		VIOLATION("heap: pages_in_use %lu > pages_owned %lu",
			  h->in_use, h->owned);
	if (h->free != h->owned - h->in_use)
		VIOLATION("heap: pages_free %lu != owned %lu - in_use %lu",
			  h->free, h->owned, h->in_use);
	if (h->large > h->in_use)
		VIOLATION("heap: pages_large %lu > pages_in_use %lu",
			  h->large, h->in_use);
	if (h->largest > h->free)
		VIOLATION("heap: largest_free_run %lu > pages_free %lu",
			  h->largest, h->free);
	if (h->owned > h->chunks * CHUNK_PAGES)
		VIOLATION("heap: pages_owned %lu > chunks %lu * %lu",
			  h->owned, h->chunks, CHUNK_PAGES);
	if (h->bytes_held != h->owned * PAGE_SZ)
		VIOLATION("heap: bytes_held %lu != pages_owned %lu * %lu",
			  h->bytes_held, h->owned, PAGE_SZ);
	if (stable) {
		if (pages + h->large != h->in_use)
			VIOLATION("heap: pages_in_use %lu != class spans' %lu + large %lu",
				  h->in_use, pages, h->large);
		if (s->cls[0].bytes_held != h->large * PAGE_SZ)
			VIOLATION("large: bytes_held %lu != pages_large %lu * %lu",
				  s->cls[0].bytes_held, h->large, PAGE_SZ);
	}
	if (violations > MAX_DIAG)
		ksft_print_msg("... %d violations in all\n", violations);
	return !violations;
}

static unsigned long objects_in_use(const struct snapshot *s)
{
	unsigned long n = 0;
	unsigned int c;

	for (c = 0; c <= NCLASSES; c++)
		n += s->cls[c].in_use;
	return n;
}

/* gomm's client modules other than the kernel itself */
static int other_clients(void)
{
	struct dirent *d;
	int n = 0;
	DIR *dir;

	dir = opendir(GOMM_HOLDERS);
	if (!dir)
		return 0;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.') {
			ksft_print_msg("gomm client still loaded: %s\n", d->d_name);
			n++;
		}
	closedir(dir);
	return n;
}

/*
 * MemFree, with the per-CPU vmstat deltas folded in first (vm.stat_refresh;
 * otherwise they reach the global counter only every vm.stat_interval).
 */
static unsigned long mem_free_kb(void)
{
	char buf[8192], *p;

	write_file("/proc/sys/vm/stat_refresh", "1");
	if (read_file("/proc/meminfo", buf, sizeof(buf)) < 0)
		return 0;
	p = strstr(buf, "MemFree:");
	return p ? strtoul(p + strlen("MemFree:"), NULL, 10) : 0;
}

/* MemFree once it has risen by @kb over @base, or after about 3 s */
static unsigned long mem_free_rise_kb(unsigned long base, unsigned long kb)
{
	unsigned long now = 0;
	int i;

	for (i = 0; i < 30; i++) {
		now = mem_free_kb();
		if (now >= base + kb)
			break;
		sleep_ms(100);
	}
	return now;
}

#define DEMO_ALLOCS	"/sys/module/gomm_demo/parameters/allocs"

/*
 * The demo's "allocs" parameter: per CPU online at its load, the objects
 * that CPU's thread got from gomm.  Return: CPUs listed, -1 on error.
 */
static int demo_allocs(unsigned long *allocs, bool *listed)
{
	char buf[BUF_SIZE], *line;
	unsigned long n;
	int cpu, ncpus = 0;

	memset(allocs, 0, MAX_CPUS * sizeof(*allocs));
	memset(listed, 0, MAX_CPUS * sizeof(*listed));
	if (read_file(DEMO_ALLOCS, buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (sscanf(line, "%d %lu", &cpu, &n) != 2 || cpu < 0 || cpu >= MAX_CPUS)
			return -1;
		allocs[cpu] = n;
		listed[cpu] = true;
		ncpus++;
	}
	return ncpus;
}

static int demo_load(const char *path, unsigned int duration_ms)
{
	char params[64];
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	snprintf(params, sizeof(params), "duration_ms=%u", duration_ms);
	ret = syscall(__NR_finit_module, fd, params, 0);
	close(fd);
	return ret;
}

static int demo_unload(void)
{
	return syscall(__NR_delete_module, "gomm_demo", O_NONBLOCK);
}

static unsigned long retain_saved;
static bool retain_changed;

static void restore_retain(void)
{
	char val[32];

	if (!retain_changed)
		return;
	snprintf(val, sizeof(val), "%lu", retain_saved);
	if (write_file(GOMM_PARAMS "/retain_kb", val))
		ksft_perror("restoring retain_kb");
	retain_changed = false;
}

#define NTESTS 11

int main(int argc, char **argv)
{
	const char *demo = "gomm_demo.ko";
	unsigned int duration_ms = 1000, c;
	unsigned long inuse_start, owned, released, retain_pages, mem0, mem1;
	static unsigned long allocs0[MAX_CPUS], thread_allocs[MAX_CPUS];
	static bool listed[MAX_CPUS];
	bool stable, demo_loaded = false, demo_ran = false, ok;
	int opt, cpu, strict, ncpus;

	while ((opt = getopt(argc, argv, "m:t:")) != -1) {
		switch (opt) {
		case 'm':
			demo = optarg;
			break;
		case 't':
			duration_ms = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: %s [-m DEMO_KO] [-t DURATION_MS]\n",
				argv[0]);
			return KSFT_FAIL;
		}
	}

	ksft_print_header();
	if (access(GOMM_DIR "/classes", R_OK))
		ksft_exit_skip("%s not readable: gomm not loaded or debugfs not mounted\n",
			       GOMM_DIR);
	if (getuid())
		ksft_exit_skip("needs root\n");
	ksft_set_plan(NTESTS);

	/* 1 */
	ok = !snapshot(&snap_start, &stable);
	ksft_test_result(ok, "tables parse\n");
	if (!ok)
		ksft_exit_fail_msg("cannot read gomm's debugfs tables\n");

	/* 2 */
	ksft_test_result(check_invariants(&snap_start, stable) && stable,
			 "invariants at start%s\n", stable ? "" : " (no stable snapshot)");
	inuse_start = objects_in_use(&snap_start);

	/* 3 */
	if (access(demo, R_OK)) {
		ksft_test_result_skip("demo client loads: no %s (-m)\n", demo);
	} else {
		/*
		 * A drain first: with no window cached, each CPU's counters
		 * can only rise by at least what that CPU hands out
		 */
		if (write_file(GOMM_DIR "/drain", "1") || parse_errors_cpus(&snap_cur))
			ksft_print_msg("cannot drain and read the cpus table\n");
		memcpy(allocs0, snap_cur.allocs, sizeof(allocs0));
		ok = !demo_load(demo, duration_ms);
		if (!ok)
			ksft_perror("finit_module gomm_demo");
		demo_loaded = ok;
		ksft_test_result(ok, "demo client loads\n");
	}

	/*
	 * 4: the client's threads are done, its records still allocated.
	 * Every CPU online at the load must have had a thread that got
	 * objects from gomm, and that CPU's own counters must have risen by
	 * at least as many: a CPU that did nothing, or whose objects were
	 * counted on another CPU, fails.  The demo's counts are read first,
	 * so gomm's counters, read after, cover them.
	 */
	if (demo_loaded) {
		sleep_ms(duration_ms + 1500);
		ncpus = demo_allocs(thread_allocs, listed);
		ok = ncpus > 0 && !snapshot(&snap_cur, &stable);
		if (ncpus < 0)
			ksft_print_msg("cannot read %s\n", DEMO_ALLOCS);
		for (cpu = 0; ok && cpu < MAX_CPUS; cpu++) {
			if (!listed[cpu])
				continue;
			ksft_print_msg("cpu%d: thread got %lu objects, counters rose %lu\n",
				       cpu, thread_allocs[cpu],
				       snap_cur.allocs[cpu] - allocs0[cpu]);
			if (!thread_allocs[cpu] ||
			    snap_cur.allocs[cpu] - allocs0[cpu] < thread_allocs[cpu])
				ok = false;
		}
		if (ncpus != sysconf(_SC_NPROCESSORS_ONLN) ||
		    snap_cur.ncpus != sysconf(_SC_NPROCESSORS_ONLN)) {
			ksft_print_msg("demo: %d CPUs, cpus table: %d rows, %ld CPUs online\n",
				       ncpus, snap_cur.ncpus, sysconf(_SC_NPROCESSORS_ONLN));
			ok = false;
		}
		ksft_test_result(ok, "every CPU allocated through gomm\n");
	} else {
		ksft_test_result_skip("every CPU allocated through gomm: no client\n");
	}

	/* 5 */
	if (demo_loaded) {
		ok = check_invariants(&snap_cur, stable) && stable;
		ksft_print_msg("objects in use with the client loaded: %lu, tiny %ld\n",
			       objects_in_use(&snap_cur), snap_cur.tiny);
		if (objects_in_use(&snap_cur) <= inuse_start) {
			ksft_print_msg("the client holds no object: nothing was checked\n");
			ok = false;
		}
		ksft_test_result(ok, "invariants with a client holding objects\n");
	} else {
		ksft_test_result_skip("invariants with a client holding objects: no client\n");
	}

	/* 6 */
	if (demo_loaded) {
		ok = !demo_unload();
		if (!ok)
			ksft_perror("delete_module gomm_demo");
		demo_ran = ok;
		ksft_test_result(ok, "demo client unloads\n");
	} else {
		ksft_test_result_skip("demo client unloads: not loaded\n");
	}

	/* 7: a drain closes the CPUs' open tiny blocks and frees empty spans */
	strict = !other_clients();
	if (write_file(GOMM_DIR "/drain", "1"))
		ksft_perror("writing drain");
	ok = !snapshot(&snap_cur, &stable) && check_invariants(&snap_cur, stable);
	ksft_print_msg("after drain: objects in use %lu, tiny %ld, pages in use %lu (%s)\n",
		       objects_in_use(&snap_cur), snap_cur.tiny, snap_cur.heap.in_use,
		       strict ? "no client left: must be 0" : "other clients: must be as at start");
	if (strict) {
		for (c = 0; c <= NCLASSES; c++)
			if (snap_cur.cls[c].in_use) {
				ksft_print_msg("class %u: %lu objects in use\n",
					       c, snap_cur.cls[c].in_use);
				ok = false;
			}
		ok = ok && snap_cur.tiny == 0 && snap_cur.heap.in_use == 0;
	} else {
		ok = ok && objects_in_use(&snap_cur) <= inuse_start;
	}
	if (demo_ran || strict)
		ksft_test_result(ok, "no object in use after clients unloaded and a drain\n");
	else
		ksft_test_result_skip("no object in use after unload: the client did not run\n");

	/* 8 */
	if (snap_cur.errors != snap_start.errors)
		ksft_print_msg("error counters: %lu at start, %lu now\n",
			       snap_start.errors, snap_cur.errors);
	ksft_test_result(snap_cur.errors == snap_start.errors,
			 "error counters unchanged\n");

	/* 9: scavenge at the retain target */
	if (read_ulong(GOMM_PARAMS "/retain_kb", &retain_saved))
		ksft_exit_fail_msg("cannot read %s/retain_kb\n", GOMM_PARAMS);
	retain_pages = retain_saved * 1024 / PAGE_SZ;
	owned = snap_cur.heap.owned;
	released = snap_cur.heap.released;
	if (write_file(GOMM_DIR "/scavenge", "1"))
		ksft_perror("writing scavenge");
	ok = !snapshot(&snap_cur, &stable) && check_invariants(&snap_cur, stable);
	ksft_print_msg("scavenge, retain %lu: owned %lu -> %lu, released %lu -> %lu, free %lu\n",
		       retain_pages, owned, snap_cur.heap.owned, released,
		       snap_cur.heap.released, snap_cur.heap.free);
	/* a chunk goes only whole, and only while retain_pages stay free */
	if (snap_cur.heap.free >= retain_pages + CHUNK_PAGES)
		ok = false;
	if (owned - snap_cur.heap.owned != snap_cur.heap.released - released)
		ok = false;
	ksft_test_result(ok, "scavenge keeps at most the retain target free\n");

	/* 10: retain nothing: every wholly free chunk goes back */
	owned = snap_cur.heap.owned;
	released = snap_cur.heap.released;
	if (!owned || snap_cur.heap.in_use) {
		ksft_test_result_skip("scavenge with retain_kb=0: %s\n",
				      owned ? "pages in use" : "the heap owns nothing");
	} else {
		retain_changed = true;
		if (write_file(GOMM_PARAMS "/retain_kb", "0"))
			ksft_perror("writing retain_kb");
		mem0 = mem_free_kb();
		if (write_file(GOMM_DIR "/scavenge", "1"))
			ksft_perror("writing scavenge");
		mem1 = mem_free_rise_kb(mem0, owned * PAGE_SZ / 1024);
		restore_retain();
		ok = !snapshot(&snap_cur, &stable) && check_invariants(&snap_cur, stable);
		ksft_print_msg("scavenge, retain 0: owned %lu -> %lu, released %lu -> %lu\n",
			       owned, snap_cur.heap.owned, released,
			       snap_cur.heap.released);
		ksft_print_msg("MemFree %lu -> %lu kB\n", mem0, mem1);
		ok = ok && snap_cur.heap.owned == 0 &&
		     snap_cur.heap.released - released == owned;
		/* other allocations are noise: ask for half of it */
		ok = ok && mem1 > mem0 && (mem1 - mem0) * 1024 >= owned * PAGE_SZ / 2;
		ksft_test_result(ok, "scavenge with retain_kb=0 gives every page back\n");
	}

	/* 11 */
	ok = !snapshot(&snap_cur, &stable);
	ksft_test_result(ok && check_invariants(&snap_cur, stable) && stable,
			 "invariants at the end\n");

	restore_retain();
	ksft_finished();
}
