"""Stand-in for Colab's `google.colab` package, for the colab-check only (the real one exists only on Colab).

Only the pieces the notebooks touch: `drive.mount` and `userdata.get`. The check points them at folders and
variables of its own through COLAB_STANDIN_* environment variables.
"""
