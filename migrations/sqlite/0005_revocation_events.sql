CREATE TABLE `revocation_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`session_id` text,
	`token_id` text,
	`at` integer NOT NULL,
	`expires_at` integer
);
--> statement-breakpoint
CREATE INDEX `revocation_events_at_idx` ON `revocation_events` (`at`);--> statement-breakpoint
CREATE INDEX `revocation_events_expires_at_idx` ON `revocation_events` (`expires_at`);