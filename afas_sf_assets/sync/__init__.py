"""The generic sync engine: extract → validate → map → diff → write → record, with ledger and activity log."""
