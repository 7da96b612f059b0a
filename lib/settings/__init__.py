"""Settings: what a run is told, checked before anything runs. `config` reads config.yaml, command-line flags
and notebook parameters into one flat set of named knobs and checks each value against its type; `secret` says
what a token looks like, so that none is ever a setting, a flag or a message; `sample` keeps the bundled
sample's files from being used quietly with another author's corpus."""
