-- Installs vector_shim, a TEST STAND-IN for pgvector's `vector` type (it is NOT pgvector), into
-- the current database. See vector_shim.c for what it shares with pgvector and what it leaves out.
--
-- The tests read this file, replace MODULE_PATHNAME with the absolute path of the built module
-- (a path the PostgreSQL server's OS user can read), and run it as a superuser in one PQexec, as
-- an extension script would run. It is not an extension: pgvector's `CREATE EXTENSION vector`
-- needs a control file in the server's share directory, which a test must not write.
--
-- Afterwards the database has the type `vector` (no typmod, STORAGE external, text and binary
-- I/O) and the cast vector -> real[].

-- A shell type first, so that the I/O functions can name it.
CREATE TYPE vector;

CREATE FUNCTION vector_in(cstring) RETURNS vector
  AS 'MODULE_PATHNAME', 'vector_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_out(vector) RETURNS cstring
  AS 'MODULE_PATHNAME', 'vector_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_recv(internal) RETURNS vector
  AS 'MODULE_PATHNAME', 'vector_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_send(vector) RETURNS bytea
  AS 'MODULE_PATHNAME', 'vector_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STORAGE external: out of line when large, never compressed (pgvector 0.6 and later). A 1536-d
-- value (6152 bytes) is therefore TOASTed, and an UPDATE that leaves it alone sends it through
-- logical replication as "unchanged".
CREATE TYPE vector (
  INPUT = vector_in,
  OUTPUT = vector_out,
  RECEIVE = vector_recv,
  SEND = vector_send,
  INTERNALLENGTH = VARIABLE,
  ALIGNMENT = int4,
  STORAGE = external
);

CREATE FUNCTION vector_to_float4(vector) RETURNS real[]
  AS 'MODULE_PATHNAME', 'vector_to_float4' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (vector AS real[]) WITH FUNCTION vector_to_float4(vector) AS IMPLICIT;
