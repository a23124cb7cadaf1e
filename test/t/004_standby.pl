# Every view and function form answers on a hot standby, as on the
# primary: a BI tool pointed at a read replica must work (issue #16).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', q{
shared_preload_libraries = 'opsmeter'
opsmeter.worker_enabled = off
opsmeter.summarize_day_rows = 0
});
$primary->start;
$primary->safe_psql('postgres', q{
CREATE EXTENSION opsmeter;
CREATE ROLE standby_reader LOGIN;
SELECT opsmeter_create_workspace('replica');
SELECT opsmeter_add_member('replica', 'standby_reader', 'viewer');
SET opsmeter.workspace = 'replica';
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'r-' || i, 'provider', 'openai',
         'model', 'gpt-4o', 'inputTokens', 10 * i, 'outputTokens', i, 'userId', 'u' || (i % 3),
         'tenantId', 't' || (i % 2), 'endpointTag', 'e' || (i % 4), 'promptVersion', 'v1',
         'timestamp', to_char(now() AT TIME ZONE 'UTC' - make_interval(hours => i), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
  FROM generate_series(1, 30) i;
SELECT opsmeter_run_retention();
SELECT opsmeter_ingest('{"externalRequestId": "pending-1", "provider": "openai", "model": "gpt-4o", "inputTokens": 5, "outputTokens": 1}');
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

# The same questions on both: rolled-up rows and a pending one.
my @questions = (
	'SELECT * FROM opsmeter.overview ORDER BY day',
	'SELECT * FROM opsmeter.top_users ORDER BY 1',
	'SELECT * FROM opsmeter.top_tenants ORDER BY 1',
	'SELECT * FROM opsmeter.top_endpoints ORDER BY 1',
	'SELECT * FROM opsmeter.top_models ORDER BY 1',
	'SELECT * FROM opsmeter.prompt_versions ORDER BY 1',
	'SELECT * FROM opsmeter.daily_models ORDER BY 1, 2, 3',
	'SELECT * FROM opsmeter.daily_users ORDER BY 1, 2',
	'SELECT * FROM opsmeter.daily_tenants ORDER BY 1, 2',
	'SELECT * FROM opsmeter.daily_endpoints ORDER BY 1, 2',
	'SELECT * FROM opsmeter.daily_prompt_versions ORDER BY 1, 2',
	'SELECT * FROM opsmeter.my_invitations',
	'SELECT * FROM opsmeter.unpriced_models ORDER BY 1',
	'SELECT * FROM opsmeter.budget_signals',
	'SELECT count(*), sum(cost_usd) FROM opsmeter.export',
	"SELECT * FROM opsmeter_overview('30 days') ORDER BY 1",
	"SELECT * FROM opsmeter_top_users('30 days') ORDER BY 1",
	'SELECT * FROM opsmeter_workspace_status()',
);
for my $q (@questions)
{
	my $sql = "SET ROLE standby_reader; SET opsmeter.workspace = 'replica'; SET opsmeter.range = '30d'; $q";
	my $on_primary = $primary->safe_psql('postgres', $sql);
	my ($rc, $on_standby, $err) = $standby->psql('postgres', $sql);
	is($rc, 0, "standby answers: $q") or diag($err);
	is($on_standby, $on_primary, "same answer as the primary: $q");
}
$standby->stop('fast');
$primary->stop('fast');
done_testing();
