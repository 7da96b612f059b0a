"""The runtime: what the code runs in, beyond the project's own work. `install` adds what a runtime such as
Colab lacks without replacing its stack; `runner` executes the notebooks headless with papermill; `scrub` keeps
a token that papermill injected out of the notebook it saves; `logs` sends library noise to a log file. The
Colab entry point itself is `lib.colab`, which the notebooks' first cell finds and calls."""
