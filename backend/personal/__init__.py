"""A citizen's personal carbon account: saved footprints, retirements, totals, badges and the regional boards."""
