"""Heart-rate sources: simulated heart, RR replay (and Bluetooth LE later) and beat cleaning."""
