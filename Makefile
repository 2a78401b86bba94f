# SPDX-License-Identifier: GPL-2.0
#
# gomm - the Go runtime's memory allocator as a Linux kernel module.
#
#   make                  build gomm.ko (and the KUnit module) against the
#                         cached debug test kernel, in .build/debug/
#   make KDIR=/path/build build gomm.ko in place against any kernel build dir
#   make check            the test suite (see README)
#   make demo             boot the test VM and exercise gomm
#   make lint             checkpatch --strict, shellcheck, sparse, W=1
#   make bench            gomm against SLUB, instructions per operation, on
#                         the perf, perf-7, distro and distro-7 kernels
#                         (bench/results-KERNEL.{json,png}), then the
#                         README's table from them (scripts/bench-table)
#   make bench WALL=1     the same in guest nanoseconds, without -icount,
#                         on perf (bench/results-perf-wall.{json,png})
#   make stress           the stress module under KASAN + lockdep for
#                         DURATION seconds (default 600)
#   make kcsan            KUnit and a short stress on the KCSAN kernel: no
#                         data-race report (DURATION, default 60)
#   make gen              regenerate gomm/sizeclasses.h from Go's formulas and
#                         check it against Go's table
#                         (scripts/testdata/go-sizeclasses.tsv)
#   make clean

ifneq ($(KDIR),)
all:
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules
clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
else
all: deps
	scripts/build debug
	@echo "built: .build/debug/gomm/gomm.ko"
clean:
	rm -rf .build
endif

deps:
	@scripts/deps

check: deps
	scripts/check

demo: deps
	scripts/demo

lint: deps
	scripts/lint

BENCH_KERNELS ?= perf perf-7 distro distro-7
bench: deps
ifneq ($(filter-out 0,$(WALL)),)
	scripts/bench --wall
else
	set -e; for k in $(BENCH_KERNELS); do scripts/bench --flavor $$k; done
	scripts/bench-table
endif

DURATION ?= 600
stress: deps
	scripts/stress $(DURATION)

kcsan: deps
	scripts/kcsan $(if $(filter command line,$(origin DURATION)),$(DURATION),60)

gen:
	scripts/mksizeclasses.py gomm/sizeclasses.h
	scripts/mksizeclasses.py --check scripts/testdata/go-sizeclasses.tsv

.PHONY: all clean deps check demo lint bench stress kcsan gen
