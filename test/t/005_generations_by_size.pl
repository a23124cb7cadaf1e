# Generations of dedup keys sealed by size, merged eight at a time, each
# sealed one behind a key filter (src/README.md, "Generations by size" and
# "Key filters").  What must hold, whatever the passes did:
#  - every stored key is in exactly one generation, and every retry of one
#    is a duplicate (server-stamped on another day included);
#  - a filter never rules out a key its generation holds, and rules out
#    almost every other;
#  - ingest consults the filters: a filter that wrongly rules a key out
#    lets its retry in (so the checks above are not vacuous);
#  - a merge that cannot get its locks waits for a later pass, and loses
#    nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('bysize');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'opsmeter'
# passes are run by hand, one step at a time
opsmeter.worker_enabled = off
# 600 keys fill more than 32 kB of index
opsmeter.key_generation_size = 32
opsmeter.retention_lock_wait = 0
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION opsmeter;
SELECT opsmeter_create_workspace('sized');
});

sub sql
{
	return $node->safe_psql('postgres', "SET opsmeter.workspace = 'sized';\n" . $_[0]);
}
# $count new events (ids "$prefix-1" ...), stamped $days days ago
sub ingest
{
	my ($prefix, $count, $days) = @_;
	return sql(qq{SELECT opsmeter_ingest_ndjson((SELECT string_agg(jsonb_build_object('externalRequestId', '$prefix-' || i,
	  'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 10, 'outputTokens', 1,
	  'timestamp', to_char(now() AT TIME ZONE 'UTC' - interval '$days days', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))::text, E'\n')
	  FROM generate_series(1, $count) i)) ->> 'accepted'});
}
my $pass = q{SELECT opsmeter_run_retention() ->> 'ok'};
# A pass seals by size once the open generation's index is past the larger
# of opsmeter.key_generation_size and 350 bytes per key expected between
# two checkpoints at its rate: keys come in bursts here, so the open
# generation is made to look an hour old (a few hundred keys an hour) and
# the size governs.
my $seal_pass = q{UPDATE opsmeter.key_generations SET opened_at = now() - interval '1 hour' WHERE sealed_at IS NULL;
SELECT opsmeter_run_retention() ->> 'ok'};
my $generations = q{SELECT string_agg(level::text, ',' ORDER BY generation) FROM opsmeter.key_generations WHERE sealed_at IS NOT NULL};

# 1. Twenty batches of 600 keys, a pass after each: each pass seals the
#    open generation (its index is past 32 kB), builds the filters of the
#    ones sealed before, and merges eight of level 0 when it can.
my ($stored, $passes) = (0, 0);
for my $b (1 .. 20)
{
	$stored += ingest("b$b", 600, $b % 3);
	$passes += sql($seal_pass) eq 'true';
}
is($stored, 12000, '12,000 events stored');
is($passes, 20, 'twenty passes');
is(sql(q{SELECT count(*) FROM opsmeter.key_generations WHERE sealed_at IS NULL}), '1', 'one open generation');
my $levels = sql($generations);
note("sealed generations by level: $levels");
like($levels, qr/^1,1(,0)*$/, 'sixteen sealed by size became two merged generations, the rest wait');
is(sql(q{SELECT count(*) || '/' || count(DISTINCT (workspace_id, external_request_id)) FROM opsmeter.request_keys}),
	'12000/12000', 'every key once, in one generation');
is(sql(q{SELECT count(*) FROM opsmeter.request_keys k JOIN opsmeter.key_generations g USING (generation)
         WHERE k.generation <> g.generation}), '0', 'every key in the partition of its generation');

# 2. Filters: built for every sealed generation but the newest (the next
#    pass builds it), no stored key ruled out, few absent ones let through.
is(sql(q{SELECT count(*) FILTER (WHERE key_filter IS NULL) FROM opsmeter.key_generations WHERE sealed_at IS NOT NULL}),
	'1', 'the generation sealed by the last pass has no filter yet');
is(sql($pass), 'true', 'one more pass');
is(sql(q{SELECT count(*) FILTER (WHERE key_filter IS NULL) FROM opsmeter.key_generations WHERE sealed_at IS NOT NULL}),
	'0', 'every sealed generation has its filter');
is(sql(q{SELECT count(*) FROM opsmeter.request_keys k JOIN opsmeter.key_generations g USING (generation)
         WHERE opsmeter._key_filter_lacks(g.key_filter, k.workspace_id, k.external_request_id)}),
	'0', 'no stored key is ruled out by its filter');
my $fp = sql(q{SELECT round(avg((NOT opsmeter._key_filter_lacks(g.key_filter, w.workspace_id, 'absent-' || i))::int), 4)
               FROM opsmeter.key_generations g, opsmeter.workspaces w, generate_series(1, 5000) i
              WHERE g.key_filter IS NOT NULL});
note("false positive rate for absent keys: $fp");
cmp_ok($fp, '<', 0.02, 'absent keys pass a filter less than 2% of the time');

# 3. Every stored id is a duplicate: a batch of one retry from each batch,
#    server-stamped (today), whatever day its original was stamped.
is(sql(q{SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'b' || b || '-' || (b * 7 % 600 + 1),
          'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 10, 'outputTokens', 1))) ->> 'duplicates'
         FROM generate_series(1, 20) b}), '20', 'twenty retries across every generation are duplicates');
# A retry that arrives after its original's UTC day has rolled over: the
# original was stamped two days ago, the retry carries yesterday's stamp.
is(sql(q{SELECT opsmeter_ingest(jsonb_build_object('externalRequestId', 'b2-5', 'provider', 'openai', 'model', 'gpt-4o',
          'inputTokens', 10, 'outputTokens', 1,
          'timestamp', to_char(now() AT TIME ZONE 'UTC' - interval '1 day', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))) ->> 'duplicate'}),
	'true', 'a retry stamped on a later day is a duplicate');
is(sql(q{SELECT count(*) FROM opsmeter.events}), '12000', 'no row added by the retries');

# 600 keys written just now are a rate of keys at which a larger index
# costs little WAL (its pages are few against the keys between two
# checkpoints): the pass leaves them in the open generation.
ingest('burst', 600, 0);
is(sql($pass), 'true', 'pass after a burst');
is(sql(q{SELECT count(*) FROM opsmeter.request_keys k JOIN opsmeter.key_generations g USING (generation)
         WHERE g.sealed_at IS NULL}), '600', 'a burst of keys stays in the open generation');

# 4. A merge waits for an ingest that holds the generations: with
#    retention_lock_wait = 0 the pass gives up the merge, keeps its other
#    work, and a later pass merges.  Four more seals make eight of level 0.
ingest("c$_", 600, 0) && sql($seal_pass) for 1 .. 4;
my $before = sql($generations);
note("before the blocked merge: $before");
my $holder = $node->background_psql('postgres');
$holder->query_safe(q{SET opsmeter.workspace = 'sized'; BEGIN;
  SELECT opsmeter_ingest('{"externalRequestId": "held", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}')});
my ($ok, $stderr) = ('', '');
$node->psql('postgres', $pass, stdout => \$ok, stderr => \$stderr);
is($ok, 'true', 'the pass succeeds');
like($stderr, qr/generations will be merged by a later pass/, 'and says the merge waits');
is(sql($generations), $before, 'no generation merged or lost meanwhile');
$holder->query_safe('COMMIT');
$holder->quit;
is(sql($pass), 'true', 'a later pass');
isnt(sql($generations), $before, 'merges');
is(sql(q{SELECT count(*) || '/' || count(DISTINCT (workspace_id, external_request_id)) FROM opsmeter.request_keys}),
	'15001/15001', 'every key once');

# 5. The filters are what ingest consults: replace the filter of the
#    generation holding b1-1 with one built from an empty generation, and a
#    retry of b1-1 in a new session is taken as new.  (A correct filter
#    never does this: section 2.)
sql(q{CREATE TABLE opsmeter.request_keys_empty (LIKE opsmeter.request_keys)});
sql(q{UPDATE opsmeter.key_generations g SET key_filter = opsmeter._key_filter('opsmeter.request_keys_empty')
       WHERE g.generation = (SELECT generation FROM opsmeter.request_keys WHERE external_request_id = 'b1-1')});
is(sql(q{SELECT opsmeter_ingest('{"externalRequestId": "b1-1", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}')
         ->> 'duplicate'}), 'false', 'a filter that rules the key out lets its retry in');

$node->stop('fast');
done_testing();
