"""The pure engine: odds, devig, price matrix and evaluation. No sockets, no clocks."""
