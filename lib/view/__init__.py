"""What the notebooks and the shared pages show: `display` for tables (pandas frames and small HTML tables that
render in Colab and in HTML copies, with paths shown from the project folder) and `plots` for figures (plain
matplotlib figures, one function each)."""
