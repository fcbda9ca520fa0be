#!/usr/bin/env node
// drizzle-kit writes foreign keys as REFERENCES "public"."table". Gatehouse installs into
// whatever schema DATABASE_URL's ?schema= names (search_path), so the references must be
// unqualified. Run after every `drizzle-kit generate` (npm run db:generate does).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const dir = new URL('../migrations/pg/', import.meta.url);
for (const name of readdirSync(dir).filter((f) => f.endsWith('.sql'))) {
  const file = new URL(name, dir);
  const sql = readFileSync(file, 'utf8');
  const fixed = sql.replace(/REFERENCES "public"\./g, 'REFERENCES ');
  if (fixed !== sql) {
    writeFileSync(file, fixed);
    console.log(`unqualified schema references in migrations/pg/${name}`);
  }
}
