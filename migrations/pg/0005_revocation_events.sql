CREATE TABLE "revocation_events" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "revocation_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"session_id" text,
	"token_id" text,
	"at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE INDEX "revocation_events_at_idx" ON "revocation_events" USING btree ("at");--> statement-breakpoint
CREATE INDEX "revocation_events_expires_at_idx" ON "revocation_events" USING btree ("expires_at");