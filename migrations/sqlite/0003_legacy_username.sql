ALTER TABLE `users` ADD `legacy_username` text;--> statement-breakpoint
CREATE UNIQUE INDEX `users_legacy_username_unique` ON `users` (`legacy_username`);