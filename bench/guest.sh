#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench/guest.sh - the benchmark VM's command (busybox sh), run by
# scripts/bench in /work with gomm_bench.ko next to it.  Loads the module,
# then runs the case groups one at a time through its debugfs files, in
# an order that lets it prepare gomm's heap in between:
#
#  1. memory efficiency first, while gomm's heap is fresh: for each live
#     set size, gomm's heap is drained and scavenged to nothing
#     (retain_kb=0), the live set is built, and the growth of
#     pages_owned (bytes_held) and of pages_in_use is read from
#     /sys/kernel/debug/gomm/heap; then SLUB's caches are shrunk, the same
#     live set (same seed) is built with kmalloc(), and the growth of the
#     slab pages (num_slabs * pagesperslab of every cache in
#     /proc/slabinfo, exact with CONFIG_SLUB_DEBUG) is read.
#  2. heap growth, each size from an empty gomm heap.
#  3. every timed group, from an empty gomm heap with its retain_kb
#     restored, so the scavenger has no backlog to work off meanwhile.
#
# Prints "gomm_bench: case=..." lines (as the module does) and ends with
# "gomm_bench: done ret=0" when everything ran.
D=/sys/kernel/debug/gomm_bench
G=/sys/kernel/debug/gomm
R=/sys/module/gomm/parameters/retain_kb
PAGE=4096

fail() {
	echo "gomm_bench: FAIL: $*"
	exit 1
}

run() {
	echo "$*" > $D/run || fail "group $*"
}

# one field of gomm's heap file, or nothing
heap() {
	awk -v k="$1" '$1 == k { print $2 }' $G/heap 2>/dev/null
}

slab_bytes() {
	awk -v page=$PAGE '/^(#|slabinfo)/ { next }
		{ s += $15 * $6 } END { printf "%d\n", s * page }' /proc/slabinfo
}

gomm_empty() {
	echo 1 > $G/drain
	[ -w $R ] && echo 0 > $R
	echo 1 > $G/scavenge
}

slub_empty() {
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 > "$f"
	done 2>/dev/null
}

# ktime_get_ns() is only as fine as the clocksource: without -icount on a
# busy host the TSC watchdog may fall back to jiffies (4 ms); scripts/bench
# checks this line
cs=/sys/devices/system/clocksource/clocksource0/current_clocksource
echo "gomm_bench: clocksource=$(cat $cs)"

insmod /work/gomm_bench.ko || fail "insmod gomm_bench.ko"
[ -f $G/heap ] || fail "no $G/heap"
[ -r /proc/slabinfo ] || fail "no /proc/slabinfo"
retain=$(cat $R 2>/dev/null)

for n in 20000 200000; do
	gomm_empty
	o0=$(heap pages_owned)
	u0=$(heap pages_in_use)
	gp=$(heap page_size)
	echo "gomm $n" > $D/live || fail "gomm live set $n"
	o1=$(heap pages_owned)
	u1=$(heap pages_in_use)
	greq=$(awk '{ print $4 }' $D/live)
	echo free > $D/live
	if [ -n "$o0" ] && [ -n "$o1" ] && [ -n "$gp" ]; then
		held=$(( (o1 - o0) * gp ))
		spans=$(( (u1 - u0) * gp ))
	else
		held=unknown
		spans=unknown
	fi

	slub_empty
	s0=$(slab_bytes)
	echo "slub $n" > $D/live || fail "slub live set $n"
	s1=$(slab_bytes)
	sreq=$(awk '{ print $4 }' $D/live)
	echo free > $D/live
	[ "$greq" = "$sreq" ] || fail "live sets differ: $greq vs $sreq bytes"
	echo "gomm_bench: case=mem size=$n requested=$greq gomm_held=$held gomm_spans=$spans slub_slab=$(( s1 - s0 )) unit=bytes"
done

for s in 65536 1048576 4194304; do
	gomm_empty
	run growth $s
done
# leave gomm's scavenger nothing to do inside the timed loops
gomm_empty
[ -n "$retain" ] && echo "$retain" > $R

# largeheap last: gomm returns its 512 MiB in the background afterwards
for g in calib loop pair cache batch random remote large scale largeheap; do
	run $g
done
echo "gomm_bench: done ret=0"
