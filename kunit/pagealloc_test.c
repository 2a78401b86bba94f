// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the gomm page allocator (gomm/pagealloc.c).
 *
 * The table-driven cases are Go's, from src/runtime/mpallocbits_test.go and
 * src/runtime/mpagealloc_test.go.  Go's chunk indices are relative to
 * BaseChunkIdx; here the base is chunk 0, so Go's PageBase(BaseChunkIdx + k,
 * i) is page k * 512 + i, written PG(k, i).  Go's scavenged-page column is
 * dropped: gomm keeps a page's scavenged state in its chunk's owned bitmap
 * (gomm/heap.c), not in the page allocator.  A randomized test checks the
 * allocator against a linear first-fit model.
 */

#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/module.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "compat.h"
#include "pagealloc.h"

#define P		GOMM_CHUNK_PAGES
#define PG(k, i)	((unsigned long)(k) * P + (i))
#define FAIL		GOMM_PA_FAIL
#define ALL		{ 0, P }
#define ONES		(~0ULL)
#define LEAF		(GOMM_SUM_LEVELS - 1)
#define MAX_RANGES	4
#define MAX_CHUNKS	8

/* Pages [i, i + n) of a chunk; n == 0 ends a list. */
struct bit_range {
	unsigned int i, n;
};

/* Go's makePallocBits: a bitmap with the pages of @r (at most @max) set. */
static void make_pchunk(struct gomm_pchunk *c, const struct bit_range *r,
			unsigned int max)
{
	memset(c, 0, sizeof(*c));
	for (; max && r->n; r++, max--)
		gomm_pbits_set_range(c, r->i, r->n);
}

/* Go's invertPallocBits. */
static void invert_pchunk(struct gomm_pchunk *c)
{
	unsigned int w;

	for (w = 0; w < ARRAY_SIZE(c->bits); w++)
		c->bits[w] = ~c->bits[w];
}

static void expect_pchunk_eq(struct kunit *test, const struct gomm_pchunk *got,
			     const struct gomm_pchunk *want, const char *name,
			     unsigned long ci)
{
	unsigned int w;

	for (w = 0; w < ARRAY_SIZE(got->bits); w++)
		KUNIT_EXPECT_EQ_MSG(test, got->bits[w], want->bits[w],
				    "%s: chunk %lu word %u: got %#018llx, want %#018llx",
				    name, ci, w, got->bits[w], want->bits[w]);
}

/* TestPallocBitsAllocRange, and the same ranges cleared from a full chunk. */

struct alloc_range_case {
	const char *name;
	unsigned int i, n;
	u64 want[P / 64];
};

static const struct alloc_range_case alloc_range_cases[] = {
	{ "OneLow", 0, 1, { [0] = 0x1 } },
	{ "OneHigh", P - 1, 1, { [7] = 1ULL << 63 } },
	{ "Inner", 129, 5, { [2] = 0x3e } },
	{ "Aligned", 128, 128, { [2] = ONES, [3] = ONES } },
	{ "Begin", 0, 321, { ONES, ONES, ONES, ONES, ONES, 0x1 } },
	{ "End", P - (64 * 3 + 1), 64 * 3 + 1,
	  { [4] = 1ULL << 63, [5] = ONES, [6] = ONES, [7] = ONES } },
	{ "All", 0, P, { ONES, ONES, ONES, ONES, ONES, ONES, ONES, ONES } },
};

KUNIT_ARRAY_PARAM_DESC(alloc_range, alloc_range_cases, name);

static void test_pbits_alloc_range(struct kunit *test)
{
	const struct alloc_range_case *tc = test->param_value;
	struct gomm_pchunk c = {}, want;

	memcpy(want.bits, tc->want, sizeof(want.bits));
	gomm_pbits_set_range(&c, tc->i, tc->n);
	expect_pchunk_eq(test, &c, &want, tc->name, 0);

	memset(c.bits, 0xff, sizeof(c.bits));
	gomm_pbits_clear_range(&c, tc->i, tc->n);
	invert_pchunk(&want);
	expect_pchunk_eq(test, &c, &want, tc->name, 0);
}

/* TestMallocBitsPopcntRange */

struct popcnt_hit {
	unsigned int i, n, want;
};

struct popcnt_case {
	const char *name;
	struct bit_range init[32];
	struct popcnt_hit hits[12];	/* n == 0 ends */
};

static const struct popcnt_case popcnt_cases[] = {
	{
		.name = "None",
		.hits = { { 0, 1, 0 }, { 5, 3, 0 }, { 2, 11, 0 },
			  { P / 4 + 1, P / 2, 0 }, { 0, P, 0 } },
	},
	{
		.name = "All",
		.init = { ALL },
		.hits = { { 0, 1, 1 }, { 5, 3, 3 }, { 2, 11, 11 },
			  { P / 4 + 1, P / 2, P / 2 }, { 0, P, P } },
	},
	{
		.name = "Half",
		.init = { { P / 2, P / 2 } },
		.hits = { { 0, 1, 0 }, { 5, 3, 0 }, { 2, 11, 0 },
			  { P / 2 - 1, 1, 0 }, { P / 2, 1, 1 },
			  { P / 2 + 10, 1, 1 }, { P / 2 - 1, 2, 1 },
			  { P / 4, P / 4, 0 }, { P / 4, P / 4 + 1, 1 },
			  { P / 4 + 1, P / 2, P / 4 + 1 }, { 0, P, P / 2 } },
	},
	{
		.name = "OddBound",
		.init = { { 0, 111 } },
		.hits = { { 0, 1, 1 }, { 5, 3, 3 }, { 2, 11, 11 },
			  { 110, 2, 1 }, { 99, 50, 12 }, { 110, 1, 1 },
			  { 111, 1, 0 }, { 99, 1, 1 }, { 120, 1, 0 },
			  { P / 2, P / 2, 0 }, { 0, P, 111 } },
	},
	{
		.name = "Scattered",
		.init = { { 1, 3 }, { 5, 1 }, { 7, 1 }, { 10, 2 }, { 13, 1 },
			  { 15, 4 }, { 21, 1 }, { 23, 1 }, { 26, 2 }, { 30, 5 },
			  { 36, 2 }, { 40, 3 }, { 44, 6 }, { 51, 1 }, { 53, 2 },
			  { 58, 3 }, { 63, 1 }, { 67, 2 }, { 71, 10 }, { 84, 1 },
			  { 89, 7 }, { 99, 2 }, { 103, 1 }, { 107, 2 },
			  { 111, 1 }, { 113, 1 }, { 115, 1 }, { 118, 1 },
			  { 120, 2 }, { 125, 5 } },
		.hits = { { 0, 11, 6 }, { 0, 64, 39 }, { 13, 64, 40 },
			  { 64, 64, 34 }, { 0, 128, 73 }, { 1, 128, 74 },
			  { 0, P, 75 } },
	},
};

KUNIT_ARRAY_PARAM_DESC(popcnt, popcnt_cases, name);

static void test_pbits_popcnt_range(struct kunit *test)
{
	const struct popcnt_case *tc = test->param_value;
	const struct popcnt_hit *h;
	struct gomm_pchunk c;

	make_pchunk(&c, tc->init, ARRAY_SIZE(tc->init));
	for (h = tc->hits; h < tc->hits + ARRAY_SIZE(tc->hits) && h->n; h++)
		KUNIT_EXPECT_EQ_MSG(test, gomm_pbits_popcnt_range(&c, h->i, h->n),
				    h->want, "%s: popcnt(%u, %u)", tc->name,
				    h->i, h->n);
}

/* TestPallocBitsSummarize: the bitmaps are given as their free ranges. */

struct summarize_case {
	const char *name;
	struct bit_range free[MAX_RANGES];
	unsigned long start, max, end;
};

static const struct summarize_case summarize_cases[] = {
	{ "NoneFree", {}, 0, 0, 0 },
	{ "OnlyStart", { { 0, 10 } }, 10, 10, 0 },
	{ "OnlyEnd", { { P - 40, 40 } }, 0, 40, 40 },
	{ "StartAndEnd", { { 0, 11 }, { P - 23, 23 } }, 11, 23, 23 },
	{ "StartMaxEnd", { { 0, 4 }, { 50, 100 }, { P - 4, 4 } }, 4, 100, 4 },
	{ "OnlyMax", { { 1, 20 }, { 35, 241 }, { P - 50, 30 } }, 0, 241, 0 },
	{ "MultiMax", { { 35, 2 }, { 40, 5 }, { 100, 5 } }, 0, 5, 0 },
	{ "One", { { 2, 1 } }, 0, 1, 0 },
	{ "AllFree", { ALL }, P, P, P },
};

KUNIT_ARRAY_PARAM_DESC(summarize, summarize_cases, name);

static void test_pbits_summarize(struct kunit *test)
{
	const struct summarize_case *tc = test->param_value;
	struct gomm_pchunk c;
	gomm_psum_t sum;

	make_pchunk(&c, tc->free, MAX_RANGES);
	invert_pchunk(&c);
	sum = gomm_pbits_summarize(&c);
	KUNIT_EXPECT_EQ_MSG(test, gomm_psum_start(sum), tc->start, "%s: start",
			    tc->name);
	KUNIT_EXPECT_EQ_MSG(test, gomm_psum_max(sum), tc->max, "%s: max",
			    tc->name);
	KUNIT_EXPECT_EQ_MSG(test, gomm_psum_end(sum), tc->end, "%s: end",
			    tc->name);
	KUNIT_EXPECT_EQ_MSG(test, sum, gomm_psum_pack(tc->start, tc->max, tc->end),
			    "%s: packed", tc->name);
}

static bool page_free(const struct gomm_pchunk *c, unsigned int i)
{
	return !((c->bits[i / 64] >> (i % 64)) & 1);
}

/* Go's SummarizeSlow, the reference for summarize(). */
static gomm_psum_t summarize_slow(const struct gomm_pchunk *c)
{
	unsigned int start = 0, max = 0, end = 0, run = 0, i;

	while (start < P && page_free(c, start))
		start++;
	while (end < P && page_free(c, P - end - 1))
		end++;
	for (i = 0; i < P; i++) {
		run = page_free(c, i) ? run + 1 : 0;
		if (run > max)
			max = run;
	}
	return gomm_psum_pack(start, max, end);
}

/*
 * TestPallocBitsSummarizeRandom (1000 random bitmaps) and the patterns of
 * BenchmarkPallocBitsSummarize, which also checks against SummarizeSlow,
 * plus random bitmaps of varied density so that long runs occur.
 */
static void test_pbits_summarize_random(struct kunit *test)
{
	static const u64 patterns[] = {
		0, ONES, 0xaa, 0xaaaaaaaaaaaaaaaa, 0x80000000aaaaaaaa,
		0xaaaaaaaa00000001, 0xbbbbbbbbbbbbbbbb, 0x80000000bbbbbbbb,
		0xbbbbbbbb00000001, 0xcccccccccccccccc, 0x4444444444444444,
		0x4040404040404040, 0x4000400040004000, 0x1000404044ccaaff,
	};
	const u64 seed = 0x73756d6d;
	struct rnd_state rnd;
	struct gomm_pchunk c;
	unsigned int i, w, k;
	u64 x;

	for (i = 0; i < ARRAY_SIZE(patterns); i++) {
		for (w = 0; w < ARRAY_SIZE(c.bits); w++)
			c.bits[w] = patterns[i];
		KUNIT_EXPECT_EQ_MSG(test, gomm_pbits_summarize(&c),
				    summarize_slow(&c), "pattern %#llx",
				    patterns[i]);
	}

	prandom_seed_state(&rnd, seed);
	for (i = 0; i < 2000; i++) {
		for (w = 0; w < ARRAY_SIZE(c.bits); w++) {
			x = (u64)prandom_u32_state(&rnd) << 32 |
			    prandom_u32_state(&rnd);
			/* Past Go's 1000: AND (sparse) or OR (dense) words. */
			for (k = 0; i >= 1000 && k < (i + w) % 4; k++) {
				u64 y = (u64)prandom_u32_state(&rnd) << 32 |
					prandom_u32_state(&rnd);

				x = i & 1 ? x & y : x | y;
			}
			c.bits[w] = x;
		}
		if (gomm_pbits_summarize(&c) != summarize_slow(&c)) {
			KUNIT_FAIL(test, "seed %#llx bitmap %u: summarize %#llx, slow %#llx",
				   seed, i, gomm_pbits_summarize(&c),
				   summarize_slow(&c));
			return;
		}
	}
}

/* TestPallocBitsAlloc: find(npages, 0), then allocate what was found. */

struct pbits_alloc_case {
	const char *name;
	struct bit_range before[MAX_RANGES];
	unsigned int npages;
	unsigned int nhits;
	unsigned int hits[6];
	struct bit_range after[MAX_RANGES];
};

static const struct pbits_alloc_case pbits_alloc_cases[] = {
	{ "AllFree1", {}, 1, 6, { 0, 1, 2, 3, 4, 5 }, { { 0, 6 } } },
	{ "AllFree2", {}, 2, 6, { 0, 2, 4, 6, 8, 10 }, { { 0, 12 } } },
	{ "AllFree5", {}, 5, 5, { 0, 5, 10, 15, 20 }, { { 0, 25 } } },
	{ "AllFree64", {}, 64, 3, { 0, 64, 128 }, { { 0, 192 } } },
	{ "AllFree65", {}, 65, 3, { 0, 65, 130 }, { { 0, 195 } } },
	{ "SomeFree64", { { 0, 32 }, { 64, 32 }, { 100, P - 100 } }, 64, 1,
	  { ~0U }, { { 0, 32 }, { 64, 32 }, { 100, P - 100 } } },
	{ "NoneFree1", { ALL }, 1, 2, { ~0U, ~0U }, { ALL } },
	{ "NoneFree2", { ALL }, 2, 2, { ~0U, ~0U }, { ALL } },
	{ "NoneFree5", { ALL }, 5, 2, { ~0U, ~0U }, { ALL } },
	{ "NoneFree65", { ALL }, 65, 2, { ~0U, ~0U }, { ALL } },
	{ "ExactFit1", { { 0, P / 2 - 3 }, { P / 2 - 2, P / 2 + 2 } }, 1, 2,
	  { P / 2 - 3, ~0U }, { ALL } },
	{ "ExactFit2", { { 0, P / 2 - 3 }, { P / 2 - 1, P / 2 + 1 } }, 2, 2,
	  { P / 2 - 3, ~0U }, { ALL } },
	{ "ExactFit5", { { 0, P / 2 - 3 }, { P / 2 + 2, P / 2 - 2 } }, 5, 2,
	  { P / 2 - 3, ~0U }, { ALL } },
	{ "ExactFit65", { { 0, P / 2 - 31 }, { P / 2 + 34, P / 2 - 34 } }, 65,
	  2, { P / 2 - 31, ~0U }, { ALL } },
	{ "SomeFree161", { { 0, 185 }, { 331, 1 } }, 161, 1, { 332 },
	  { { 0, 185 }, { 331, 162 } } },
	/* Not in Go: free runs on both sides of a word that is in use. */
	{ "SmallFullWordGap", { { 0, 60 }, { 64, 64 }, { 132, P - 132 } }, 8,
	  1, { ~0U }, { { 0, 60 }, { 64, 64 }, { 132, P - 132 } } },
	{ "LargeFullWordGap", { { 0, 88 }, { 128, 64 }, { 222, P - 222 } },
	  65, 1, { ~0U }, { { 0, 88 }, { 128, 64 }, { 222, P - 222 } } },
	/* Not in Go: a word with only its top page in use splits the run. */
	{ "LargeTopBitSplit", { { 0, 100 }, { 191, 1 }, { 200, P - 200 } },
	  100, 1, { ~0U }, { { 0, 100 }, { 191, 1 }, { 200, P - 200 } } },
};

KUNIT_ARRAY_PARAM_DESC(pbits_alloc, pbits_alloc_cases, name);

static void test_pbits_find(struct kunit *test)
{
	const struct pbits_alloc_case *tc = test->param_value;
	struct gomm_pchunk c, want;
	unsigned int k, got, idx, first_free;

	make_pchunk(&c, tc->before, MAX_RANGES);
	for (k = 0; k < tc->nhits; k++) {
		/* Not checked by Go: the new search index is the first free page. */
		first_free = gomm_pbits_find(&c, 1, 0, &idx);
		got = gomm_pbits_find(&c, tc->npages, 0, &idx);
		KUNIT_ASSERT_EQ_MSG(test, got, tc->hits[k], "%s: find #%u",
				    tc->name, k + 1);
		if (got == ~0U)
			continue;
		KUNIT_EXPECT_EQ_MSG(test, idx, first_free,
				    "%s: find #%u: new search index", tc->name,
				    k + 1);
		gomm_pbits_set_range(&c, got, tc->npages);
	}
	make_pchunk(&want, tc->after, MAX_RANGES);
	expect_pchunk_eq(test, &c, &want, tc->name, 0);
}

/* Linear first fit: the lowest run of @npages zero bits in [@lo, @hi). */
static unsigned long model_first_fit(const unsigned long *map,
				     unsigned long lo, unsigned long hi,
				     unsigned long npages)
{
	unsigned long start = lo, next;

	for (;;) {
		start = find_next_zero_bit(map, hi, start);
		if (start + npages > hi)
			return FAIL;
		next = find_next_bit(map, start + npages, start);
		if (next >= start + npages)
			return start;
		start = next;
	}
}

/* Longest run of zero bits in @map[0, @nbits). */
static unsigned long model_largest_free(const unsigned long *map,
					unsigned long nbits)
{
	unsigned long start = 0, end, best = 0;

	while ((start = find_next_zero_bit(map, nbits, start)) < nbits) {
		end = find_next_bit(map, nbits, start);
		best = max(best, end - start);
		start = end;
	}
	return best;
}

/*
 * Not in Go: find() against linear first fit on random bitmaps made of
 * runs of random length, for sizes up to just above the longest free run,
 * from random valid search indices.
 */
static void test_pbits_find_random(struct kunit *test)
{
	static const unsigned int max_run[] = { 4, 16, 64, 200 };
	const u64 seed = 0x66696e64;
	unsigned int i, k, page, n, max_free, max_used, first, largest;
	unsigned int npages, search, got, idx;
	DECLARE_BITMAP(map, P);
	struct rnd_state rnd;
	struct gomm_pchunk c;
	unsigned long want;
	bool used;

	prandom_seed_state(&rnd, seed);
	for (i = 0; i < 1000; i++) {
		memset(&c, 0, sizeof(c));
		bitmap_zero(map, P);
		max_free = max_run[prandom_u32_state(&rnd) % 4];
		max_used = max_run[prandom_u32_state(&rnd) % 4];
		used = prandom_u32_state(&rnd) & 1;
		for (page = 0; page < P; page += n, used = !used) {
			n = 1 + prandom_u32_state(&rnd) % (used ? max_used : max_free);
			/* Runs that end at a word boundary are special. */
			if (prandom_u32_state(&rnd) & 1)
				n = round_up(page + n, 64) - page;
			n = min(n, P - page);
			if (!used)
				continue;
			gomm_pbits_set_range(&c, page, n);
			bitmap_set(map, page, n);
		}
		first = find_first_zero_bit(map, P);
		largest = model_largest_free(map, P);
		for (k = 0; k < 8; k++) {
			npages = 1 + prandom_u32_state(&rnd) % min(largest + 2, P);
			search = prandom_u32_state(&rnd) % (min(first, P - 1) + 1);
			want = model_first_fit(map, 0, P, npages);
			got = gomm_pbits_find(&c, npages, search, &idx);
			if (got != (want == FAIL ? ~0U : want) ||
			    (got != ~0U && idx != first)) {
				KUNIT_FAIL(test,
					   "seed %#llx bitmap %u: find(%u, %u) = %u (new search %u), want %lu (%u)",
					   seed, i, npages, search, got, idx,
					   want, first);
				return;
			}
		}
	}
}

/* TestPallocBitsFree: the bitmaps are given as their free ranges. */

struct pbits_free_case {
	const char *name;
	struct bit_range before_inv[MAX_RANGES];
	unsigned int npages;
	unsigned int nfrees;
	unsigned int frees[6];
	struct bit_range after_inv[MAX_RANGES];
};

static const struct pbits_free_case pbits_free_cases[] = {
	{ "SomeFree", { { 0, 32 }, { 64, 32 }, { 100, 1 } }, 1, 1, { 32 },
	  { { 0, 33 }, { 64, 32 }, { 100, 1 } } },
	{ "NoneFree1", {}, 1, 6, { 0, 1, 2, 3, 4, 5 }, { { 0, 6 } } },
	{ "NoneFree2", {}, 2, 6, { 0, 2, 4, 6, 8, 10 }, { { 0, 12 } } },
	{ "NoneFree5", {}, 5, 5, { 0, 5, 10, 15, 20 }, { { 0, 25 } } },
	{ "NoneFree64", {}, 64, 3, { 0, 64, 128 }, { { 0, 192 } } },
	{ "NoneFree65", {}, 65, 3, { 0, 65, 130 }, { { 0, 195 } } },
};

KUNIT_ARRAY_PARAM_DESC(pbits_free, pbits_free_cases, name);

static void test_pbits_free(struct kunit *test)
{
	const struct pbits_free_case *tc = test->param_value;
	struct gomm_pchunk c, want;
	unsigned int k;

	make_pchunk(&c, tc->before_inv, MAX_RANGES);
	invert_pchunk(&c);
	for (k = 0; k < tc->nfrees; k++)
		gomm_pbits_clear_range(&c, tc->frees[k], tc->npages);
	make_pchunk(&want, tc->after_inv, MAX_RANGES);
	invert_pchunk(&want);
	expect_pchunk_eq(test, &c, &want, tc->name, 0);
}

/* TestFindBitRange64; results >= 64 are failures (written ~0U). */
static void test_find_bit_range64(struct kunit *test)
{
	static const struct {
		u64 x;
		unsigned int n, want;
	} cases[] = {
		{ 0x8000000000000000, 1, 63 },
		{ 0xc000010001010000, 2, 62 },
		{ 0xc000010001030000, 2, 16 },
		{ 0xe000030001030000, 3, 61 },
		{ 0xe000030001070000, 3, 16 },
		{ 0xffff03ff01070000, 16, 48 },
		{ 0xffff03ff0107ffff, 16, 0 },
		{ 0x0fff03ff01079fff, 16, ~0U },
	};
	unsigned int i, got;

	for (i = 1; i <= 64; i++) {
		KUNIT_EXPECT_EQ_MSG(test, gomm_find_bit_range64(ONES, i), 0,
				    "(~0, %u)", i);
		KUNIT_EXPECT_GE_MSG(test, gomm_find_bit_range64(0, i), 64,
				    "(0, %u)", i);
	}
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		got = gomm_find_bit_range64(cases[i].x, cases[i].n);
		if (cases[i].want == ~0U)
			KUNIT_EXPECT_GE_MSG(test, got, 64, "(%#018llx, %u)",
					    cases[i].x, cases[i].n);
		else
			KUNIT_EXPECT_EQ_MSG(test, got, cases[i].want,
					    "(%#018llx, %u)", cases[i].x,
					    cases[i].n);
	}
}

/* pallocSum packing: Go's freeChunkSum and maxPackedValue encodings. */
static void test_psum_pack(struct kunit *test)
{
	const u64 free_chunk = 512 | 512ULL << 21 | 512ULL << 42;
	gomm_psum_t s;

	KUNIT_EXPECT_EQ(test, gomm_psum_pack(P, P, P), free_chunk);
	s = gomm_psum_pack(GOMM_PSUM_MAX, GOMM_PSUM_MAX, GOMM_PSUM_MAX);
	KUNIT_EXPECT_EQ(test, s, 1ULL << 63);
	KUNIT_EXPECT_EQ(test, gomm_psum_start(s), GOMM_PSUM_MAX);
	KUNIT_EXPECT_EQ(test, gomm_psum_max(s), GOMM_PSUM_MAX);
	KUNIT_EXPECT_EQ(test, gomm_psum_end(s), GOMM_PSUM_MAX);
	s = gomm_psum_pack(GOMM_PSUM_MAX - 1, 12345, 7);
	KUNIT_EXPECT_EQ(test, gomm_psum_start(s), GOMM_PSUM_MAX - 1);
	KUNIT_EXPECT_EQ(test, gomm_psum_max(s), 12345);
	KUNIT_EXPECT_EQ(test, gomm_psum_end(s), 7);
	KUNIT_EXPECT_EQ(test, gomm_psum_pack(0, 0, 0), 0);
}

/*
 * mergeSummaries examples (derived with Go's algorithm, not Go test data),
 * and a fully free root entry, which needs the bit-63 form.
 */

#define FREE_CHUNK	{ P, P, P }
#define L1_LOG		GOMM_SUM_LEVEL_LOG_PAGES(1)
#define FREE_L1		{ 1UL << L1_LOG, 1UL << L1_LOG, 1UL << L1_LOG }

struct merge_case {
	const char *name;
	unsigned long sums[8][3];	/* unpacked start, max, end */
	unsigned int log_max_pages;
	unsigned long want[3];
};

static const struct merge_case merge_cases[] = {
	{ "AllFree",
	  { FREE_CHUNK, FREE_CHUNK, FREE_CHUNK, FREE_CHUNK, FREE_CHUNK,
	    FREE_CHUNK, FREE_CHUNK, FREE_CHUNK },
	  GOMM_CHUNK_ORDER, { 4096, 4096, 4096 } },
	{ "FirstFull",
	  { { 0, 0, 0 }, FREE_CHUNK, FREE_CHUNK, FREE_CHUNK, FREE_CHUNK,
	    FREE_CHUNK, FREE_CHUNK, FREE_CHUNK },
	  GOMM_CHUNK_ORDER, { 0, 3584, 3584 } },
	{ "TwoPartial",
	  { { 10, 20, 5 }, { 7, 30, 3 }, FREE_CHUNK, FREE_CHUNK, FREE_CHUNK,
	    FREE_CHUNK, FREE_CHUNK, FREE_CHUNK },
	  GOMM_CHUNK_ORDER, { 10, 3075, 3075 } },
	{ "EndRun",
	  { { 0, 0, 100 }, FREE_CHUNK, FREE_CHUNK, FREE_CHUNK, FREE_CHUNK,
	    FREE_CHUNK, FREE_CHUNK, FREE_CHUNK },
	  GOMM_CHUNK_ORDER, { 0, 3684, 3684 } },
	{ "RootAllFree",
	  { FREE_L1, FREE_L1, FREE_L1, FREE_L1, FREE_L1, FREE_L1, FREE_L1,
	    FREE_L1 },
	  L1_LOG, { GOMM_PSUM_MAX, GOMM_PSUM_MAX, GOMM_PSUM_MAX } },
};

KUNIT_ARRAY_PARAM_DESC(merge, merge_cases, name);

static void test_psum_merge(struct kunit *test)
{
	const struct merge_case *tc = test->param_value;
	gomm_psum_t sums[8], got;
	unsigned int k;

	for (k = 0; k < 8; k++)
		sums[k] = gomm_psum_pack(tc->sums[k][0], tc->sums[k][1],
					 tc->sums[k][2]);
	got = gomm_psum_merge(sums, 8, tc->log_max_pages);
	KUNIT_EXPECT_EQ_MSG(test, gomm_psum_start(got), tc->want[0], "%s: start",
			    tc->name);
	KUNIT_EXPECT_EQ_MSG(test, gomm_psum_max(got), tc->want[1], "%s: max",
			    tc->name);
	KUNIT_EXPECT_EQ_MSG(test, gomm_psum_end(got), tc->want[2], "%s: end",
			    tc->name);
}

/* pageAlloc tests. */

KUNIT_DEFINE_ACTION_WRAPPER(pa_destroy_action, gomm_pa_destroy,
			    struct gomm_pagealloc *);

static struct gomm_pagealloc *pa_new(struct kunit *test,
				     unsigned long nchunks, raw_spinlock_t *lock)
{
	struct gomm_pagealloc *pa;

	pa = kunit_kzalloc(test, sizeof(*pa), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pa);
	KUNIT_ASSERT_EQ_MSG(test, gomm_pa_init(pa, nchunks, lock), 0,
			    "gomm_pa_init(%lu chunks)", nchunks);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, pa_destroy_action,
							pa), 0);
	return pa;
}

/* Grow chunk @ci with storage @c and free all of it, as the heap does. */
static void pa_add_chunk(struct gomm_pagealloc *pa, unsigned long ci,
			 struct gomm_pchunk *c)
{
	gomm_pa_grow(pa, ci, c);
	gomm_pa_free(pa, PG(ci, 0), P);
}

/*
 * Bring the dirty chunk's summaries up to date (an allocator with a lock:
 * the caller did, under it), then check that every leaf summary is the
 * summary of its chunk (0 if not grown) and every other entry the merge
 * of its children.  Root entries without a grown chunk below them must be
 * 0; their subtrees are skipped.
 */
static bool check_tree(struct kunit *test, struct gomm_pagealloc *pa,
		       const char *name)
{
	const unsigned long per_root =
		1UL << ((GOMM_SUM_LEVELS - 1) * GOMM_SUM_LEVEL_BITS);
	gomm_psum_t *const *sum = pa->summary;
	unsigned long r, ci, i, n;
	gomm_psum_t want;
	bool grown;
	int l;

	if (!pa->lock)
		gomm_pa_flush(pa);
	KUNIT_EXPECT_EQ_MSG(test, pa->dirty, GOMM_PA_CLEAN, "%s: dirty", name);
	for (r = 0; r < 1UL << pa->l0bits; r++) {
		n = min((r + 1) * per_root, pa->nchunks);
		grown = false;
		for (ci = r * per_root; ci < n && !grown; ci++)
			grown = pa->chunks[ci];
		if (!grown) {
			if (sum[0][r]) {
				KUNIT_FAIL(test, "%s: root %lu has no chunk but summary %#llx",
					   name, r, sum[0][r]);
				return false;
			}
			continue;
		}
		for (ci = r * per_root; ci < (r + 1) * per_root; ci++) {
			want = 0;
			if (ci < pa->nchunks && pa->chunks[ci])
				want = gomm_pbits_summarize(pa->chunks[ci]);
			if (sum[LEAF][ci] != want) {
				KUNIT_FAIL(test, "%s: leaf %lu is %#llx, chunk summary %#llx",
					   name, ci, sum[LEAF][ci], want);
				return false;
			}
		}
		for (l = LEAF - 1; l >= 0; l--) {
			n = 1UL << (l * GOMM_SUM_LEVEL_BITS);
			for (i = r * n; i < (r + 1) * n; i++) {
				want = gomm_psum_merge(&sum[l + 1][i << GOMM_SUM_LEVEL_BITS],
						       1U << GOMM_SUM_LEVEL_BITS,
						       GOMM_SUM_LEVEL_LOG_PAGES(l + 1));
				if (sum[l][i] != want) {
					KUNIT_FAIL(test,
						   "%s: summary[%d][%lu] is %#llx, merge of children %#llx",
						   name, l, i, sum[l][i], want);
					return false;
				}
			}
		}
	}
	return true;
}

/* A chunk of a pageAlloc case: its allocated ranges before and after. */
struct pa_chunk {
	unsigned long ci;
	struct bit_range before[MAX_RANGES];
	struct bit_range after[MAX_RANGES];
};

/*
 * Go's NewPageAlloc: grow the chunks (the heap frees them), then allocate
 * the "before" ranges.
 */
static struct gomm_pagealloc *pa_setup(struct kunit *test,
				       const struct pa_chunk *chunks,
				       unsigned int nc)
{
	struct gomm_pagealloc *pa;
	struct gomm_pchunk *store;
	unsigned long nchunks = 0;
	const struct bit_range *r;
	unsigned int k;

	for (k = 0; k < nc; k++)
		nchunks = max(nchunks, chunks[k].ci + 1);
	pa = pa_new(test, nchunks, NULL);
	store = kunit_kcalloc(test, nc, sizeof(*store), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, store);
	for (k = 0; k < nc; k++) {
		pa_add_chunk(pa, chunks[k].ci, &store[k]);
		for (r = chunks[k].before; r < chunks[k].before + MAX_RANGES && r->n; r++)
			gomm_pa_alloc_range(pa, PG(chunks[k].ci, r->i), r->n);
	}
	return pa;
}

/*
 * Go's checkPageAlloc (bounds and bitmaps), plus: no free page below
 * pa->search, and a consistent summary tree.
 */
static void pa_check(struct kunit *test, const char *name,
		     struct gomm_pagealloc *pa,
		     const struct pa_chunk *chunks, unsigned int nc)
{
	unsigned long start = ULONG_MAX, end = 0, base;
	struct gomm_pchunk want;
	unsigned int k, n;

	for (k = 0; k < nc; k++) {
		start = min(start, chunks[k].ci);
		end = max(end, chunks[k].ci + 1);
		make_pchunk(&want, chunks[k].after, MAX_RANGES);
		expect_pchunk_eq(test, pa->chunks[chunks[k].ci], &want, name,
				 chunks[k].ci);
		base = PG(chunks[k].ci, 0);
		if (pa->search > base) {
			n = min_t(unsigned long, pa->search - base, P);
			KUNIT_EXPECT_EQ_MSG(test,
					    gomm_pbits_popcnt_range(pa->chunks[chunks[k].ci], 0, n),
					    n, "%s: free page below search %#lx",
					    name, pa->search);
		}
	}
	KUNIT_EXPECT_EQ_MSG(test, pa->start, start, "%s: bounds start", name);
	KUNIT_EXPECT_EQ_MSG(test, pa->end, end, "%s: bounds end", name);
	check_tree(test, pa, name);
}

/* TestPageAllocGrow: Go's inUse ranges become bounds and free runs. */

struct pa_grow_case {
	const char *name;
	unsigned int nc;
	unsigned long ci[33];
	unsigned long largest;	/* longest run of grown chunks, in pages */
};

static const struct pa_grow_case pa_grow_cases[] = {
	{ "One", 1, { 0 }, P },
	{ "Contiguous2", 2, { 0, 1 }, 2 * P },
	{ "Contiguous5", 5, { 0, 1, 2, 3, 4 }, 5 * P },
	{ "Discontiguous", 3, { 0, 2, 4 }, P },
	{ "Mixed", 4, { 0, 1, 2, 4 }, 3 * P },
	{ "WildlyDiscontiguous", 4, { 0, 1, 0x10, 0x21 }, 2 * P },
	{ "ManyDiscontiguous", 33,
	  { 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32,
	    34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62, 64 },
	  P },
	{ "ExtremelyDiscontiguous", 2, { 0, 0x100000 }, P },
	/* Not in Go: a run across two root entries (l0bits = 1). */
	{ "RootStraddle", 2, { 0xfff, 0x1000 }, 2 * P },
};

KUNIT_ARRAY_PARAM_DESC(pa_grow, pa_grow_cases, name);

static void test_pa_grow(struct kunit *test)
{
	const struct pa_grow_case *tc = test->param_value;
	struct gomm_pagealloc *pa;
	struct gomm_pchunk *store;
	unsigned long ns;
	unsigned int k;

	pa = pa_new(test, tc->ci[tc->nc - 1] + 1, NULL);
	store = kunit_kcalloc(test, tc->nc, sizeof(*store), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, store);
	for (k = tc->nc; k-- > 0;)
		gomm_pa_grow(pa, tc->ci[k], &store[k]);
	KUNIT_EXPECT_EQ_MSG(test, pa->start, tc->ci[0], "%s: start", tc->name);
	KUNIT_EXPECT_EQ_MSG(test, pa->end, tc->ci[tc->nc - 1] + 1, "%s: end",
			    tc->name);
	/* Grown chunks start in use. */
	KUNIT_EXPECT_EQ_MSG(test, gomm_pa_largest_free(pa), 0, "%s", tc->name);
	KUNIT_EXPECT_EQ_MSG(test, gomm_pa_alloc(pa, 1), FAIL, "%s", tc->name);

	for (k = 0; k < tc->nc; k++)
		gomm_pa_free(pa, PG(tc->ci[k], 0), P);
	KUNIT_EXPECT_EQ_MSG(test, pa->search, PG(tc->ci[0], 0), "%s: search",
			    tc->name);
	KUNIT_EXPECT_EQ_MSG(test, gomm_pa_largest_free(pa), tc->largest,
			    "%s: largest free run", tc->name);
	KUNIT_EXPECT_NE_MSG(test, gomm_pa_find(pa, tc->largest, &ns), FAIL,
			    "%s: find(%lu)", tc->name, tc->largest);
	KUNIT_EXPECT_EQ_MSG(test, gomm_pa_find(pa, tc->largest + 1, &ns), FAIL,
			    "%s: find(%lu)", tc->name, tc->largest + 1);
	check_tree(test, pa, tc->name);
}

/* TestPageAllocAlloc */

struct pa_hit {
	unsigned long npages, page;	/* npages == 0 ends */
};

struct pa_alloc_case {
	const char *name;
	unsigned int nc;
	struct pa_chunk chunks[MAX_CHUNKS];
	struct pa_hit hits[8];
};

static const struct pa_alloc_case pa_alloc_cases[] = {
	{ "AllFree1", 1, { { 0, {}, { { 0, 5 } } } },
	  { { 1, PG(0, 0) }, { 1, PG(0, 1) }, { 1, PG(0, 2) }, { 1, PG(0, 3) },
	    { 1, PG(0, 4) } } },
	{ "ManyArena1", 3,
	  { { 0, { ALL }, { ALL } }, { 1, { ALL }, { ALL } },
	    { 2, { { 0, P - 1 } }, { ALL } } },
	  { { 1, PG(2, P - 1) } } },
	{ "NotContiguous1", 2, { { 0, { ALL }, { ALL } }, { 0xff, {}, { { 0, 1 } } } },
	  { { 1, PG(0xff, 0) } } },
	{ "AllFree2", 1, { { 0, {}, { { 0, 10 } } } },
	  { { 2, PG(0, 0) }, { 2, PG(0, 2) }, { 2, PG(0, 4) }, { 2, PG(0, 6) },
	    { 2, PG(0, 8) } } },
	{ "Straddle2", 2,
	  { { 0, { { 0, P - 1 } }, { ALL } }, { 1, { { 1, P - 1 } }, { ALL } } },
	  { { 2, PG(0, P - 1) } } },
	{ "AllFree5", 1, { { 0, {}, { { 0, 25 } } } },
	  { { 5, PG(0, 0) }, { 5, PG(0, 5) }, { 5, PG(0, 10) },
	    { 5, PG(0, 15) }, { 5, PG(0, 20) } } },
	{ "AllFree64", 1, { { 0, {}, { { 0, 192 } } } },
	  { { 64, PG(0, 0) }, { 64, PG(0, 64) }, { 64, PG(0, 128) } } },
	{ "AllFree65", 1, { { 0, {}, { { 0, 195 } } } },
	  { { 65, PG(0, 0) }, { 65, PG(0, 65) }, { 65, PG(0, 130) } } },
	{ "ExhaustPallocChunkPages-3", 1, { { 0, {}, { ALL } } },
	  { { P - 3, PG(0, 0) }, { P - 3, FAIL }, { 1, PG(0, P - 3) },
	    { 2, PG(0, P - 2) }, { 1, FAIL }, { P - 3, FAIL } } },
	{ "AllFreePallocChunkPages", 1, { { 0, {}, { ALL } } },
	  { { P, PG(0, 0) }, { P, FAIL }, { 1, FAIL } } },
	{ "StraddlePallocChunkPages", 2,
	  { { 0, { { 0, P / 2 } }, { ALL } }, { 1, { { P / 2, P / 2 } }, { ALL } } },
	  { { P, PG(0, P / 2) }, { P, FAIL }, { 1, FAIL } } },
	{ "StraddlePallocChunkPages+1", 2,
	  { { 0, { { 0, P / 2 } }, { ALL } }, { 1, {}, { { 0, P / 2 + 2 } } } },
	  { { P + 1, PG(0, P / 2) }, { P, FAIL }, { 1, PG(1, P / 2 + 1) } } },
	{ "AllFreePallocChunkPages*2", 2,
	  { { 0, {}, { ALL } }, { 1, {}, { ALL } } },
	  { { 2 * P, PG(0, 0) }, { 2 * P, FAIL }, { 1, FAIL } } },
	{ "NotContiguousPallocChunkPages*2", 3,
	  { { 0, {}, { { 0, 22 } } }, { 0x40, {}, { ALL } },
	    { 0x41, {}, { ALL } } },
	  { { 2 * P, PG(0x40, 0) }, { 21, PG(0, 0) }, { 1, PG(0, 21) } } },
	{ "StraddlePallocChunkPages*2", 3,
	  { { 0, { { 0, P / 2 } }, { ALL } }, { 1, {}, { ALL } },
	    { 2, { { P / 2, P / 2 } }, { ALL } } },
	  { { 2 * P, PG(0, P / 2) }, { 2 * P, FAIL }, { 1, FAIL } } },
	{ "StraddlePallocChunkPages*5/4", 4,
	  { { 0, { ALL }, { ALL } },
	    { 1, { { 0, P * 3 / 4 } }, { { 0, P * 3 / 4 + 1 } } },
	    { 2, { { 0, P * 3 / 4 } }, { ALL } }, { 3, {}, { ALL } } },
	  { { P * 5 / 4, PG(2, P * 3 / 4) }, { P * 5 / 4, FAIL },
	    { 1, PG(1, P * 3 / 4) } } },
	{ "AllFreePallocChunkPages*7+5", 8,
	  { { 0, {}, { ALL } }, { 1, {}, { ALL } }, { 2, {}, { ALL } },
	    { 3, {}, { ALL } }, { 4, {}, { ALL } }, { 5, {}, { ALL } },
	    { 6, {}, { ALL } }, { 7, {}, { { 0, 6 } } } },
	  { { P * 7 + 5, PG(0, 0) }, { P * 7 + 5, FAIL }, { 1, PG(7, 5) } } },
	/* 64-bit only in Go: chunks in different root entries. */
	{ "DiscontiguousMappedSumBoundary", 2,
	  { { 511, {}, { ALL } }, { 0x100000, {}, { ALL } } },
	  { { P - 1, PG(511, 0) }, { 1, PG(511, P - 1) },
	    { 1, PG(0x100000, 0) }, { P - 1, PG(0x100000, 1) }, { 1, FAIL } } },
	/* Go issue #40191: find's new search page lies in no grown chunk. */
	{ "DiscontiguousBadSearchAddr", 3,
	  { { 0, { { 0, P - 1 } }, { ALL } },
	    { 0x100503, { { 0, P - 10 }, { P - 1, 1 } }, { ALL } },
	    { 0x200000, {}, { { 0, 100 } } } },
	  { { 1, PG(0, P - 1) }, { 100, PG(0x200000, 0) },
	    { 9, PG(0x100503, P - 10) } } },
	/* Not in Go: a run across two root entries (l0bits = 1). */
	{ "RootStraddle", 2, { { 0xfff, {}, { ALL } }, { 0x1000, {}, { ALL } } },
	  { { 2 * P, PG(0xfff, 0) }, { 1, FAIL } } },
};

KUNIT_ARRAY_PARAM_DESC(pa_alloc, pa_alloc_cases, name);

static void test_pa_alloc(struct kunit *test)
{
	const struct pa_alloc_case *tc = test->param_value;
	const struct pa_hit *h;
	struct gomm_pagealloc *pa;

	pa = pa_setup(test, tc->chunks, tc->nc);
	for (h = tc->hits; h < tc->hits + ARRAY_SIZE(tc->hits) && h->npages; h++)
		KUNIT_ASSERT_EQ_MSG(test, gomm_pa_alloc(pa, h->npages), h->page,
				    "%s: alloc #%td (%lu pages)", tc->name,
				    h - tc->hits + 1, h->npages);
	pa_check(test, tc->name, pa, tc->chunks, tc->nc);
}

/* TestPageAllocFree */

struct pa_free_case {
	const char *name;
	unsigned int nc;
	struct pa_chunk chunks[MAX_CHUNKS];
	unsigned long npages;
	unsigned int nfrees;
	unsigned long frees[5];
};

static const struct pa_free_case pa_free_cases[] = {
	{ "Free1", 1, { { 0, { ALL }, { { 5, P - 5 } } } }, 1, 5,
	  { PG(0, 0), PG(0, 1), PG(0, 2), PG(0, 3), PG(0, 4) } },
	{ "ManyArena1", 3,
	  { { 0, { ALL }, { { 0, P / 2 }, { P / 2 + 1, P / 2 - 1 } } },
	    { 1, { ALL }, { { 1, P - 1 } } }, { 2, { ALL }, { { 0, P - 1 } } } },
	  1, 3, { PG(0, P / 2), PG(1, 0), PG(2, P - 1) } },
	{ "Free2", 1, { { 0, { ALL }, { { 10, P - 10 } } } }, 2, 5,
	  { PG(0, 0), PG(0, 2), PG(0, 4), PG(0, 6), PG(0, 8) } },
	{ "Straddle2", 2,
	  { { 0, { { P - 1, 1 } }, {} }, { 1, { { 0, 1 } }, {} } }, 2, 1,
	  { PG(0, P - 1) } },
	{ "Free5", 1, { { 0, { ALL }, { { 25, P - 25 } } } }, 5, 5,
	  { PG(0, 0), PG(0, 5), PG(0, 10), PG(0, 15), PG(0, 20) } },
	{ "Free64", 1, { { 0, { ALL }, { { 192, P - 192 } } } }, 64, 3,
	  { PG(0, 0), PG(0, 64), PG(0, 128) } },
	{ "Free65", 1, { { 0, { ALL }, { { 195, P - 195 } } } }, 65, 3,
	  { PG(0, 0), PG(0, 65), PG(0, 130) } },
	{ "FreePallocChunkPages", 1, { { 0, { ALL }, {} } }, P, 1,
	  { PG(0, 0) } },
	{ "StraddlePallocChunkPages", 2,
	  { { 0, { { P / 2, P / 2 } }, {} }, { 1, { { 0, P / 2 } }, {} } },
	  P, 1, { PG(0, P / 2) } },
	{ "StraddlePallocChunkPages+1", 2,
	  { { 0, { ALL }, { { 0, P / 2 } } },
	    { 1, { ALL }, { { P / 2 + 1, P / 2 - 1 } } } },
	  P + 1, 1, { PG(0, P / 2) } },
	{ "FreePallocChunkPages*2", 2,
	  { { 0, { ALL }, {} }, { 1, { ALL }, {} } }, 2 * P, 1, { PG(0, 0) } },
	{ "StraddlePallocChunkPages*2", 3,
	  { { 0, { ALL }, { { 0, P / 2 } } }, { 1, { ALL }, {} },
	    { 2, { ALL }, { { P / 2, P / 2 } } } },
	  2 * P, 1, { PG(0, P / 2) } },
	{ "AllFreePallocChunkPages*7+5", 8,
	  { { 0, { ALL }, {} }, { 1, { ALL }, {} }, { 2, { ALL }, {} },
	    { 3, { ALL }, {} }, { 4, { ALL }, {} }, { 5, { ALL }, {} },
	    { 6, { ALL }, {} }, { 7, { ALL }, { { 5, P - 5 } } } },
	  P * 7 + 5, 1, { PG(0, 0) } },
};

KUNIT_ARRAY_PARAM_DESC(pa_free, pa_free_cases, name);

static void test_pa_free(struct kunit *test)
{
	const struct pa_free_case *tc = test->param_value;
	struct gomm_pagealloc *pa;
	unsigned int k;

	pa = pa_setup(test, tc->chunks, tc->nc);
	for (k = 0; k < tc->nfrees; k++)
		gomm_pa_free(pa, tc->frees[k], tc->npages);
	pa_check(test, tc->name, pa, tc->chunks, tc->nc);
}

/* TestPageAllocExhaust: allocate 4 free chunks in npages pieces. */

static const unsigned long exhaust_npages[] = {
	1, 2, 3, 4, 5, 8, 16, 64, 1024, 1025, 2048, 2049,
};

static void exhaust_desc(const unsigned long *npages, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%lu", *npages);
}

KUNIT_ARRAY_PARAM(exhaust, exhaust_npages, exhaust_desc);

static void test_pa_exhaust(struct kunit *test)
{
	const unsigned long npages = *(const unsigned long *)test->param_value;
	const unsigned long nalloc = 4 * P / npages;
	struct pa_chunk chunks[4] = {
		{ .ci = 0 }, { .ci = 1 }, { .ci = 2 }, { .ci = 3 },
	};
	unsigned long i, left = nalloc * npages;
	struct gomm_pagealloc *pa;
	char name[32];

	snprintf(name, sizeof(name), "Exhaust/%lu", npages);
	pa = pa_setup(test, chunks, 4);
	for (i = 0; i < nalloc; i++)
		KUNIT_ASSERT_EQ_MSG(test, gomm_pa_alloc(pa, npages), i * npages,
				    "%s: alloc #%lu", name, i + 1);
	KUNIT_ASSERT_EQ_MSG(test, gomm_pa_alloc(pa, npages), FAIL,
			    "%s: alloc #%lu", name, nalloc + 1);

	for (i = 0; i < 4; i++) {
		chunks[i].after[0].n = min_t(unsigned long, left, P);
		left -= chunks[i].after[0].n;
	}
	pa_check(test, name, pa, chunks, 4);
}

/* TestPageAllocAllocAndFree/Chunks8 */
static void test_pa_alloc_and_free(struct kunit *test)
{
	static const struct {
		bool alloc;
		unsigned long npages, page;
	} hits[] = {
		{ true, 8 * P, PG(0, 0) }, { false, 8 * P, PG(0, 0) },
		{ true, 8 * P, PG(0, 0) }, { false, 8 * P, PG(0, 0) },
		{ true, 8 * P, PG(0, 0) }, { false, 8 * P, PG(0, 0) },
		{ true, 1, PG(0, 0) }, { false, 1, PG(0, 0) },
		{ true, 8 * P, PG(0, 0) },
	};
	const struct pa_chunk chunks[8] = {
		{ 0, {}, { ALL } }, { 1, {}, { ALL } }, { 2, {}, { ALL } },
		{ 3, {}, { ALL } }, { 4, {}, { ALL } }, { 5, {}, { ALL } },
		{ 6, {}, { ALL } }, { 7, {}, { ALL } },
	};
	struct gomm_pagealloc *pa;
	unsigned int k;

	pa = pa_setup(test, chunks, 8);
	for (k = 0; k < ARRAY_SIZE(hits); k++) {
		if (hits[k].alloc)
			KUNIT_ASSERT_EQ_MSG(test, gomm_pa_alloc(pa, hits[k].npages),
					    hits[k].page, "Chunks8: alloc #%u",
					    k + 1);
		else
			gomm_pa_free(pa, hits[k].page, hits[k].npages);
	}
	pa_check(test, "Chunks8", pa, chunks, 8);
}

KUNIT_DEFINE_ACTION_WRAPPER(kvfree_action, kvfree, const void *);

/*
 * Not in Go: a free run longer than a root entry, whose summary needs the
 * bit-63 form, across three root entries (chunks 4095 to 8192).
 */
static void test_pa_huge_run(struct kunit *test)
{
	const unsigned long per_root = GOMM_PSUM_MAX / P;
	const unsigned long first = per_root - 1, nc = per_root + 2;
	const unsigned long npages = nc * P;
	struct gomm_pagealloc *pa;
	struct gomm_pchunk *store;
	unsigned long k, ns;

	pa = pa_new(test, first + nc, NULL);
	store = kvcalloc(nc, sizeof(*store), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, store);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kvfree_action,
							store), 0);
	for (k = 0; k < nc; k++)
		pa_add_chunk(pa, first + k, &store[k]);
	gomm_pa_flush(pa);
	KUNIT_EXPECT_EQ(test, pa->summary[0][1], 1ULL << 63);
	KUNIT_EXPECT_EQ(test, gomm_pa_largest_free(pa), npages);
	KUNIT_EXPECT_EQ(test, gomm_pa_find(pa, npages + 1, &ns), FAIL);
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, npages), PG(first, 0));
	KUNIT_EXPECT_EQ(test, gomm_pa_largest_free(pa), 0);
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 1), FAIL);
	check_tree(test, pa, "HugeRun");

	gomm_pa_free(pa, PG(first, 0), npages);
	KUNIT_EXPECT_EQ(test, gomm_pa_largest_free(pa), npages);
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, P + 1), PG(first, 0));
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, npages - 2 * P), PG(first + 1, 1));
	KUNIT_EXPECT_EQ(test, gomm_pa_largest_free(pa), P - 1);
	check_tree(test, pa, "HugeRun");
}

/*
 * The floor: multi-page allocations past low chunks that each have one
 * free page (the bench's largeheap rows) start from the last one's run,
 * without a walk of the tree, and frees move the floor down to the start
 * of the run they join, in their chunk or from the chunk below, so first
 * fit holds.
 */
static void test_pa_floor(struct kunit *test)
{
	struct gomm_pchunk *store;
	struct gomm_pagealloc *pa;
	gomm_psum_t lag;
	unsigned long k;

	pa = pa_new(test, 8, NULL);
	store = kunit_kcalloc(test, 8, sizeof(*store), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, store);
	for (k = 0; k < 6; k += 2) {
		pa_add_chunk(pa, k, &store[k]);
		gomm_pa_alloc_range(pa, PG(k, 0), P - 1);
	}
	pa_add_chunk(pa, 5, &store[5]);

	/* the lowest run of 8: the top page of chunk 4 and 7 of chunk 5 */
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 8), PG(4, P - 1));
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 8), PG(5, 7));
	KUNIT_EXPECT_LT(test, pa->search, PG(4, 0));
	KUNIT_EXPECT_EQ(test, pa->floor, PG(5, 7));
	KUNIT_EXPECT_EQ(test, pa->dirty, 5);
	/* from the floor: chunk 5's bitmap, no search (its leaf still lags) */
	lag = pa->summary[LEAF][5];
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 8), PG(5, 15));
	KUNIT_EXPECT_EQ(test, pa->summary[LEAF][5], lag);
	KUNIT_EXPECT_NE(test, lag, gomm_pbits_summarize(&store[5]));
	gomm_pa_free(pa, PG(5, 15), 8);
	/* a pair from the floor */
	gomm_pa_free(pa, PG(5, 7), 8);
	KUNIT_EXPECT_EQ(test, pa->floor, PG(5, 7));
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 8), PG(5, 7));
	KUNIT_EXPECT_EQ(test, pa->dirty, 5);
	/* a fit in the chunk of pa->search leaves the floor as it is */
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 1), PG(0, P - 1));
	KUNIT_EXPECT_EQ(test, pa->floor, PG(5, 7));
	KUNIT_EXPECT_EQ(test, pa->floor_npages, 8);
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 8), PG(5, 15));
	KUNIT_EXPECT_EQ(test, pa->floor, PG(5, 15));

	/* a free below the floor lowers it to its page */
	gomm_pa_free(pa, PG(5, 7), 8);
	KUNIT_EXPECT_EQ(test, pa->floor, PG(5, 7));
	/* one that extends a free run from the chunk below, to its start */
	gomm_pa_free(pa, PG(4, P - 1), 1);
	gomm_pa_alloc_range(pa, PG(5, 7), 8);
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 8), PG(5, 23));
	gomm_pa_free(pa, PG(5, 0), 7);
	KUNIT_EXPECT_EQ(test, pa->floor, PG(4, P - 1));
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 8), PG(4, P - 1));

	/* no fit: later requests that size fail without a search */
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 2 * P), FAIL);
	KUNIT_EXPECT_EQ(test, pa->floor, PG(8, 0));
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 2 * P), FAIL);
	/* until chunks are grown: a run that covers a whole chunk below */
	pa_add_chunk(pa, 6, &store[6]);
	pa_add_chunk(pa, 7, &store[7]);
	KUNIT_EXPECT_EQ(test, pa->floor, pa->search);
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 2 * P), PG(5, 31));
	check_tree(test, pa, "Floor");
}

/*
 * The dirty chunk: allocations and frees within one chunk change only its
 * bitmap, and its summaries catch up when another chunk changes or the
 * tree is read.
 */
static void test_pa_dirty(struct kunit *test)
{
	const gomm_psum_t free_sum = gomm_psum_pack(P, P, P);
	struct gomm_pchunk *store;
	struct gomm_pagealloc *pa;
	gomm_psum_t *leaf;

	pa = pa_new(test, 2, NULL);
	leaf = pa->summary[LEAF];
	store = kunit_kcalloc(test, 2, sizeof(*store), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, store);
	pa_add_chunk(pa, 0, &store[0]);
	KUNIT_EXPECT_EQ(test, pa->dirty, 0);
	KUNIT_EXPECT_EQ(test, leaf[0], 0);		/* lags: all free */
	pa_add_chunk(pa, 1, &store[1]);
	KUNIT_EXPECT_EQ(test, pa->dirty, 1);
	KUNIT_EXPECT_EQ(test, leaf[0], free_sum);
	KUNIT_EXPECT_EQ(test, leaf[1], 0);

	/* allocations in the dirty chunk come from its bitmap */
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 3), PG(0, 0));
	KUNIT_EXPECT_EQ(test, pa->dirty, 0);
	KUNIT_EXPECT_EQ(test, leaf[1], free_sum);
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 5), PG(0, 3));
	KUNIT_EXPECT_EQ(test, leaf[0], free_sum);	/* lags: 8 in use */

	/* a miss there reads the tree, which brings the leaf up to date */
	gomm_pa_alloc_range(pa, PG(0, 8), P - 8);
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 1), PG(1, 0));
	KUNIT_EXPECT_EQ(test, leaf[0], 0);
	KUNIT_EXPECT_EQ(test, pa->dirty, 1);
	KUNIT_EXPECT_EQ(test, leaf[1], free_sum);	/* lags: 1 in use */

	/* and free pages the dirty leaf does not show yet are found too */
	gomm_pa_free(pa, PG(0, 10), 4);
	KUNIT_EXPECT_EQ(test, pa->dirty, 0);
	KUNIT_EXPECT_EQ(test, leaf[1], gomm_psum_pack(0, P - 1, P - 1));
	KUNIT_EXPECT_EQ(test, leaf[0], 0);
	KUNIT_EXPECT_EQ(test, gomm_pa_alloc(pa, 4), PG(0, 10));
	KUNIT_EXPECT_EQ(test, leaf[0], 0);	/* no search of the tree ran */

	KUNIT_EXPECT_EQ(test, gomm_pa_largest_free(pa), P - 1);
	KUNIT_EXPECT_EQ(test, pa->dirty, GOMM_PA_CLEAN);
	check_tree(test, pa, "Dirty");
}

/*
 * Randomized differential test against a linear first-fit model.  Chunks
 * 0-7 with a gap: chunk 6 is never grown, chunk 2 only half way through.
 * The heap does not own pages [0, 16) of chunk 0 nor [400, 512) of chunk 7,
 * so they stay in use.
 */

#define RT_CHUNKS	8
#define RT_PAGES	(RT_CHUNKS * P)
#define RT_STEPS	3000
#define RT_MAX_LIVE	256
#define RT_CHECK_EVERY	50

struct rt {
	struct kunit *test;
	struct gomm_pagealloc *pa;
	raw_spinlock_t lock;		/* held around gomm_pa_*() calls */
	struct rnd_state rnd;
	u64 seed;
	unsigned int step;
	char where[48];			/* "seed S step N" */
	struct gomm_pchunk chunks[RT_CHUNKS];
	DECLARE_BITMAP(model, RT_PAGES);	/* 1 = in use or not grown */
	struct {
		unsigned long page, npages;
	} live[RT_MAX_LIVE];
	unsigned int nlive;
	struct gomm_pcache cache;	/* a page cache, held or empty */
};

static u32 rt_rand(struct rt *rt, u32 n)
{
	return prandom_u32_state(&rt->rnd) % n;
}

/* Mostly small requests, but some above one chunk, up to three chunks. */
static unsigned long rt_npages(struct rt *rt)
{
	u32 r = rt_rand(rt, 100);

	if (r < 50)
		return 1 + rt_rand(rt, 4);
	if (r < 75)
		return 5 + rt_rand(rt, 60);
	if (r < 93)
		return 65 + rt_rand(rt, P - 64);
	return P + 1 + rt_rand(rt, 2 * P);
}

static void rt_add_chunk(struct rt *rt, unsigned long ci, unsigned int i,
			 unsigned int n)
{
	raw_spin_lock(&rt->lock);
	gomm_pa_grow(rt->pa, ci, &rt->chunks[ci]);
	gomm_pa_free(rt->pa, PG(ci, i), n);
	raw_spin_unlock(&rt->lock);
	bitmap_clear(rt->model, PG(ci, i), n);
}

static void rt_alloc(struct rt *rt)
{
	unsigned long npages = rt_npages(rt), want, got, found = 0, ns = 0;
	bool find;

	want = model_first_fit(rt->model, 0, RT_PAGES, npages);
	/* half the time no find first: it would bring the tree up to date */
	find = rt_rand(rt, 2);
	raw_spin_lock(&rt->lock);
	if (find)
		found = gomm_pa_find(rt->pa, npages, &ns);
	got = gomm_pa_alloc(rt->pa, npages);
	raw_spin_unlock(&rt->lock);
	if (find)
		KUNIT_ASSERT_EQ_MSG(rt->test, found, want, "%s: find(%lu)",
				    rt->where, npages);
	KUNIT_ASSERT_EQ_MSG(rt->test, got, want, "%s: alloc(%lu)", rt->where,
			    npages);
	if (got == FAIL)
		return;
	/* find's new search page: no free page below it. */
	if (find)
		KUNIT_ASSERT_LE_MSG(rt->test, ns,
				    find_first_zero_bit(rt->model, RT_PAGES),
				    "%s: find(%lu) new search", rt->where, npages);
	bitmap_set(rt->model, got, npages);
	rt->live[rt->nlive].page = got;
	rt->live[rt->nlive++].npages = npages;
}

/* Allocate part of a free run at a random page, as the heap's owner may. */
static void rt_alloc_range(struct rt *rt)
{
	unsigned long page = rt_rand(rt, RT_PAGES), npages;

	if (test_bit(page, rt->model))
		return;
	npages = find_next_bit(rt->model, RT_PAGES, page) - page;
	npages = 1 + rt_rand(rt, min(npages, 2UL * P));
	raw_spin_lock(&rt->lock);
	gomm_pa_alloc_range(rt->pa, page, npages);
	raw_spin_unlock(&rt->lock);
	bitmap_set(rt->model, page, npages);
	rt->live[rt->nlive].page = page;
	rt->live[rt->nlive++].npages = npages;
}

/*
 * Fill the page cache from the allocator (the block of the lowest free
 * page, its free pages taken) or give it back, as a CPU's cache does.
 */
static void rt_cache(struct rt *rt)
{
	unsigned long first = find_first_zero_bit(rt->model, RT_PAGES), i;
	struct gomm_pcache *c = &rt->cache;

	raw_spin_lock(&rt->lock);
	if (c->held) {
		for (i = 0; i < GOMM_PCACHE_PAGES; i++)
			if (c->cache & BIT_ULL(i))
				__clear_bit(c->base + i, rt->model);
		gomm_pa_free_cache(rt->pa, c);
		raw_spin_unlock(&rt->lock);
		return;
	}
	*c = gomm_pa_alloc_to_cache(rt->pa);
	raw_spin_unlock(&rt->lock);
	if (first >= RT_PAGES) {
		KUNIT_ASSERT_EQ_MSG(rt->test, c->cache, 0, "%s: cache", rt->where);
		return;
	}
	KUNIT_ASSERT_EQ_MSG(rt->test, c->base, ALIGN_DOWN(first, GOMM_PCACHE_PAGES),
			    "%s: cache block", rt->where);
	for (i = 0; i < GOMM_PCACHE_PAGES; i++) {
		KUNIT_ASSERT_EQ_MSG(rt->test, !!(c->cache & BIT_ULL(i)),
				    !test_bit(c->base + i, rt->model),
				    "%s: cache page %lu", rt->where, i);
		__set_bit(c->base + i, rt->model);
	}
}

/* Free a live run, or its head or tail. */
static void rt_free(struct rt *rt)
{
	unsigned int k = rt_rand(rt, rt->nlive), how = rt_rand(rt, 4);
	unsigned long page = rt->live[k].page, npages = rt->live[k].npages;

	if (how < 2 && npages > 1) {
		npages = 1 + rt_rand(rt, npages - 1);
		if (how == 0)
			rt->live[k].page += npages;		/* head */
		else
			page += rt->live[k].npages - npages;	/* tail */
		rt->live[k].npages -= npages;
	} else {
		rt->live[k] = rt->live[--rt->nlive];
	}
	raw_spin_lock(&rt->lock);
	gomm_pa_free(rt->pa, page, npages);
	raw_spin_unlock(&rt->lock);
	bitmap_clear(rt->model, page, npages);
}

/*
 * After every step: every leaf but the dirty chunk's is up to date, and
 * Go's searchAddr invariant.  (Nothing here brings the tree up to date:
 * the next steps run with the dirty chunk as it is.)
 */
static void rt_check(struct rt *rt)
{
	struct gomm_pagealloc *pa = rt->pa;
	gomm_psum_t want;
	unsigned long ci;

	for (ci = 0; ci < RT_CHUNKS; ci++) {
		if (ci == pa->dirty)
			continue;
		want = pa->chunks[ci] ? gomm_pbits_summarize(pa->chunks[ci]) : 0;
		KUNIT_ASSERT_EQ_MSG(rt->test, pa->summary[LEAF][ci], want,
				    "%s: leaf %lu", rt->where, ci);
	}
	KUNIT_ASSERT_LE_MSG(rt->test, pa->search,
			    find_first_zero_bit(rt->model, RT_PAGES),
			    "%s: free page below search", rt->where);
	if (pa->floor_npages)
		KUNIT_ASSERT_GE_MSG(rt->test,
				    model_first_fit(rt->model, 0, RT_PAGES,
						    pa->floor_npages),
				    pa->floor, "%s: run of %lu below floor",
				    rt->where, pa->floor_npages);
}

/* Now and then: every bitmap against the model, largest run, whole tree. */
static void rt_check_all(struct rt *rt)
{
	struct gomm_pagealloc *pa = rt->pa;
	unsigned long page, ci, largest;
	bool used;

	raw_spin_lock(&rt->lock);
	largest = gomm_pa_largest_free(pa);	/* brings the tree up to date */
	raw_spin_unlock(&rt->lock);
	KUNIT_ASSERT_EQ_MSG(rt->test, largest,
			    model_largest_free(rt->model, RT_PAGES),
			    "%s: largest free run", rt->where);

	for (page = 0; page < RT_PAGES; page++) {
		ci = page / P;
		used = !pa->chunks[ci] ||
		       (pa->chunks[ci]->bits[page % P / 64] >> (page % 64)) & 1;
		KUNIT_ASSERT_EQ_MSG(rt->test, used, test_bit(page, rt->model),
				    "%s: page %lu", rt->where, page);
	}
	KUNIT_ASSERT_TRUE(rt->test, check_tree(rt->test, pa, rt->where));
}

static const u64 rt_seeds[] = { 0x676f6d6d, 1, 0x5eed2024 };

static void rt_desc(const u64 *seed, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "seed %#llx", *seed);
}

KUNIT_ARRAY_PARAM(rt, rt_seeds, rt_desc);

static void test_pa_random(struct kunit *test)
{
	unsigned int alloc_pct;
	struct rt *rt;
	u32 r;

	rt = kunit_kzalloc(test, sizeof(*rt), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, rt);
	rt->test = test;
	rt->seed = *(const u64 *)test->param_value;
	kunit_info(test, "seed %#llx, %u steps\n", rt->seed, RT_STEPS);
	prandom_seed_state(&rt->rnd, rt->seed);
	raw_spin_lock_init(&rt->lock);
	rt->pa = pa_new(test, RT_CHUNKS, &rt->lock);
	bitmap_fill(rt->model, RT_PAGES);

	rt_add_chunk(rt, 0, 16, P - 16);
	rt_add_chunk(rt, 1, 0, P);
	rt_add_chunk(rt, 3, 0, P);
	rt_add_chunk(rt, 4, 0, P);
	rt_add_chunk(rt, 5, 0, P);
	rt_add_chunk(rt, 7, 0, 400);

	for (rt->step = 0; rt->step < RT_STEPS; rt->step++) {
		snprintf(rt->where, sizeof(rt->where), "seed %#llx step %u",
			 rt->seed, rt->step);
		if (rt->step == RT_STEPS / 2)
			rt_add_chunk(rt, 2, 0, P);
		/* Alternate filling and draining phases. */
		alloc_pct = rt->step / 500 % 2 ? 35 : 65;
		r = rt_rand(rt, 100);
		if (!rt->nlive || (r < alloc_pct && rt->nlive < RT_MAX_LIVE))
			rt_alloc(rt);
		else if (r < alloc_pct + 5 && rt->nlive < RT_MAX_LIVE)
			rt_alloc_range(rt);
		else if (r < alloc_pct + 7)
			rt_cache(rt);
		else
			rt_free(rt);
		rt_check(rt);
		if (rt->step % RT_CHECK_EVERY == 0)
			rt_check_all(rt);
	}
	snprintf(rt->where, sizeof(rt->where), "seed %#llx end", rt->seed);
	while (rt->nlive)
		rt_free(rt);
	if (rt->cache.held)
		rt_cache(rt);
	rt_check_all(rt);
}

/* TestPageCacheAlloc (mpagecache_test.go), without Go's scavenged mask. */

struct pcache_hit {
	unsigned long npages, off;	/* npages == 0 ends; off FAIL: none */
};

struct pcache_case {
	const char *name;
	u64 cache;
	struct pcache_hit hits[24];
};

static const struct pcache_case pcache_cases[] = {
	{ "Empty", 0, { { 1, FAIL }, { 2, FAIL }, { 3, FAIL }, { 4, FAIL },
			{ 5, FAIL }, { 11, FAIL }, { 12, FAIL }, { 16, FAIL },
			{ 27, FAIL }, { 32, FAIL }, { 43, FAIL }, { 57, FAIL },
			{ 64, FAIL } } },
	{ "Lo1", 0x1, { { 1, 0 }, { 1, FAIL }, { 10, FAIL } } },
	{ "Hi1", 1ULL << 63, { { 1, 63 }, { 1, FAIL }, { 10, FAIL } } },
	{ "Swiss1", 0x20005555,
	  { { 2, FAIL }, { 1, 0 }, { 1, 2 }, { 1, 4 }, { 1, 6 }, { 1, 8 },
	    { 1, 10 }, { 1, 12 }, { 1, 14 }, { 1, 29 }, { 1, FAIL },
	    { 10, FAIL } } },
	{ "Lo2", 0x3, { { 2, 0 }, { 2, FAIL }, { 1, FAIL } } },
	{ "Hi2", 0x3ULL << 62, { { 2, 62 }, { 2, FAIL }, { 1, FAIL } } },
	{ "Swiss2", 0x3333ULL << 31,
	  { { 2, 31 }, { 2, 35 }, { 2, 39 }, { 2, 43 }, { 2, FAIL } } },
	{ "Hi53", ((1ULL << 53) - 1) << 10, { { 53, 10 }, { 53, FAIL }, { 1, FAIL } } },
	{ "Full53", ONES, { { 53, 0 }, { 53, FAIL }, { 1, 53 } } },
	{ "Full64", ONES, { { 64, 0 }, { 64, FAIL }, { 1, FAIL } } },
	{ "FullMixed", ONES,
	  { { 5, 0 }, { 7, 5 }, { 1, 12 }, { 23, 13 }, { 63, FAIL }, { 3, 36 },
	    { 3, 39 }, { 3, 42 }, { 12, 45 }, { 11, FAIL }, { 4, 57 },
	    { 4, FAIL }, { 6, FAIL }, { 36, FAIL }, { 2, 61 }, { 3, FAIL },
	    { 1, 63 }, { 4, FAIL }, { 2, FAIL }, { 62, FAIL }, { 1, FAIL } } },
};

KUNIT_ARRAY_PARAM_DESC(pcache, pcache_cases, name);

static void test_pcache_alloc(struct kunit *test)
{
	const struct pcache_case *tc = test->param_value;
	const unsigned long base = PG(0, 0);
	struct gomm_pcache c = { base, tc->cache };
	const struct pcache_hit *h;

	for (h = tc->hits; h < tc->hits + ARRAY_SIZE(tc->hits) && h->npages; h++)
		KUNIT_EXPECT_EQ_MSG(test, gomm_pcache_alloc(&c, h->npages),
				    h->off == FAIL ? FAIL : base + h->off,
				    "%s: alloc #%td (%lu pages)", tc->name,
				    h - tc->hits + 1, h->npages);
}

/*
 * TestPageAllocAllocToCache, without Go's scavenged bits (a scavenged gomm
 * page is in use in the allocator); each filled cache is then given back
 * with gomm_pa_free_cache() and filled again, which must give the same.
 */

struct pcache_fill {
	unsigned long base;	/* ~0UL ends */
	u64 cache;		/* 0: an empty cache (base is not checked) */
};

struct pa_cache_case {
	const char *name;
	unsigned int nc;
	struct pa_chunk chunks[3];
	struct pcache_fill fills[5];
};

static const struct pa_cache_case pa_cache_cases[] = {
	{ "ManyArena", 3,
	  { { 0, { ALL }, { ALL } }, { 1, { ALL }, { ALL } },
	    { 2, { { 0, 448 } }, { ALL } } },
	  { { PG(2, 448), ONES }, { ~0UL } } },
	{ "Fail", 1, { { 0, { ALL }, { ALL } } },
	  { { 0, 0 }, { 0, 0 }, { 0, 0 }, { ~0UL } } },
	{ "RetainScavBits", 1, { { 0, { { 0, 1 }, { 10, 2 } }, { { 0, 64 } } } },
	  { { PG(0, 0), 0xfffffffffffff3feULL }, { ~0UL } } },
	{ "AllFree", 1, { { 0, {}, { { 0, 256 } } } },
	  { { PG(0, 0), ONES }, { PG(0, 64), ONES }, { PG(0, 128), ONES },
	    { PG(0, 192), ONES }, { ~0UL } } },
	{ "NotContiguous", 2, { { 0, { ALL }, { ALL } }, { 0xff, {}, { { 0, 64 } } } },
	  { { PG(0xff, 0), ONES }, { ~0UL } } },
	{ "First", 1,
	  { { 0, { { 0, 32 }, { 33, 31 }, { 96, 32 } }, { { 0, 128 } } } },
	  { { PG(0, 0), 1ULL << 32 }, { PG(0, 64), (1ULL << 32) - 1 }, { ~0UL } } },
	{ "DiscontiguousMappedSumBoundary", 2,
	  { { 511, { { 0, 511 } }, { ALL } }, { 0x100000, { { 1, 511 } }, { ALL } } },
	  { { PG(511, 448), 1ULL << 63 }, { PG(0x100000, 0), 1 }, { 0, 0 },
	    { ~0UL } } },
};

KUNIT_ARRAY_PARAM_DESC(pa_cache, pa_cache_cases, name);

static void test_pa_alloc_to_cache(struct kunit *test)
{
	const struct pa_cache_case *tc = test->param_value;
	const struct pcache_fill *f;
	struct gomm_pagealloc *pa;
	struct gomm_pcache c;
	int round;

	pa = pa_setup(test, tc->chunks, tc->nc);
	for (f = tc->fills; f < tc->fills + ARRAY_SIZE(tc->fills) && f->base != ~0UL; f++) {
		for (round = 0; round < 2; round++) {
			c = gomm_pa_alloc_to_cache(pa);
			KUNIT_EXPECT_EQ_MSG(test, c.cache, f->cache, "%s: fill #%td, round %d",
					    tc->name, f - tc->fills + 1, round);
			if (f->cache)
				KUNIT_EXPECT_EQ_MSG(test, c.base, f->base,
						    "%s: fill #%td, round %d: base",
						    tc->name, f - tc->fills + 1, round);
			if (!round)
				gomm_pa_free_cache(pa, &c);
		}
	}
	pa_check(test, tc->name, pa, tc->chunks, tc->nc);
}

static struct kunit_case gomm_pagealloc_test_cases[] = {
	KUNIT_CASE_PARAM(test_pbits_alloc_range, alloc_range_gen_params),
	KUNIT_CASE_PARAM(test_pbits_popcnt_range, popcnt_gen_params),
	KUNIT_CASE_PARAM(test_pbits_summarize, summarize_gen_params),
	KUNIT_CASE(test_pbits_summarize_random),
	KUNIT_CASE_PARAM(test_pbits_find, pbits_alloc_gen_params),
	KUNIT_CASE(test_pbits_find_random),
	KUNIT_CASE_PARAM(test_pbits_free, pbits_free_gen_params),
	KUNIT_CASE(test_find_bit_range64),
	KUNIT_CASE(test_psum_pack),
	KUNIT_CASE_PARAM(test_psum_merge, merge_gen_params),
	KUNIT_CASE_PARAM(test_pa_grow, pa_grow_gen_params),
	KUNIT_CASE_PARAM(test_pa_alloc, pa_alloc_gen_params),
	KUNIT_CASE_PARAM(test_pa_free, pa_free_gen_params),
	KUNIT_CASE_PARAM(test_pa_exhaust, exhaust_gen_params),
	KUNIT_CASE(test_pa_alloc_and_free),
	KUNIT_CASE(test_pa_huge_run),
	KUNIT_CASE(test_pa_dirty),
	KUNIT_CASE(test_pa_floor),
	KUNIT_CASE_PARAM(test_pa_random, rt_gen_params),
	KUNIT_CASE_PARAM(test_pcache_alloc, pcache_gen_params),
	KUNIT_CASE_PARAM(test_pa_alloc_to_cache, pa_cache_gen_params),
	{}
};

static struct kunit_suite gomm_pagealloc_test_suite = {
	.name = "gomm_pagealloc",
	.test_cases = gomm_pagealloc_test_cases,
};

kunit_test_suite(gomm_pagealloc_test_suite);

MODULE_DESCRIPTION("KUnit tests for the gomm page allocator");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
