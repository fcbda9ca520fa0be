PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_retired_refresh_tokens` (
	`hash` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`retired_at` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_retired_refresh_tokens`("hash", "session_id", "retired_at") SELECT "hash", "session_id", "retired_at" FROM `retired_refresh_tokens`;--> statement-breakpoint
DROP TABLE `retired_refresh_tokens`;--> statement-breakpoint
ALTER TABLE `__new_retired_refresh_tokens` RENAME TO `retired_refresh_tokens`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `retired_refresh_tokens_retired_at_idx` ON `retired_refresh_tokens` (`retired_at`);--> statement-breakpoint
DROP INDEX `sessions_previous_hash_unique`;--> statement-breakpoint
-- A rotation now retires the current hash, so the previous one is found in this table.
INSERT OR IGNORE INTO `retired_refresh_tokens` (`hash`, `session_id`, `retired_at`) SELECT `previous_hash`, `id`, COALESCE(`rotated_at`, `last_used_at`) FROM `sessions` WHERE `previous_hash` IS NOT NULL;
