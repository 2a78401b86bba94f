#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Generate gomm/sizeclasses.h: the small-object size classes of Go's memory
# allocator.
#
# This is a line-by-line port of Go's src/runtime/mksizeclasses.go (Go 1.16+;
# the table it produces is unchanged through Go 1.26), so that the generator
# itself documents where every number in the table comes from.
#
# The size classes are chosen so that rounding an allocation request up to
# the next size class wastes at most 12.5% (1.125x).
#
# Each size class has its own page count that gets allocated and chopped up
# when new objects of the size class are needed.  That page count is chosen so
# that chopping up the run of pages into objects of the given size wastes at
# most 12.5% (1.125x) of the memory.
#
# The two sources of waste multiply, so the worst possible case for the above
# constraints would be that allocations of some size might have a 26.6%
# (1.266x) overhead.  In practice, only one of the wastes comes into play for a
# given size (sizes < 512 waste mainly on the round-up, sizes > 512 waste
# mainly on the page chopping).  For really small sizes, alignment constraints
# force the overhead higher.
#
# Usage:
#   scripts/mksizeclasses.py                 write the header to stdout
#   scripts/mksizeclasses.py gomm/sizeclasses.h
#                                            write the header to a file
#   scripts/mksizeclasses.py --check TSV     compare the generated table with
#                                            Go's reference table (exit 1 on
#                                            any difference)

import argparse
import math
import sys

# Constants that we use and will transfer to the kernel (mksizeclasses.go).
MAX_SMALL_SIZE = 32 << 10
SMALL_SIZE_DIV = 8
SMALL_SIZE_MAX = 1024
LARGE_SIZE_DIV = 128
PAGE_SHIFT = 13

# Derived constants.
PAGE_SIZE = 1 << PAGE_SHIFT

# Go's tiny allocator combines requests below this size (malloc.go).
TINY_SIZE = 16

NUM_CLASSES = 68


class SizeClass:
    """One size class: max object size and number of (8 KiB) pages."""

    def __init__(self, size=0, npages=0):
        self.size = size
        self.npages = npages
        self.divmagic = 0

    @property
    def nelems(self):
        if self.size == 0:
            return 0
        return self.npages * PAGE_SIZE // self.size

    @property
    def align(self):
        """Minimum object alignment: 1 << min(ctz(size), PAGE_SHIFT)."""
        if self.size == 0:
            return 0
        return 1 << min(ctz(self.size), PAGE_SHIFT)


def power_of_two(x):
    return x != 0 and x & (x - 1) == 0


def ctz(x):
    """Number of trailing zero bits of x > 0 (Go's bits.TrailingZeros)."""
    return (x & -x).bit_length() - 1


def make_classes():
    classes = [SizeClass()]  # class #0 is a dummy entry

    # Go: "for size := align; size <= maxSmallSize; size += align", with
    # align changing inside the body.
    align = 8
    size = align
    while size <= MAX_SMALL_SIZE:
        if power_of_two(size):  # bump alignment once in a while
            if size >= 2048:
                align = 256
            elif size >= 128:
                align = size // 8
            elif size >= 32:
                # heap bitmaps assume 16 byte alignment for allocations
                # >= 32 bytes.
                align = 16
        if not power_of_two(align):
            raise AssertionError("incorrect alignment")

        # Make the allocnpages big enough that the leftover is less than
        # 1/8 of the total, so wasted space is at most 12.5%.
        allocsize = PAGE_SIZE
        while allocsize % size > allocsize // 8:
            allocsize += PAGE_SIZE
        npages = allocsize // PAGE_SIZE

        # If the previous sizeclass chose the same allocation size and fit
        # the same number of objects into the page, we might as well use
        # just this size instead of having two different sizes.
        prev = classes[-1]
        if (len(classes) > 1 and npages == prev.npages and
                allocsize // size == allocsize // prev.size):
            prev.size = size
        else:
            classes.append(SizeClass(size, npages))
        size += align

    # Increase object sizes if we can fit the same number of larger objects
    # into the same number of pages. For example, we choose size 8448 above
    # with 6 objects in 7 pages. But we can well use object size 9472,
    # which is also 6 objects in 7 pages but +1024 bytes (+12.12%).
    # We need to preserve at least largeSizeDiv alignment otherwise
    # sizeToClass won't work.
    for c in classes[1:]:
        psize = c.npages * PAGE_SIZE
        new_size = (psize // (psize // c.size)) & ~(LARGE_SIZE_DIV - 1)
        if new_size > c.size:
            c.size = new_size

    if len(classes) != NUM_CLASSES:
        raise AssertionError("number of size classes has changed: %d" %
                             len(classes))

    for c in classes:
        compute_div_magic(c)

    return classes


def compute_div_magic(c):
    """
    Check that the division required to compute an object index from a span
    offset can be done with a 32-bit multiplication:
    n / c.size == (n * (0xFFFFFFFF // c.size + 1)) >> 32
    for all 0 <= n <= c.npages * PAGE_SIZE (Go's computeDivMagic).
    """
    d = c.size
    if d == 0:
        c.divmagic = 0
        return

    # maximum input value for which the formula needs to work.
    nmax = c.npages * PAGE_SIZE

    # Lemire, Kaser, Kurz, "Faster Remainder by Direct Computation"
    # (arXiv:1902.01961), Algorithm 2: the number of fractional bits F.
    #   if d is a power of two: F = log2(d)
    #   else: F = N + L, L the smallest integer with
    #         d <= (2^(N+L) mod d) + 2^L
    n_bits = nmax.bit_length()
    if power_of_two(d):
        f_bits = int(math.log2(d))
        if d != 1 << f_bits:
            raise AssertionError("imprecise log2")
    else:
        ell = 0
        while True:
            if d <= ((1 << (n_bits + ell)) % d) + (1 << ell):
                f_bits = n_bits + ell
                break
            ell += 1

    # F is the smallest number of fractional bits required.  32 bits work
    # for all size classes.
    if f_bits > 32:
        raise AssertionError("d=%d max=%d N=%d F=%d: size class requires "
                             "more than 32 bits of precision" %
                             (d, nmax, n_bits, f_bits))

    # Brute force double-check with the exact computation that will be
    # done by the kernel (gomm_obj_index()).
    m = 0xFFFFFFFF // d + 1
    for n in range(nmax + 1):
        if ((n * m) >> 32) & 0xFFFFFFFF != n // d:
            raise AssertionError("d=%d max=%d m=%d n=%d: bad 32-bit "
                                 "multiply magic" % (d, nmax, m, n))
    c.divmagic = m


def make_size_to_class8(classes):
    """Map ceil(size / 8) -> class for size <= SMALL_SIZE_MAX."""
    sc = []
    for i in range(SMALL_SIZE_MAX // SMALL_SIZE_DIV + 1):
        size = i * SMALL_SIZE_DIV
        sc.append(next(j for j, c in enumerate(classes) if c.size >= size))
    return sc


def make_size_to_class128(classes):
    """Map ceil((size - 1024) / 128) -> class for 1024 <= size <= 32768."""
    sc = []
    for i in range((MAX_SMALL_SIZE - SMALL_SIZE_MAX) // LARGE_SIZE_DIV + 1):
        size = SMALL_SIZE_MAX + i * LARGE_SIZE_DIV
        sc.append(next(j for j, c in enumerate(classes) if c.size >= size))
    return sc


def class_rows(classes):
    """Rows of Go's generated comment: one tuple of ints/str per class."""
    rows = []
    prev_size = 0
    for i, c in enumerate(classes):
        if i == 0:
            continue
        span_size = c.npages * PAGE_SIZE
        objects = span_size // c.size
        tail_waste = span_size - c.size * (span_size // c.size)
        max_waste = float((c.size - prev_size - 1) * objects +
                          tail_waste) / float(span_size)
        prev_size = c.size
        rows.append((i, c.size, span_size, objects, tail_waste,
                     "%.2f%%" % (100 * max_waste), c.align, c.npages))
    return rows


def align_summary(classes):
    """Go's alignment summary: (alignment, bits, smallest object size)."""
    min_aligns = [0] * (PAGE_SHIFT + 1)
    for c in classes[1:]:
        align_bits = min(ctz(c.size), PAGE_SHIFT)
        for i in range(len(min_aligns)):
            if i > align_bits:
                min_aligns[i] = 0
            elif min_aligns[i] == 0:
                min_aligns[i] = c.size
    out = []
    for bits, size in enumerate(min_aligns):
        if size == 0:
            break
        if bits + 1 < len(min_aligns) and size == min_aligns[bits + 1]:
            continue
        out.append((1 << bits, bits, size))
    return out


def derived_constants(classes):
    size_to_class8 = make_size_to_class8(classes)
    max_objs = max(c.nelems for c in classes)
    max_npages = max(c.npages for c in classes)
    tiny_class = size_to_class8[(TINY_SIZE + SMALL_SIZE_DIV - 1) //
                                SMALL_SIZE_DIV]
    return {
        "MaxSmallSize": MAX_SMALL_SIZE,
        "SmallSizeDiv": SMALL_SIZE_DIV,
        "SmallSizeMax": SMALL_SIZE_MAX,
        "LargeSizeDiv": LARGE_SIZE_DIV,
        "NumSizeClasses": len(classes),
        "PageShift": PAGE_SHIFT,
        "MaxObjsPerSpan": max_objs,
        "MaxSizeClassNPages": max_npages,
        "TinySize": TINY_SIZE,
        "TinySizeClass": tiny_class,
    }


# ---------------------------------------------------------------------------
# Header output


def c_array(ctype, name, dim, values, per_line, fmt="%d"):
    """Format a static const C array, per_line values per line."""
    strs = [fmt % v for v in values]
    width = max(len(s) for s in strs)
    lines = ["static const %s %s[%s] __maybe_unused = {" % (ctype, name, dim)]
    for i in range(0, len(strs), per_line):
        chunk = strs[i:i + per_line]
        line = "\t" + " ".join(("%s," % s).rjust(width + 1) for s in chunk)
        lines.append(line.rstrip())
    lines.append("};")
    return "\n".join(lines) + "\n"


def make_header(classes):
    consts = derived_constants(classes)
    size_to_class8 = make_size_to_class8(classes)
    size_to_class128 = make_size_to_class128(classes)
    n8 = len(size_to_class8)
    n128 = len(size_to_class128)

    o = []
    o.append("/* SPDX-License-Identifier: GPL-2.0 */\n")
    o.append("/*\n")
    o.append(" * Code generated by scripts/mksizeclasses.py; DO NOT EDIT.\n")
    o.append(" * Regenerate with: make gen\n")
    o.append(" *\n")
    o.append(" * Small-object size classes of Go's memory allocator "
             "(Go 1.16 .. 1.26),\n")
    o.append(" * derived with the formulas of Go's "
             "src/runtime/mksizeclasses.go.\n")
    o.append(" * A gomm page is 8 KiB (1 << 13), so \"bytes/span\" is "
             "npages * 8192.\n")
    o.append(" *\n")
    hdr = (" * %-5s  %-9s  %-10s  %-7s  %-10s  %-9s  %-9s  %-6s" %
           ("class", "bytes/obj", "bytes/span", "objects", "tail waste",
            "max waste", "min align", "npages"))
    o.append(hdr.rstrip() + "\n")
    for r in class_rows(classes):
        o.append(" * %5d  %9d  %10d  %7d  %10d  %9s  %9d  %6d\n" % r)
    o.append(" *\n")
    o.append(" * %-9s  %-4s  %-12s\n" % ("alignment", "bits", "min obj size"))
    for a in align_summary(classes):
        o.append(" * %9d  %4d  %12d\n" % a)
    o.append(" */\n")
    o.append("\n")
    o.append("#ifndef GOMM_SIZECLASSES_H\n")
    o.append("#define GOMM_SIZECLASSES_H\n")
    o.append("\n")
    o.append("#include <linux/compiler.h>\n")
    o.append("#include <linux/types.h>\n")
    o.append("\n")

    defs = [
        ("GOMM_NUM_CLASSES", consts["NumSizeClasses"],
         "size classes, counting class 0 (large objects)"),
        ("GOMM_MAX_SMALL_SIZE", consts["MaxSmallSize"],
         "largest small object, bytes"),
        ("GOMM_SMALL_SIZE_DIV", consts["SmallSizeDiv"],
         "size_to_class8 granularity"),
        ("GOMM_SMALL_SIZE_MAX", consts["SmallSizeMax"],
         "last size covered by size_to_class8"),
        ("GOMM_LARGE_SIZE_DIV", consts["LargeSizeDiv"],
         "size_to_class128 granularity"),
        ("GOMM_MAX_OBJS_PER_SPAN", consts["MaxObjsPerSpan"],
         "max of gomm_class_to_nelems[]"),
        ("GOMM_TINY_SIZE", consts["TinySize"],
         "tiny allocator block size"),
        ("GOMM_TINY_CLASS", consts["TinySizeClass"],
         "size class of a tiny block"),
        ("GOMM_MAX_CLASS_NPAGES", consts["MaxSizeClassNPages"],
         "max of gomm_class_to_npages[]"),
    ]
    for name, val, comment in defs:
        d = "#define %s\t%d" % (name, val)
        # Align the comments on column 40 (tab stops every 8 columns).
        col = len(d.expandtabs(8))
        tabs = max(1, (40 - col + 7) // 8)
        o.append("%s%s/* %s */\n" % (d, "\t" * tabs, comment))
    o.append("\n")

    o.append("/* Object size of each class (class 0: large objects). */\n")
    o.append(c_array("u16", "gomm_class_to_size", "GOMM_NUM_CLASSES",
                     [c.size for c in classes], 8))
    o.append("\n")
    o.append("/* Number of 8 KiB gomm pages in a span of each class. */\n")
    o.append(c_array("u8", "gomm_class_to_npages", "GOMM_NUM_CLASSES",
                     [c.npages for c in classes], 16))
    o.append("\n")
    o.append("/* Objects per span: npages * 8192 / size (0 for class 0). */\n")
    o.append(c_array("u16", "gomm_class_to_nelems", "GOMM_NUM_CLASSES",
                     [c.nelems for c in classes], 8))
    o.append("\n")
    o.append("/*\n")
    o.append(" * Division magic: 0xffffffff / size + 1 (0 for class 0), "
             "so that for every\n")
    o.append(" * offset 0 <= off <= npages * 8192, "
             "(off * magic) >> 32 == off / size.\n")
    o.append(" * Verified exhaustively by the generator.\n")
    o.append(" */\n")
    o.append(c_array("u32", "gomm_class_to_divmagic", "GOMM_NUM_CLASSES",
                     [c.divmagic for c in classes], 6, "0x%08x"))
    o.append("\n")
    o.append("/* Minimum object alignment: 1 << min(ctz(size), 13) "
             "(0 for class 0). */\n")
    o.append(c_array("u16", "gomm_class_to_align", "GOMM_NUM_CLASSES",
                     [c.align for c in classes], 8))
    o.append("\n")
    o.append("/* Size class of size <= GOMM_SMALL_SIZE_MAX, "
             "indexed by DIV_ROUND_UP(size, 8). */\n")
    o.append(c_array("u8", "gomm_size_to_class8", "%d" % n8,
                     size_to_class8, 16))
    o.append("\n")
    o.append("/*\n")
    o.append(" * Size class of GOMM_SMALL_SIZE_MAX <= size <= "
             "GOMM_MAX_SMALL_SIZE, indexed by\n")
    o.append(" * DIV_ROUND_UP(size - GOMM_SMALL_SIZE_MAX, "
             "GOMM_LARGE_SIZE_DIV).\n")
    o.append(" */\n")
    o.append(c_array("u8", "gomm_size_to_class128", "%d" % n128,
                     size_to_class128, 16))
    o.append("\n")
    o.append(FUNCS)
    o.append("\n")
    o.append("#endif /* GOMM_SIZECLASSES_H */\n")
    return "".join(o)


FUNCS = """\
/**
 * gomm_size_to_class() - size class of a small allocation request
 * @size: request size in bytes, 1 <= @size <= GOMM_MAX_SMALL_SIZE
 *
 * Same split as Go's mallocgc(): sizes up to GOMM_SMALL_SIZE_MAX - 8 use
 * the 8-byte-granular table, the rest the 128-byte-granular one.  For
 * 1017 <= @size <= 1024 the unsigned subtraction wraps and the sum wraps
 * back to a value below 128, selecting index 0 (the 1024-byte class), as
 * in Go.  A @size of 0 yields class 0.
 *
 * Return: the smallest size class whose object size is >= @size.
 */
static __always_inline unsigned int gomm_size_to_class(size_t size)
{
	if (size <= GOMM_SMALL_SIZE_MAX - 8)
		return gomm_size_to_class8[(size + GOMM_SMALL_SIZE_DIV - 1) /
					   GOMM_SMALL_SIZE_DIV];
	return gomm_size_to_class128[(size - GOMM_SMALL_SIZE_MAX +
				      GOMM_LARGE_SIZE_DIV - 1) /
				     GOMM_LARGE_SIZE_DIV];
}

/**
 * gomm_obj_index() - index of the object containing a span offset
 * @offset: byte offset from the start of the span, 0 <= @offset <=
 *          npages * 8192 of the span's class
 * @divmagic: gomm_class_to_divmagic[] of the span's class
 *
 * Computes @offset / size without a division (Go's divideByElemSize()).
 *
 * Return: @offset / size of the span's class.
 */
static __always_inline unsigned int gomm_obj_index(unsigned long offset, u32 divmagic)
{
	return (u32)(((u64)offset * divmagic) >> 32);
}
"""


# ---------------------------------------------------------------------------
# --check


def parse_tsv(path):
    """Parse Go's reference table (scripts/testdata/go-sizeclasses.tsv)."""
    ref = {"rows": [], "consts": {}, "arrays": {}, "align": []}
    section = None
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line.strip():
                section = None
                continue
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            if cols[0] == "class" and len(cols) > 1 and \
                    cols[1] == "bytes_per_obj":
                section = "rows"
                continue
            if cols[0] == "alignment" and len(cols) > 1 and cols[1] == "bits":
                section = "align"
                continue
            if cols[0] == "nelems_class":
                section = "nelems"
                continue
            if cols[0] == "const":
                ref["consts"][cols[1].split()[0]] = int(cols[2])
                continue
            if cols[0] == "array":
                name = cols[1].split()[0]
                vals = cols[2].split(",")
                if all(v.strip().isdigit() for v in vals):
                    ref["arrays"][name] = [int(v) for v in vals]
                else:
                    ref["arrays"][name] = cols[2]
                continue
            if section == "rows":
                ref["rows"].append((int(cols[0]), int(cols[1]),
                                    int(cols[2]), int(cols[3]),
                                    int(cols[4]), cols[5], int(cols[6]),
                                    int(cols[7])))
            elif section == "align":
                ref["align"].append(tuple(int(x) for x in cols[:3]))
    return ref


def check(classes, path):
    ref = parse_tsv(path)
    errors = []

    def cmp(what, got, want):
        if got != want:
            errors.append("%s: generated %r, reference %r" %
                          (what, got, want))

    rows = class_rows(classes)
    cmp("number of class rows", len(rows), len(ref["rows"]))
    names = ("class", "bytes/obj", "bytes/span", "objects", "tail waste",
             "max waste", "min align", "npages")
    for got, want in zip(rows, ref["rows"]):
        for k, name in enumerate(names):
            cmp("class %d %s" % (want[0], name), got[k], want[k])

    cmp("alignment summary", align_summary(classes), ref["align"])

    consts = derived_constants(classes)
    for name, val in consts.items():
        if name not in ref["consts"]:
            errors.append("constant %s missing from reference" % name)
            continue
        cmp("constant " + name, val, ref["consts"][name])
    cmp("PageSize", PAGE_SIZE, ref["consts"].get("PageSize"))

    arrays = ref["arrays"]
    cmp("class_to_size", [c.size for c in classes],
        arrays.get("class_to_size"))
    cmp("class_to_allocnpages", [c.npages for c in classes],
        arrays.get("class_to_allocnpages"))
    cmp("size_to_class8", make_size_to_class8(classes),
        arrays.get("size_to_class8"))
    cmp("size_to_class128", make_size_to_class128(classes),
        arrays.get("size_to_class128"))
    magic = [0 if c.size == 0 else 0xFFFFFFFF // c.size + 1 for c in classes]
    cmp("class_to_divmagic", [c.divmagic for c in classes], magic)
    if "^uint32(0)/size + 1" not in str(arrays.get("class_to_divmagic")):
        errors.append("class_to_divmagic: reference formula changed: %r" %
                      arrays.get("class_to_divmagic"))

    # Cross-check the derived arrays against the reference rows.
    for c, r in zip(classes[1:], ref["rows"]):
        cmp("class %d nelems" % r[0], c.nelems, r[3])
        cmp("class %d align" % r[0], c.align, r[6])

    for e in errors:
        print("mksizeclasses: MISMATCH: " + e, file=sys.stderr)
    if errors:
        print("mksizeclasses: %d difference(s) from %s" % (len(errors), path),
              file=sys.stderr)
        return 1
    print("mksizeclasses: %d classes, size_to_class8[%d], "
          "size_to_class128[%d] match %s" %
          (len(classes), len(make_size_to_class8(classes)),
           len(make_size_to_class128(classes)), path))
    return 0


def main():
    ap = argparse.ArgumentParser(
        description="Generate gomm/sizeclasses.h from Go's size-class "
                    "formulas (port of Go's mksizeclasses.go).")
    ap.add_argument("output", nargs="?",
                    help="output file (default: standard output)")
    ap.add_argument("--check", metavar="TSV",
                    help="compare the generated table with Go's reference "
                         "table and exit non-zero on any difference")
    args = ap.parse_args()

    classes = make_classes()

    if args.check:
        return check(classes, args.check)

    text = make_header(classes)
    if args.output and args.output != "-":
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
