-- opsmeter — storage and query core of LLM cost telemetry.
--
-- This install script is built by the Makefile from the parts in
-- sql/install/, concatenated in the order the Makefile names (INSTALL_PARTS).
-- Edit the parts, never the built file; every schema change also goes into
-- the upgrade script of this version (sql/updates/), and test/upgrade/ fails
-- when the two disagree.
--
-- Layout: internal tables, types and helpers live in schema "opsmeter";
-- user-facing functions are named opsmeter_* and live in the schema the
-- extension is installed into (@extschema@, "public" by default).
--
-- Identity model (see src/README.md): the caller is current_user.  A
-- SECURITY DEFINER function cannot see its caller, so every function that
-- changes shared state is a C "trampoline" (opsmeter_call_as_owner): it
-- records GetUserId() as the caller, switches to the extension owner and
-- calls the owner-only implementation opsmeter._NAME_impl(caller, ...).
-- Reads go through row-level security keyed on opsmeter.my_workspaces().

\echo Use "CREATE EXTENSION opsmeter" to load this file. \quit
