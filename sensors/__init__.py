"""Heart-rate sources (simulated heart, RR and packet replay, Bluetooth LE) and beat correction."""
