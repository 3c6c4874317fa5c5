"""Prices (docs/architecture.md#prices): the pure quote (quote), its terms and the reads that load them
(terms), the estimate (estimate), fixing the price on approval and following it (fixing), charges and
their one status writer (charges), and the configuration services of discount codes and credits (config).
Import from the modules; this package re-exports nothing."""
