# Scheduling retention with pg_cron instead of the worker, as the README shows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'opsmeter,pg_cron'
cron.database_name = 'postgres'
# jobs run in background workers: the test node listens on a Unix socket only
cron.use_background_workers = on
max_worker_processes = 16
opsmeter.worker_enabled = off
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_cron;
CREATE EXTENSION opsmeter;
SELECT opsmeter_create_workspace('cron');
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'c-' || i, 'provider', 'openai',
         'model', 'gpt-4o', 'inputTokens', 10 * i, 'outputTokens', i))) FROM generate_series(1, 40) i;
SELECT cron.schedule('opsmeter-retention', '* * * * *', 'SELECT opsmeter_run_retention()');
});

# pg_cron 1.4 schedules by the minute: allow for the next minute boundary.
ok($node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM cron.job_run_details WHERE status = 'succeeded'"),
	'pg_cron ran the retention pass');
is($node->safe_psql('postgres',
	"SELECT ok AND triggered_by = 'manual' FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1"),
	't', 'the pass is recorded in opsmeter.retention_runs');
is($node->safe_psql('postgres',
	"SELECT sum(requests) FROM opsmeter.rollup_days"),
	'40', 'the scheduled pass rolled up every event');
$node->stop('fast');
done_testing();
