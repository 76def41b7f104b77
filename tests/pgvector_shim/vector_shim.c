/*
 * vector_shim: a TEST STAND-IN for pgvector's `vector` type. It is NOT pgvector.
 *
 * vecmirror reads pgvector `vector` columns, but pgvector is not packaged for Debian 12 and the
 * tests may not fetch anything. This small PostgreSQL module defines a base type named `vector`
 * with pgvector's on-disk layout and wire formats, so that the integration tests can run the
 * real server against a real `vector` column: binary COPY, pgoutput in binary mode, and TOAST
 * "unchanged" values all come from PostgreSQL itself, not from a hand-made byte string.
 *
 * What it shares with pgvector (written from PostgreSQL's extension documentation and the
 * formats in DESIGN.md, not from pgvector's code):
 *   - storage: a varlena of int32 header, int16 dim, int16 unused (0), float4 x[dim];
 *   - text:    [1,2.5,-3], each float printed in its shortest form that reads back exactly;
 *              NaN and Inf are rejected, as pgvector rejects them; at least one dimension;
 *   - binary:  int16 dim, int16 unused, then dim float4, all big-endian (pq_sendint16,
 *              pq_sendfloat4);
 *   - no typmod (one column may hold several dimensions), STORAGE external (pgvector >= 0.6);
 *   - a cast to real[].
 * What it leaves out: every operator, distance, index method, typmod, halfvec, sparsevec.
 *
 * Installed per database by tests/pgvector_shim/vector_shim.sql (MODULE_PATHNAME replaced by
 * the absolute path of the built module); built by tests/pgvector.cmake.
 */
#include "postgres.h"

#include <math.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"

PG_MODULE_MAGIC;

/* pgvector's limit on dimensions; also keeps the varlena far below 1 GB. */
#define SHIM_VECTOR_MAX_DIM 16000

/* The on-disk value. The header is set with SET_VARSIZE; never touch vl_len_ directly. */
typedef struct ShimVector
{
	int32		vl_len_;
	int16		dim;
	int16		unused;			/* always 0; kept for pgvector's layout */
	float4		x[FLEXIBLE_ARRAY_MEMBER];
} ShimVector;

#define SHIM_VECTOR_SIZE(dim) (offsetof(ShimVector, x) + sizeof(float4) * (dim))
#define DatumGetShimVector(d) ((ShimVector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_SHIM_VECTOR(n) DatumGetShimVector(PG_GETARG_DATUM(n))

static ShimVector *
new_shim_vector(int dim)
{
	ShimVector *v = (ShimVector *) palloc0(SHIM_VECTOR_SIZE(dim));

	SET_VARSIZE(v, SHIM_VECTOR_SIZE(dim));
	v->dim = (int16) dim;
	v->unused = 0;
	return v;
}

static void
check_dim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));
	if (dim > SHIM_VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector cannot have more than %d dimensions", SHIM_VECTOR_MAX_DIM)));
}

static void
check_element(float4 value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in vector")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in vector")));
}

static inline bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static inline const char *
skip_space(const char *p)
{
	while (is_space(*p))
		p++;
	return p;
}

static void
malformed(const char *text, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type vector: \"%s\"", text),
			 errdetail("%s", detail)));
}

/*
 * vector_in(cstring) -> vector: "[a,b,...]" with optional blanks around the brackets, commas
 * and numbers. Two passes: count the commas to size the value, then parse.
 */
PG_FUNCTION_INFO_V1(vector_in);
Datum
vector_in(PG_FUNCTION_ARGS)
{
	const char *text = PG_GETARG_CSTRING(0);
	const char *p = skip_space(text);
	const char *q;
	int			capacity = 1;
	int			dim = 0;
	ShimVector *v;

	if (*p != '[')
		malformed(text, "Vector contents must start with \"[\".");
	for (q = p; *q; q++)
		if (*q == ',')
			capacity++;
	check_dim(capacity > SHIM_VECTOR_MAX_DIM ? SHIM_VECTOR_MAX_DIM + 1 : capacity);
	v = new_shim_vector(capacity);

	p = skip_space(p + 1);
	if (*p == ']')
		check_dim(0);			/* "[]": reports the empty vector */
	for (;;)
	{
		char	   *end;
		float4		value;

		if (dim == capacity)
			malformed(text, "More values than commas allow.");
		errno = 0;
		value = strtof(p, &end);
		if (end == p)
			malformed(text, "A number was expected.");
		if (errno == ERANGE && isinf(value))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%.*s\" is out of range for type vector", (int) (end - p), p)));
		check_element(value);
		v->x[dim++] = value;

		p = skip_space(end);
		if (*p == ',')
		{
			p = skip_space(p + 1);
			continue;
		}
		if (*p == ']')
			break;
		malformed(text, "Expected \",\" or \"]\" after a number.");
	}
	if (*skip_space(p + 1) != '\0')
		malformed(text, "Junk after closing right bracket.");
	if (dim != capacity)
		malformed(text, "Fewer values than commas.");
	PG_RETURN_POINTER(v);
}

/* vector_out(vector) -> cstring: "[a,b,...]", each float in its shortest exact form. */
PG_FUNCTION_INFO_V1(vector_out);
Datum
vector_out(PG_FUNCTION_ARGS)
{
	ShimVector *v = PG_GETARG_SHIM_VECTOR(0);
	/* per element: the float, one comma; plus the brackets and the terminator */
	char	   *out = palloc((size_t) v->dim * (FLOAT_SHORTEST_DECIMAL_LEN + 1) + 3);
	char	   *p = out;
	int			i;

	*p++ = '[';
	for (i = 0; i < v->dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(v->x[i], p);
	}
	*p++ = ']';
	*p = '\0';
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(out);
}

/* vector_recv(internal) -> vector: int16 dim, int16 unused, dim x float4, big-endian. */
PG_FUNCTION_INFO_V1(vector_recv);
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int16		dim = (int16) pq_getmsgint(buf, sizeof(int16));
	int16		unused = (int16) pq_getmsgint(buf, sizeof(int16));
	ShimVector *v;
	int			i;

	check_dim(dim);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("vector: the unused field must be zero, not %d", unused)));
	v = new_shim_vector(dim);
	for (i = 0; i < dim; i++)
	{
		v->x[i] = pq_getmsgfloat4(buf);
		check_element(v->x[i]);
	}
	PG_RETURN_POINTER(v);
}

/* vector_send(vector) -> bytea: the mirror image of vector_recv. */
PG_FUNCTION_INFO_V1(vector_send);
Datum
vector_send(PG_FUNCTION_ARGS)
{
	ShimVector *v = PG_GETARG_SHIM_VECTOR(0);
	StringInfoData buf;
	int			i;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, (uint16) v->dim);
	pq_sendint16(&buf, (uint16) v->unused);
	for (i = 0; i < v->dim; i++)
		pq_sendfloat4(&buf, v->x[i]);
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* vector_to_float4(vector) -> real[]: the cast that vm_search_similar_entities relies on. */
PG_FUNCTION_INFO_V1(vector_to_float4);
Datum
vector_to_float4(PG_FUNCTION_ARGS)
{
	ShimVector *v = PG_GETARG_SHIM_VECTOR(0);
	Datum	   *elements = palloc(sizeof(Datum) * v->dim);
	ArrayType  *array;
	int			i;

	for (i = 0; i < v->dim; i++)
		elements[i] = Float4GetDatum(v->x[i]);
	array = construct_array(elements, v->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
	pfree(elements);
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_POINTER(array);
}
