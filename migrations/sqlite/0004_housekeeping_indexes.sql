CREATE INDEX `email_tokens_expires_at_idx` ON `email_tokens` (`expires_at`);--> statement-breakpoint
CREATE INDEX `retired_refresh_tokens_retired_at_idx` ON `retired_refresh_tokens` (`retired_at`);--> statement-breakpoint
CREATE INDEX `sessions_revoked_at_idx` ON `sessions` (`revoked_at`) WHERE revoked_at IS NOT NULL;