CREATE TABLE "refresh_token_hashes" (
	"hash" text PRIMARY KEY NOT NULL,
	"session_id" text NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sessions" DROP CONSTRAINT "sessions_refresh_hash_unique";--> statement-breakpoint
ALTER TABLE "sessions" DROP CONSTRAINT "sessions_previous_hash_unique";--> statement-breakpoint
CREATE INDEX "refresh_token_hashes_expires_at_idx" ON "refresh_token_hashes" USING btree ("expires_at");--> statement-breakpoint
-- Every hash a session could still be presented with: its current token (expiring with the
-- session), its previous one and its retired ones (expiring no later than the session).
INSERT INTO "refresh_token_hashes" ("hash", "session_id", "expires_at") SELECT "refresh_hash", "id", "expires_at" FROM "sessions" ON CONFLICT DO NOTHING;--> statement-breakpoint
INSERT INTO "refresh_token_hashes" ("hash", "session_id", "expires_at") SELECT "previous_hash", "id", "expires_at" FROM "sessions" WHERE "previous_hash" IS NOT NULL ON CONFLICT DO NOTHING;--> statement-breakpoint
INSERT INTO "refresh_token_hashes" ("hash", "session_id", "expires_at") SELECT r."hash", r."session_id", s."expires_at" FROM "retired_refresh_tokens" r JOIN "sessions" s ON s."id" = r."session_id" ON CONFLICT DO NOTHING;
