/*
 * send_bodies.c — the bench's client for "the body as a bind parameter":
 * what psycopg, node-postgres and JDBC do (README, "Sending the body").
 *
 *   send_bodies SQL FILE
 *
 * FILE holds request bodies separated by the byte 0x1E (ASCII record
 * separator, which JSON text cannot contain).  SQL is a statement with one
 * parameter, e.g. "SELECT opsmeter_ingest_ndjson($1)"; it is prepared once
 * and executed once per body, each call its own transaction (autocommit), so
 * the server never lexes the body as SQL and the client never scans it.
 * Connection settings come from the PG* environment.  Exits non-zero at the
 * first failed call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#define RECORD_SEPARATOR '\x1e'

static char *
read_file(const char *path, size_t *size)
{
	FILE	   *f = fopen(path, "rb");
	char	   *data;
	long		n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
	{
		perror(path);
		exit(2);
	}
	data = malloc((size_t) n + 1);
	if (data == NULL || fread(data, 1, (size_t) n, f) != (size_t) n)
	{
		perror(path);
		exit(2);
	}
	fclose(f);
	data[n] = '\0';
	*size = (size_t) n;
	return data;
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGresult   *res;
	char	   *data;
	size_t		size,
				start = 0;
	long		calls = 0;

	if (argc != 3)
	{
		fprintf(stderr, "usage: send_bodies SQL FILE\n");
		return 2;
	}
	data = read_file(argv[2], &size);
	conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "send_bodies: %s", PQerrorMessage(conn));
		return 1;
	}
	res = PQprepare(conn, "call", argv[1], 1, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "send_bodies: prepare: %s", PQerrorMessage(conn));
		return 1;
	}
	PQclear(res);

	while (start < size)
	{
		char	   *sep = memchr(data + start, RECORD_SEPARATOR, size - start);
		size_t		end = sep ? (size_t) (sep - data) : size;
		const char *value = data + start;

		/* trailing newlines psql wrote after the last record */
		while (end > start && (data[end - 1] == '\n' || data[end - 1] == '\r'))
			end--;
		data[end] = '\0';
		if (end > start)
		{
			res = PQexecPrepared(conn, "call", 1, &value, NULL, NULL, 0);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
			{
				fprintf(stderr, "send_bodies: call %ld: %s", calls + 1, PQerrorMessage(conn));
				return 1;
			}
			PQclear(res);
			calls++;
		}
		start = (sep ? (size_t) (sep - data) : size) + 1;
	}
	PQfinish(conn);
	printf("%ld calls\n", calls);
	return 0;
}
