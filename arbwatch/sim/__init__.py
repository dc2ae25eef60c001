"""Simulated odds providers on loopback: `arbwatch demo` and the tests run against them."""
