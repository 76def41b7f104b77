-- The tables vecmirror reads, as the PromptCraft API defines them (DESIGN.md, "The contract"),
-- plus the publication the mirror follows. Used by the tests, the demo and the data generator.
--
-- Idempotent: running it again changes nothing. Plain SQL without psql meta-commands, so it
-- runs through psql -f as well as through one libpq PQexec of the whole file.
--
-- The vector column is pgvector's `vector` (without a typmod: one column holds several
-- dimensions) when the extension is available, otherwise `real[]`. To choose, set the custom
-- setting vecmirror.vector_type to 'vector' or 'real[]' before running this file, e.g.
--   SET vecmirror.vector_type = 'real[]';             (same session, libpq)
--   PGOPTIONS='-c vecmirror.vector_type=real[]' psql -f sql/schema.sql
-- Unset or 'auto' means: vector if pg_available_extensions lists it, else real[]. When the
-- embedding table exists already, its column type is left as it is.

CREATE TABLE IF NOT EXISTS tenant (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name       text,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per version of an entity. `id` is the stable entity id: a new version closes the old
-- row (valid_to) and inserts a new one with the same id. Deployments that give each version its
-- own id link versions through previous_version_id instead.
CREATE TABLE IF NOT EXISTS entity (
  version_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id                  uuid NOT NULL DEFAULT gen_random_uuid(),
  tenant_id           uuid NOT NULL REFERENCES tenant (id),
  entity_type         text NOT NULL,
  name                text,
  content             text,
  version             int NOT NULL DEFAULT 1,
  previous_version_id uuid,
  valid_from          timestamptz NOT NULL DEFAULT now(),
  valid_to            timestamptz,
  deleted_at          timestamptz
);

-- The current version of each entity.
CREATE INDEX IF NOT EXISTS entity_current_id_idx ON entity (id) WHERE valid_to IS NULL;
CREATE INDEX IF NOT EXISTS entity_current_tenant_idx ON entity (tenant_id) WHERE valid_to IS NULL;

-- The embedding table: one row per (entity, model). No foreign key to entity: embeddings may
-- arrive before their entity, and entity.id is not unique across versions.
DO $schema$
DECLARE
  wanted text := lower(coalesce(nullif(current_setting('vecmirror.vector_type', true), ''), 'auto'));
  vector_type text;
BEGIN
  IF to_regclass('embedding') IS NOT NULL THEN
    RETURN;
  END IF;

  IF wanted = 'auto' THEN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
      wanted := 'vector';
    ELSE
      wanted := 'real[]';
    END IF;
  END IF;

  IF wanted = 'vector' THEN
    -- A `vector` type may exist without the extension (the tests' stand-in with its formats).
    IF to_regtype('vector') IS NULL THEN
      CREATE EXTENSION IF NOT EXISTS vector;
    END IF;
    vector_type := 'vector';
  ELSIF wanted IN ('real[]', 'float4[]') THEN
    vector_type := 'real[]';
  ELSE
    RAISE EXCEPTION 'vecmirror.vector_type is %; expected vector, real[] or auto', wanted;
  END IF;

  EXECUTE format($ddl$
    CREATE TABLE IF NOT EXISTS embedding (
      id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      entity_id  uuid NOT NULL,
      model      text NOT NULL,
      vector     %s,
      status     text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'completed', 'failed')),
      error      text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (entity_id, model)
    )$ddl$, vector_type);
END
$schema$;

-- What the mirror follows. The service creates it when missing; here it is made as the table
-- owner would. Replica identity stays the default (primary key), as in production.
DO $publication$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'vecmirror') THEN
    CREATE PUBLICATION vecmirror FOR TABLE entity, embedding;
  END IF;
END
$publication$;
