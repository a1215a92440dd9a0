"""Checks that need the network: whether every dataset and pool source the project reads still loads from where
it lives on the Hugging Face hub (hub.py, run by scripts/check_hub.py)."""
