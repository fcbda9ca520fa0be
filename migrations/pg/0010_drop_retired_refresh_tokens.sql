-- Its rows were moved to refresh_token_hashes by 0009.
DROP TABLE "retired_refresh_tokens" CASCADE;