ALTER TABLE "users" ADD COLUMN "legacy_username" text;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_legacy_username_unique" UNIQUE("legacy_username");