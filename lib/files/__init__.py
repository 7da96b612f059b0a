"""Files: where things live and how they are written. `storage` knows the project, the workspace (Drive on
Colab), the outputs and the runs, writes atomically and hashes; `disk` turns a full disk or a read-only folder
into one line that says what to do; `locks` keeps two runs from writing the same folder at once."""
