# The background worker: start, reload, a failing pass it survives, SIGTERM,
# and kill -9 in the middle of a pass (of a backend and of the worker) after
# which every total is still exact.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'opsmeter'
opsmeter.database = 'postgres'
opsmeter.worker_interval = '1s'
restart_after_crash = on
# every day summarized by the pass that first sees it: the checks read tier 1
opsmeter.summarize_day_rows = 0
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION opsmeter;
SELECT opsmeter_create_workspace('tap');
});

# tier 1 (opsmeter.summary_quarters, which counts every rolled-up row once)
# + pending rows (above the watermark or in a hole) = raw rows, in count and
# in money.
my $exact = q{
SELECT (SELECT count(*) FROM opsmeter.events)
       = (SELECT coalesce(sum(requests), 0) FROM opsmeter.summary_quarters)
         + (SELECT count(*) FROM opsmeter.events e WHERE e.ingest_batch > opsmeter.rollup_watermark()
                                                                OR e.ingest_batch = ANY (opsmeter.rollup_holes()))
   AND (SELECT coalesce(sum(cost_usd), 0) FROM opsmeter.events)
       = (SELECT coalesce(sum(cost_usd), 0) FROM opsmeter.summary_quarters)
         + (SELECT coalesce(sum(e.cost_usd), 0) FROM opsmeter.events e WHERE e.ingest_batch > opsmeter.rollup_watermark()
                                                                OR e.ingest_batch = ANY (opsmeter.rollup_holes()))
   AND (SELECT count(*) FROM opsmeter.events) = (SELECT count(*) FROM opsmeter.request_keys)
};
my $n = 0;
sub ingest
{
	my ($count) = @_;
	my $first = $n + 1;
	$n += $count;
	return qq{SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'tap-' || i,
	  'provider', 'openai', 'model', 'gpt-4o-mini', 'inputTokens', 100 + i, 'outputTokens', 10,
	  'userId', 'u' || (i % 5)))) FROM generate_series($first, $n) i};
}
sub worker_pid
{
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'opsmeter worker'");
}

# 1. Start: the worker is visible and rolls up what is ingested.
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'opsmeter worker'"),
	'worker shows in pg_stat_activity');
$node->safe_psql('postgres', ingest(50));
ok($node->poll_query_until('postgres',
	"SELECT coalesce(sum(requests), 0) = 50 FROM opsmeter.summary_quarters"),
	'worker rolled up 50 events');
is($node->safe_psql('postgres', $exact), 't', 'totals exact after worker passes');
ok($node->safe_psql('postgres',
	"SELECT count(*) > 0 FROM opsmeter.retention_runs WHERE triggered_by = 'worker' AND ok") eq 't',
	'worker passes are recorded');

# 2. Reload: SIGHUP picks up a new interval and pauses/resumes.
my $log_offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "opsmeter.worker_interval = '2s'\n");
$node->reload;
ok($node->wait_for_log(qr/opsmeter worker reloaded its configuration: enabled=on, every 2 s/, $log_offset),
	'worker reloads on SIGHUP');

# 3. A failing pass: logged, recorded, survived; the next pass catches up.
#    The fault is on tier 1, which every pass with rows writes (tier 2 is
#    written only for detailed days, and these few rows never make one).
my $pid_before = worker_pid();
$node->safe_psql('postgres', q{
CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'summary_quarters refused for the test'; END $$;
CREATE TRIGGER refuse BEFORE INSERT ON opsmeter.summary_quarters FOR EACH ROW EXECUTE FUNCTION public.refuse();
});
$node->safe_psql('postgres', ingest(20));
ok($node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM opsmeter.retention_runs WHERE triggered_by = 'worker' AND NOT ok AND error LIKE '%summary_quarters refused%'"),
	'failed pass recorded with its error');
is(worker_pid(), $pid_before, 'worker survived the failing pass');
is($node->safe_psql('postgres', $exact), 't', 'totals exact while passes fail');
$node->safe_psql('postgres', 'DROP TRIGGER refuse ON opsmeter.summary_quarters');
ok($node->poll_query_until('postgres',
	"SELECT coalesce(sum(requests), 0) = 70 FROM opsmeter.summary_quarters"),
	'next pass caught up after the fault was fixed');

# 4. kill -9 of a backend in the middle of a pass.  A pass never waits for
#    an ingest, but it does wait for the rollup lock that another pass, a
#    re-pricing or a cleanup holds: a session holds an uncommitted ingest
#    and that lock, so a manual pass stops there, in flight.  The worker is
#    paused so that the manual pass is the one in flight.
$node->append_conf('postgresql.conf', "opsmeter.worker_enabled = off\n");
$node->reload;
$node->safe_psql('postgres', ingest(30));
my $holder = $node->background_psql('postgres', on_error_stop => 0);
$holder->query_safe('BEGIN');
$holder->query_safe(ingest(5));
$holder->query_safe('SELECT 1 FROM opsmeter.rollup_state FOR UPDATE');
my $pass = $node->background_psql('postgres', on_error_stop => 0);
$pass->query_until(qr/started/, "\\echo started\nSELECT opsmeter_run_retention();\n");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE 'SELECT opsmeter_run_retention()%' AND wait_event_type = 'Lock'"),
	'manual pass is waiting for the rollup lock');
my $pass_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT opsmeter_run_retention()%'");
kill 'KILL', $pass_pid;
eval { $holder->quit; };
eval { $pass->quit; };
ok($node->poll_query_until('postgres', 'SELECT true'), 'server back after kill -9 of a backend');
$n -= 5;    # the holder's ingest never committed
is($node->safe_psql('postgres', "SELECT count(*) FROM opsmeter.events"), $n, 'only committed events are stored');
is($node->safe_psql('postgres', $exact), 't', 'totals exact after the crash');
$node->safe_psql('postgres', 'SELECT opsmeter_run_retention()');
is($node->safe_psql('postgres', $exact), 't', 'totals exact after the next pass');
is($node->safe_psql('postgres',
	"SELECT coalesce(sum(requests), 0) FROM opsmeter.summary_quarters"), $n,
	'every committed event counted once');

# 5. kill -9 of the worker in the middle of its pass.
$node->append_conf('postgresql.conf', "opsmeter.worker_enabled = on\nopsmeter.worker_interval = '1s'\n");
$node->reload;
$holder = $node->background_psql('postgres', on_error_stop => 0);
$holder->query_safe('BEGIN');
$holder->query_safe(ingest(5));
$holder->query_safe('SELECT 1 FROM opsmeter.rollup_state FOR UPDATE');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'opsmeter worker' AND wait_event_type = 'Lock'"),
	'worker pass is waiting for the rollup lock');
kill 'KILL', worker_pid();
eval { $holder->quit; };
$n -= 5;
ok($node->poll_query_until('postgres', 'SELECT true'), 'server back after kill -9 of the worker');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'opsmeter worker'"),
	'worker restarted after the crash');
$node->safe_psql('postgres', ingest(10));
ok($node->poll_query_until('postgres',
	"SELECT coalesce(sum(requests), 0) = $n FROM opsmeter.summary_quarters"),
	'restarted worker rolled everything up exactly once');
is($node->safe_psql('postgres', $exact), 't', 'totals exact after the worker crash');

# 6. Retention drops a whole day once it is past every workspace's raw
#    retention; tier 1 keeps the history.  Its dedup keys stay in their
#    generation (still open here) until that generation is dropped whole
#    (test/t/003_key_generations.pl).
$node->safe_psql('postgres', qq{SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'old-' || i,
  'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 10, 'outputTokens', 1,
  'timestamp', to_char(now() AT TIME ZONE 'UTC' - interval '3 days', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
  FROM generate_series(1, 30) i});
$n += 30;
ok($node->poll_query_until('postgres',
	"SELECT coalesce(sum(requests), 0) = $n FROM opsmeter.summary_quarters"),
	'old day rolled up');
my $old_part = $node->safe_psql('postgres',
	"SELECT opsmeter.partition_name(((now() - interval '3 days') AT TIME ZONE 'UTC')::date)");
$node->append_conf('postgresql.conf', "opsmeter.raw_retention = '2d'\n");
$node->reload;
ok($node->poll_query_until('postgres', "SELECT to_regclass('opsmeter.$old_part') IS NULL"),
	"partition $old_part dropped by the worker");
is($node->safe_psql('postgres', q{
  SELECT (SELECT count(*) FROM opsmeter.events WHERE external_request_id LIKE 'old-%') || '/' ||
         (SELECT count(*) FROM opsmeter.request_keys WHERE external_request_id LIKE 'old-%') || '/' ||
         (SELECT count(*) FROM opsmeter.events) || '/' || (SELECT count(*) FROM opsmeter.request_keys)}),
	'0/30/' . ($n - 30) . '/' . $n, 'rows of the day are gone, the rest kept, no key deleted');
is($node->safe_psql('postgres', "SELECT sum(requests) FROM opsmeter.summary_quarters"),
	$n, 'tier 1 summaries keep the dropped day');
ok($node->safe_psql('postgres',
	"SELECT partitions_dropped > 0 AND raw_rows_deleted = 0 AND keys_purged = 0 FROM opsmeter.retention_runs WHERE partitions_dropped > 0 ORDER BY run_id DESC LIMIT 1") eq 't',
	'the pass recorded the drop');

# 7. SIGTERM ends the worker process (the postmaster starts it again after
#    10 s), and a fast shutdown stops it.
my $old = worker_pid();
$node->safe_psql('postgres', "SELECT pg_terminate_backend($old)");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $old"), 'worker stops on SIGTERM');
$node->stop('fast');
ok(1, 'server stops with the worker running');

done_testing();
