"""`userdata.get(name)`: Colab Secrets, read here from COLAB_STANDIN_SECRET_<name> in the environment."""

import os


class SecretNotFoundError(Exception):
    pass


class NotebookAccessError(Exception):
    pass


def get(key: str) -> str:
    value = os.environ.get(f"COLAB_STANDIN_SECRET_{key}")
    if value is None:
        raise SecretNotFoundError(f"Secret {key} does not exist.")
    return value
