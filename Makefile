# opsmeter — PGXS build.  `make`, `make install`, `make test`, `make demo`, `make bench`,
# `make reliability`.
EXTENSION  = opsmeter
MODULE_big = opsmeter
OBJS = \
	src/opsmeter.o \
	src/catalog.o \
	src/labels.o \
	src/guc.o \
	src/tenancy.o \
	src/event.o \
	src/ingest_jsonb.o \
	src/ingest_ndjson.o \
	src/ingest_otlp.o \
	src/ingest.o \
	src/pricing.o \
	src/price_loader.o \
	src/jsonc.o \
	src/json_scan.o \
	src/json_text.o \
	src/key_filter.o \
	src/storage.o \
	src/retention.o \
	src/worker.o \
	src/filters.o \
	src/histogram.o \
	src/exact_sums.o \
	src/rollup_groups.o \
	src/reader.o \
	src/detail_sums.o \
	src/budget.o

# The version being built is the control file's default_version.  Its install
# script is built from the parts in sql/install/, concatenated in this order
# (pg_partman and TimescaleDB build theirs the same way).  Released versions'
# scripts stay frozen where they were released (sql/opsmeter--VERSION.sql,
# checked against sql/updates/released.sha256); upgrade scripts live in
# sql/updates/.
EXTVERSION := $(shell sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" $(dir $(firstword $(MAKEFILE_LIST)))opsmeter.control)
INSTALL_PARTS = \
	sql/install/00_header.sql \
	sql/install/01_schema_roles.sql \
	sql/install/02_types.sql \
	sql/install/03_tenancy.sql \
	sql/install/04_pricing.sql \
	sql/install/05_events_partitions.sql \
	sql/install/06_summaries_rollup.sql \
	sql/install/07_retention.sql \
	sql/install/08_budgets.sql \
	sql/install/09_analytics.sql \
	sql/install/10_repricing.sql \
	sql/install/11_ingest.sql \
	sql/install/12_hygiene.sql \
	sql/install/13_lifecycle.sql \
	sql/install/14_verify.sql \
	sql/install/90_policies_grants.sql \
	sql/install/95_backup_config.sql \
	sql/install/99_initial_data.sql
RELEASED_SCRIPTS = sql/opsmeter--0.1.0.sql
UPDATE_SCRIPTS = sql/updates/opsmeter--0.1.0--0.2.0.sql

DATA_built = build/opsmeter--$(EXTVERSION).sql
DATA = $(RELEASED_SCRIPTS) $(UPDATE_SCRIPTS) data/opsmeter_prices.json
EXTRA_CLEAN = build
PGFILEDESC = "opsmeter - LLM cost telemetry"

PG_CPPFLAGS = -I$(srcdir)/include
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK  = -ljson-c

# pg_regress stories, one per feature (sql/NAME.sql -> expected/NAME.out).
REGRESS = install setup tenancy ingest ingest_errors ndjson pricing partitions rollup rollup_in_memory analytics analytics_zones budgets hygiene role_matrix hardening hostile_limits hostile_membership hostile_partitions hostile_statistics operations lifecycle pending_days detail_sums verify otlp reinstall
REGRESS_OPTS = --dbname=opsmeter_regress

# Isolation specs live under test/isolation/{specs,expected}.
ISOLATION = concurrent_duplicates rollup_vs_ingest rollup_detail_vs_ingest budget_vs_ingest partitions_on_demand pass_vs_idle_ingest pass_vs_reader set_retention_vs_pass seal_vs_ingest merge_vs_ingest drop_vs_ingest resolution_cache pending_days_vs_pass
ISOLATION_OPTS = --inputdir=test/isolation --dbname=opsmeter_isolation

# Debian builds PostgreSQL with LLVM JIT; we do not need bitcode for our module.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(wildcard $(srcdir)/include/*.h)

# A part missing from the list above would silently vanish from the script:
# refuse to build when sql/install/ and INSTALL_PARTS disagree.
build/opsmeter--$(EXTVERSION).sql: $(INSTALL_PARTS) Makefile
	@missing="$(filter-out $(INSTALL_PARTS),$(wildcard sql/install/*.sql))"; \
	if [ -n "$$missing" ]; then echo "sql/install parts not in INSTALL_PARTS: $$missing" >&2; exit 1; fi
	@mkdir -p build
	cat $(INSTALL_PARTS) > $@

.PHONY: test demo bench reliability
test:
	bash test/run-tests.sh
# The full reliability harness (about 30 minutes); `make test` runs short versions.
reliability:
	bash test/fuzz/run.sh full
	OPSMETER_SKIP_BUILD=1 bash test/sanitize/run.sh
	OPSMETER_SKIP_BUILD=1 bash test/soak/run.sh full
demo:
	bash test/demo.sh
bench:
	bash test/bench/run.sh
	bash test/bench/retention.sh
	bash test/bench/views.sh
	BENCH_VIEWS_EVENTS=200000 BENCH_VIEWS_CHUNK=100000 BENCH_VIEWS_STRESS_TAIL=0 BENCH_VIEWS_TARGET=1 \
	    BENCH_VIEWS_RESULTS=bench-results/views-medium.md bash test/bench/views.sh
	bash test/bench/tenants.sh
	bash test/bench/sizing.sh

# Every symbol opsmeter.so exports must start with opsmeter_, so that none
# can collide with PostgreSQL's or another library's.  The exceptions are
# the names PostgreSQL looks up itself (_PG_init, Pg_magic_func, the
# pg_finfo_opsmeter_* records) and those the linker adds.  Functions used by
# one file only are static instead.
.PHONY: check-symbols
check-symbols: $(shlib)
	@unprefixed="$$(nm -D --defined-only $(shlib) | awk '{ print $$NF }' | \
		grep -Ev '^(opsmeter_.+|pg_finfo_opsmeter_.+|_PG_init|Pg_magic_func|_init|_fini|__bss_start|_edata|_end)$$' || true)"; \
	if [ -n "$$unprefixed" ]; then \
		echo "check-symbols: $(shlib) exports symbols without the opsmeter_ prefix:" >&2; \
		echo "$$unprefixed" | sed 's/^/  /' >&2; \
		exit 1; \
	fi; \
	echo "check-symbols: every symbol $(shlib) exports is prefixed opsmeter_ (or is one PostgreSQL or the linker names)"

# The C modules include one another one way only (src/README.md, "Layers").
.PHONY: check-layers
check-layers:
	@bash $(srcdir)/test/lint/check_layers.sh
