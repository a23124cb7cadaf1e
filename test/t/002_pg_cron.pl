# Scheduling retention with pg_cron instead of the worker: exactly the
# README's recipe (its postgresql.conf lines and its SQL, read from
# README.md), on a cluster that listens on a Unix socket only, as every
# test cluster here does.  A pass succeeds and is recorded as 'cron'; a
# failing pass is recorded and marked failed in cron.job_run_details; the
# next one succeeds again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;

# The two code blocks of README.md's "Scheduling with pg_cron instead".
my $readme = slurp_file("$FindBin::Bin/../../README.md");
my ($section) = $readme =~ /^### Scheduling with pg_cron instead\n(.*?)^## /ms
  or BAIL_OUT('README.md has no "Scheduling with pg_cron instead" section');
my ($conf) = $section =~ /```ini\n(.*?)```/s or BAIL_OUT('no postgresql.conf block in the recipe');
my ($sql) = $section =~ /```sql\n(.*?)```/s or BAIL_OUT('no SQL block in the recipe');
my ($dbname) = $conf =~ /^cron\.database_name = '([^']+)'/m
  or BAIL_OUT('the recipe names no cron.database_name');

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', $conf);
$node->start;
is($node->safe_psql('postgres', 'SHOW listen_addresses'), '', 'the cluster listens on a Unix socket only');
$node->safe_psql('postgres', "CREATE DATABASE $dbname");
$node->safe_psql($dbname, q{
CREATE EXTENSION opsmeter;
SELECT opsmeter_create_workspace('cron');
SET opsmeter.workspace = 'cron';
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'c-' || i, 'provider', 'openai',
         'model', 'gpt-4o', 'inputTokens', 10 * i, 'outputTokens', i))) FROM generate_series(1, 40) i;
});
$node->safe_psql($dbname, $sql);

# pg_cron 1.4 schedules by the minute: each run waits for the next minute.
sub runs_with_status
{
	my ($status) = @_;
	return "(SELECT count(*) FROM cron.job_run_details WHERE status = '$status')";
}
ok($node->poll_query_until($dbname, 'SELECT ' . runs_with_status('succeeded') . ' > 0'), 'pg_cron ran the retention pass');
is($node->safe_psql($dbname,
	"SELECT ok AND triggered_by = 'cron' FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1"),
	't', 'the pass is recorded as run by cron');
is($node->safe_psql($dbname, 'SELECT sum(requests) FROM opsmeter.rollup_days'),
	'40', 'the scheduled pass rolled up every event');

# A pass that fails (a trigger of the superuser's on a table the pass
# writes): pg_cron records the run as failed, with the pass's error, and the
# failed pass stays in opsmeter.retention_runs.
$node->safe_psql($dbname, q{
CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'boom for the test';
END
$$;
CREATE TRIGGER boom BEFORE INSERT OR UPDATE ON opsmeter.rollup_days FOR EACH STATEMENT EXECUTE FUNCTION boom();
SET opsmeter.workspace = 'cron';
SELECT opsmeter_ingest('{"externalRequestId": "c-late", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}');
});
ok($node->poll_query_until($dbname, 'SELECT ' . runs_with_status('failed') . ' > 0'), 'pg_cron marked a run failed');
like($node->safe_psql($dbname,
	"SELECT return_message FROM cron.job_run_details WHERE status = 'failed' ORDER BY runid DESC LIMIT 1"),
	qr/opsmeter retention pass failed: boom for the test/, 'with the pass\'s error');
is($node->safe_psql($dbname,
	"SELECT ok || ' ' || triggered_by || ' ' || error FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1"),
	'false cron boom for the test', 'the failed pass is recorded');

# The cause removed, the next run succeeds and rolls the late event up.
my $succeeded = $node->safe_psql($dbname, 'SELECT ' . runs_with_status('succeeded'));
$node->safe_psql($dbname, 'DROP TRIGGER boom ON opsmeter.rollup_days');
ok($node->poll_query_until($dbname, 'SELECT ' . runs_with_status('succeeded') . " > $succeeded"), 'the next run succeeded');
is($node->safe_psql($dbname, 'SELECT sum(requests) FROM opsmeter.rollup_days'), '41', 'and rolled up the late event');
$node->stop('fast');
done_testing();
