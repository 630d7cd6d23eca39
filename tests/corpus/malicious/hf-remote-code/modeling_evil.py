"""Remote code that transformers imports with trust_remote_code=True (corpus fixture)."""
import os

# Runs at import time, before any weight is read. Harmless here; a real attacker's is not.
os.system("echo modelgate-corpus")


class EvilForCausalLM:
    def __init__(self, *args, **kwargs):
        os.system("echo modelgate-corpus")
