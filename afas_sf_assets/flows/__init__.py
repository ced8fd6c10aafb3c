"""One module per business flow: the domain rules, built on the sync engine."""
