"""The ledger as the service and the CLI read it: checkpoints, proofs, evidence, verification."""
