CREATE TABLE `refresh_token_hashes` (
	`hash` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `refresh_token_hashes_expires_at_idx` ON `refresh_token_hashes` (`expires_at`);--> statement-breakpoint
DROP INDEX `sessions_refresh_hash_unique`;--> statement-breakpoint
DROP INDEX `sessions_previous_hash_unique`;--> statement-breakpoint
-- Every hash a session could still be presented with: its current token (expiring with the
-- session), its previous one and its retired ones (expiring no later than the session).
INSERT OR IGNORE INTO `refresh_token_hashes` (`hash`, `session_id`, `expires_at`) SELECT `refresh_hash`, `id`, `expires_at` FROM `sessions`;--> statement-breakpoint
INSERT OR IGNORE INTO `refresh_token_hashes` (`hash`, `session_id`, `expires_at`) SELECT `previous_hash`, `id`, `expires_at` FROM `sessions` WHERE `previous_hash` IS NOT NULL;--> statement-breakpoint
INSERT OR IGNORE INTO `refresh_token_hashes` (`hash`, `session_id`, `expires_at`) SELECT r.`hash`, r.`session_id`, s.`expires_at` FROM `retired_refresh_tokens` r JOIN `sessions` s ON s.`id` = r.`session_id`;
