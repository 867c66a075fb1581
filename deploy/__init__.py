"""Several server processes of the lab behind HAProxy (serve.py), and a container recipe."""
