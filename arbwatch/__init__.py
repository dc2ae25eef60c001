"""arbwatch: alerts for arbitrage and positive-EV prices across bookmakers."""

__version__ = "0.1.0"
