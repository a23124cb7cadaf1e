# Retention frees a day by dropping it: the day's partition of
# opsmeter.events, then, once no retained day can hold a row of theirs, the
# dedup keys' generation — no row-by-row DELETE of rows or keys, nothing
# left for VACUUM.  Until its generation leaves, a key outlives its row, so
# a retry is still a duplicate; after, the id is free again.
#
# Time is simulated the way a DBA would see it happen: the generation's
# opened_at and sealed_at are moved back (a superuser's UPDATE), matching
# the days its rows were written for.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('keygen');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'opsmeter'
# passes are run by hand, one step at a time
opsmeter.worker_enabled = off
opsmeter.raw_retention = '5d'
opsmeter.summarize_day_rows = 0
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION opsmeter;
SELECT opsmeter_create_workspace('keys');
});

sub sql
{
	return $node->safe_psql('postgres', "SET opsmeter.workspace = 'keys';\n" . $_[0]);
}
sub ingest_days_ago
{
	my ($prefix, $count, $days) = @_;
	return sql(qq{SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', '$prefix-' || i,
	  'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 10, 'outputTokens', 1,
	  'timestamp', to_char(now() AT TIME ZONE 'UTC' - interval '$days days', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))) ->> 'accepted'
	  FROM generate_series(1, $count) i});
}
sub retry
{
	my ($id) = @_;
	return sql(qq{SELECT opsmeter_ingest('{"externalRequestId": "$id", "provider": "openai", "model": "gpt-4o",
	  "inputTokens": 10, "outputTokens": 1}') ->> 'duplicate'});
}
my $pass = q{SELECT opsmeter_run_retention() ->> 'ok'};

# 1. 40 events four days ago go into the first generation, which a pass
#    then seals (it is "older" than opsmeter.key_generation).
is(ingest_days_ago('old', 40, 4), '40', 'old events stored');
sql(q{UPDATE opsmeter.key_generations SET opened_at = now() - interval '8 days'});
is(sql($pass), 'true', 'pass seals the first generation');
is(sql(q{SELECT count(*) || '/' || count(*) FILTER (WHERE sealed_at IS NULL) FROM opsmeter.key_generations}),
	'2/1', 'one sealed generation, one open');
# The sealed generation's keys were all written for four days ago: its
# rows can be no later than that day.
sql(q{UPDATE opsmeter.key_generations
       SET opened_at = now() - interval '5 days', sealed_at = now() - interval '4 days'
     WHERE sealed_at IS NOT NULL});
is(ingest_days_ago('new', 25, 0), '25', 'new events go into the open generation');
is(retry('old-1'), 'true', 'a retry stamped today of a key in the sealed generation is a duplicate');

# 2. Raw retention shrinks to 3 days: the pass drops the day of the old
#    rows, and, in the same pass, their generation.  Nothing is deleted row
#    by row.
$node->append_conf('postgresql.conf', "opsmeter.raw_retention = '3d'\n");
$node->reload;
ok($node->poll_query_until('postgres', "SELECT current_setting('opsmeter.raw_retention') = '3d'"), 'reloaded');
my $old_part = sql(q{SELECT opsmeter.partition_name(((now() - interval '4 days') AT TIME ZONE 'UTC')::date)});
my $old_gen = sql(q{SELECT opsmeter.key_generation_name(min(generation)) FROM opsmeter.key_generations});
is(sql($pass), 'true', 'retention pass');
is(sql(qq{SELECT to_regclass('opsmeter.$old_part') IS NULL AND to_regclass('opsmeter.$old_gen') IS NULL}),
	't', "day $old_part and generation $old_gen dropped");
is(sql(q{SELECT partitions_dropped > 0 AND raw_rows_deleted = 0 AND keys_purged = 0
         FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1}),
	't', 'the pass dropped partitions and deleted no row and no key');
is(sql(q{SELECT (SELECT count(*) FROM opsmeter.events) || '/' || (SELECT count(*) FROM opsmeter.request_keys)}),
	'25/25', 'the new rows and their keys are all kept');
is(sql(q{SELECT sum(requests) FROM opsmeter.summary_quarters}), '65', 'summaries keep the dropped day');

# 3. With its row and key gone, the id is free again.
is(retry('old-2'), 'false', 'an id whose row left is accepted again');
is(retry('new-1'), 'true', 'a retained key is still a duplicate');

# 4. A generation whose rows may still be in a retained day stays: seal the
#    open one (it holds today's keys) and run a pass.
sql(q{UPDATE opsmeter.key_generations SET opened_at = now() - interval '8 days' WHERE sealed_at IS NULL});
is(sql($pass), 'true', 'pass seals the second generation');
is(sql(q{SELECT count(*) FROM opsmeter.key_generations}), '2', 'the sealed generation with today\'s keys stays');
is(retry('new-2'), 'true', 'its keys still count');

$node->stop('fast');
done_testing();
