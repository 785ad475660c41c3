"""The demo: a seeded month of history (seed.py) and a live simulated fleet (fleet.py)."""
