ALTER TABLE "sessions" DROP CONSTRAINT "sessions_previous_hash_unique";--> statement-breakpoint
ALTER TABLE "retired_refresh_tokens" DROP CONSTRAINT "retired_refresh_tokens_session_id_sessions_id_fk";
--> statement-breakpoint
DROP INDEX "retired_refresh_tokens_session_id_idx";--> statement-breakpoint
-- A rotation now retires the current hash, so the previous one is found in this table.
INSERT INTO "retired_refresh_tokens" ("hash", "session_id", "retired_at") SELECT "previous_hash", "id", COALESCE("rotated_at", "last_used_at") FROM "sessions" WHERE "previous_hash" IS NOT NULL ON CONFLICT DO NOTHING;
